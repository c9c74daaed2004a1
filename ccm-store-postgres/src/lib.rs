//! # ccm-store-postgres
//!
//! The `ccm_core::ports::Store` port over PostgreSQL (through sqlx), for several
//! ccm processes sharing one database: API servers, controllers and workers of the
//! job runner see the same records, the same event log and the same leases.
//!
//! ## What it stores
//! Workers, lab records, lablet definitions, lablets and jobs as JSONB documents
//! (the serde_json of the domain type, version included) beside the indexed
//! columns that filters use (`workers`: name, region, lifecycle; `lablets`: phase,
//! worker, owner, definition, timeslot start; …); the event log (`events`, numbered
//! by the single-row `event_counter`); leases with their fencing tokens; API keys
//! (their hash only, never the key). All tables live in one schema.
//!
//! The store is also the `KeyValueStore` and the `MetricSeries`. Table `kv` holds
//! the key-value records every process shares (namespace, key, JSON value,
//! version, optional expiry; key `(namespace, key)`, an index on expiry for
//! `purge_expired`): writes are single statements whose `WHERE` carries the
//! compare-and-swap (`INSERT … ON CONFLICT … WHERE`, `UPDATE … WHERE version`),
//! and `take` is `DELETE … RETURNING`, so racing processes never both win. Table
//! `metric_points` holds the metrics series (instants in unix nanoseconds, a
//! sample count per row, raw or averaged); compaction averages old raw points per
//! worker and epoch-aligned bucket in one statement.
//!
//! ## Connection strings
//! `postgres://user:password@host:5432/database` (or `postgresql://…`, with any
//! libpq-style parameters sqlx understands, e.g. `?sslmode=disable`). Pool size,
//! acquire and statement timeouts and the schema are set with
//! [`PostgresStoreOptions`]; its `Debug` and every log line show the URL with the
//! password replaced by `***`.
//!
//! ## Invariants
//! * **Migrations** are embedded in the binary and applied on open (under sqlx's
//!   advisory lock, so processes starting together apply them once); a schema newer
//!   than this build is refused with `StoreError::SchemaTooNew`.
//! * **Optimistic concurrency**: each write names the version it read; a put of
//!   version 0 inserts (`ON CONFLICT DO NOTHING`), a put of version *n* updates only
//!   `WHERE version = n`; any mismatch fails the whole commit with
//!   `StoreError::Conflict` and nothing of it is applied. Batches lock their rows in
//!   key order first, so concurrent batches queue instead of deadlocking.
//! * **Outbox**: a commit's fence check (`FOR KEY SHARE` on the lease row), writes and
//!   events are one transaction. Sequence numbers come from a single-row counter
//!   updated in that transaction: appenders serialize on it until they commit, so
//!   the log is gap-free (a rollback gives its numbers back) and readers never see a
//!   later sequence before an earlier one.
//! * **Wake-ups**: each commit that appended events sends `NOTIFY` (channel
//!   [`EVENTS_CHANNEL`], or `ccm_events.<schema>` outside `public`) with its last
//!   sequence, inside the transaction; every store LISTENs on a connection of its
//!   own and feeds `subscribe()`, so a commit by another process wakes this one.
//!   After a lost LISTEN connection the newest sequence is re-read from the table.
//! * **Leases** are never deleted, so a fencing token only grows, across release and
//!   re-acquire too; acquisition locks the lease row (`FOR UPDATE`), so two
//!   processes never both win. A commit holds the row `FOR KEY SHARE`; should its
//!   process stall between statements (frozen, starved, cut off), the server ends
//!   that transaction after `idle_in_transaction_session_timeout` (10 s), so the
//!   stalled holder never keeps another process from taking the lease over.
//!
//! ```no_run
//! use ccm_core::ports::Store;
//! use ccm_store_postgres::{PostgresStore, PostgresStoreOptions};
//!
//! # async fn example() -> Result<(), ccm_core::ports::store::StoreError> {
//! let mut options = PostgresStoreOptions::new("postgres://ccm:secret@127.0.0.1:5432/ccm");
//! options.max_connections = 20;
//! let store = PostgresStore::open_with(options).await?;
//! let mut wake = store.subscribe();
//! wake.changed().await.ok(); // any process committed events
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod kv;
mod rows;
mod series;
mod store;

pub use error::PostgresStoreError;
pub use store::{
    redact_url, PostgresStore, PostgresStoreOptions, EVENTS_CHANNEL, IDLE_IN_TRANSACTION_TIMEOUT,
};
