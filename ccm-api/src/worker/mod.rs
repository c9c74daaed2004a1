//! Workers on the wire: the worker record with its spec and observed status, the
//! requests that create, import and change one, and the answers of the worker
//! operations (import report, deletion, refresh, idle status, metrics series).
//!
//! * [`resources`] — `Resources` and `PortRange` (shared with definitions and lablets).
//! * [`states`] — the worker's enumerations.
//! * [`service`], [`metrics`], [`usage`] — the parts of the observed status.
//! * [`requests`] — bodies and queries of `/api/v1/workers…`.
//! * [`answers`] — what the operations answer besides the worker itself.

pub mod answers;
pub mod metrics;
pub mod requests;
pub mod resources;
mod sample;
pub mod service;
pub mod states;
pub mod usage;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Example;
use ccm_core::worker as core;

pub use answers::{
    IdleStatus, IdleVerdict, ImportReport, ImportSkip, MetricPoint, RefreshOutcome, WorkerDeletion,
};
pub use metrics::{CloudWatchMetrics, CmlStats, Ec2StatusChecks, WorkerMetrics};
pub use requests::{
    AcceptCmlCertificate, CreateWorker, DeleteWorkerQuery, ImportMatching, ImportWorker,
    MetricsSeriesQuery, RegisterLicence, SetCmlEndpoint, SetIdleDetection, SetMonitoringInterval,
    SetWorkerTags, StopWorkerQuery, WorkerListQuery,
};
pub use resources::{PortRange, Resources};
pub use service::{CmlCertificate, CmlService, LicenceFeature, LicenceStatus, NodeCatalog};
pub use states::{
    AlertMetric, CmlServiceState, DesiredStatus, InstanceState, LicenceKind, LicenceState,
    LifecycleState, PauseReason, ResumeReason,
};
pub use usage::{Activity, ActivityEvent, Allocation, Capacity, UnmanagedUsage};

/// Bookkeeping shared by workers, lab records, definitions and lablets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ObjectMeta {
    /// Human-readable name (not necessarily unique).
    pub name: String,
    /// Free-form labels used for filtering and selection.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Store version: bumped by every committed write.
    pub version: u64,
    /// Bumped whenever the spec (what the operator wants) changes.
    pub generation: u64,
    /// The generation the controller last acted on; `observed_generation <
    /// generation` means work is due.
    pub observed_generation: u64,
    /// Names of cleanups that must finish before the record may be removed.
    #[serde(default)]
    pub finalizers: Vec<String>,
    /// Set when deletion was requested; the record goes once finalizers are empty.
    pub deletion_timestamp: Option<DateTime<Utc>>,
    /// When the resource was created.
    pub created_at: DateTime<Utc>,
    /// When the resource last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&ccm_core::meta::ObjectMeta> for ObjectMeta {
    fn from(m: &ccm_core::meta::ObjectMeta) -> Self {
        Self {
            name: m.name.clone(),
            labels: m.labels.clone(),
            version: m.version,
            generation: m.generation,
            observed_generation: m.observed_generation,
            finalizers: m.finalizers.clone(),
            deletion_timestamp: m.deletion_timestamp,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// The machine image a worker runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AmiInfo {
    /// AMI id (`ami-0abc…`).
    pub id: String,
    /// AMI name.
    pub name: Option<String>,
    /// AMI description.
    pub description: Option<String>,
    /// When the AMI was created.
    pub created_at: Option<DateTime<Utc>>,
}

impl From<&core::AmiInfo> for AmiInfo {
    fn from(a: &core::AmiInfo) -> Self {
        Self {
            id: a.id.0.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            created_at: a.created_at,
        }
    }
}

/// How to reach the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerNetwork {
    /// CML base URL (from the admin's setting, the `ccm:cml-endpoint` tag, or
    /// derived from an IP).
    pub endpoint: Option<String>,
    /// Public IPv4.
    pub public_ip: Option<String>,
    /// Private IPv4.
    pub private_ip: Option<String>,
}

impl From<&core::Network> for WorkerNetwork {
    fn from(n: &core::Network) -> Self {
        Self {
            endpoint: n.endpoint.clone(),
            public_ip: n.public_ip.clone(),
            private_ip: n.private_ip.clone(),
        }
    }
}

/// Idle-detection settings of one worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdleSettings {
    /// Whether idle workers are paused automatically.
    pub enabled: bool,
    /// Minutes without activity before pausing.
    pub timeout_minutes: u32,
    /// Minutes after a resume during which the worker is never paused.
    pub snooze_minutes: u32,
}

impl From<&core::IdleSettings> for IdleSettings {
    fn from(i: &core::IdleSettings) -> Self {
        Self {
            enabled: i.enabled,
            timeout_minutes: i.timeout_minutes,
            snooze_minutes: i.snooze_minutes,
        }
    }
}

/// What the operator wants of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
    /// Per-worker metrics interval in seconds; `null` follows the fleet setting.
    pub monitoring_interval_seconds: Option<u32>,
    /// CML base URL set by an admin (checked against `cml.endpoint_allow`);
    /// `null` uses the instance's `ccm:cml-endpoint` tag or its address.
    #[serde(default)]
    pub cml_endpoint: Option<String>,
    /// The configured image (by its name in the launch template's `images`) the
    /// instance is launched from; `null`: the launch template's own image.
    #[serde(default)]
    pub image: Option<String>,
}

impl From<&core::WorkerSpec> for WorkerSpec {
    fn from(s: &core::WorkerSpec) -> Self {
        Self {
            desired_status: s.desired_status.into(),
            idle: (&s.idle).into(),
            draining: s.draining,
            stop_reason: s.stop_reason.map(Into::into),
            start_reason: s.start_reason.map(Into::into),
            monitoring_interval_seconds: s.monitoring_interval_seconds,
            cml_endpoint: s.cml_endpoint.clone(),
            image: s.image.clone(),
        }
    }
}

/// What was observed of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
    pub launched_at: Option<DateTime<Utc>>,
    /// When the lifecycle last changed.
    pub transitioned_at: Option<DateTime<Utc>>,
    /// When it was terminated.
    pub terminated_at: Option<DateTime<Utc>>,
    /// Next scheduled metrics refresh (from the job runner).
    pub next_refresh_at: Option<DateTime<Utc>>,
    /// Detailed (1-minute) CloudWatch monitoring is on.
    #[serde(default)]
    pub detailed_monitoring: bool,
    /// Utilisation alerts currently raised.
    #[serde(default)]
    pub alerts: BTreeSet<AlertMetric>,
    /// Node and image definitions its CML offers; `null` until first read.
    #[serde(default)]
    pub catalog: Option<NodeCatalog>,
    /// Billed compute time (what `GET /api/v1/cost` adds up).
    #[serde(default)]
    pub billing: WorkerBilling,
}

/// A worker's billed compute time: an instance bills while pending, running or
/// stopping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerBilling {
    /// Since when the instance bills, while it does.
    pub billing_since: Option<DateTime<Utc>>,
    /// Seconds of closed billed stretches per UTC day (`YYYY-MM-DD`), the last
    /// eight days.
    pub days: BTreeMap<String, u64>,
}

impl From<&core::BillingLedger> for WorkerBilling {
    fn from(b: &core::BillingLedger) -> Self {
        Self {
            billing_since: b.billing_since,
            days: b.days.iter().map(|(d, s)| (d.to_string(), *s)).collect(),
        }
    }
}

impl From<&core::WorkerStatus> for WorkerStatus {
    fn from(s: &core::WorkerStatus) -> Self {
        Self {
            lifecycle: s.lifecycle.into(),
            ec2_state: s.ec2_state.map(Into::into),
            reason: s.reason.clone(),
            cml: (&s.cml).into(),
            licence: (&s.licence).into(),
            metrics: (&s.metrics).into(),
            activity: (&s.activity).into(),
            capacity: (&s.capacity).into(),
            launched_at: s.launched_at,
            transitioned_at: s.transitioned_at,
            terminated_at: s.terminated_at,
            next_refresh_at: s.next_refresh_at,
            detailed_monitoring: s.detailed_monitoring,
            alerts: s.alerts.iter().map(|a| (*a).into()).collect(),
            catalog: s.catalog.as_deref().map(Into::into),
            billing: (&s.billing).into(),
        }
    }
}

/// Who did what to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerAudit {
    /// Who created or imported it.
    pub created_by: Option<String>,
    /// Who terminated it.
    pub terminated_by: Option<String>,
}

impl From<&core::Audit> for WorkerAudit {
    fn from(a: &core::Audit) -> Self {
        Self {
            created_by: a.created_by.clone(),
            terminated_by: a.terminated_by.clone(),
        }
    }
}

/// An EC2 instance hosting Cisco Modeling Labs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Worker {
    /// Identifier.
    pub id: Uuid,
    /// Metadata (`meta.name` is the worker name, `meta.labels` its labels).
    pub meta: ObjectMeta,
    /// AWS region.
    pub region: String,
    /// EC2 instance, once launched or imported.
    pub instance_id: Option<String>,
    /// EC2 instance type (`m5zn.metal`).
    pub instance_type: String,
    /// Machine image.
    pub ami: Option<AmiInfo>,
    /// Endpoint and addresses.
    pub network: WorkerNetwork,
    /// EC2 tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Desired state.
    pub spec: WorkerSpec,
    /// Observed state.
    pub status: WorkerStatus,
    /// Audit trail.
    pub audit: WorkerAudit,
}

impl From<&core::Worker> for Worker {
    fn from(w: &core::Worker) -> Self {
        Self {
            id: w.id.0,
            meta: (&w.meta).into(),
            region: w.region.0.clone(),
            instance_id: w.instance_id.as_ref().map(|i| i.0.clone()),
            instance_type: w.instance_type.clone(),
            ami: w.ami.as_ref().map(Into::into),
            network: (&w.network).into(),
            tags: w.tags.clone(),
            spec: (&w.spec).into(),
            status: (&w.status).into(),
            audit: (&w.audit).into(),
        }
    }
}

impl From<core::Worker> for Worker {
    fn from(w: core::Worker) -> Self {
        Self::from(&w)
    }
}

/// The instant the crate's examples are built around (2026-03-02T09:30:00Z).
pub(crate) fn sample_at() -> DateTime<Utc> {
    sample::at()
}

impl Example for Worker {
    fn example() -> Self {
        Self::from(&sample::worker())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_worker_is_the_domain_worker_as_json() {
        let domain = sample::worker();
        let wire = Worker::from(&domain);
        assert_eq!(
            serde_json::to_string(&wire).unwrap(),
            serde_json::to_string(&domain).unwrap()
        );
        let back: Worker = serde_json::from_value(serde_json::to_value(&domain).unwrap()).unwrap();
        assert_eq!(back, wire);
    }

    #[test]
    fn a_fresh_worker_maps_like_a_rich_one() {
        let domain = sample::bare_worker();
        assert_eq!(
            serde_json::to_string(&Worker::from(&domain)).unwrap(),
            serde_json::to_string(&domain).unwrap()
        );
    }
}
