//! The metric-series conformance suite against an SQLite file, and a rough
//! measurement of compaction at fleet scale.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_core::testing::metric_series::{measure_compaction, run_all};
use ccm_store_sqlite::SqliteStore;

async fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(&format!("sqlite://{}/ccm.db", dir.path().display()))
        .await
        .unwrap()
}

#[tokio::test]
async fn sqlite_metric_series_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    if let Err(failure) = run_all(&store).await {
        panic!("{failure}");
    }
}

#[tokio::test]
async fn sqlite_compaction_of_a_fleet_day() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir).await;
    println!(
        "SQLite: {}",
        measure_compaction(&store, fleet_size()).await.unwrap()
    );
}

/// Workers of the compaction check: small by default, 1,000 for the figures in
/// BENCHMARKS.md (`CCM_COMPACTION_WORKERS=1000`, about 300,000 points).
fn fleet_size() -> usize {
    std::env::var("CCM_COMPACTION_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
}
