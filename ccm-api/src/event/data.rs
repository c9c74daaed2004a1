//! [`EventData`]: what an event says happened, one variant per domain event type
//! (`ccm_core::event::EventPayload`), with the same `type` name and the same
//! `data` JSON. The mapping is an exhaustive match: a new domain event type does
//! not compile here until it has its wire variant.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::definition::LabletDefinition;
use crate::lab::{LabOperation, LabRecord, LabState};
use crate::lablet::{Lablet, LabletAccess, LabletPhase};
use crate::worker::{
    ActivityEvent, AlertMetric, Allocation, AmiInfo, CmlService, InstanceState, LicenceStatus,
    LifecycleState, NodeCatalog, PauseReason, ResumeReason, UnmanagedUsage, Worker, WorkerMetrics,
    WorkerNetwork, WorkerSpec,
};

/// What the autoscaler did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

impl From<ccm_core::event::ScalingAction> for ScalingAction {
    fn from(a: ccm_core::event::ScalingAction) -> Self {
        use ccm_core::event::ScalingAction as Domain;
        match a {
            Domain::Start => Self::Start,
            Domain::Launch => Self::Launch,
            Domain::Drain => Self::Drain,
            Domain::Stop => Self::Stop,
            Domain::Blocked => Self::Blocked,
        }
    }
}

/// One field that changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldChange {
    /// Field name.
    pub field: String,
    /// Old value as text.
    pub from: String,
    /// New value as text.
    pub to: String,
}

impl From<&ccm_core::event::FieldChange> for FieldChange {
    fn from(c: &ccm_core::event::FieldChange) -> Self {
        Self {
            field: c.field.clone(),
            from: c.from.clone(),
            to: c.to.clone(),
        }
    }
}

/// The `data` of an event type that carries nothing: `{}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyEventData {}

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

/// What happened: the versioned event type (`type`) and its content (`data`).
/// Renamed types never change meaning: a new shape is a new `.v2` type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", content = "data")]
pub enum EventData {
    /// A worker record was created (a launch follows).
    #[serde(rename = "worker.created.v1")]
    WorkerCreated {
        /// The new worker.
        worker: Box<Worker>,
    },
    /// An existing instance was adopted as a worker.
    #[serde(rename = "worker.imported.v1")]
    WorkerImported {
        /// The new worker.
        worker: Box<Worker>,
    },
    /// The operator changed what they want.
    #[serde(rename = "worker.spec.updated.v1")]
    WorkerSpecUpdated {
        /// The new spec.
        spec: WorkerSpec,
    },
    /// The instance lifecycle moved.
    #[serde(rename = "worker.status.updated.v1")]
    WorkerStatusUpdated {
        /// State left.
        from: LifecycleState,
        /// State entered.
        to: LifecycleState,
        /// EC2 instance state observed, if any.
        ec2_state: Option<InstanceState>,
        /// Why.
        reason: Option<String>,
    },
    /// An instance was bound to the worker.
    #[serde(rename = "worker.instance.assigned.v1")]
    WorkerInstanceAssigned {
        /// EC2 instance id (`i-0abc…`).
        instance_id: String,
        /// The image it was launched from, when known.
        ami: Option<AmiInfo>,
        /// Its addresses.
        network: WorkerNetwork,
        /// When it was launched, when known.
        launched_at: Option<DateTime<Utc>>,
    },
    /// The instance's addresses or CML endpoint changed.
    #[serde(rename = "worker.network.updated.v1")]
    WorkerNetworkUpdated {
        /// The new addresses.
        network: WorkerNetwork,
    },
    /// The CML service changed.
    #[serde(rename = "worker.cml.updated.v1")]
    WorkerCmlUpdated {
        /// The CML service as observed.
        cml: CmlService,
    },
    /// The worker's CML presented a certificate other than the pinned one; calls
    /// to it are refused until an admin accepts `presented`.
    #[serde(rename = "worker.cml.certificate_changed.v1")]
    WorkerCmlCertificateChanged {
        /// SHA-256 fingerprint pinned.
        expected: String,
        /// SHA-256 fingerprint presented.
        presented: String,
    },
    /// An admin accepted the worker's new CML certificate: it is pinned now.
    #[serde(rename = "worker.cml.certificate_accepted.v1")]
    WorkerCmlCertificateAccepted {
        /// SHA-256 fingerprint now pinned.
        sha256: String,
        /// Who accepted it.
        by: Option<String>,
    },
    /// The licence changed.
    #[serde(rename = "worker.licence.updated.v1")]
    WorkerLicenceUpdated {
        /// The licence as observed.
        licence: LicenceStatus,
    },
    /// New metrics were observed (no longer written; kept so old logs read).
    #[serde(rename = "worker.metrics.updated.v1")]
    WorkerMetricsUpdated {
        /// The metrics.
        metrics: Box<WorkerMetrics>,
    },
    /// Tags were replaced.
    #[serde(rename = "worker.tags.updated.v1")]
    WorkerTagsUpdated {
        /// Every tag now.
        tags: BTreeMap<String, String>,
    },
    /// A person used the worker.
    #[serde(rename = "worker.activity.recorded.v1")]
    WorkerActivityRecorded {
        /// What was seen.
        activity: ActivityEvent,
    },
    /// The worker stopped running.
    #[serde(rename = "worker.paused.v1")]
    WorkerPaused {
        /// Why.
        reason: PauseReason,
    },
    /// The worker runs again; idle detection snoozes until `snooze_until`.
    #[serde(rename = "worker.resumed.v1")]
    WorkerResumed {
        /// Why.
        reason: ResumeReason,
        /// Idle detection is off until then.
        snooze_until: DateTime<Utc>,
    },
    /// Detailed CloudWatch monitoring was enabled (`data` is `{}`).
    #[serde(rename = "worker.monitoring.enabled.v1")]
    WorkerMonitoringEnabled(EmptyEventData),
    /// The node and image definitions the worker's CML offers changed (or were
    /// read for the first time, or from a new CML version).
    #[serde(rename = "worker.catalog.synced.v1")]
    WorkerCatalogSynced {
        /// The catalog read.
        catalog: Box<NodeCatalog>,
    },
    /// A utilisation threshold was crossed upwards.
    #[serde(rename = "worker.alert.raised.v1")]
    WorkerAlertRaised(WorkerAlertRaised),
    /// A utilisation went back under its threshold.
    #[serde(rename = "worker.alert.cleared.v1")]
    WorkerAlertCleared(WorkerAlertCleared),
    /// CML telemetry was read up to `high_water`; `activity` holds what meant a
    /// person.
    #[serde(rename = "worker.telemetry.read.v1")]
    WorkerTelemetryRead {
        /// Telemetry read up to this time.
        high_water: DateTime<Utc>,
        /// Activity found.
        activity: Vec<ActivityEvent>,
    },
    /// A licence registration was requested (`data` is `{}`).
    #[serde(rename = "worker.licence.registration.started.v1")]
    WorkerLicenceRegistrationStarted(EmptyEventData),
    /// The registration completed.
    #[serde(rename = "worker.licence.registration.completed.v1")]
    WorkerLicenceRegistrationCompleted {
        /// The licence now.
        licence: LicenceStatus,
    },
    /// The registration failed.
    #[serde(rename = "worker.licence.registration.failed.v1")]
    WorkerLicenceRegistrationFailed {
        /// What went wrong.
        error: String,
    },
    /// The licence was deregistered (`data` is `{}`).
    #[serde(rename = "worker.licence.deregistered.v1")]
    WorkerLicenceDeregistered(EmptyEventData),
    /// A lablet took capacity on the worker.
    #[serde(rename = "worker.capacity.allocated.v1")]
    WorkerCapacityAllocated {
        /// The lablet.
        lablet: Uuid,
        /// What it holds.
        allocation: Allocation,
    },
    /// What labs no lablet owns take on the worker changed.
    #[serde(rename = "worker.capacity.unmanaged.v1")]
    WorkerUnmanagedUsageObserved {
        /// What they take now.
        usage: UnmanagedUsage,
    },
    /// A lablet gave its capacity back.
    #[serde(rename = "worker.capacity.released.v1")]
    WorkerCapacityReleased {
        /// The lablet.
        lablet: Uuid,
    },
    /// Termination was requested.
    #[serde(rename = "worker.termination.requested.v1")]
    WorkerTerminationRequested {
        /// Who asked.
        by: Option<String>,
    },
    /// Deletion was requested.
    #[serde(rename = "worker.deletion.requested.v1")]
    WorkerDeletionRequested {
        /// Who asked.
        by: Option<String>,
    },
    /// A lab was seen for the first time.
    #[serde(rename = "lab.discovered.v1")]
    LabDiscovered {
        /// The lab record.
        lab: Box<LabRecord>,
    },
    /// A lab's state changed.
    #[serde(rename = "lab.state.changed.v1")]
    LabStateChanged {
        /// The worker.
        worker_id: Uuid,
        /// The lab id on the worker's CML.
        cml_lab_id: String,
        /// State left.
        from: LabState,
        /// State entered.
        to: LabState,
        /// What was done, by whom.
        operation: LabOperation,
    },
    /// A lab's title, description, owner or counts changed.
    #[serde(rename = "lab.updated.v1")]
    LabUpdated {
        /// The worker.
        worker_id: Uuid,
        /// The lab id on the worker's CML.
        cml_lab_id: String,
        /// What changed.
        changes: Vec<FieldChange>,
    },
    /// An operation was run on a lab through ccm.
    #[serde(rename = "lab.operation.recorded.v1")]
    LabOperationRecorded {
        /// The worker.
        worker_id: Uuid,
        /// The lab id on the worker's CML.
        cml_lab_id: String,
        /// What was done, by whom.
        operation: LabOperation,
    },
    /// A lab disappeared from CML.
    #[serde(rename = "lab.gone.v1")]
    LabGone {
        /// The worker.
        worker_id: Uuid,
        /// The lab id on the worker's CML.
        cml_lab_id: String,
    },
    /// A definition version was created.
    #[serde(rename = "definition.created.v1")]
    DefinitionCreated {
        /// The definition version.
        definition: Box<LabletDefinition>,
    },
    /// A definition was activated or deactivated.
    #[serde(rename = "definition.activation.changed.v1")]
    DefinitionActivationChanged {
        /// Active now.
        active: bool,
    },
    /// A lablet was booked.
    #[serde(rename = "lablet.created.v1")]
    LabletCreated {
        /// The new lablet.
        lablet: Box<Lablet>,
    },
    /// The lablet's phase moved.
    #[serde(rename = "lablet.phase.changed.v1")]
    LabletPhaseChanged {
        /// Phase left.
        from: LabletPhase,
        /// Phase entered.
        to: LabletPhase,
        /// Why.
        reason: Option<String>,
    },
    /// The lablet was bound to a worker with ports.
    #[serde(rename = "lablet.bound.v1")]
    LabletBound {
        /// The worker.
        worker_id: Uuid,
        /// Ports reserved.
        ports: Vec<u16>,
    },
    /// The lablet lost its worker binding.
    #[serde(rename = "lablet.unbound.v1")]
    LabletUnbound {
        /// Why.
        reason: String,
    },
    /// The lablet's lab exists on CML.
    #[serde(rename = "lablet.lab.assigned.v1")]
    LabletLabAssigned {
        /// The lab id on the worker's CML.
        cml_lab_id: String,
    },
    /// How students reach the lablet's lab, recorded with the import.
    #[serde(rename = "lablet.access.assigned.v1")]
    LabletAccessAssigned {
        /// Each console node's port on the worker.
        access: Vec<LabletAccess>,
    },
    /// Cancellation was requested.
    #[serde(rename = "lablet.cancel.requested.v1")]
    LabletCancelRequested {
        /// Who asked.
        by: Option<String>,
    },
    /// Deletion of the lablet record was requested (it goes once terminated).
    #[serde(rename = "lablet.deletion.requested.v1")]
    LabletDeletionRequested {
        /// Who asked.
        by: Option<String>,
    },
    /// The lablet's lab was torn down (or never existed) (`data` is `{}`).
    #[serde(rename = "lablet.lab.released.v1")]
    LabletLabReleased(EmptyEventData),
    /// An attempt failed and will be retried.
    #[serde(rename = "lablet.attempt.failed.v1")]
    LabletAttemptFailed {
        /// Attempt number.
        attempt: u32,
        /// What went wrong.
        error: String,
    },
    /// The autoscaler changed the fleet, and why.
    #[serde(rename = "fleet.scaling.decided.v1")]
    FleetScalingDecided {
        /// What it did.
        action: ScalingAction,
        /// The workers concerned.
        workers: Vec<Uuid>,
        /// Why.
        reason: String,
    },
}

/// Domain events for examples and tests.
pub(crate) mod samples {
    use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, StoredEvent, Subject};
    use ccm_core::ids::EventId;
    use chrono::{DateTime, Utc};

    /// A lablet entering `running` at its timeslot's start.
    pub(crate) fn phase_changed() -> EventPayload {
        EventPayload::LabletPhaseChanged {
            from: ccm_core::lablet::LabletPhase::Ready,
            to: ccm_core::lablet::LabletPhase::Running,
            reason: Some("timeslot started".into()),
        }
    }

    /// `payload` as the log's event number `sequence`, about lablet 7.
    pub(crate) fn stored(sequence: u64, payload: EventPayload) -> StoredEvent {
        let at = DateTime::<Utc>::from_timestamp(1_767_229_200, 0).unwrap_or_default();
        StoredEvent {
            sequence,
            event: DomainEvent {
                id: EventId::from_u128(
                    0xe7e0_0000_0000_4000_8000_0000_0000_0000 + u128::from(sequence),
                ),
                occurred_at: at,
                subject: Subject {
                    kind: ResourceKind::Lablet,
                    id: "1ab10000-0000-4000-8000-000000000007".into(),
                },
                payload,
            },
        }
    }
}
