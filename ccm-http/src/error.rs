//! The error type at ccm-http's boundary.

use ccm_core::ports::store::StoreError;
use ccm_core::CoreError;

use crate::config::ConfigErrors;

/// Everything starting, running or calling a ccm server can fail with.
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
        /// Which adapter (`aws`, `cml`).
        adapter: &'static str,
        /// What went wrong.
        message: String,
    },
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Other I/O.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Cause.
        source: std::io::Error,
    },
    /// A server answered a CLI request with an error.
    #[error("{status} {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// Error code from the body.
        code: String,
        /// Message from the body.
        message: String,
    },
    /// A server could not be reached or answered something unreadable.
    #[error("{url}: {message}")]
    Http {
        /// What was called.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The command line was wrong.
    #[error("{0}")]
    Usage(String),
}
