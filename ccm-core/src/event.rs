//! Domain events: every change to a resource emits one, with a versioned type name
//! (`worker.status.updated.v1`) and a stable JSON shape:
//!
//! ```json
//! {"id": "…", "occurred_at": "…", "subject": {"kind": "worker", "id": "…"},
//!  "type": "worker.status.updated.v1", "data": {"from": "stopped", "to": "provisioning", …}}
//! ```
//!
//! Renaming a variant's `serde(rename)` breaks consumers: add a `.v2` instead.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::definition::LabletDefinition;
use crate::ids::{CmlLabId, EventId, InstanceId, WorkerId};
use crate::lab::{LabOperation, LabRecord, LabState};
use crate::lablet::{Lablet, LabletAccess, LabletPhase};
use crate::ports::cloud::InstanceState;
use crate::time::Timestamp;
use crate::worker::{
    ActivityEvent, AlertMetric, Allocation, AmiInfo, CmlService, LicenceStatus, LifecycleState,
    Network, PauseReason, ResumeReason, Worker, WorkerMetrics, WorkerSpec,
};

/// The kinds of resources events are about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A worker.
    Worker,
    /// A lab record.
    Lab,
    /// A lablet definition.
    Definition,
    /// A lablet.
    Lablet,
    /// A job of the job runner.
    Job,
    /// The fleet as a whole (autoscaler decisions, alerts).
    Fleet,
}

impl ResourceKind {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Worker => "worker",
            ResourceKind::Lab => "lab",
            ResourceKind::Definition => "definition",
            ResourceKind::Lablet => "lablet",
            ResourceKind::Job => "job",
            ResourceKind::Fleet => "fleet",
        }
    }
}

/// What an event is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Subject {
    /// Resource kind.
    pub kind: ResourceKind,
    /// Resource id as text.
    pub id: String,
}

/// The typed content of an event. The serde tag is the versioned type name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data")]
#[allow(missing_docs)] // field names are the documentation of the JSON shape
pub enum EventPayload {
    /// A worker record was created (a launch will follow).
    #[serde(rename = "worker.created.v1")]
    WorkerCreated { worker: Box<Worker> },
    /// An existing instance was adopted as a worker.
    #[serde(rename = "worker.imported.v1")]
    WorkerImported { worker: Box<Worker> },
    /// The operator changed what they want.
    #[serde(rename = "worker.spec.updated.v1")]
    WorkerSpecUpdated { spec: WorkerSpec },
    /// The instance lifecycle moved.
    #[serde(rename = "worker.status.updated.v1")]
    WorkerStatusUpdated {
        from: LifecycleState,
        to: LifecycleState,
        ec2_state: Option<InstanceState>,
        reason: Option<String>,
    },
    /// An instance was bound to the worker.
    #[serde(rename = "worker.instance.assigned.v1")]
    WorkerInstanceAssigned {
        instance_id: InstanceId,
        ami: Option<AmiInfo>,
        network: Network,
        launched_at: Option<Timestamp>,
    },
    /// The instance's addresses or CML endpoint changed.
    #[serde(rename = "worker.network.updated.v1")]
    WorkerNetworkUpdated { network: Network },
    /// The CML service changed.
    #[serde(rename = "worker.cml.updated.v1")]
    WorkerCmlUpdated { cml: CmlService },
    /// The worker's CML presented a certificate other than the pinned one; calls
    /// to it are refused until an admin accepts `presented`.
    #[serde(rename = "worker.cml.certificate_changed.v1")]
    WorkerCmlCertificateChanged { expected: String, presented: String },
    /// An admin accepted the worker's new CML certificate: it is pinned now.
    #[serde(rename = "worker.cml.certificate_accepted.v1")]
    WorkerCmlCertificateAccepted { sha256: String, by: Option<String> },
    /// The licence changed.
    #[serde(rename = "worker.licence.updated.v1")]
    WorkerLicenceUpdated { licence: LicenceStatus },
    /// New metrics were observed. No longer written: the metrics sweep keeps
    /// samples on the worker record and in the metric series, and logs only
    /// threshold crossings (`worker.alert.*`) and state changes. The type stays
    /// so logs written before still decode and replay.
    #[serde(rename = "worker.metrics.updated.v1")]
    WorkerMetricsUpdated { metrics: Box<WorkerMetrics> },
    /// Tags were replaced.
    #[serde(rename = "worker.tags.updated.v1")]
    WorkerTagsUpdated { tags: BTreeMap<String, String> },
    /// A person used the worker.
    #[serde(rename = "worker.activity.recorded.v1")]
    WorkerActivityRecorded { activity: ActivityEvent },
    /// The worker stopped running.
    #[serde(rename = "worker.paused.v1")]
    WorkerPaused { reason: PauseReason },
    /// The worker runs again; idle detection snoozes until `snooze_until`.
    #[serde(rename = "worker.resumed.v1")]
    WorkerResumed {
        reason: ResumeReason,
        snooze_until: Timestamp,
    },
    /// Detailed CloudWatch monitoring was enabled.
    #[serde(rename = "worker.monitoring.enabled.v1")]
    WorkerMonitoringEnabled {},
    /// The node and image definitions the worker's CML offers changed (or were read
    /// for the first time, or from a new CML version).
    #[serde(rename = "worker.catalog.synced.v1")]
    WorkerCatalogSynced {
        catalog: Box<crate::catalog::NodeCatalog>,
    },
    /// A utilisation threshold was crossed upwards.
    #[serde(rename = "worker.alert.raised.v1")]
    WorkerAlertRaised {
        metric: AlertMetric,
        value: f64,
        threshold: f64,
    },
    /// A utilisation went back under its threshold.
    #[serde(rename = "worker.alert.cleared.v1")]
    WorkerAlertCleared { metric: AlertMetric, value: f64 },
    /// CML telemetry was read up to `high_water`; `activity` holds what meant a person.
    #[serde(rename = "worker.telemetry.read.v1")]
    WorkerTelemetryRead {
        high_water: Timestamp,
        activity: Vec<ActivityEvent>,
    },
    /// A licence registration was requested.
    #[serde(rename = "worker.licence.registration.started.v1")]
    WorkerLicenceRegistrationStarted {},
    /// The registration completed.
    #[serde(rename = "worker.licence.registration.completed.v1")]
    WorkerLicenceRegistrationCompleted { licence: LicenceStatus },
    /// The registration failed.
    #[serde(rename = "worker.licence.registration.failed.v1")]
    WorkerLicenceRegistrationFailed { error: String },
    /// The licence was deregistered.
    #[serde(rename = "worker.licence.deregistered.v1")]
    WorkerLicenceDeregistered {},
    /// A lablet took capacity on the worker.
    #[serde(rename = "worker.capacity.allocated.v1")]
    WorkerCapacityAllocated {
        lablet: crate::ids::LabletId,
        allocation: Allocation,
    },
    /// What labs no lablet owns take on the worker changed (read by the lab sync).
    #[serde(rename = "worker.capacity.unmanaged.v1")]
    WorkerUnmanagedUsageObserved {
        usage: crate::worker::UnmanagedUsage,
    },
    /// A lablet gave its capacity back.
    #[serde(rename = "worker.capacity.released.v1")]
    WorkerCapacityReleased { lablet: crate::ids::LabletId },
    /// Termination was requested by someone.
    #[serde(rename = "worker.termination.requested.v1")]
    WorkerTerminationRequested { by: Option<String> },
    /// Deletion was requested.
    #[serde(rename = "worker.deletion.requested.v1")]
    WorkerDeletionRequested { by: Option<String> },
    /// A lab was seen for the first time.
    #[serde(rename = "lab.discovered.v1")]
    LabDiscovered { lab: Box<LabRecord> },
    /// A lab's state changed.
    #[serde(rename = "lab.state.changed.v1")]
    LabStateChanged {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
        from: LabState,
        to: LabState,
        operation: LabOperation,
    },
    /// A lab's title, description, owner or counts changed.
    #[serde(rename = "lab.updated.v1")]
    LabUpdated {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
        changes: Vec<FieldChange>,
    },
    /// An operation was run on a lab through ccm.
    #[serde(rename = "lab.operation.recorded.v1")]
    LabOperationRecorded {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
        operation: LabOperation,
    },
    /// A lab disappeared from CML.
    #[serde(rename = "lab.gone.v1")]
    LabGone {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
    },
    /// A definition version was created.
    #[serde(rename = "definition.created.v1")]
    DefinitionCreated { definition: Box<LabletDefinition> },
    /// A definition was activated or deactivated.
    #[serde(rename = "definition.activation.changed.v1")]
    DefinitionActivationChanged { active: bool },
    /// A lablet was requested. Shared (`Arc`) so a store that keeps the log in
    /// memory can hold one copy for the event and the unchanged record.
    #[serde(rename = "lablet.created.v1")]
    LabletCreated { lablet: Arc<Lablet> },
    /// The lablet's phase moved.
    #[serde(rename = "lablet.phase.changed.v1")]
    LabletPhaseChanged {
        from: LabletPhase,
        to: LabletPhase,
        reason: Option<String>,
    },
    /// The lablet was bound to a worker with ports.
    #[serde(rename = "lablet.bound.v1")]
    LabletBound {
        worker_id: WorkerId,
        ports: Vec<u16>,
    },
    /// The lablet lost its worker binding.
    #[serde(rename = "lablet.unbound.v1")]
    LabletUnbound { reason: String },
    /// The lablet's lab exists on CML.
    #[serde(rename = "lablet.lab.assigned.v1")]
    LabletLabAssigned { cml_lab_id: CmlLabId },
    /// How students reach the lablet's lab: each console node's port on its
    /// worker, recorded with the import (cleared with the lab).
    #[serde(rename = "lablet.access.assigned.v1")]
    LabletAccessAssigned { access: Vec<LabletAccess> },
    /// Cancellation was requested.
    #[serde(rename = "lablet.cancel.requested.v1")]
    LabletCancelRequested { by: Option<String> },
    /// Deletion of the lablet record was requested (it goes once terminated).
    #[serde(rename = "lablet.deletion.requested.v1")]
    LabletDeletionRequested { by: Option<String> },
    /// The lablet's lab was torn down (or never existed); nothing is left on CML.
    #[serde(rename = "lablet.lab.released.v1")]
    LabletLabReleased {},
    /// An attempt failed and will be retried.
    #[serde(rename = "lablet.attempt.failed.v1")]
    LabletAttemptFailed { attempt: u32, error: String },
    /// The autoscaler changed the fleet, and why.
    #[serde(rename = "fleet.scaling.decided.v1")]
    FleetScalingDecided {
        action: ScalingAction,
        workers: Vec<WorkerId>,
        reason: String,
    },
}

impl EventPayload {
    /// The versioned type name, identical to the JSON `type` field.
    pub fn type_name(&self) -> &'static str {
        use EventPayload::*;
        match self {
            WorkerCreated { .. } => "worker.created.v1",
            WorkerImported { .. } => "worker.imported.v1",
            WorkerSpecUpdated { .. } => "worker.spec.updated.v1",
            WorkerStatusUpdated { .. } => "worker.status.updated.v1",
            WorkerInstanceAssigned { .. } => "worker.instance.assigned.v1",
            WorkerNetworkUpdated { .. } => "worker.network.updated.v1",
            WorkerCmlUpdated { .. } => "worker.cml.updated.v1",
            WorkerCmlCertificateChanged { .. } => "worker.cml.certificate_changed.v1",
            WorkerCmlCertificateAccepted { .. } => "worker.cml.certificate_accepted.v1",
            WorkerLicenceUpdated { .. } => "worker.licence.updated.v1",
            WorkerMetricsUpdated { .. } => "worker.metrics.updated.v1",
            WorkerTagsUpdated { .. } => "worker.tags.updated.v1",
            WorkerActivityRecorded { .. } => "worker.activity.recorded.v1",
            WorkerPaused { .. } => "worker.paused.v1",
            WorkerResumed { .. } => "worker.resumed.v1",
            WorkerMonitoringEnabled { .. } => "worker.monitoring.enabled.v1",
            WorkerCatalogSynced { .. } => "worker.catalog.synced.v1",
            WorkerAlertRaised { .. } => "worker.alert.raised.v1",
            WorkerAlertCleared { .. } => "worker.alert.cleared.v1",
            WorkerTelemetryRead { .. } => "worker.telemetry.read.v1",
            WorkerLicenceRegistrationStarted { .. } => "worker.licence.registration.started.v1",
            WorkerLicenceRegistrationCompleted { .. } => "worker.licence.registration.completed.v1",
            WorkerLicenceRegistrationFailed { .. } => "worker.licence.registration.failed.v1",
            WorkerLicenceDeregistered { .. } => "worker.licence.deregistered.v1",
            WorkerCapacityAllocated { .. } => "worker.capacity.allocated.v1",
            WorkerCapacityReleased { .. } => "worker.capacity.released.v1",
            WorkerUnmanagedUsageObserved { .. } => "worker.capacity.unmanaged.v1",
            WorkerTerminationRequested { .. } => "worker.termination.requested.v1",
            WorkerDeletionRequested { .. } => "worker.deletion.requested.v1",
            LabDiscovered { .. } => "lab.discovered.v1",
            LabStateChanged { .. } => "lab.state.changed.v1",
            LabUpdated { .. } => "lab.updated.v1",
            LabOperationRecorded { .. } => "lab.operation.recorded.v1",
            LabGone { .. } => "lab.gone.v1",
            DefinitionCreated { .. } => "definition.created.v1",
            DefinitionActivationChanged { .. } => "definition.activation.changed.v1",
            LabletCreated { .. } => "lablet.created.v1",
            LabletPhaseChanged { .. } => "lablet.phase.changed.v1",
            LabletBound { .. } => "lablet.bound.v1",
            LabletUnbound { .. } => "lablet.unbound.v1",
            LabletLabAssigned { .. } => "lablet.lab.assigned.v1",
            LabletAccessAssigned { .. } => "lablet.access.assigned.v1",
            LabletCancelRequested { .. } => "lablet.cancel.requested.v1",
            LabletAttemptFailed { .. } => "lablet.attempt.failed.v1",
            LabletDeletionRequested { .. } => "lablet.deletion.requested.v1",
            LabletLabReleased { .. } => "lablet.lab.released.v1",
            FleetScalingDecided { .. } => "fleet.scaling.decided.v1",
        }
    }
}

/// What the autoscaler did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScalingAction {
    /// Started stopped workers.
    Start,
    /// Launched new workers.
    Launch,
    /// Marked empty workers as draining.
    Drain,
    /// Stopped drained workers.
    Stop,
    /// Wanted to scale up but a bound (cap, cooldown) prevented it.
    Blocked,
}

/// One field that changed, for change lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Field name.
    pub field: String,
    /// Old value as text.
    pub from: String,
    /// New value as text.
    pub to: String,
}

/// An event before it is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DomainEvent {
    /// Unique id.
    pub id: EventId,
    /// When the change happened (the clock's time, virtual in simulations).
    pub occurred_at: Timestamp,
    /// What it is about.
    pub subject: Subject,
    /// What happened.
    #[serde(flatten)]
    pub payload: EventPayload,
}

impl DomainEvent {
    /// Wraps a payload.
    pub fn new(subject: Subject, payload: EventPayload, occurred_at: Timestamp) -> Self {
        Self {
            id: EventId::new(),
            occurred_at,
            subject,
            payload,
        }
    }

    /// The versioned type name.
    pub fn type_name(&self) -> &'static str {
        self.payload.type_name()
    }
}

/// An event as the log holds it: with its gap-free sequence number.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Position in the log, starting at 1 and increasing by 1.
    pub sequence: u64,
    /// The event.
    #[serde(flatten)]
    pub event: DomainEvent,
}
