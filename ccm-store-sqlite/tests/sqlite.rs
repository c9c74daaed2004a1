//! SQLite-specific behaviour: files and directories, WAL, schema versions, options.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_core::ports::store::{ChangeSet, Store, StoreError};
use ccm_core::testing::store::{sample_event, sample_worker};
use ccm_store_sqlite::{SqliteStore, SqliteStoreOptions};

#[tokio::test]
async fn creates_the_file_and_its_directory_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/ccm.db");
    let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
    assert_eq!(store.location(), path.display().to_string());
    store
        .commit(ChangeSet::new().events([sample_event(1, 1)]))
        .await
        .unwrap();
    // WAL mode leaves its write-ahead log beside the database.
    assert!(dir.path().join("a/b/ccm.db-wal").exists());
    store.close().await;
}

#[tokio::test]
async fn refuses_a_schema_newer_than_the_code() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ccm.db", dir.path().display());
    let store = SqliteStore::open(&url).await.unwrap();
    store.close().await;

    // Another, newer ccm applied a migration this build does not know.
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let future = SqliteStore::supported_schema_version() + 1;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (?, 'from the future', TRUE, X'00', 0)",
    )
    .bind(future)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;

    match SqliteStore::open(&url).await {
        Err(error @ StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (future, future - 1));
            assert!(error.to_string().contains("upgrade ccm"), "{error}");
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn reopening_applies_no_migration_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ccm.db", dir.path().display());
    for _ in 0..3 {
        let store = SqliteStore::open(&url).await.unwrap();
        store.close().await;
    }
}

#[tokio::test]
async fn in_memory_database_works() {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    let worker = sample_worker(1, "w", "us-east-1");
    store
        .commit(ChangeSet::new().put_worker(worker.clone()))
        .await
        .unwrap();
    assert_eq!(
        store
            .get_worker(worker.id)
            .await
            .unwrap()
            .map(|w| w.meta.version),
        Some(1)
    );
}

/// Bodies leave out `null` members (a worker's `None` fields are about 40 % of
/// its JSON), and a body written with them, as before, still reads the same.
#[tokio::test]
async fn bodies_are_stored_without_nulls_and_read_with_or_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ccm.db", dir.path().display());
    let store = SqliteStore::open(&url).await.unwrap();
    let worker = sample_worker(1, "w", "us-east-1");
    assert!(worker.instance_id.is_none() && worker.status.launched_at.is_none());
    store
        .commit(ChangeSet::new().put_worker(worker.clone()))
        .await
        .unwrap();
    let stored = store.get_worker(worker.id).await.unwrap().unwrap();
    store.close().await;

    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let (body,): (String,) = sqlx::query_as("SELECT body FROM workers")
        .fetch_one(&pool)
        .await
        .unwrap();
    let with_nulls = serde_json::to_string(&stored).unwrap();
    assert!(!body.contains(":null"), "{body}");
    assert!(
        body.len() * 10 < with_nulls.len() * 7,
        "{} bytes against {} with nulls",
        body.len(),
        with_nulls.len()
    );
    // What an earlier ccm wrote.
    sqlx::query("UPDATE workers SET body = ?")
        .bind(&with_nulls)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let store = SqliteStore::open(&url).await.unwrap();
    assert_eq!(store.get_worker(worker.id).await.unwrap(), Some(stored));
    store.close().await;
}

#[tokio::test]
async fn rejects_other_urls_with_a_clear_error() {
    match SqliteStore::open("postgres://localhost/ccm").await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("sqlite:"), "{message}");
        }
        other => panic!("expected an invalid-url error, got {other:?}"),
    }
}

#[tokio::test]
async fn options_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = SqliteStoreOptions::new(format!("sqlite://{}/ccm.db", dir.path().display()));
    options.max_connections = 2;
    options.full_sync = true;
    let store = SqliteStore::open_with(options).await.unwrap();
    assert_eq!(store.last_sequence().await.unwrap(), 0);
    store.close().await;
    assert!(matches!(
        store.last_sequence().await,
        Err(StoreError::Unavailable(_))
    ));
}

#[tokio::test]
async fn a_file_is_opened_by_one_store_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ccm.db");
    let url = format!("sqlite://{}", path.display());
    let first = SqliteStore::open(&url).await.unwrap();
    match SqliteStore::open(&url).await {
        Err(error @ StoreError::InUse { .. }) => {
            let message = error.to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("ccm.db.lock"), "{message}");
            assert!(message.contains("PostgreSQL"), "{message}");
        }
        other => panic!("expected InUse while the first store is open, got {other:?}"),
    }
    drop(first);
    let second = SqliteStore::open(&url).await.unwrap();
    // Closing releases the file too, even before the store is dropped.
    second.close().await;
    let third = SqliteStore::open(&url).await.unwrap();
    assert_eq!(third.last_sequence().await.unwrap(), 0);
    // Private in-memory databases share no file: any number may be open.
    let _a = SqliteStore::open("sqlite::memory:").await.unwrap();
    let _b = SqliteStore::open("sqlite::memory:").await.unwrap();
}
