//! The cloud port: EC2 and CloudWatch, batch-first. One call covers many
//! instances so a fleet-wide sweep costs a handful of API calls, not one per worker.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{ImageId, InstanceId, Region, WorkerId};
use crate::state_machine::named_states;
use crate::time::Timestamp;

/// Tag carrying the worker id on every instance ccm launches; looked up before
/// launching so a retried launch finds the instance it already made.
pub const WORKER_ID_TAG: &str = "ccm:worker-id";
/// Tag that overrides the CML endpoint of an instance (NAT, proxies, tests).
pub const CML_ENDPOINT_TAG: &str = "ccm:cml-endpoint";

/// Which image to launch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", content = "value", rename_all = "snake_case")]
pub enum ImageSelector {
    /// A specific AMI.
    Id(ImageId),
    /// The newest AMI whose name matches the pattern (`*` wildcards).
    NamePattern(String),
}

/// An EC2 instance state, as `DescribeInstances` names it. A name this build
/// does not know reads as [`InstanceState::Unknown`] instead of failing, so a
/// new AWS state cannot stop a sweep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    /// Booting (EC2 code 0).
    Pending,
    /// Running (16).
    Running,
    /// Terminating (32).
    ShuttingDown,
    /// Gone for good (48).
    Terminated,
    /// Stopping (64).
    Stopping,
    /// Stopped: no compute billed, volumes kept (80).
    Stopped,
    /// A state name this build does not know, or none reported.
    #[serde(other)]
    Unknown,
}

named_states!(InstanceState {
    Pending => "pending",
    Running => "running",
    ShuttingDown => "shutting-down",
    Terminated => "terminated",
    Stopping => "stopping",
    Stopped => "stopped",
    Unknown => "unknown",
});

impl InstanceState {
    /// The state EC2 calls `name` ([`InstanceState::Unknown`] for any other).
    pub fn from_name(name: &str) -> Self {
        Self::ALL
            .iter()
            .copied()
            .find(|state| state.as_str() == name)
            .unwrap_or(Self::Unknown)
    }

    /// The state of EC2's numeric code (the low byte; the high byte is internal).
    pub fn from_code(code: i32) -> Self {
        match code & 0xff {
            0 => Self::Pending,
            16 => Self::Running,
            32 => Self::ShuttingDown,
            48 => Self::Terminated,
            64 => Self::Stopping,
            80 => Self::Stopped,
            _ => Self::Unknown,
        }
    }

    /// True once the instance is gone or going (shutting down, terminated).
    pub fn is_gone(self) -> bool {
        matches!(self, Self::ShuttingDown | Self::Terminated)
    }

    /// The states of an instance that exists and may run again.
    pub const LIVE: [Self; 4] = [Self::Pending, Self::Running, Self::Stopping, Self::Stopped];
}

impl std::fmt::Display for InstanceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything needed to launch one worker instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchRequest {
    /// Worker the instance is for (tagged as [`WORKER_ID_TAG`]).
    pub worker_id: WorkerId,
    /// Region.
    pub region: Region,
    /// `Name` tag.
    pub name: String,
    /// Image.
    pub image: ImageSelector,
    /// Instance type.
    pub instance_type: String,
    /// Subnet.
    pub subnet_id: Option<String>,
    /// Security groups.
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    /// Key pair.
    pub key_name: Option<String>,
    /// IAM instance profile name.
    pub iam_instance_profile: Option<String>,
    /// Extra tags (default tags of the deployment plus the worker's).
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Enable detailed (1-minute) CloudWatch monitoring.
    pub detailed_monitoring: bool,
}

impl LaunchRequest {
    /// The EC2 `ClientToken` for this launch, derived from the worker id.
    pub fn client_token(&self) -> String {
        format!("ccm-{}", self.worker_id)
    }
}

/// An instance as the provider describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    /// Instance id.
    pub instance_id: InstanceId,
    /// Region.
    pub region: Region,
    /// Instance type.
    pub instance_type: String,
    /// EC2 state.
    pub state: InstanceState,
    /// AMI it was launched from.
    pub image_id: ImageId,
    /// Launch time.
    pub launched_at: Option<Timestamp>,
    /// Public IPv4.
    pub public_ip: Option<String>,
    /// Private IPv4.
    pub private_ip: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Detailed monitoring on.
    pub detailed_monitoring: bool,
}

/// A machine image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    /// AMI id.
    pub id: ImageId,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Creation date.
    pub created_at: Option<Timestamp>,
}

/// EC2 status checks of one instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceStatusCheck {
    /// Instance id.
    pub instance_id: InstanceId,
    /// Instance status (`ok`, `impaired`, `initializing`, `insufficient-data`, `not-applicable`).
    pub instance_status: String,
    /// System status.
    pub system_status: String,
}

/// The state change a start/stop/terminate caused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// Instance id.
    pub instance_id: InstanceId,
    /// State before the call.
    pub previous: InstanceState,
    /// State after the call.
    pub current: InstanceState,
}

/// Instances to discover, for import and auto-import. Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscoveryFilter {
    /// Launched from one of these AMIs.
    #[serde(default)]
    pub image_ids: Vec<ImageId>,
    /// Launched from an AMI whose name matches (`*` wildcards).
    pub image_name_pattern: Option<String>,
    /// Carrying all of these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Include terminated and shutting-down instances.
    pub include_terminated: bool,
}

/// Metrics ccm reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    /// `AWS/EC2 CPUUtilization`.
    CpuUtilization,
    /// `CWAgent mem_used_percent`.
    MemUsedPercent,
    /// `CWAgent disk_used_percent`.
    DiskUsedPercent,
}

impl MetricName {
    /// Every metric ccm reads.
    pub const ALL: [MetricName; 3] = [
        MetricName::CpuUtilization,
        MetricName::MemUsedPercent,
        MetricName::DiskUsedPercent,
    ];

    /// CloudWatch namespace and metric name.
    pub fn cloudwatch_name(self) -> (&'static str, &'static str) {
        match self {
            MetricName::CpuUtilization => ("AWS/EC2", "CPUUtilization"),
            MetricName::MemUsedPercent => ("CWAgent", "mem_used_percent"),
            MetricName::DiskUsedPercent => ("CWAgent", "disk_used_percent"),
        }
    }
}

/// A metrics query over many instances.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsQuery {
    /// Instances.
    pub instance_ids: Vec<InstanceId>,
    /// Metrics.
    pub metrics: Vec<MetricName>,
    /// Window start.
    pub start: Timestamp,
    /// Window end.
    pub end: Timestamp,
    /// Aggregation period in seconds (60 or 300).
    pub period_seconds: u32,
}

/// The latest datapoint of one metric of one instance in the window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricSample {
    /// Instance id.
    pub instance_id: InstanceId,
    /// Metric.
    pub metric: MetricName,
    /// Average over the period; `None` when there was no datapoint.
    pub value: Option<f64>,
    /// Timestamp of the datapoint.
    pub at: Option<Timestamp>,
}

/// What can go wrong talking to the cloud.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// The API throttled us even after retries.
    #[error("{operation} throttled: {message}")]
    Throttled {
        /// API operation.
        operation: String,
        /// Provider message.
        message: String,
    },
    /// No capacity for the instance type in the zone.
    #[error("insufficient capacity for {instance_type} in {region}: {message}")]
    InsufficientCapacity {
        /// Region.
        region: String,
        /// Instance type.
        instance_type: String,
        /// Provider message.
        message: String,
    },
    /// An instance or image does not exist.
    #[error("{what} `{id}` not found")]
    NotFound {
        /// `instance` or `image`.
        what: &'static str,
        /// Its id or pattern.
        id: String,
    },
    /// The request was refused as invalid.
    #[error("{operation} rejected ({code}): {message}")]
    InvalidRequest {
        /// API operation.
        operation: String,
        /// Provider error code.
        code: String,
        /// Provider message.
        message: String,
    },
    /// The endpoint could not be reached or answered 5xx after retries.
    #[error("{operation} unavailable: {message}")]
    Unavailable {
        /// API operation.
        operation: String,
        /// What happened.
        message: String,
    },
    /// Refused before it was sent: the engine step making the call no longer
    /// holds the controller lease (another process may lead now).
    #[error("{operation} not sent: this process no longer holds the controller lease")]
    LeaseLost {
        /// API operation.
        operation: String,
    },
    /// Any other provider error, with its code and request id for support cases.
    #[error("{operation} failed ({code}, request {request_id:?}): {message}")]
    Api {
        /// API operation.
        operation: String,
        /// Provider error code.
        code: String,
        /// Provider message.
        message: String,
        /// Request id.
        request_id: Option<String>,
    },
}

impl CloudError {
    /// True when retrying the same call later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            CloudError::Throttled { .. }
                | CloudError::Unavailable { .. }
                | CloudError::InsufficientCapacity { .. }
        )
    }
}

/// EC2 and CloudWatch, batch-first. All id lists may be long: adapters split them
/// into pages as the API requires and concatenate the answers.
#[async_trait]
pub trait CloudProvider: Send + Sync {
    /// Launches one instance for `request.worker_id`. Idempotent: if an instance
    /// tagged with the worker id exists (in any state but terminated), it is
    /// returned instead of launching a second one.
    async fn launch(&self, request: &LaunchRequest) -> Result<Instance, CloudError>;

    /// Starts stopped instances.
    async fn start(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError>;

    /// Stops running instances.
    async fn stop(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError>;

    /// Terminates instances.
    async fn terminate(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError>;

    /// Describes instances; unknown ids are left out of the answer, not an error.
    async fn describe(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<Instance>, CloudError>;

    /// Status checks of running instances (others are left out).
    async fn status_checks(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<InstanceStatusCheck>, CloudError>;

    /// Latest datapoint of each metric of each instance in the window.
    async fn metrics(
        &self,
        region: &Region,
        query: &MetricsQuery,
    ) -> Result<Vec<MetricSample>, CloudError>;

    /// Images whose name matches the pattern, newest first.
    async fn find_images(
        &self,
        region: &Region,
        name_pattern: &str,
    ) -> Result<Vec<Image>, CloudError>;

    /// Details of images by id; unknown ids are left out.
    async fn describe_images(
        &self,
        region: &Region,
        ids: &[ImageId],
    ) -> Result<Vec<Image>, CloudError>;

    /// Instances matching the filter.
    async fn discover(
        &self,
        region: &Region,
        filter: &DiscoveryFilter,
    ) -> Result<Vec<Instance>, CloudError>;

    /// Adds or overwrites tags.
    async fn set_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), CloudError>;

    /// Removes tags by key.
    async fn remove_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        keys: &[String],
    ) -> Result<(), CloudError>;

    /// Turns on detailed monitoring.
    async fn enable_detailed_monitoring(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<(), CloudError>;
}

/// Matches `name` against a pattern where `*` stands for any run of characters
/// and `?` for one character (the EC2 filter syntax).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_matching_follows_ec2_filters() {
        assert!(name_matches("cml-2.9*", "cml-2.9.1-2025"));
        assert!(name_matches("*", ""));
        assert!(name_matches("cml-?.9", "cml-2.9"));
        assert!(name_matches("a*b*c", "aXXbYYc"));
        assert!(!name_matches("cml-2.9*", "cml-2.8.0"));
        assert!(!name_matches("abc", "abcd"));
        assert!(name_matches("*d", "abcd"));
    }

    #[test]
    fn client_token_is_stable_per_worker() {
        let req = LaunchRequest {
            worker_id: WorkerId::from_u128(7),
            region: Region::new("us-east-1"),
            name: "w".into(),
            image: ImageSelector::Id(ImageId::new("ami-1")),
            instance_type: "m5zn.metal".into(),
            subnet_id: None,
            security_group_ids: vec![],
            key_name: None,
            iam_instance_profile: None,
            tags: BTreeMap::new(),
            detailed_monitoring: true,
        };
        assert_eq!(req.client_token(), req.clone().client_token());
        assert!(
            req.client_token().len() <= 64,
            "EC2 limits ClientToken to 64 chars"
        );
    }
}
