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

use serde::{Deserialize, Serialize};

use crate::definition::LabletDefinition;
use crate::ids::{CmlLabId, DefinitionId, EventId, InstanceId, WorkerId};
use crate::lab::{LabOperation, LabRecord, LabState};
use crate::lablet::{Lablet, LabletAccess, LabletPhase, NewLablet, Timeslot};
use crate::ports::cloud::InstanceState;
use crate::time::Timestamp;
use crate::worker::aggregate::ImportedInstance;
use crate::worker::{
    ActivityEvent, AlertMetric, Allocation, AmiInfo, CmlService, LicenceStatus, LifecycleState,
    Network, NewWorker, PauseReason, ResumeReason, Worker, WorkerMetrics, WorkerSpec,
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

/// The typed content of an event: [`EventPayload`], whose serde tag is the
/// versioned type name. Each name is written once, here: the macro gives it to
/// serde, to [`EventPayload::type_name`], to [`EVENT_TYPE_NAMES`] and, through
/// [`for_each_event_type!`](crate::for_each_event_type), to other crates that
/// declare one type per event (the wire types of `ccm-api`). Names are `tt` so
/// that they reach other macros and derives as plain string literals.
macro_rules! event_payload {
    ($d:tt $($(#[$attr:meta])* $variant:ident = $name:tt $fields:tt,)+) => {
        /// The typed content of an event. The serde tag is the versioned type name.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", content = "data")]
        #[allow(missing_docs)] // field names are the documentation of the JSON shape
        pub enum EventPayload {
            $($(#[$attr])* #[serde(rename = $name)] $variant $fields,)+
        }

        impl EventPayload {
            /// The versioned type name, identical to the JSON `type` field.
            pub fn type_name(&self) -> &'static str {
                match self {
                    $(Self::$variant { .. } => $name,)+
                }
            }
        }

        /// Every event type name, in declaration order.
        pub const EVENT_TYPE_NAMES: &[&str] = &[$($name),+];

        /// Calls `$callback! { Variant "type.name.v1", … }` with every event type:
        /// its variant name in [`EventPayload`] and its versioned type name, so
        /// another crate can declare one type per event without restating a name.
        #[macro_export]
        macro_rules! for_each_event_type {
            ($d callback:ident) => {
                $d callback! { $($variant $name,)+ }
            };
        }
    };
}

event_payload! { $
    /// A worker record was created (a launch will follow): what was asked for.
    /// The worker is built from it (`Worker::create`), so the event carries the
    /// request, not the record.
    WorkerCreatedV2 = "worker.created.v2" { request: NewWorker },
    /// An existing instance was adopted as a worker: what was asked for and the
    /// instance found.
    WorkerImportedV2 = "worker.imported.v2" {
        request: NewWorker,
        instance: ImportedInstance,
    },
    /// The whole worker: written before `.v2` as the creation, and still by
    /// log compaction as the snapshot of a compacted history.
    WorkerCreated = "worker.created.v1" { worker: Box<Worker> },
    /// The whole imported worker: as `worker.created.v1`, for an import.
    WorkerImported = "worker.imported.v1" { worker: Box<Worker> },
    /// The operator changed what they want.
    WorkerSpecUpdated = "worker.spec.updated.v1" { spec: WorkerSpec },
    /// The instance lifecycle moved.
    WorkerStatusUpdated = "worker.status.updated.v1" {
        from: LifecycleState,
        to: LifecycleState,
        ec2_state: Option<InstanceState>,
        reason: Option<String>,
    },
    /// An instance was bound to the worker.
    WorkerInstanceAssigned = "worker.instance.assigned.v1" {
        instance_id: InstanceId,
        ami: Option<AmiInfo>,
        network: Network,
        launched_at: Option<Timestamp>,
    },
    /// The instance's addresses or CML endpoint changed.
    WorkerNetworkUpdated = "worker.network.updated.v1" { network: Network },
    /// The CML service changed.
    WorkerCmlUpdated = "worker.cml.updated.v1" { cml: CmlService },
    /// The worker's CML presented a certificate other than the pinned one; calls
    /// to it are refused until an admin accepts `presented`.
    WorkerCmlCertificateChanged = "worker.cml.certificate_changed.v1" { expected: String, presented: String },
    /// An admin accepted the worker's new CML certificate: it is pinned now.
    WorkerCmlCertificateAccepted = "worker.cml.certificate_accepted.v1" { sha256: String, by: Option<String> },
    /// The licence changed.
    WorkerLicenceUpdated = "worker.licence.updated.v1" { licence: LicenceStatus },
    /// New metrics were observed. No longer written: the metrics sweep keeps
    /// samples on the worker record and in the metric series, and logs only
    /// threshold crossings (`worker.alert.*`) and state changes. The type stays
    /// so logs written before still decode and replay.
    WorkerMetricsUpdated = "worker.metrics.updated.v1" { metrics: Box<WorkerMetrics> },
    /// Tags were replaced.
    WorkerTagsUpdated = "worker.tags.updated.v1" { tags: BTreeMap<String, String> },
    /// A person used the worker.
    WorkerActivityRecorded = "worker.activity.recorded.v1" { activity: ActivityEvent },
    /// The worker stopped running.
    WorkerPaused = "worker.paused.v1" { reason: PauseReason },
    /// The worker runs again; idle detection snoozes until `snooze_until`.
    WorkerResumed = "worker.resumed.v1" {
        reason: ResumeReason,
        snooze_until: Timestamp,
    },
    /// Detailed CloudWatch monitoring was enabled.
    WorkerMonitoringEnabled = "worker.monitoring.enabled.v1" {},
    /// The node and image definitions the worker's CML offers changed (or were read
    /// for the first time, or from a new CML version).
    WorkerCatalogSynced = "worker.catalog.synced.v1" {
        catalog: Box<crate::catalog::NodeCatalog>,
    },
    /// A utilisation threshold was crossed upwards.
    WorkerAlertRaised = "worker.alert.raised.v1" {
        metric: AlertMetric,
        value: f64,
        threshold: f64,
    },
    /// A utilisation went back under its threshold.
    WorkerAlertCleared = "worker.alert.cleared.v1" { metric: AlertMetric, value: f64 },
    /// CML telemetry was read up to `high_water`; `activity` holds what meant a person.
    WorkerTelemetryRead = "worker.telemetry.read.v1" {
        high_water: Timestamp,
        activity: Vec<ActivityEvent>,
    },
    /// A licence registration was requested.
    WorkerLicenceRegistrationStarted = "worker.licence.registration.started.v1" {},
    /// The registration completed.
    WorkerLicenceRegistrationCompleted = "worker.licence.registration.completed.v1" { licence: LicenceStatus },
    /// The registration failed.
    WorkerLicenceRegistrationFailed = "worker.licence.registration.failed.v1" { error: String },
    /// The licence was deregistered.
    WorkerLicenceDeregistered = "worker.licence.deregistered.v1" {},
    /// A lablet took capacity on the worker.
    WorkerCapacityAllocated = "worker.capacity.allocated.v1" {
        lablet: crate::ids::LabletId,
        allocation: Allocation,
    },
    /// What labs no lablet owns take on the worker changed (read by the lab sync).
    WorkerUnmanagedUsageObserved = "worker.capacity.unmanaged.v1" {
        usage: crate::worker::UnmanagedUsage,
    },
    /// A lablet gave its capacity back.
    WorkerCapacityReleased = "worker.capacity.released.v1" { lablet: crate::ids::LabletId },
    /// Termination was requested by someone.
    WorkerTerminationRequested = "worker.termination.requested.v1" { by: Option<String> },
    /// Deletion was requested.
    WorkerDeletionRequested = "worker.deletion.requested.v1" { by: Option<String> },
    /// A lab was seen for the first time.
    LabDiscoveredV2 = "lab.discovered.v2" {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
        title: String,
        description: String,
        owner: Option<String>,
        state: LabState,
        node_count: u32,
        link_count: u32,
    },
    /// The whole lab record as first seen: written before `.v2`.
    LabDiscovered = "lab.discovered.v1" { lab: Box<LabRecord> },
    /// A lab's state changed.
    LabStateChanged = "lab.state.changed.v1" {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
        from: LabState,
        to: LabState,
        operation: LabOperation,
    },
    /// A lab's title, description, owner or counts changed.
    LabUpdated = "lab.updated.v1" {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
        changes: Vec<FieldChange>,
    },
    /// An operation was run on a lab through ccm.
    LabOperationRecorded = "lab.operation.recorded.v1" {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
        operation: LabOperation,
    },
    /// A lab disappeared from CML.
    LabGone = "lab.gone.v1" {
        worker_id: WorkerId,
        cml_lab_id: CmlLabId,
    },
    /// A definition version was created.
    DefinitionCreated = "definition.created.v1" { definition: Box<LabletDefinition> },
    /// A definition was activated or deactivated.
    DefinitionActivationChanged = "definition.activation.changed.v1" { active: bool },
    /// A lablet was booked: its name, its definition and the booking.
    LabletCreatedV2 = "lablet.created.v2" {
        name: String,
        definition_id: DefinitionId,
        request: NewLablet,
    },
    /// The whole lablet: written before `.v2` as the creation, and still by log
    /// compaction as the snapshot of a compacted history.
    LabletCreated = "lablet.created.v1" { lablet: Box<Lablet> },
    /// The lablet's phase moved.
    LabletPhaseChanged = "lablet.phase.changed.v1" {
        from: LabletPhase,
        to: LabletPhase,
        reason: Option<String>,
    },
    /// The lablet was bound to a worker with ports.
    LabletBound = "lablet.bound.v1" {
        worker_id: WorkerId,
        ports: Vec<u16>,
    },
    /// The lablet lost its worker binding.
    LabletUnbound = "lablet.unbound.v1" { reason: String },
    /// The lablet's lab exists on CML.
    LabletLabAssigned = "lablet.lab.assigned.v1" { cml_lab_id: CmlLabId },
    /// How students reach the lablet's lab: each console node's port on its
    /// worker, recorded with the import (cleared with the lab).
    LabletAccessAssigned = "lablet.access.assigned.v1" { access: Vec<LabletAccess> },
    /// Cancellation was requested.
    LabletCancelRequested = "lablet.cancel.requested.v1" { by: Option<String> },
    /// The timeslot's end moved later.
    LabletExtended = "lablet.extended.v1" {
        from: Timestamp,
        to: Timestamp,
        by: Option<String>,
    },
    /// An on-demand lablet's estimated ready time moved: its timeslot, same
    /// length, now starts at `to.start`.
    LabletRescheduled = "lablet.rescheduled.v1" {
        from: Timeslot,
        to: Timeslot,
        reason: String,
    },
    /// Deletion of the lablet record was requested (it goes once terminated).
    LabletDeletionRequested = "lablet.deletion.requested.v1" { by: Option<String> },
    /// The lablet's lab was torn down (or never existed); nothing is left on CML.
    LabletLabReleased = "lablet.lab.released.v1" {},
    /// An attempt failed and will be retried.
    LabletAttemptFailed = "lablet.attempt.failed.v1" { attempt: u32, error: String },
    /// The autoscaler changed the fleet, and why.
    FleetScalingDecided = "fleet.scaling.decided.v1" {
        action: ScalingAction,
        workers: Vec<WorkerId>,
        reason: String,
    },
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
