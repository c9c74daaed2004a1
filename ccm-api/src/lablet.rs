//! Lablets (`/api/v1/lablets`): timed lab sessions made from a definition and
//! placed on a worker — the record with its timeslot, status, access and phase
//! history, the booking request and the list query.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::worker::ObjectMeta;
use crate::Example;

/// Where a lablet is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LabletPhase {
    /// Waiting to be placed.
    Pending,
    /// Bound to a worker with capacity and ports reserved.
    Scheduled,
    /// Lab being imported and started on CML.
    Instantiating,
    /// Lab converged, waiting for the timeslot to start.
    Ready,
    /// Inside its timeslot.
    Running,
    /// Lab being stopped, wiped and deleted.
    Stopping,
    /// Lab gone, capacity released.
    Stopped,
    /// Final: the record may be removed.
    Terminated,
    /// Gave up after retries; teardown still follows.
    Failed,
    /// Missed its start by more than the grace period.
    Expired,
}

impl From<ccm_core::lablet::LabletPhase> for LabletPhase {
    fn from(phase: ccm_core::lablet::LabletPhase) -> Self {
        use ccm_core::lablet::LabletPhase as Domain;
        match phase {
            Domain::Pending => Self::Pending,
            Domain::Scheduled => Self::Scheduled,
            Domain::Instantiating => Self::Instantiating,
            Domain::Ready => Self::Ready,
            Domain::Running => Self::Running,
            Domain::Stopping => Self::Stopping,
            Domain::Stopped => Self::Stopped,
            Domain::Terminated => Self::Terminated,
            Domain::Failed => Self::Failed,
            Domain::Expired => Self::Expired,
        }
    }
}

/// A booked interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Timeslot {
    /// Start (inclusive).
    pub start: DateTime<Utc>,
    /// End (exclusive).
    pub end: DateTime<Utc>,
}

impl From<&ccm_core::lablet::Timeslot> for Timeslot {
    fn from(t: &ccm_core::lablet::Timeslot) -> Self {
        Self {
            start: t.start,
            end: t.end,
        }
    }
}

impl From<Timeslot> for ccm_core::lablet::Timeslot {
    fn from(t: Timeslot) -> Self {
        Self {
            start: t.start,
            end: t.end,
        }
    }
}

/// What was asked for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletSpec {
    /// Definition version instantiated.
    pub definition_id: Uuid,
    /// Who the session is for.
    pub owner: String,
    /// When it runs.
    pub timeslot: Timeslot,
    /// External reservation id, if the booking system has one.
    pub reservation_id: Option<String>,
    /// Set when cancellation was requested.
    pub cancel_requested: bool,
    /// Booked for as soon as possible: the timeslot starts at the estimated
    /// ready time, which the engine moves (`lablet.rescheduled.v1`, keeping the
    /// length) until the lab is ready, when the session starts.
    pub on_demand: bool,
}

impl From<&ccm_core::lablet::LabletSpec> for LabletSpec {
    fn from(s: &ccm_core::lablet::LabletSpec) -> Self {
        Self {
            definition_id: s.definition_id.0,
            owner: s.owner.clone(),
            timeslot: Timeslot::from(&s.timeslot),
            reservation_id: s.reservation_id.clone(),
            cancel_requested: s.cancel_requested,
            on_demand: s.on_demand,
        }
    }
}

/// One phase change, kept for the timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PhaseChange {
    /// Phase left.
    pub from: LabletPhase,
    /// Phase entered.
    pub to: LabletPhase,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, when known.
    pub reason: Option<String>,
}

impl From<&ccm_core::lablet::PhaseChange> for PhaseChange {
    fn from(c: &ccm_core::lablet::PhaseChange) -> Self {
        Self {
            from: c.from.into(),
            to: c.to.into(),
            at: c.at,
            reason: c.reason.clone(),
        }
    }
}

/// How a lablet's port is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccessProtocol {
    /// A node's serial console: a raw TCP stream that `telnet` speaks.
    Telnet,
}

impl From<ccm_core::topology::pat::AccessProtocol> for AccessProtocol {
    fn from(p: ccm_core::topology::pat::AccessProtocol) -> Self {
        match p {
            ccm_core::topology::pat::AccessProtocol::Telnet => Self::Telnet,
        }
    }
}

/// One way into a lablet's lab: a node's console on its worker, as a student
/// dials it (`telnet <host> <port>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletAccess {
    /// The node's topology-local id (`n0`).
    pub node: String,
    /// The node's label (its id when it has none).
    pub label: String,
    /// How the port is reached.
    pub protocol: AccessProtocol,
    /// The worker's address students reach.
    pub host: String,
    /// The port on that host.
    pub port: u16,
}

impl From<&ccm_core::lablet::LabletAccess> for LabletAccess {
    fn from(a: &ccm_core::lablet::LabletAccess) -> Self {
        Self {
            node: a.node.clone(),
            label: a.label.clone(),
            protocol: a.protocol.into(),
            host: a.host.clone(),
            port: a.port,
        }
    }
}

/// What was observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletStatus {
    /// Current phase.
    pub phase: LabletPhase,
    /// Worker the lablet is bound to.
    pub worker_id: Option<Uuid>,
    /// Lab on the worker's CML (CML's lab id, verbatim).
    pub cml_lab_id: Option<String>,
    /// Ports reserved on the worker.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// How students reach the lab's nodes: one entry per console node, once the
    /// lab is imported; empty before and once the lab is gone.
    #[serde(default)]
    pub access: Vec<LabletAccess>,
    /// Failed attempts in the current phase.
    pub attempts: u32,
    /// Last error.
    pub last_error: Option<String>,
    /// Phase history, newest first (at most 50 entries).
    #[serde(default)]
    pub history: Vec<PhaseChange>,
}

impl From<&ccm_core::lablet::LabletStatus> for LabletStatus {
    fn from(s: &ccm_core::lablet::LabletStatus) -> Self {
        Self {
            phase: s.phase.into(),
            worker_id: s.worker_id.map(|id| id.0),
            cml_lab_id: s.cml_lab_id.as_ref().map(|id| id.0.clone()),
            ports: s.ports.clone(),
            access: s.access.iter().map(LabletAccess::from).collect(),
            attempts: s.attempts,
            last_error: s.last_error.clone(),
            history: s.history.iter().map(PhaseChange::from).collect(),
        }
    }
}

/// A timed lab session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Lablet {
    /// Identifier.
    pub id: Uuid,
    /// Metadata.
    pub meta: ObjectMeta,
    /// What was asked for.
    pub spec: LabletSpec,
    /// What was observed.
    pub status: LabletStatus,
}

impl From<&ccm_core::lablet::Lablet> for Lablet {
    fn from(l: &ccm_core::lablet::Lablet) -> Self {
        Self {
            id: l.id.0,
            meta: ObjectMeta::from(&l.meta),
            spec: LabletSpec::from(&l.spec),
            status: LabletStatus::from(&l.status),
        }
    }
}

impl From<ccm_core::lablet::Lablet> for Lablet {
    fn from(l: ccm_core::lablet::Lablet) -> Self {
        Self::from(&l)
    }
}

/// Body of `POST /api/v1/lablets`: a booking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLablet {
    /// Definition version to instantiate (it must be active).
    pub definition_id: Uuid,
    /// Owner; the caller when absent (a user may name only themselves).
    pub owner: Option<String>,
    /// When it runs: it must end in the future and last at most the
    /// definition's `max_duration_minutes`.
    pub timeslot: Timeslot,
    /// External reservation id.
    pub reservation_id: Option<String>,
}

/// Body of `POST /api/v1/lablets/on-demand`: a booking for as soon as possible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOnDemandLablet {
    /// Definition version to instantiate (it must be active).
    pub definition_id: Uuid,
    /// Owner; the caller when absent (a user may name only themselves).
    pub owner: Option<String>,
    /// How long the session lasts once the lab is ready, minutes: at least 1,
    /// at most the definition's `max_duration_minutes`.
    #[schema(minimum = 1)]
    pub duration_minutes: u32,
    /// External reservation id.
    pub reservation_id: Option<String>,
}

/// Body of `POST /api/v1/lablets/{id}/extend`: the new end of the timeslot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendLablet {
    /// The new end: later than the current end and now, and at most the
    /// definition's `max_duration_minutes` after the start.
    pub until: DateTime<Utc>,
}

/// Query of `GET /api/v1/lablets`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LabletListQuery {
    /// Only these phases, comma-separated (`running,ready`).
    #[param(example = "running,ready")]
    pub phase: Option<String>,
    /// Only lablets bound to this worker.
    pub worker_id: Option<Uuid>,
    /// Only this owner (users: ignored, they see their own).
    pub owner: Option<String>,
    /// Only lablets of this definition version.
    pub definition_id: Option<Uuid>,
    /// Page size (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Position of the first item (default 0).
    pub offset: Option<usize>,
}

/// A running lablet with every optional part filled in.
pub(crate) fn sample_lablet() -> ccm_core::lablet::Lablet {
    use ccm_core::lablet::LabletPhase as P;
    let at = |s: i64| DateTime::<Utc>::from_timestamp(1_767_225_600 + s, 0).unwrap_or_default();
    let mut meta = ccm_core::meta::ObjectMeta::new("ccna-basics-alice", at(0));
    meta.labels.insert("cohort".into(), "2026-q1".into());
    meta.version = 7;
    meta.finalizers
        .push(ccm_core::lablet::LAB_TEARDOWN_FINALIZER.into());
    meta.updated_at = at(4_000);
    let change = |from, to, s, reason: &str| ccm_core::lablet::PhaseChange {
        from,
        to,
        at: at(s),
        reason: Some(reason.into()),
    };
    ccm_core::lablet::Lablet {
        id: ccm_core::ids::LabletId::from_u128(0x1ab1_0000_0000_4000_8000_0000_0000_0007),
        meta,
        spec: ccm_core::lablet::LabletSpec {
            definition_id: ccm_core::ids::DefinitionId::from_u128(
                0x0d3f_0000_0000_4000_8000_0000_0000_0001,
            ),
            owner: "alice@example.com".into(),
            timeslot: ccm_core::lablet::Timeslot {
                start: at(3_600),
                end: at(3_600 + 7_200),
            },
            reservation_id: Some("rsv-20260101-0042".into()),
            cancel_requested: false,
            on_demand: false,
        },
        status: ccm_core::lablet::LabletStatus {
            phase: P::Running,
            worker_id: Some(ccm_core::ids::WorkerId::from_u128(
                0x3a7c_0000_0000_4000_8000_0000_0000_0001,
            )),
            cml_lab_id: Some(ccm_core::ids::CmlLabId(
                "8c1a4e52-2b0f-4d7e-9a61-1f4b2c3d5e6f".into(),
            )),
            ports: vec![5000, 5001],
            access: vec![ccm_core::lablet::LabletAccess {
                node: "n0".into(),
                label: "r1".into(),
                protocol: ccm_core::topology::pat::AccessProtocol::Telnet,
                host: "cml-eu-1.example.com".into(),
                port: 5000,
            }],
            attempts: 1,
            last_error: Some("CML timed out starting node n1; retried".into()),
            history: VecDeque::from([
                change(P::Ready, P::Running, 3_600, "timeslot started"),
                change(P::Instantiating, P::Ready, 900, "lab converged"),
                change(P::Scheduled, P::Instantiating, 120, "importing the lab"),
                change(P::Pending, P::Scheduled, 60, "placed on cml-eu-1"),
            ]),
        },
    }
}

impl Example for Lablet {
    fn example() -> Self {
        Self::from(&sample_lablet())
    }
}

impl Example for CreateLablet {
    fn example() -> Self {
        let l = sample_lablet();
        Self {
            definition_id: l.spec.definition_id.0,
            owner: Some(l.spec.owner),
            timeslot: Timeslot::from(&l.spec.timeslot),
            reservation_id: l.spec.reservation_id,
        }
    }
}

impl Example for CreateOnDemandLablet {
    fn example() -> Self {
        let l = sample_lablet();
        Self {
            definition_id: l.spec.definition_id.0,
            owner: Some(l.spec.owner),
            duration_minutes: 90,
            reservation_id: l.spec.reservation_id,
        }
    }
}

impl Example for ExtendLablet {
    fn example() -> Self {
        let l = sample_lablet();
        Self {
            until: l.spec.timeslot.end + chrono::Duration::minutes(30),
        }
    }
}

#[cfg(test)]
#[path = "lablet_tests.rs"]
mod tests;
