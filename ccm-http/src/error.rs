//! The error type at ccm-http's boundary.

use ccm_assembly::config::ConfigErrors;
use ccm_core::ports::store::StoreError;
use ccm_core::CoreError;

/// Everything starting, running or calling a ccm server can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration, the store, the engine or an adapter: what building
    /// the engine can fail with, also met by the commands that use a store.
    #[error(transparent)]
    Assembly(#[from] ccm_assembly::Error),
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
    /// An adapter of the server itself (OIDC discovery, webhooks, OTLP export,
    /// sessions) could not be built from the configuration.
    #[error("{adapter}: {message}")]
    Adapter {
        /// Which adapter (`oidc`, `webhook`, `otlp`, `sessions`).
        adapter: &'static str,
        /// What went wrong.
        message: String,
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

// What the commands and the server meet directly, as the assembly reports it,
// so each failure has one variant whatever raised it.
impl From<ConfigErrors> for Error {
    fn from(errors: ConfigErrors) -> Self {
        Self::Assembly(errors.into())
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Self::Assembly(error.into())
    }
}

impl From<CoreError> for Error {
    fn from(error: CoreError) -> Self {
        Self::Assembly(error.into())
    }
}
