//! The simulated AWS behind [`CloudProvider`]: EC2 instances whose state follows the
//! clock, an AMI catalog, tags, status checks, CloudWatch metrics that follow the CML
//! load, per-region capacity caps, throttling, idempotent launches and call counting.

pub(crate) mod images;
pub(crate) mod instances;
pub(crate) mod metrics;
pub(crate) mod ops;
pub(crate) mod region;
pub(crate) mod throttle;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use ccm_core::ids::{ImageId, InstanceId, Region};
use ccm_core::ports::cloud::{
    CloudError, CloudProvider, DiscoveryFilter, Image, Instance, InstanceStatusCheck,
    LaunchRequest, MetricSample, MetricsQuery, StateChange,
};
use ccm_core::time::Timestamp;

use crate::world::{Shared, World};
use ops::StateOp;

/// A [`CloudProvider`] view of a [`crate::Simulation`]. Cheap to clone; every clone
/// sees the same world.
#[derive(Clone, Debug)]
pub struct SimCloud {
    shared: Arc<Shared>,
}

impl SimCloud {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }

    /// Runs one port operation: latency fault, then `f` on the locked world at the
    /// current time.
    async fn call<T>(
        &self,
        operation: &str,
        f: impl FnOnce(&mut World, Timestamp) -> Result<T, CloudError>,
    ) -> Result<T, CloudError> {
        self.shared.latency().await;
        let (mut world, now) = self.shared.lock_at().map_err(|e| e.into_cloud(operation))?;
        f(&mut world, now)
    }
}

#[async_trait]
impl CloudProvider for SimCloud {
    async fn launch(&self, request: &LaunchRequest) -> Result<Instance, CloudError> {
        self.call("RunInstances", |w, now| w.launch(request, now))
            .await
    }

    async fn start(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.call("StartInstances", |w, now| {
            w.change_state(StateOp::Start, region, ids, now)
        })
        .await
    }

    async fn stop(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.call("StopInstances", |w, now| {
            w.change_state(StateOp::Stop, region, ids, now)
        })
        .await
    }

    async fn terminate(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.call("TerminateInstances", |w, now| {
            w.change_state(StateOp::Terminate, region, ids, now)
        })
        .await
    }

    async fn describe(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<Instance>, CloudError> {
        self.call("DescribeInstances", |w, now| w.describe(region, ids, now))
            .await
    }

    async fn status_checks(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<InstanceStatusCheck>, CloudError> {
        self.call("DescribeInstanceStatus", |w, now| {
            w.status_checks(region, ids, now)
        })
        .await
    }

    async fn metrics(
        &self,
        region: &Region,
        query: &MetricsQuery,
    ) -> Result<Vec<MetricSample>, CloudError> {
        self.call("GetMetricData", |w, now| w.metrics(region, query, now))
            .await
    }

    async fn find_images(
        &self,
        region: &Region,
        name_pattern: &str,
    ) -> Result<Vec<Image>, CloudError> {
        self.call("DescribeImages", |w, now| {
            w.find_images(region, name_pattern, now)
        })
        .await
    }

    async fn describe_images(
        &self,
        region: &Region,
        ids: &[ImageId],
    ) -> Result<Vec<Image>, CloudError> {
        self.call("DescribeImages", |w, now| {
            w.describe_images(region, ids, now)
        })
        .await
    }

    async fn discover(
        &self,
        region: &Region,
        filter: &DiscoveryFilter,
    ) -> Result<Vec<Instance>, CloudError> {
        self.call("DescribeInstances", |w, now| {
            w.discover(region, filter, now)
        })
        .await
    }

    async fn set_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        self.call("CreateTags", |w, now| {
            w.modify("CreateTags", region, ids, now, |r| {
                r.tags
                    .extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
            })
        })
        .await
    }

    async fn remove_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        keys: &[String],
    ) -> Result<(), CloudError> {
        self.call("DeleteTags", |w, now| {
            w.modify("DeleteTags", region, ids, now, |r| {
                for key in keys {
                    r.tags.remove(key);
                }
            })
        })
        .await
    }

    async fn enable_detailed_monitoring(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<(), CloudError> {
        self.call("MonitorInstances", |w, now| {
            w.modify("MonitorInstances", region, ids, now, |r| {
                r.detailed_monitoring = true
            })
        })
        .await
    }
}
