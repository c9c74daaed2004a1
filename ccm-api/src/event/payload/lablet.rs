//! The `data` of the `lablet.*` event types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::EmptyEventData;
use crate::lablet::{Lablet, LabletAccess, LabletPhase, Timeslot};

/// A booking as it was asked for: the `request` of `lablet.created.v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletBooking {
    /// Who the session is for.
    pub owner: String,
    /// When it runs.
    pub timeslot: Timeslot,
    /// External reservation id, if the booking system has one.
    pub reservation_id: Option<String>,
    /// Booked for as soon as possible (the timeslot starts at the estimate).
    #[serde(default)]
    pub on_demand: bool,
}

/// A lablet was booked: its name, its definition and the booking. Read the
/// lablet itself with `GET /api/v1/lablets/{id}`.
///
/// The `data` of `lablet.created.v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletCreatedV2 {
    /// The lablet's name (`<definition>-<owner>`).
    pub name: String,
    /// Definition version it is made from.
    pub definition_id: Uuid,
    /// The booking.
    pub request: LabletBooking,
}

/// The whole lablet: the booking before `.v2`, and the snapshot log compaction
/// writes for a compacted history.
///
/// The `data` of `lablet.created.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletCreated {
    /// The new lablet.
    pub lablet: Box<Lablet>,
}

/// The lablet's phase moved.
///
/// The `data` of `lablet.phase.changed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletPhaseChanged {
    /// Phase left.
    pub from: LabletPhase,
    /// Phase entered.
    pub to: LabletPhase,
    /// Why.
    pub reason: Option<String>,
}

/// The lablet was bound to a worker with ports.
///
/// The `data` of `lablet.bound.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletBound {
    /// The worker.
    pub worker_id: Uuid,
    /// Ports reserved.
    pub ports: Vec<u16>,
}

/// The lablet lost its worker binding.
///
/// The `data` of `lablet.unbound.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletUnbound {
    /// Why.
    pub reason: String,
}

/// The lablet's lab exists on CML.
///
/// The `data` of `lablet.lab.assigned.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletLabAssigned {
    /// The lab id on the worker's CML.
    pub cml_lab_id: String,
}

/// How students reach the lablet's lab, recorded with the import.
///
/// The `data` of `lablet.access.assigned.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletAccessAssigned {
    /// Each console node's port on the worker.
    pub access: Vec<LabletAccess>,
}

/// Cancellation was requested.
///
/// The `data` of `lablet.cancel.requested.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletCancelRequested {
    /// Who asked.
    pub by: Option<String>,
}

/// The timeslot's end moved later.
///
/// The `data` of `lablet.extended.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletExtended {
    /// The end before.
    pub from: chrono::DateTime<chrono::Utc>,
    /// The end now.
    pub to: chrono::DateTime<chrono::Utc>,
    /// Who asked.
    pub by: Option<String>,
}

/// An on-demand lablet's estimated ready time moved: its timeslot, same
/// length, now starts at `to.start`.
///
/// The `data` of `lablet.rescheduled.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletRescheduled {
    /// The timeslot before.
    pub from: Timeslot,
    /// The timeslot now.
    pub to: Timeslot,
    /// Why: `the lab is ready ahead of the estimate`, `the lab is ready after
    /// the estimate` or `not ready by the estimate`.
    pub reason: String,
}

/// Deletion of the lablet record was requested (it goes once terminated).
///
/// The `data` of `lablet.deletion.requested.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletDeletionRequested {
    /// Who asked.
    pub by: Option<String>,
}

/// The lablet's lab was torn down (or never existed) (`data` is `{}`).
///
/// The `data` of `lablet.lab.released.v1`: `{}`.
pub type LabletLabReleased = EmptyEventData;

/// An attempt failed and will be retried.
///
/// The `data` of `lablet.attempt.failed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletAttemptFailed {
    /// Attempt number.
    pub attempt: u32,
    /// What went wrong.
    pub error: String,
}
