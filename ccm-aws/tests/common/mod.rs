//! Shared by the moto integration tests: a started server with a provider, the
//! conformance harness, and datapoint publishing.
#![allow(dead_code)]

pub mod proxy;

use std::collections::BTreeMap;

use async_trait::async_trait;
use ccm_aws::aws_sdk_cloudwatch::primitives::DateTime;
use ccm_aws::aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use ccm_aws::testing::{MotoServer, MOTO_REGION};
use ccm_aws::{AwsCloud, AwsConfig};
use ccm_core::ids::{InstanceId, Region, WorkerId};
use ccm_core::ports::cloud::{CloudProvider, ImageSelector, LaunchRequest, MetricName};
use ccm_core::testing::cloud::CloudHarness;
use ccm_core::time::Timestamp;

/// A moto server and a provider pointed at it.
pub struct Moto {
    pub server: MotoServer,
    pub cloud: AwsCloud,
}

impl Moto {
    /// Starts moto; fails the test with setup instructions when it is missing.
    pub async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    /// Starts moto with a tweaked provider configuration.
    pub async fn start_with(tweak: impl FnOnce(AwsConfig) -> AwsConfig) -> Self {
        let server = MotoServer::start().await.unwrap_or_else(|e| panic!("{e}"));
        let cloud = AwsCloud::new(tweak(server.config())).expect("provider config");
        Self { server, cloud }
    }

    /// Another provider on the same server (a restarted process, say).
    pub fn another_provider(&self) -> AwsCloud {
        AwsCloud::new(self.server.config()).expect("provider config")
    }
}

pub fn region() -> Region {
    Region::new(MOTO_REGION)
}

/// A launch request like the conformance suite's.
pub fn request(worker: WorkerId, name: &str, image: ImageSelector) -> LaunchRequest {
    LaunchRequest {
        worker_id: worker,
        region: region(),
        name: name.to_owned(),
        image,
        instance_type: "m5zn.metal".to_owned(),
        subnet_id: None,
        security_group_ids: Vec::new(),
        key_name: None,
        iam_instance_profile: None,
        tags: BTreeMap::from([("ccm:test".to_owned(), "moto".to_owned())]),
        detailed_monitoring: false,
    }
}

pub fn pattern(p: &str) -> ImageSelector {
    ImageSelector::NamePattern(p.to_owned())
}

/// Launches `n` workers by pattern `cml-2.9*`, returning their instance ids.
pub async fn launch_many(cloud: &AwsCloud, n: usize, name: &str) -> Vec<InstanceId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let instance = cloud
            .launch(&request(
                WorkerId::new(),
                &format!("{name}-{i}"),
                pattern("cml-2.9*"),
            ))
            .await
            .expect("launch");
        ids.push(instance.instance_id);
    }
    ids
}

/// Publishes one datapoint per (instance, metric) at `at` with `value(instance
/// index, metric)`; `PutMetricData` takes one namespace and up to 1,000 datums.
pub async fn put_metrics(
    cloud: &AwsCloud,
    ids: &[InstanceId],
    at: Timestamp,
    value: impl Fn(usize, MetricName) -> f64,
) {
    let cw = cloud.cloudwatch_client(&region()).await.expect("client");
    let timestamp = DateTime::from_secs(at.timestamp());
    for namespace in ["AWS/EC2", "CWAgent"] {
        let datums: Vec<MetricDatum> = ids
            .iter()
            .enumerate()
            .flat_map(|(index, id)| {
                MetricName::ALL
                    .into_iter()
                    .filter(|m| m.cloudwatch_name().0 == namespace)
                    .map(|m| {
                        MetricDatum::builder()
                            .metric_name(m.cloudwatch_name().1)
                            .dimensions(
                                Dimension::builder()
                                    .name("InstanceId")
                                    .value(id.as_str())
                                    .build(),
                            )
                            .timestamp(timestamp)
                            .value(value(index, m))
                            .build()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        for chunk in datums.chunks(1000) {
            cw.put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .expect("put_metric_data");
        }
    }
}

/// The conformance harness over moto.
pub struct MotoHarness(pub Moto);

#[async_trait]
impl CloudHarness for MotoHarness {
    fn provider(&self) -> &dyn CloudProvider {
        &self.0.cloud
    }

    fn region(&self) -> Region {
        region()
    }

    fn image_name_pattern(&self) -> String {
        "cml-2.9*".to_owned()
    }

    /// moto changes state at once: nothing to wait for.
    async fn settle(&self) {}

    /// moto has no agent and no hypervisor: publish one datapoint of each metric.
    async fn prepare_metrics(&self, ids: &[InstanceId]) {
        let now = chrono::Utc::now();
        put_metrics(&self.0.cloud, ids, now, |i, m| match m {
            MetricName::CpuUtilization => 20.0 + i as f64,
            MetricName::MemUsedPercent => 55.5,
            MetricName::DiskUsedPercent => 31.0,
        })
        .await;
    }
}
