//! Nimbus, the example's other cloud, against ccm's cloud port: the port's
//! conformance suite, and the engine driving a worker on it as the
//! `custom_cloud` example does.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use ccm_core::ids::Region;
use ccm_core::ports::cloud::CloudProvider;
use ccm_core::ports::VirtualClock;
use ccm_core::testing::cloud::{self as cloud_suite, CloudHarness};
use ccm_core::time::from_unix_seconds;
use ccm_core::worker::LifecycleState;
use ccm_examples::custom_cloud::tour::{tour, FLAVOR};
use ccm_examples::custom_cloud::{NimbusCloud, ServerState, SERVER_ID_PREFIX};

struct NimbusHarness {
    clock: VirtualClock,
    cloud: NimbusCloud,
}

impl NimbusHarness {
    fn new() -> Self {
        let clock = VirtualClock::new(from_unix_seconds(1_767_225_600));
        let cloud = NimbusCloud::new(Arc::new(clock.clone()), &["fra1", "ams1"]);
        Self { clock, cloud }
    }
}

#[async_trait]
impl CloudHarness for NimbusHarness {
    fn provider(&self) -> &dyn CloudProvider {
        &self.cloud
    }

    fn region(&self) -> Region {
        Region::new("fra1")
    }

    fn image_name_pattern(&self) -> String {
        "cml-2.9*".to_owned()
    }

    fn instance_type(&self) -> String {
        FLAVOR.to_owned()
    }

    async fn settle(&self) {
        // Longer than any of Nimbus's transitions and its health warm-up.
        self.clock.advance_seconds(10 * 60);
    }
}

#[tokio::test]
async fn nimbus_passes_the_cloud_provider_suite() {
    let harness = NimbusHarness::new();
    let report = cloud_suite::run_all(&harness).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.passed.len(), 10, "{report:?}");
}

#[tokio::test]
async fn an_unknown_region_is_refused() {
    let harness = NimbusHarness::new();
    let result = harness
        .cloud
        .find_images(&Region::new("us-east-1"), "cml-*")
        .await;
    assert!(
        matches!(
            result,
            Err(ccm_core::ports::cloud::CloudError::InvalidRequest { ref code, .. }) if code == "UnknownRegion"
        ),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_engine_creates_stops_and_starts_a_worker_on_nimbus() {
    let tour = tour().await.unwrap();
    let story = tour.lines.join("\n");
    let steps: Vec<_> = tour
        .checkpoints
        .iter()
        .map(|c| (c.step, c.lifecycle, c.server))
        .collect();
    assert_eq!(
        steps,
        [
            (
                "created",
                LifecycleState::Running,
                Some(ServerState::Active)
            ),
            (
                "stopped",
                LifecycleState::Stopped,
                Some(ServerState::Shutoff)
            ),
            (
                "started",
                LifecycleState::Running,
                Some(ServerState::Active)
            ),
        ],
        "{story}"
    );
    let server = tour.checkpoints[0].server_id.clone().unwrap();
    assert!(server.starts_with(SERVER_ID_PREFIX), "{server}");
    assert!(
        tour.checkpoints
            .iter()
            .all(|c| c.server_id.as_deref() == Some(server.as_str())),
        "the worker kept one server: {story}"
    );
    assert!(
        story.contains("cml-2.9.1-nimbus"),
        "newest CML image: {story}"
    );
    for operation in ["CreateServer", "StopServers", "StartServers", "ListServers"] {
        assert!(
            tour.calls.get(operation).is_some_and(|n| *n > 0),
            "no {operation} in {:?}",
            tour.calls
        );
    }
    assert!(
        !tour.calls.contains_key("DeleteServers"),
        "{:?}",
        tour.calls
    );
}
