//! # ccm-store-sqlite
//!
//! The `ccm_core::ports::Store` port over SQLite (through sqlx): ccm's embedded
//! default, one database file per installation.
//!
//! ## What it stores
//! Workers, lab records, lablet definitions, lablets and jobs as JSON documents
//! (the serde_json of the domain type, version included) beside the indexed
//! columns that filters use (`workers`: name, region, lifecycle; `lablets`: phase,
//! worker, owner, definition, timeslot start; …); the event log (`events`); leases
//! with their fencing tokens; API keys (their hash only, never the key).
//!
//! The store is also the `KeyValueStore` and the `MetricSeries`. Table `kv` holds
//! the key-value records (namespace, key, JSON value, version, optional expiry;
//! key `(namespace, key)`, an index on expiry for `purge_expired`); every write is
//! one statement whose `WHERE` carries the compare-and-swap, and `take` is one
//! `DELETE … RETURNING`. Table `metric_points` holds the metrics series (instants
//! in unix nanoseconds, a sample count per row, raw or averaged); compaction
//! averages old raw points per worker and epoch-aligned bucket in one transaction.
//!
//! ## Connection strings
//! * `sqlite://path/to/ccm.db` — relative or absolute; the file and its directory are
//!   created when missing; the journal runs in WAL mode so readers never block the
//!   writer.
//! * `sqlite::memory:` — a private in-memory database (one connection), for tests.
//!
//! Pool size, acquire and busy timeouts and the sync level are set with
//! [`SqliteStoreOptions`].
//!
//! ## Invariants
//! * **Migrations** are embedded in the binary and applied on open; a database whose
//!   schema is newer than this build is refused with `StoreError::SchemaTooNew`.
//! * **Optimistic concurrency**: each write names the version it read; a put of
//!   version 0 inserts, a put of version *n* updates only `WHERE version = n`; any
//!   mismatch fails the whole commit with `StoreError::Conflict` and nothing of it is
//!   applied.
//! * **One writer at a time**: every write transaction starts with `BEGIN IMMEDIATE`
//!   (and writers of one process queue on an in-process lock first), so the event
//!   log's sequence numbers are gap-free and follow commit order.
//! * **Outbox**: a commit's writes, its fence check and its events are one
//!   transaction.
//! * **Wake-ups**: `subscribe()` is bumped in-process after each commit that
//!   appended events. Commits by *another process* on the same file are not seen
//!   until this process reads the log (use PostgreSQL for several processes).
//! * **Leases** are never deleted, so a fencing token only grows, across release and
//!   re-acquire too.
//! * **One process per file**: the store holds an exclusive lock on `<file>.lock`
//!   from open to close or drop (the operating system releases it when the process
//!   dies, `kill -9` included); a second open, from any process, fails with
//!   `StoreError::InUse`, whose message points to PostgreSQL for several processes.
//!   A one-shot command beside a running server opens without the lock
//!   (`SqliteStoreOptions::beside_a_server`).
//!
//! ```no_run
//! use ccm_core::ports::Store;
//! use ccm_store_sqlite::SqliteStore;
//!
//! # async fn example() -> Result<(), ccm_core::ports::store::StoreError> {
//! let store = SqliteStore::open("sqlite://var/ccm/ccm.db").await?;
//! let newest = store.last_sequence().await?;
//! # let _ = newest;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod kv;
mod lock;
mod rows;
mod series;
mod store;

pub use error::SqliteStoreError;
pub use store::{SqliteStore, SqliteStoreOptions};
