//! The key-value conformance suite against the real PostgreSQL server, in a
//! schema of its own, and `take` raced by two stores (two processes' pools).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use ccm_core::ports::kv::{Expect, KeyValueStore};
use ccm_core::ports::store::StoreError;
use ccm_core::testing::store::StoreFactory;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_key_value_store_passes_the_suite() {
    let factory = common::PgFactory::new().await;
    let store = Arc::new(factory.open().await);
    let outcome = ccm_core::testing::kv::run_all(store.clone(), "postgres").await;
    store.close().await;
    factory.cleanup().await;
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_racing_on_one_key_never_both_win() {
    let factory = common::PgFactory::new().await;
    let stores = [
        Arc::new(factory.open().await),
        Arc::new(factory.open().await),
    ];
    let now = ccm_core::time::from_unix_seconds(1_750_000_000);
    for round in 0..20 {
        let key = format!("token-{round}");
        stores[0]
            .put("login-once", &key, "{}", Expect::Absent, None, now)
            .await
            .unwrap();
        let takes = stores.iter().map(|s| {
            let (s, key) = (s.clone(), key.clone());
            tokio::spawn(async move { s.take("login-once", &key, now).await.unwrap() })
        });
        let mut winners = 0;
        for take in takes.collect::<Vec<_>>() {
            winners += usize::from(take.await.unwrap().is_some());
        }
        assert_eq!(winners, 1, "round {round}");
        // Compare-and-swap from both stores on version 1: one write, one conflict.
        stores[0]
            .put("session", &key, "v1", Expect::Absent, None, now)
            .await
            .unwrap();
        let puts = stores.iter().enumerate().map(|(i, s)| {
            let (s, key) = (s.clone(), key.clone());
            tokio::spawn(async move {
                s.put(
                    "session",
                    &key,
                    &format!("from {i}"),
                    Expect::Version(1),
                    None,
                    now,
                )
                .await
            })
        });
        let mut written = 0;
        for put in puts.collect::<Vec<_>>() {
            match put.await.unwrap() {
                Ok(version) => {
                    assert_eq!(version, 2);
                    written += 1;
                }
                Err(StoreError::RecordConflict { actual, .. }) => assert_eq!(actual, Some(2)),
                Err(other) => panic!("{other}"),
            }
        }
        assert_eq!(written, 1, "round {round}");
    }
    for store in &stores {
        store.close().await;
    }
    factory.cleanup().await;
}
