//! The cloud provider conformance suite, run against moto.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use ccm_core::testing::cloud as cloud_suite;
use common::{Moto, MotoHarness};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cloud_passes_the_cloud_provider_suite_on_moto() {
    let harness = MotoHarness(Moto::start().await);
    let report = cloud_suite::run_all(&harness).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.passed.len(), 10, "{report}");
    let calls = harness.0.cloud.call_counts();
    for op in [
        "RunInstances",
        "DescribeInstances",
        "GetMetricData",
        "MonitorInstances",
    ] {
        assert!(
            calls.get(op).copied().unwrap_or(0) > 0,
            "{op} never called: {calls:?}"
        );
    }
}
