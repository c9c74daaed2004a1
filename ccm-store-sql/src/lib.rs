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
//! **API boundary:** [`rows`], [`Dialect`] and the macros that write a store's
//! key-value and metric-series port impls ([`forward_key_value_store!`],
//! [`forward_metric_series!`]); errors are [`RowError`], which each
//! backend folds into its own error type. What truly differs — locking, wake-ups,
//! the event counter, multi-row updates — stays in each backend.

mod dialect;
mod forward;
pub mod rows;

pub use dialect::Dialect;

/// A record that cannot become a row, or a row that cannot become a record again.
#[derive(Debug, thiserror::Error)]
pub enum RowError {
    /// A record could not be encoded (or its version would overflow).
    #[error("cannot encode {kind} `{id}`: {message}")]
    Encode {
        /// Resource kind.
        kind: String,
        /// Its id.
        id: String,
        /// Why.
        message: String,
    },
    /// A stored value could not be decoded.
    #[error("cannot decode {kind} `{id}`: {message}")]
    Decode {
        /// Resource kind (or `lease`, `event`…).
        kind: String,
        /// Its id.
        id: String,
        /// Why.
        message: String,
    },
}
