//! The one error type of the SQL stores, converted into the port's [`StoreError`].

use std::path::PathBuf;

use ccm_core::ports::store::StoreError;

/// What can go wrong in an SQL store (`ccm-store-sqlite` names it
/// `SqliteStoreError`, `ccm-store-postgres` `PostgresStoreError`).
#[derive(Debug, thiserror::Error)]
pub enum SqlStoreError {
    /// The connection string is not one the store accepts.
    #[error("invalid database connection string: {0}")]
    InvalidUrl(String),
    /// The directory of a database file could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    CreateDir {
        /// Directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The lock file beside a database file could not be opened or locked.
    #[error("cannot lock {path}: {source}")]
    Lock {
        /// Lock file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The database failed or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The embedded migrations could not be applied.
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A record could not be encoded (or its version would overflow).
    #[error("cannot encode {kind} `{id}`: {message}")]
    Encode {
        /// What was written.
        kind: String,
        /// Its id.
        id: String,
        /// Why.
        message: String,
    },
    /// A stored value could not be decoded.
    #[error("stored {kind} `{id}` is unreadable: {message}")]
    Decode {
        /// What was read (a resource kind, or `lease`, `event`…).
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

impl From<SqlStoreError> for StoreError {
    fn from(error: SqlStoreError) -> Self {
        match error {
            SqlStoreError::Store(inner) => inner,
            SqlStoreError::Decode { kind, id, message } => {
                StoreError::Corrupt { kind, id, message }
            }
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// A count or version as the `BIGINT` the databases store (`what` names it).
pub fn to_i64(what: &str, value: u64) -> Result<i64, SqlStoreError> {
    i64::try_from(value).map_err(|_| SqlStoreError::Encode {
        kind: what.to_owned(),
        id: String::new(),
        message: format!("{value} is out of range"),
    })
}

/// A stored `BIGINT` as the count or version it holds; a negative one is corrupt.
pub fn to_u64(what: &str, id: &str, value: i64) -> Result<u64, SqlStoreError> {
    u64::try_from(value).map_err(|_| SqlStoreError::Decode {
        kind: what.to_owned(),
        id: id.to_owned(),
        message: format!("negative {what} {value}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_beyond_bigint_are_refused_both_ways() {
        assert_eq!(to_i64("version", 7).ok(), Some(7));
        assert!(matches!(
            to_i64("version", u64::MAX),
            Err(SqlStoreError::Encode { .. })
        ));
        assert_eq!(to_u64("version", "w", 7).ok(), Some(7));
        let corrupt: StoreError = to_u64("version", "w", -1).unwrap_err().into();
        assert!(matches!(corrupt, StoreError::Corrupt { .. }), "{corrupt:?}");
    }

    #[test]
    fn only_decoding_failures_are_corruption() {
        let conflict = StoreError::Unavailable("x".into());
        assert!(matches!(
            StoreError::from(SqlStoreError::Store(conflict)),
            StoreError::Unavailable(m) if m == "x"
        ));
        let url: StoreError = SqlStoreError::InvalidUrl("nope".into()).into();
        assert!(matches!(url, StoreError::Unavailable(m) if m.contains("nope")));
    }
}
