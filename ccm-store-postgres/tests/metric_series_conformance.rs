//! The metric-series conformance suite against the real PostgreSQL server, in a
//! schema of its own, and a rough measurement of compaction at fleet scale.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ccm_core::testing::metric_series::{measure_compaction, run_all};
use ccm_core::testing::store::StoreFactory;

#[tokio::test]
async fn postgres_metric_series_passes_the_suite() {
    let factory = common::PgFactory::new().await;
    let store = factory.open().await;
    let outcome = run_all(&store).await;
    store.close().await;
    factory.cleanup().await;
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

#[tokio::test]
async fn postgres_compaction_of_a_fleet_day() {
    let factory = common::PgFactory::new().await;
    let store = factory.open().await;
    let outcome = measure_compaction(&store, fleet_size()).await;
    store.close().await;
    factory.cleanup().await;
    println!("PostgreSQL: {}", outcome.unwrap());
}

/// Workers of the compaction check: small by default, 1,000 for the figures in
/// BENCHMARKS.md (`CCM_COMPACTION_WORKERS=1000`, about 300,000 points).
fn fleet_size() -> usize {
    std::env::var("CCM_COMPACTION_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(25)
}
