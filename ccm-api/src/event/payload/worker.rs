//! The `data` of the `worker.*` event types.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::EmptyEventData;
use crate::worker::{
    ActivityEvent, AlertMetric, Allocation, AmiInfo, Capacity, CmlService, IdleSettings,
    InstanceState, LicenceStatus, LifecycleState, NodeCatalog, PauseReason, ResumeReason,
    UnmanagedUsage, Worker, WorkerMetrics, WorkerNetwork, WorkerSpec,
};

/// What was asked for when a worker was created or imported: the `request` of
/// `worker.created.v2` and `worker.imported.v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerRequest {
    /// Worker name.
    pub name: String,
    /// AWS region.
    pub region: String,
    /// EC2 instance type.
    pub instance_type: String,
    /// Declared capacity.
    pub capacity: Capacity,
    /// EC2 tags to apply.
    pub tags: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Idle-detection settings.
    pub idle: IdleSettings,
    /// Who asked.
    pub created_by: Option<String>,
    /// The configured image to launch from, by name (`null`: the default).
    pub image: Option<String>,
}

/// The instance an import adopted: the `instance` of `worker.imported.v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportedInstance {
    /// EC2 instance id (`i-0abc…`).
    pub instance_id: String,
    /// The image it was launched from, when known.
    pub ami: Option<AmiInfo>,
    /// Its addresses.
    pub network: WorkerNetwork,
    /// Its EC2 state when adopted.
    pub ec2_state: InstanceState,
    /// When it was launched, when known.
    pub launched_at: Option<DateTime<Utc>>,
}

/// A worker record was created (a launch follows): what was asked for. Read
/// the worker itself with `GET /api/v1/workers/{id}`.
///
/// The `data` of `worker.created.v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCreatedV2 {
    /// The request.
    pub request: WorkerRequest,
}

/// An existing instance was adopted as a worker: what was asked for and the
/// instance found.
///
/// The `data` of `worker.imported.v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerImportedV2 {
    /// The request.
    pub request: WorkerRequest,
    /// The instance adopted.
    pub instance: ImportedInstance,
}

/// The whole worker: the creation before `.v2`, and the snapshot log compaction
/// writes for a compacted history.
///
/// The `data` of `worker.created.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCreated {
    /// The new worker.
    pub worker: Box<Worker>,
}

/// The whole imported worker: as `worker.created.v1`, for an import.
///
/// The `data` of `worker.imported.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerImported {
    /// The new worker.
    pub worker: Box<Worker>,
}

/// The operator changed what they want.
///
/// The `data` of `worker.spec.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerSpecUpdated {
    /// The new spec.
    pub spec: WorkerSpec,
}

/// The instance lifecycle moved.
///
/// The `data` of `worker.status.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerStatusUpdated {
    /// State left.
    pub from: LifecycleState,
    /// State entered.
    pub to: LifecycleState,
    /// EC2 instance state observed, if any.
    pub ec2_state: Option<InstanceState>,
    /// Why.
    pub reason: Option<String>,
}

/// An instance was bound to the worker.
///
/// The `data` of `worker.instance.assigned.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerInstanceAssigned {
    /// EC2 instance id (`i-0abc…`).
    pub instance_id: String,
    /// The image it was launched from, when known.
    pub ami: Option<AmiInfo>,
    /// Its addresses.
    pub network: WorkerNetwork,
    /// When it was launched, when known.
    pub launched_at: Option<DateTime<Utc>>,
}

/// The instance's addresses or CML endpoint changed.
///
/// The `data` of `worker.network.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerNetworkUpdated {
    /// The new addresses.
    pub network: WorkerNetwork,
}

/// The CML service changed.
///
/// The `data` of `worker.cml.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCmlUpdated {
    /// The CML service as observed.
    pub cml: CmlService,
}

/// The worker's CML presented a certificate other than the pinned one; calls
/// to it are refused until an admin accepts `presented`.
///
/// The `data` of `worker.cml.certificate_changed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCmlCertificateChanged {
    /// SHA-256 fingerprint pinned.
    pub expected: String,
    /// SHA-256 fingerprint presented.
    pub presented: String,
}

/// An admin accepted the worker's new CML certificate: it is pinned now.
///
/// The `data` of `worker.cml.certificate_accepted.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCmlCertificateAccepted {
    /// SHA-256 fingerprint now pinned.
    pub sha256: String,
    /// Who accepted it.
    pub by: Option<String>,
}

/// The licence changed.
///
/// The `data` of `worker.licence.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerLicenceUpdated {
    /// The licence as observed.
    pub licence: LicenceStatus,
}

/// New metrics were observed (no longer written; kept so old logs read).
///
/// The `data` of `worker.metrics.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerMetricsUpdated {
    /// The metrics.
    pub metrics: Box<WorkerMetrics>,
}

/// Tags were replaced.
///
/// The `data` of `worker.tags.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerTagsUpdated {
    /// Every tag now.
    pub tags: BTreeMap<String, String>,
}

/// A person used the worker.
///
/// The `data` of `worker.activity.recorded.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerActivityRecorded {
    /// What was seen.
    pub activity: ActivityEvent,
}

/// The worker stopped running.
///
/// The `data` of `worker.paused.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerPaused {
    /// Why.
    pub reason: PauseReason,
}

/// The worker runs again; idle detection snoozes until `snooze_until`.
///
/// The `data` of `worker.resumed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerResumed {
    /// Why.
    pub reason: ResumeReason,
    /// Idle detection is off until then.
    pub snooze_until: DateTime<Utc>,
}

/// Detailed CloudWatch monitoring was enabled (`data` is `{}`).
///
/// The `data` of `worker.monitoring.enabled.v1`: `{}`.
pub type WorkerMonitoringEnabled = EmptyEventData;

/// The node and image definitions the worker's CML offers changed (or were
/// read for the first time, or from a new CML version).
///
/// The `data` of `worker.catalog.synced.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCatalogSynced {
    /// The catalog read.
    pub catalog: Box<NodeCatalog>,
}

/// The `data` of `worker.alert.raised.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerAlertRaised {
    /// Which utilisation.
    pub metric: AlertMetric,
    /// Its value, percent.
    pub value: f64,
    /// The threshold, percent.
    pub threshold: f64,
}

/// The `data` of `worker.alert.cleared.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkerAlertCleared {
    /// Which utilisation.
    pub metric: AlertMetric,
    /// Its value, percent.
    pub value: f64,
}

/// CML telemetry was read up to `high_water`; `activity` holds what meant a
/// person.
///
/// The `data` of `worker.telemetry.read.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerTelemetryRead {
    /// Telemetry read up to this time.
    pub high_water: DateTime<Utc>,
    /// Activity found.
    pub activity: Vec<ActivityEvent>,
}

/// A licence registration was requested (`data` is `{}`).
///
/// The `data` of `worker.licence.registration.started.v1`: `{}`.
pub type WorkerLicenceRegistrationStarted = EmptyEventData;

/// The registration completed.
///
/// The `data` of `worker.licence.registration.completed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerLicenceRegistrationCompleted {
    /// The licence now.
    pub licence: LicenceStatus,
}

/// The registration failed.
///
/// The `data` of `worker.licence.registration.failed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerLicenceRegistrationFailed {
    /// What went wrong.
    pub error: String,
}

/// The licence was deregistered (`data` is `{}`).
///
/// The `data` of `worker.licence.deregistered.v1`: `{}`.
pub type WorkerLicenceDeregistered = EmptyEventData;

/// A lablet took capacity on the worker.
///
/// The `data` of `worker.capacity.allocated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCapacityAllocated {
    /// The lablet.
    pub lablet: Uuid,
    /// What it holds.
    pub allocation: Allocation,
}

/// What labs no lablet owns take on the worker changed.
///
/// The `data` of `worker.capacity.unmanaged.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerUnmanagedUsageObserved {
    /// What they take now.
    pub usage: UnmanagedUsage,
}

/// A lablet gave its capacity back.
///
/// The `data` of `worker.capacity.released.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerCapacityReleased {
    /// The lablet.
    pub lablet: Uuid,
}

/// Termination was requested.
///
/// The `data` of `worker.termination.requested.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerTerminationRequested {
    /// Who asked.
    pub by: Option<String>,
}

/// Deletion was requested.
///
/// The `data` of `worker.deletion.requested.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerDeletionRequested {
    /// Who asked.
    pub by: Option<String>,
}
