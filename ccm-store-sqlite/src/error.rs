//! Errors at this crate's boundary, converted into the port's [`StoreError`].

use std::path::PathBuf;

use ccm_core::ports::store::StoreError;

/// What can go wrong in the SQLite store.
#[derive(Debug, thiserror::Error)]
pub enum SqliteStoreError {
    /// The connection string is not an SQLite URL.
    #[error("invalid SQLite connection string: {0}")]
    InvalidUrl(String),
    /// The directory of the database file could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The lock file beside the database could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// Lock file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// SQLite failed or could not be reached.
    #[error("SQLite: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not be applied.
    #[error("SQLite migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A record could not be encoded.
    #[error("cannot encode {kind} `{id}`: {message}")]
    Encode {
        /// What was written.
        kind: String,
        /// Its id.
        id: String,
        /// Why.
        message: String,
    },
    /// A stored record could not be decoded.
    #[error("stored {kind} `{id}` is unreadable: {message}")]
    Decode {
        /// What was read.
        kind: String,
        /// Its id.
        id: String,
        /// Why.
        message: String,
    },
    /// An outcome the port defines (conflict, fencing, schema too new…).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ccm_store_sql::RowError> for SqliteStoreError {
    fn from(error: ccm_store_sql::RowError) -> Self {
        match error {
            ccm_store_sql::RowError::Encode { kind, id, message } => {
                SqliteStoreError::Encode { kind, id, message }
            }
            ccm_store_sql::RowError::Decode { kind, id, message } => {
                SqliteStoreError::Decode { kind, id, message }
            }
        }
    }
}

impl From<SqliteStoreError> for StoreError {
    fn from(error: SqliteStoreError) -> Self {
        match error {
            SqliteStoreError::Store(inner) => inner,
            SqliteStoreError::Decode { kind, id, message } => {
                StoreError::Corrupt { kind, id, message }
            }
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}
