//! Opening the configured store (SQLite, PostgreSQL or memory), seen through
//! each port it serves.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccm_core::ports::{KeyValueStore, MetricSeries, Store};
use ccm_core::store::{MemoryKeyValueStore, MemoryMetricSeries, MemoryStore};

use crate::config::Config;
use crate::error::Error;

/// Which store was opened, for the start-up message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// SQLite at this location.
    Sqlite(String),
    /// PostgreSQL (URL without password).
    Postgres(String),
    /// In memory.
    Memory,
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Sqlite(location) => write!(f, "SQLite at {location}"),
            StoreKind::Postgres(url) => write!(f, "PostgreSQL at {url}"),
            StoreKind::Memory => f.write_str("in memory (lost on exit)"),
        }
    }
}

/// The configured store, seen through each port it serves.
#[derive(Clone)]
pub struct OpenedStore {
    /// Resources, events, leases, API keys.
    pub store: Arc<dyn Store>,
    /// Sessions, pending logins, cursors, cooldowns.
    pub kv: Arc<dyn KeyValueStore>,
    /// The per-worker metrics time series.
    pub series: Arc<dyn MetricSeries>,
    /// Which store, for the start-up message.
    pub kind: StoreKind,
}

impl std::fmt::Debug for OpenedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedStore")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl OpenedStore {
    /// Where a simulated world is kept beside this store: `<file>.sim-world.json`
    /// next to a SQLite database file, so the simulated instances live exactly as
    /// long as the workers stored about them (and, like the file, belong to the
    /// one process holding it). None for an in-memory store, whose workers end
    /// with the process anyway, and for PostgreSQL, which several processes
    /// share while each runs a simulated cloud of its own.
    pub fn sim_world_file(&self) -> Option<PathBuf> {
        let StoreKind::Sqlite(location) = &self.kind else {
            return None;
        };
        // An in-memory SQLite database has a name but no file.
        let database = Path::new(location);
        if !database.is_file() {
            return None;
        }
        let mut name = database.as_os_str().to_owned();
        name.push(".sim-world.json");
        Some(PathBuf::from(name))
    }

    /// An in-memory store for every port (lost on exit).
    pub fn memory() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            kv: Arc::new(MemoryKeyValueStore::new()),
            series: Arc::new(MemoryMetricSeries::new()),
            kind: StoreKind::Memory,
        }
    }
}

/// Opens the configured store for a long-running process (`ccm serve`): a SQLite
/// file is locked to this process.
pub async fn open_store(config: &Config) -> Result<OpenedStore, Error> {
    open_store_as(config, StoreUse::Server).await
}

/// Opens the configured store for a one-shot command (`ccm api-key create`),
/// which may run while a server uses the same SQLite file.
pub async fn open_store_for_command(config: &Config) -> Result<OpenedStore, Error> {
    open_store_as(config, StoreUse::Command).await
}

/// Who opens the store: only a server takes a SQLite file for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreUse {
    Server,
    Command,
}

async fn open_store_as(config: &Config, how: StoreUse) -> Result<OpenedStore, Error> {
    let url = config.database.url.expose().trim();
    if url == "memory" {
        return Ok(OpenedStore::memory());
    }
    if url.starts_with("sqlite:") {
        let mut options = ccm_store_sqlite::SqliteStoreOptions::new(url);
        if how == StoreUse::Command {
            options = options.beside_a_server();
        }
        let store = Arc::new(ccm_store_sqlite::SqliteStore::open_with(options).await?);
        let location = store.location().to_owned();
        return Ok(OpenedStore {
            store: store.clone(),
            kv: store.clone(),
            series: store,
            kind: StoreKind::Sqlite(location),
        });
    }
    let store = Arc::new(ccm_store_postgres::PostgresStore::open(url).await?);
    Ok(OpenedStore {
        store: store.clone(),
        kv: store.clone(),
        series: store,
        kind: StoreKind::Postgres(ccm_store_postgres::redact_url(url)),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[tokio::test]
    async fn the_simulated_world_is_kept_beside_a_sqlite_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("ccm.db");
        let mut config = Config::default();
        config.database.url =
            ccm_core::secret::Secret::new(format!("sqlite://{}", database.display()));
        let on_file = open_store(&config).await.unwrap();
        assert_eq!(
            on_file.sim_world_file(),
            Some(dir.path().join("ccm.db.sim-world.json"))
        );

        config.database.url = ccm_core::secret::Secret::new("sqlite::memory:");
        assert_eq!(open_store(&config).await.unwrap().sim_world_file(), None);
        assert_eq!(OpenedStore::memory().sim_world_file(), None);
    }
}
