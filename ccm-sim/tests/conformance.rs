//! The ports' conformance suites, run against the simulator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use async_trait::async_trait;
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::cloud::{CloudProvider, ImageSelector, LaunchRequest};
use ccm_core::ports::cml::{CmlClient, CmlEndpoint};
use ccm_core::testing::cloud::{self as cloud_suite, CloudHarness};
use ccm_core::testing::cml::{self as cml_suite, CmlHarness};
use ccm_sim::{endpoint_instance, SimCloud, SimCml, Simulation};

struct SimCloudHarness {
    sim: Simulation,
    cloud: SimCloud,
}

impl SimCloudHarness {
    fn new(seed: u64) -> Self {
        let sim = Simulation::new(seed);
        let cloud = sim.cloud();
        Self { sim, cloud }
    }
}

#[async_trait]
impl CloudHarness for SimCloudHarness {
    fn provider(&self) -> &dyn CloudProvider {
        &self.cloud
    }

    fn region(&self) -> Region {
        Region::new("us-east-1")
    }

    fn image_name_pattern(&self) -> String {
        "cml-2.9*".to_owned()
    }

    async fn settle(&self) {
        self.sim.settle().unwrap();
    }
}

struct SimCmlHarness {
    sim: Simulation,
    cml: SimCml,
}

impl SimCmlHarness {
    fn new(seed: u64) -> Self {
        let sim = Simulation::new(seed);
        let cml = sim.cml();
        Self { sim, cml }
    }

    async fn launch(&self) -> CmlEndpoint {
        let worker = WorkerId::new();
        let request = LaunchRequest {
            worker_id: worker,
            region: Region::new("eu-west-1"),
            name: "cml-conformance".into(),
            image: ImageSelector::NamePattern("cml-*".into()),
            instance_type: "m5zn.metal".into(),
            subnet_id: None,
            security_group_ids: vec![],
            key_name: None,
            iam_instance_profile: None,
            tags: BTreeMap::new(),
            detailed_monitoring: false,
        };
        let instance = self.sim.cloud().launch(&request).await.unwrap();
        self.sim.cml_endpoint(worker, &instance.instance_id)
    }
}

#[async_trait]
impl CmlHarness for SimCmlHarness {
    fn client(&self) -> &dyn CmlClient {
        &self.cml
    }

    async fn endpoint(&self) -> CmlEndpoint {
        let ep = self.launch().await;
        self.sim.settle().unwrap();
        ep
    }

    async fn settle(&self) {
        self.sim.settle().unwrap();
    }

    async fn inject_user_activity(&self, endpoint: &CmlEndpoint) -> bool {
        let instance = endpoint_instance(endpoint).unwrap();
        self.sim.record_user_activity(&instance, "student").unwrap();
        true
    }

    async fn unreachable_endpoint(&self) -> Option<CmlEndpoint> {
        // Still pending: nothing answers yet.
        Some(self.launch().await)
    }
}

#[tokio::test]
async fn sim_cloud_passes_the_cloud_provider_suite() {
    let harness = SimCloudHarness::new(1);
    let report = cloud_suite::run_all(&harness).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.passed.len(), 10);
}

#[tokio::test]
async fn sim_cml_passes_the_cml_client_suite() {
    let harness = SimCmlHarness::new(2);
    let report = cml_suite::run_all(&harness).await;
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.passed.len(), 13);
}

#[tokio::test]
async fn sim_cml_passes_the_suite_on_one_shared_server() {
    // The HTTP face will serve one server for every check: run the suite that way too.
    let harness = SimCmlHarness::new(3);
    let shared = harness.endpoint().await;
    struct OneServer<'a>(&'a SimCmlHarness, CmlEndpoint);
    #[async_trait]
    impl CmlHarness for OneServer<'_> {
        fn client(&self) -> &dyn CmlClient {
            &self.0.cml
        }
        async fn endpoint(&self) -> CmlEndpoint {
            self.1.clone()
        }
        async fn settle(&self) {
            self.0.sim.settle().unwrap();
        }
    }
    let report = cml_suite::run_all(&OneServer(&harness, shared.clone())).await;
    assert!(report.is_ok(), "{report}");
    let instance = endpoint_instance(&shared).unwrap();
    assert!(
        harness.sim.labs(&instance).unwrap().is_empty(),
        "checks clean up their labs"
    );
}

#[tokio::test]
async fn the_suites_catch_a_broken_adapter() {
    // A provider that launches a new instance on every retry must fail the suite.
    struct Forgetful(SimCloudHarness);
    #[async_trait]
    impl CloudHarness for Forgetful {
        fn provider(&self) -> &dyn CloudProvider {
            self
        }
        fn region(&self) -> Region {
            self.0.region()
        }
        fn image_name_pattern(&self) -> String {
            self.0.image_name_pattern()
        }
        async fn settle(&self) {
            self.0.settle().await;
        }
    }
    #[async_trait]
    impl CloudProvider for Forgetful {
        async fn launch(
            &self,
            request: &LaunchRequest,
        ) -> Result<ccm_core::ports::cloud::Instance, ccm_core::ports::cloud::CloudError> {
            let mut fresh = request.clone();
            fresh.worker_id = WorkerId::new();
            self.0.cloud.launch(&fresh).await
        }
        async fn start(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
        ) -> Result<Vec<ccm_core::ports::cloud::StateChange>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.start(r, ids).await
        }
        async fn stop(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
        ) -> Result<Vec<ccm_core::ports::cloud::StateChange>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.stop(r, ids).await
        }
        async fn terminate(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
        ) -> Result<Vec<ccm_core::ports::cloud::StateChange>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.terminate(r, ids).await
        }
        async fn describe(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
        ) -> Result<Vec<ccm_core::ports::cloud::Instance>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.describe(r, ids).await
        }
        async fn status_checks(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
        ) -> Result<
            Vec<ccm_core::ports::cloud::InstanceStatusCheck>,
            ccm_core::ports::cloud::CloudError,
        > {
            self.0.cloud.status_checks(r, ids).await
        }
        async fn metrics(
            &self,
            r: &Region,
            q: &ccm_core::ports::cloud::MetricsQuery,
        ) -> Result<Vec<ccm_core::ports::cloud::MetricSample>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.metrics(r, q).await
        }
        async fn find_images(
            &self,
            r: &Region,
            p: &str,
        ) -> Result<Vec<ccm_core::ports::cloud::Image>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.find_images(r, p).await
        }
        async fn describe_images(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::ImageId],
        ) -> Result<Vec<ccm_core::ports::cloud::Image>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.describe_images(r, ids).await
        }
        async fn discover(
            &self,
            r: &Region,
            f: &ccm_core::ports::cloud::DiscoveryFilter,
        ) -> Result<Vec<ccm_core::ports::cloud::Instance>, ccm_core::ports::cloud::CloudError>
        {
            self.0.cloud.discover(r, f).await
        }
        async fn set_tags(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
            t: &BTreeMap<String, String>,
        ) -> Result<(), ccm_core::ports::cloud::CloudError> {
            self.0.cloud.set_tags(r, ids, t).await
        }
        async fn remove_tags(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
            k: &[String],
        ) -> Result<(), ccm_core::ports::cloud::CloudError> {
            self.0.cloud.remove_tags(r, ids, k).await
        }
        async fn enable_detailed_monitoring(
            &self,
            r: &Region,
            ids: &[ccm_core::ids::InstanceId],
        ) -> Result<(), ccm_core::ports::cloud::CloudError> {
            self.0.cloud.enable_detailed_monitoring(r, ids).await
        }
    }
    let report = cloud_suite::run_all(&Forgetful(SimCloudHarness::new(4))).await;
    assert!(!report.is_ok());
    assert!(
        report
            .failed
            .iter()
            .any(|f| f.check == "launch_is_idempotent"),
        "{report}"
    );
}
