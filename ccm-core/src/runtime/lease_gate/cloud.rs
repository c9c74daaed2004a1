//! The cloud port behind the lease gate.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use super::check;
use crate::ids::{ImageId, InstanceId, Region};
use crate::ports::cloud::{
    CloudError, CloudProvider, DiscoveryFilter, Image, Instance, InstanceStatusCheck,
    LaunchRequest, MetricSample, MetricsQuery, StateChange,
};

/// A [`CloudProvider`] whose every call first checks the lease of the engine
/// step making it.
pub struct GatedCloud {
    inner: Arc<dyn CloudProvider>,
}

impl GatedCloud {
    /// Gates `inner`.
    pub fn new(inner: Arc<dyn CloudProvider>) -> Self {
        Self { inner }
    }
}

fn gate(operation: &str) -> Result<(), CloudError> {
    check(|| CloudError::LeaseLost {
        operation: operation.to_owned(),
    })
}

#[async_trait]
impl CloudProvider for GatedCloud {
    async fn launch(&self, request: &LaunchRequest) -> Result<Instance, CloudError> {
        gate("RunInstances")?;
        self.inner.launch(request).await
    }

    async fn start(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        gate("StartInstances")?;
        self.inner.start(region, ids).await
    }

    async fn stop(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        gate("StopInstances")?;
        self.inner.stop(region, ids).await
    }

    async fn terminate(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        gate("TerminateInstances")?;
        self.inner.terminate(region, ids).await
    }

    async fn describe(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<Instance>, CloudError> {
        gate("DescribeInstances")?;
        self.inner.describe(region, ids).await
    }

    async fn status_checks(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<InstanceStatusCheck>, CloudError> {
        gate("DescribeInstanceStatus")?;
        self.inner.status_checks(region, ids).await
    }

    async fn metrics(
        &self,
        region: &Region,
        query: &MetricsQuery,
    ) -> Result<Vec<MetricSample>, CloudError> {
        gate("GetMetricData")?;
        self.inner.metrics(region, query).await
    }

    async fn find_images(
        &self,
        region: &Region,
        name_pattern: &str,
    ) -> Result<Vec<Image>, CloudError> {
        gate("DescribeImages")?;
        self.inner.find_images(region, name_pattern).await
    }

    async fn describe_images(
        &self,
        region: &Region,
        ids: &[ImageId],
    ) -> Result<Vec<Image>, CloudError> {
        gate("DescribeImages")?;
        self.inner.describe_images(region, ids).await
    }

    async fn discover(
        &self,
        region: &Region,
        filter: &DiscoveryFilter,
    ) -> Result<Vec<Instance>, CloudError> {
        gate("DescribeInstances")?;
        self.inner.discover(region, filter).await
    }

    async fn set_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        gate("CreateTags")?;
        self.inner.set_tags(region, ids, tags).await
    }

    async fn remove_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        keys: &[String],
    ) -> Result<(), CloudError> {
        gate("DeleteTags")?;
        self.inner.remove_tags(region, ids, keys).await
    }

    async fn enable_detailed_monitoring(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<(), CloudError> {
        gate("MonitorInstances")?;
        self.inner.enable_detailed_monitoring(region, ids).await
    }
}
