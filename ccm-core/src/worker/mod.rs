//! Workers: EC2 instances hosting CML. A worker carries a spec (what the operator
//! wants) and a status (what was observed); see [`aggregate`] for the commands
//! that change it and the events they emit.

mod activity;
pub mod aggregate;
mod billing;
mod capacity;
mod cml_service;
pub mod endpoint_allow;
pub mod endpoint_url;
mod licence;
mod lifecycle;
pub mod limits;
mod metrics;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use activity::{Activity, ActivityEvent, PauseReason, ResumeReason};
pub use aggregate::NewWorker;
pub use billing::{BillingLedger, BILLING_DAYS_KEPT};
pub use capacity::{Allocation, Capacity, UnmanagedUsage};
pub use cml_service::{CmlCertificate, CmlService, CmlServiceState};
pub use endpoint_allow::{AllowEntry, EndpointAllowList};
pub use endpoint_url::{EndpointError, EndpointUrl, Host};
pub use licence::{LicenceFeature, LicenceKind, LicenceState, LicenceStatus};
pub use lifecycle::{DesiredStatus, LifecycleState};
pub use metrics::{CloudWatchMetrics, CmlStats, Ec2StatusChecks, Sourced, WorkerMetrics};

use crate::catalog::NodeCatalog;
use crate::ids::{ImageId, InstanceId, Region, WorkerId};
use crate::meta::ObjectMeta;
use crate::ports::cloud::InstanceState;
use crate::time::Timestamp;

/// The machine image a worker runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmiInfo {
    /// AMI id.
    pub id: ImageId,
    /// AMI name.
    pub name: Option<String>,
    /// AMI description.
    pub description: Option<String>,
    /// When the AMI was created.
    pub created_at: Option<Timestamp>,
}

/// How to reach the worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Network {
    /// CML base URL (from the `ccm:cml-endpoint` tag, or derived from an IP).
    pub endpoint: Option<String>,
    /// Public IPv4.
    pub public_ip: Option<String>,
    /// Private IPv4.
    pub private_ip: Option<String>,
}

/// Idle-detection settings of one worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleSettings {
    /// Whether idle workers are paused automatically.
    pub enabled: bool,
    /// Minutes without activity before pausing.
    pub timeout_minutes: u32,
    /// Minutes after a resume during which the worker is never paused.
    pub snooze_minutes: u32,
}

impl Default for IdleSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            timeout_minutes: 60,
            snooze_minutes: 60,
        }
    }
}

/// What the operator wants of a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerSpec {
    /// Desired instance state.
    pub desired_status: DesiredStatus,
    /// Idle detection.
    pub idle: IdleSettings,
    /// A draining worker takes no new lablets.
    pub draining: bool,
    /// Why ccm wants it stopped (recorded on the pause once observed).
    pub stop_reason: Option<PauseReason>,
    /// Why ccm wants it running (recorded on the resume once observed).
    pub start_reason: Option<ResumeReason>,
    /// Per-worker metrics interval in seconds; `None` follows the fleet setting.
    pub monitoring_interval_seconds: Option<u32>,
    /// CML base URL set by an admin (checked against `cml.endpoint_allow`); `None`
    /// uses the instance's `ccm:cml-endpoint` tag or its address.
    #[serde(default)]
    pub cml_endpoint: Option<String>,
    /// The configured image (by its name in the launch template's `images`) the
    /// instance is launched from; `None`: the launch template's own image.
    #[serde(default)]
    pub image: Option<String>,
}

/// What was observed of a worker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    /// Instance lifecycle.
    pub lifecycle: LifecycleState,
    /// EC2 state last seen.
    pub ec2_state: Option<InstanceState>,
    /// Why the lifecycle last changed.
    pub reason: Option<String>,
    /// CML service.
    pub cml: CmlService,
    /// CML licence.
    pub licence: LicenceStatus,
    /// Metrics by source.
    pub metrics: WorkerMetrics,
    /// Activity and pauses.
    pub activity: Activity,
    /// Capacity and allocations.
    pub capacity: Capacity,
    /// When the instance was launched.
    pub launched_at: Option<Timestamp>,
    /// When the lifecycle last changed.
    pub transitioned_at: Option<Timestamp>,
    /// When it was terminated.
    pub terminated_at: Option<Timestamp>,
    /// Next scheduled metrics refresh; filled from the job runner when read through
    /// the engine, never written by a sweep.
    pub next_refresh_at: Option<Timestamp>,
    /// Detailed (1-minute) CloudWatch monitoring is on.
    #[serde(default)]
    pub detailed_monitoring: bool,
    /// Utilisation alerts currently raised.
    #[serde(default)]
    pub alerts: BTreeSet<AlertMetric>,
    /// Node and image definitions its CML offers; `None` until first read. Shared
    /// behind an `Arc` because every placement round copies it per worker.
    #[serde(default)]
    pub catalog: Option<Arc<NodeCatalog>>,
    /// Billed compute time: the open stretch and the last days' closed ones.
    #[serde(default)]
    pub billing: BillingLedger,
}

/// A utilisation dimension that can raise an alert.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertMetric {
    /// CPU percent.
    Cpu,
    /// Memory percent.
    Memory,
    /// Disk percent.
    Disk,
    /// The CML certificate changed and waits for an admin (raised at 1 of 1,
    /// cleared by the acceptance).
    CmlCertificate,
}

/// Who did what to a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Audit {
    /// Who created or imported it.
    pub created_by: Option<String>,
    /// Who terminated it.
    pub terminated_by: Option<String>,
}

/// An EC2 instance hosting CML.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Worker {
    /// Identifier.
    pub id: WorkerId,
    /// Metadata (`meta.name` is the worker name, `meta.labels` its labels).
    pub meta: ObjectMeta,
    /// AWS region.
    pub region: Region,
    /// EC2 instance, once launched or imported.
    pub instance_id: Option<InstanceId>,
    /// EC2 instance type (`m5zn.metal`).
    pub instance_type: String,
    /// Machine image.
    pub ami: Option<AmiInfo>,
    /// Endpoint and addresses.
    pub network: Network,
    /// EC2 tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Desired state.
    pub spec: WorkerSpec,
    /// Observed state.
    pub status: WorkerStatus,
    /// Audit trail.
    pub audit: Audit,
}

impl Worker {
    /// The worker name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }

    /// True when CML on the worker can host new labs right now.
    pub fn can_host_labs(&self) -> bool {
        self.status.lifecycle == LifecycleState::Running
            && self.status.cml.state == CmlServiceState::Available
    }
}
