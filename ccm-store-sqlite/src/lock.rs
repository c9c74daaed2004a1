//! One process per database file: an exclusive advisory lock on `<db>.lock`,
//! held for the life of the store.
//!
//! SQLite itself lets several processes share a file, but ccm's wake-ups,
//! single-writer queue and leader election assume one process per SQLite store
//! (PostgreSQL is the store for several). The operating system drops the lock
//! when the process ends however it ends (`kill -9` included), so a crash never
//! leaves the file locked. The lock file is never deleted: a process could
//! otherwise lock an unlinked file while another creates a new one.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use ccm_core::ports::store::StoreError;

use crate::error::SqliteStoreError;

/// An exclusive lock on the lock file beside a database; released on drop.
#[derive(Debug)]
pub(crate) struct FileLock {
    // Closing the file releases the lock.
    _file: File,
}

/// `<database>.lock`.
pub(crate) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl FileLock {
    /// Locks the file beside `database`, or fails with [`StoreError::InUse`]
    /// when another store (in this process or another) holds it.
    pub(crate) fn acquire(database: &Path) -> Result<Self, SqliteStoreError> {
        let path = lock_path(database);
        let io_error = |source| SqliteStoreError::Lock {
            path: path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_error)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::InUse {
                location: database.display().to_string(),
                reason: format!(
                    "another ccm process has it open (it holds {}). SQLite serves one \
                     process at a time; to run several ccm processes on one store, use \
                     PostgreSQL (database.url = \"postgres://...\")",
                    path.display()
                ),
            }
            .into()),
            Err(TryLockError::Error(source)) => Err(io_error(source)),
        }
    }
}
