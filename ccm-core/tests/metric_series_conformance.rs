//! The metric-series conformance suite against the in-memory adapter.
#![cfg(feature = "test-support")]

use ccm_core::store::MemoryMetricSeries;

#[tokio::test]
async fn memory_metric_series_passes_the_suite() {
    let series = MemoryMetricSeries::new();
    if let Err(failure) = ccm_core::testing::metric_series::run_all(&series).await {
        panic!("{failure}");
    }
}
