//! The store conformance suite, concurrency included, against SQLite files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use async_trait::async_trait;
use ccm_core::testing::store::StoreFactory;
use ccm_store_sqlite::SqliteStore;

/// A fresh database file in its own temporary directory (removed on drop).
struct SqliteFactory {
    dir: tempfile::TempDir,
}

impl SqliteFactory {
    async fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn url(&self) -> String {
        // A nested path: the store creates the missing directory.
        format!("sqlite://{}/data/ccm.db", self.dir.path().display())
    }
}

#[async_trait]
impl StoreFactory for SqliteFactory {
    type Store = SqliteStore;

    async fn open(&self) -> SqliteStore {
        SqliteStore::open(&self.url())
            .await
            .expect("open SQLite store")
    }

    fn durable(&self) -> bool {
        true
    }

    async fn close(&self, store: SqliteStore) {
        store.close().await;
    }
}

ccm_core::store_conformance_tests!(SqliteFactory::new());
