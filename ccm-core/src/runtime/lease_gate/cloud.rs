//! The cloud port behind the lease gate.

use std::collections::BTreeMap;
use std::sync::Arc;

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

gated_port! {
    impl CloudProvider for GatedCloud {
        async fn launch(&self, request: &LaunchRequest)
            -> Result<Instance, CloudError> => gate("RunInstances");
        async fn start(&self, region: &Region, ids: &[InstanceId])
            -> Result<Vec<StateChange>, CloudError> => gate("StartInstances");
        async fn stop(&self, region: &Region, ids: &[InstanceId])
            -> Result<Vec<StateChange>, CloudError> => gate("StopInstances");
        async fn terminate(&self, region: &Region, ids: &[InstanceId])
            -> Result<Vec<StateChange>, CloudError> => gate("TerminateInstances");
        async fn describe(&self, region: &Region, ids: &[InstanceId])
            -> Result<Vec<Instance>, CloudError> => gate("DescribeInstances");
        async fn status_checks(&self, region: &Region, ids: &[InstanceId])
            -> Result<Vec<InstanceStatusCheck>, CloudError> => gate("DescribeInstanceStatus");
        async fn metrics(&self, region: &Region, query: &MetricsQuery)
            -> Result<Vec<MetricSample>, CloudError> => gate("GetMetricData");
        async fn find_images(&self, region: &Region, name_pattern: &str)
            -> Result<Vec<Image>, CloudError> => gate("DescribeImages");
        async fn describe_images(&self, region: &Region, ids: &[ImageId])
            -> Result<Vec<Image>, CloudError> => gate("DescribeImages");
        async fn discover(&self, region: &Region, filter: &DiscoveryFilter)
            -> Result<Vec<Instance>, CloudError> => gate("DescribeInstances");
        async fn set_tags(
            &self, region: &Region, ids: &[InstanceId], tags: &BTreeMap<String, String>
        ) -> Result<(), CloudError> => gate("CreateTags");
        async fn remove_tags(&self, region: &Region, ids: &[InstanceId], keys: &[String])
            -> Result<(), CloudError> => gate("DeleteTags");
        async fn enable_detailed_monitoring(&self, region: &Region, ids: &[InstanceId])
            -> Result<(), CloudError> => gate("MonitorInstances");
        ungated {}
    }
}
