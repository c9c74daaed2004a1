//! The error type at ccm-assembly's boundary.

use ccm_core::ports::store::StoreError;
use ccm_core::CoreError;

use crate::config::ConfigErrors;

/// Everything turning a configuration into a running engine can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigErrors),
    /// The store could not be opened or failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The engine refused or failed.
    #[error("engine: {0}")]
    Core(#[from] CoreError),
    /// An adapter could not be built from the configuration.
    #[error("{adapter}: {message}")]
    Adapter {
        /// Which adapter (`aws`, `cml`, `oidc`, `webhooks`).
        adapter: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Reading a file the configuration names failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
}
