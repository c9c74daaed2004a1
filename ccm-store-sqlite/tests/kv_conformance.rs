//! The key-value conformance suite against an SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use ccm_store_sqlite::SqliteStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_key_value_store_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}/ccm.db", dir.path().display()))
        .await
        .unwrap();
    let kv = Arc::new(store);
    if let Err(failure) = ccm_core::testing::kv::run_all(kv.clone(), "sqlite").await {
        panic!("{failure}");
    }
    kv.close().await;
}

#[tokio::test]
async fn records_survive_a_reopen() {
    use ccm_core::ports::kv::{Expect, KeyValueStore};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ccm.db", dir.path().display());
    let now = ccm_core::time::from_unix_seconds(1_750_000_000);
    let store = SqliteStore::open(&url).await.unwrap();
    store
        .put(
            "relay",
            "sink",
            "{\"sequence\":7}",
            Expect::Absent,
            None,
            now,
        )
        .await
        .unwrap();
    store.close().await;
    let store = SqliteStore::open(&url).await.unwrap();
    let entry = store.get("relay", "sink", now).await.unwrap().unwrap();
    assert_eq!(
        (entry.value.as_str(), entry.version),
        ("{\"sequence\":7}", 1)
    );
}
