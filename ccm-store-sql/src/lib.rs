//! What ccm's SQL stores (`ccm-store-sqlite`, `ccm-store-postgres`) share: how a
//! domain record maps to a row — a JSON document (`body`) beside the indexed
//! columns that filters use — and the SQL that writes one under its version
//! check, written once over a [`Dialect`] that says how each database spells a
//! parameter and a JSON value.
//!
//! **Invariants:** a row's `version` is the record's; a put of a record read at
//! version `v` writes `v + 1` only where the row still holds `v` (0: no row); the
//! body carries the version it is stored at. Timestamps are fixed-width RFC 3339
//! text with nanoseconds, so text order is time order in either database.
//! **API boundary:** [`rows`], [`series`], [`filters`], [`Dialect`], the versioned writes ([`apply`],
//! [`precheck`]) over a backend's [`RowStatements`], and the macros that write a store's
//! key-value and metric-series port impls ([`forward_key_value_store!`],
//! [`forward_metric_series!`]); errors are one [`SqlStoreError`] that each
//! backend names as its own. What truly differs — locking, wake-ups,
//! the event counter, multi-row updates — stays in each backend.

mod dialect;
mod error;
pub mod filters;
mod forward;
pub mod rows;
pub mod series;
mod sparse_json;
mod write;

pub use dialect::Dialect;
pub use error::{to_i64, to_u64, SqlStoreError};
pub use write::{apply, precheck, version_in, Param, RowStatements};
