//! Lablets: timed lab sessions made from a lablet definition, placed on a worker.

mod phase;

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

pub use phase::LabletPhase;

use crate::definition::LabletDefinition;
use crate::domain_error::DomainError;
use crate::event::{DomainEvent, EventPayload, ResourceKind, Subject};
use crate::ids::{CmlLabId, DefinitionId, LabletId, WorkerId};
use crate::meta::ObjectMeta;
use crate::replay::{EventSourced, ReplayError};
use crate::state_machine::StateMachine;
use crate::time::{seconds_between, Timestamp};
use crate::topology::pat::{AccessProtocol, ConsolePort};

/// Finalizer guaranteeing the lab is torn down before the lablet record goes.
pub const LAB_TEARDOWN_FINALIZER: &str = "ccm.io/lab-teardown";

/// A booked interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Timeslot {
    /// Start (inclusive).
    pub start: Timestamp,
    /// End (exclusive).
    pub end: Timestamp,
}

impl Timeslot {
    /// Length in seconds (negative if inverted).
    pub fn duration_seconds(&self) -> i64 {
        seconds_between(self.start, self.end)
    }
}

/// What was asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabletSpec {
    /// Definition version to instantiate.
    pub definition_id: DefinitionId,
    /// Who the session is for.
    pub owner: String,
    /// When it runs.
    pub timeslot: Timeslot,
    /// External reservation id, if the booking system has one.
    pub reservation_id: Option<String>,
    /// Set when cancellation was requested.
    pub cancel_requested: bool,
    /// Booked for as soon as possible: the timeslot's start is the estimated
    /// ready time, which the engine moves (`lablet.rescheduled.v1`, keeping the
    /// length) when the lab is ready sooner or the estimate passes.
    #[serde(default)]
    pub on_demand: bool,
}

/// One phase change, kept for the timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseChange {
    /// Phase left.
    pub from: LabletPhase,
    /// Phase entered.
    pub to: LabletPhase,
    /// When.
    pub at: Timestamp,
    /// Why.
    pub reason: Option<String>,
}

/// One way into a lablet's lab: a node's console on its worker, as a student
/// dials it (`telnet <host> <port>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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

impl LabletAccess {
    /// The entry for a console port of the lab on `host`.
    pub fn console(console: ConsolePort, host: &str) -> Self {
        Self {
            node: console.node,
            label: console.label,
            protocol: console.protocol,
            host: host.to_owned(),
            port: console.port,
        }
    }
}

/// What was observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabletStatus {
    /// Current phase.
    pub phase: LabletPhase,
    /// Worker the lablet is bound to.
    pub worker_id: Option<WorkerId>,
    /// Lab on the worker's CML.
    pub cml_lab_id: Option<CmlLabId>,
    /// Ports reserved.
    #[serde(default)]
    pub ports: Vec<u16>,
    /// How students reach the lab's nodes: one entry per node given one of
    /// `ports` when the lab was imported; empty before that, once the lab is
    /// gone and on records stored before access was recorded.
    #[serde(default)]
    pub access: Vec<LabletAccess>,
    /// Failed attempts in the current phase.
    pub attempts: u32,
    /// Last error.
    pub last_error: Option<String>,
    /// Phase history, newest first, capped at [`Lablet::HISTORY_CAP`].
    #[serde(default)]
    pub history: VecDeque<PhaseChange>,
}

/// A timed lab session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lablet {
    /// Identifier.
    pub id: LabletId,
    /// Metadata.
    pub meta: ObjectMeta,
    /// Desired.
    pub spec: LabletSpec,
    /// Observed.
    pub status: LabletStatus,
}

/// Input to [`Lablet::create`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewLablet {
    /// Owner.
    pub owner: String,
    /// Timeslot.
    pub timeslot: Timeslot,
    /// External reservation id.
    pub reservation_id: Option<String>,
    /// As soon as possible; see [`LabletSpec::on_demand`].
    #[serde(default)]
    pub on_demand: bool,
}

impl EventSourced for Lablet {
    fn created_by(event: &DomainEvent) -> Option<Self> {
        match &event.payload {
            EventPayload::LabletCreatedV2 {
                name,
                definition_id,
                request,
            } => Some(Lablet::booked(
                event.subject.id.parse().ok()?,
                name.clone(),
                *definition_id,
                request.clone(),
                event.occurred_at,
            )),
            EventPayload::LabletCreated { lablet } => Some(Lablet::clone(lablet)),
            _ => None,
        }
    }

    fn apply(&mut self, event: &DomainEvent) -> Result<(), ReplayError> {
        Lablet::apply(self, event)
    }
}

impl Lablet {
    /// Phase changes remembered.
    pub const HISTORY_CAP: usize = 50;

    fn subject(&self) -> Subject {
        Subject {
            kind: ResourceKind::Lablet,
            id: self.id.to_string(),
        }
    }

    /// Validates a booking against its definition and creates the lablet.
    pub fn create(
        id: LabletId,
        definition: &LabletDefinition,
        input: NewLablet,
        now: Timestamp,
    ) -> Result<(Lablet, DomainEvent), DomainError> {
        if !definition.active {
            return Err(DomainError::validation(
                "definition_id",
                format!("definition `{}` is inactive", definition.name()),
            ));
        }
        if input.owner.trim().is_empty() {
            return Err(DomainError::validation("owner", "must not be empty"));
        }
        let duration = input.timeslot.duration_seconds();
        if duration <= 0 {
            return Err(DomainError::validation(
                "timeslot",
                "end must be after start",
            ));
        }
        let max = i64::from(definition.max_duration_minutes) * 60;
        if duration > max {
            return Err(DomainError::validation(
                "timeslot",
                format!(
                    "lasts {} min, longer than the definition's maximum of {} min",
                    duration / 60,
                    definition.max_duration_minutes
                ),
            ));
        }
        let name = format!("{}-{}", definition.name(), input.owner);
        let lablet = Lablet::booked(id, name.clone(), definition.id, input.clone(), now);
        let event = DomainEvent::new(
            lablet.subject(),
            EventPayload::LabletCreatedV2 {
                name,
                definition_id: definition.id,
                request: input,
            },
            now,
        );
        Ok((lablet, event))
    }

    /// The lablet [`Lablet::create`] makes once the booking is valid (and replay
    /// rebuilds from its event).
    fn booked(
        id: LabletId,
        name: String,
        definition_id: DefinitionId,
        input: NewLablet,
        now: Timestamp,
    ) -> Lablet {
        let mut meta = ObjectMeta::new(name, now);
        meta.add_finalizer(LAB_TEARDOWN_FINALIZER);
        Lablet {
            id,
            meta,
            spec: LabletSpec {
                definition_id,
                owner: input.owner,
                timeslot: input.timeslot,
                reservation_id: input.reservation_id,
                cancel_requested: false,
                on_demand: input.on_demand,
            },
            status: LabletStatus {
                phase: LabletPhase::Pending,
                worker_id: None,
                cml_lab_id: None,
                ports: Vec::new(),
                access: Vec::new(),
                attempts: 0,
                last_error: None,
                history: VecDeque::new(),
            },
        }
    }

    /// Applies one event (commands and replay share this; see [`EventSourced`]).
    pub fn apply(&mut self, event: &DomainEvent) -> Result<(), ReplayError> {
        let now = event.occurred_at;
        match &event.payload {
            EventPayload::LabletPhaseChanged { from, to, reason } => {
                if *from != self.status.phase {
                    return Err(ReplayError::OutOfOrder {
                        type_name: event.type_name(),
                        detail: format!(
                            "event starts from {} but the lablet is {}",
                            from.as_str(),
                            self.status.phase.as_str()
                        ),
                    });
                }
                from.check_transition(*to)?;
                self.status.phase = *to;
                self.status.attempts = 0;
                self.status.history.push_front(PhaseChange {
                    from: *from,
                    to: *to,
                    at: now,
                    reason: reason.clone(),
                });
                self.status.history.truncate(Self::HISTORY_CAP);
                if *to == LabletPhase::Stopped {
                    self.meta.remove_finalizer(LAB_TEARDOWN_FINALIZER);
                }
                if *to == LabletPhase::Terminated {
                    self.meta.remove_finalizer(LAB_TEARDOWN_FINALIZER);
                    self.status.worker_id = None;
                    self.status.ports.clear();
                    self.status.access.clear();
                }
            }
            EventPayload::LabletBound { worker_id, ports } => {
                self.status.worker_id = Some(*worker_id);
                self.status.ports.clone_from(ports);
            }
            EventPayload::LabletUnbound { reason } => {
                self.status.worker_id = None;
                self.status.ports.clear();
                self.status.access.clear();
                self.status.cml_lab_id = None;
                self.status.last_error = Some(reason.clone());
            }
            EventPayload::LabletLabAssigned { cml_lab_id } => {
                self.status.cml_lab_id = Some(cml_lab_id.clone());
            }
            EventPayload::LabletAccessAssigned { access } => {
                self.status.access.clone_from(access);
            }
            EventPayload::LabletCancelRequested { .. } => {
                self.spec.cancel_requested = true;
                self.meta.generation += 1;
            }
            EventPayload::LabletExtended { to, .. } => {
                self.spec.timeslot.end = *to;
                self.meta.generation += 1;
            }
            EventPayload::LabletRescheduled { to, .. } => {
                self.spec.timeslot = *to;
                self.meta.generation += 1;
            }
            EventPayload::LabletDeletionRequested { .. } => {
                self.meta.deletion_timestamp = Some(now);
            }
            EventPayload::LabletLabReleased {} => {
                // The ports led into the lab that is gone.
                self.status.cml_lab_id = None;
                self.status.access.clear();
                self.meta.remove_finalizer(LAB_TEARDOWN_FINALIZER);
            }
            EventPayload::LabletAttemptFailed { attempt, error } => {
                self.status.attempts = *attempt;
                self.status.last_error = Some(error.clone());
            }
            other => {
                return Err(ReplayError::WrongKind {
                    type_name: other.type_name(),
                    kind: ResourceKind::Lablet,
                })
            }
        }
        self.meta.updated_at = now;
        Ok(())
    }

    fn emit(&mut self, payload: EventPayload, now: Timestamp) -> Result<DomainEvent, DomainError> {
        let event = DomainEvent::new(self.subject(), payload, now);
        self.apply(&event)?;
        Ok(event)
    }

    /// Moves to `to`, checking the table first. Entering `scheduled` or going back
    /// to `pending` changes the worker binding, so those moves go through
    /// [`Lablet::bind`] and [`Lablet::unbind`] and are refused here.
    pub fn transition(
        &mut self,
        to: LabletPhase,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if matches!(to, LabletPhase::Scheduled | LabletPhase::Pending) {
            return Err(self.binding_required(to).into());
        }
        self.move_to(to, reason, now)
    }

    fn binding_required(&self, to: LabletPhase) -> crate::state_machine::TransitionError {
        crate::state_machine::TransitionError {
            machine: LabletPhase::MACHINE,
            from: self.status.phase.as_str().to_owned(),
            to: format!("{} (needs bind/unbind)", to.as_str()),
        }
    }

    fn move_to(
        &mut self,
        to: LabletPhase,
        reason: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let from = self.status.phase;
        if from == to {
            return Ok(Vec::new());
        }
        from.check_transition(to)?;
        Ok(vec![self.emit(
            EventPayload::LabletPhaseChanged { from, to, reason },
            now,
        )?])
    }

    /// Binds a pending lablet to a worker and moves it to scheduled.
    pub fn bind(
        &mut self,
        worker_id: WorkerId,
        ports: Vec<u16>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.status.phase != LabletPhase::Pending {
            return Err(self.binding_required(LabletPhase::Scheduled).into());
        }
        let mut events = vec![self.emit(EventPayload::LabletBound { worker_id, ports }, now)?];
        events.extend(self.move_to(LabletPhase::Scheduled, Some("placed".into()), now)?);
        Ok(events)
    }

    /// Drops the worker binding (the worker was lost before the lab ran) and
    /// returns the lablet to pending for another placement.
    pub fn unbind(
        &mut self,
        reason: String,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        self.status.phase.check_transition(LabletPhase::Pending)?;
        let mut events = vec![self.emit(
            EventPayload::LabletUnbound {
                reason: reason.clone(),
            },
            now,
        )?];
        events.extend(self.move_to(LabletPhase::Pending, Some(reason), now)?);
        Ok(events)
    }

    /// Records the lab created on CML for this lablet.
    pub fn assign_lab(
        &mut self,
        cml_lab_id: CmlLabId,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.status.cml_lab_id.as_ref() == Some(&cml_lab_id) {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(
            EventPayload::LabletLabAssigned { cml_lab_id },
            now,
        )?])
    }

    /// Records how students reach the lab just imported (or found again). A
    /// lablet without a worker or already finished has no lab to reach: refused,
    /// so its access list stays empty.
    pub fn assign_access(
        &mut self,
        access: Vec<LabletAccess>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.status.access == access {
            return Ok(Vec::new());
        }
        if self.status.worker_id.is_none() || self.status.phase.is_finished() {
            return Err(DomainError::validation(
                "access",
                format!(
                    "a {} lablet{} has no lab to reach",
                    self.status.phase.as_str(),
                    if self.status.worker_id.is_none() {
                        " without a worker"
                    } else {
                        ""
                    }
                ),
            ));
        }
        Ok(vec![self.emit(
            EventPayload::LabletAccessAssigned { access },
            now,
        )?])
    }

    /// Records a failed attempt; returns its number.
    pub fn record_failure(
        &mut self,
        error: String,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let attempt = self.status.attempts.saturating_add(1);
        Ok(vec![self.emit(
            EventPayload::LabletAttemptFailed { attempt, error },
            now,
        )?])
    }

    /// Records that the lab is gone from CML, which lifts the teardown finalizer.
    pub fn release_lab(&mut self, now: Timestamp) -> Result<Vec<DomainEvent>, DomainError> {
        if !self
            .meta
            .finalizers
            .iter()
            .any(|f| f == LAB_TEARDOWN_FINALIZER)
            && self.status.cml_lab_id.is_none()
        {
            return Ok(Vec::new());
        }
        Ok(vec![self.emit(EventPayload::LabletLabReleased {}, now)?])
    }

    /// Asks for the record to go once the lablet is terminated; cancels it too.
    pub fn request_deletion(
        &mut self,
        by: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.meta.deletion_timestamp.is_some() {
            return Ok(Vec::new());
        }
        let mut events = Vec::new();
        if !self.status.phase.is_finished() && !self.spec.cancel_requested {
            events.extend(self.cancel(by.clone(), now)?);
        }
        events.push(self.emit(EventPayload::LabletDeletionRequested { by }, now)?);
        Ok(events)
    }

    /// Moves an on-demand lablet's timeslot to start at `ready_at` (its new
    /// estimated ready time), keeping its length. Only before it runs: once
    /// running, its start is history.
    pub fn reschedule(
        &mut self,
        ready_at: Timestamp,
        reason: &str,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let phase = self.status.phase;
        let before_running = matches!(
            phase,
            LabletPhase::Pending
                | LabletPhase::Scheduled
                | LabletPhase::Instantiating
                | LabletPhase::Ready
        );
        if !self.spec.on_demand || !before_running || self.spec.cancel_requested {
            return Err(crate::state_machine::TransitionError {
                machine: LabletPhase::MACHINE,
                from: phase.as_str().to_owned(),
                to: "rescheduled".to_owned(),
            }
            .into());
        }
        let from = self.spec.timeslot;
        if ready_at == from.start {
            return Ok(Vec::new());
        }
        let to = Timeslot {
            start: ready_at,
            end: crate::time::plus_seconds(ready_at, from.duration_seconds()),
        };
        Ok(vec![self.emit(
            EventPayload::LabletRescheduled {
                from,
                to,
                reason: reason.to_owned(),
            },
            now,
        )?])
    }

    /// Moves the end of the timeslot to `until`, within the definition's longest
    /// session (`max_duration_minutes`). Only a lablet that has neither ended nor
    /// been cancelled can be extended, and only later than its end and now.
    pub fn extend(
        &mut self,
        until: Timestamp,
        max_duration_minutes: u32,
        by: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        let phase = self.status.phase;
        if phase.is_finished() || phase == LabletPhase::Stopping || self.spec.cancel_requested {
            return Err(crate::state_machine::TransitionError {
                machine: LabletPhase::MACHINE,
                from: if self.spec.cancel_requested {
                    "cancelled".to_owned()
                } else {
                    phase.as_str().to_owned()
                },
                to: "extended".to_owned(),
            }
            .into());
        }
        let slot = &self.spec.timeslot;
        if until <= slot.end || until <= now {
            return Err(DomainError::validation(
                "until",
                format!("must be after the lablet's end ({}) and now", slot.end),
            ));
        }
        let longest = i64::from(max_duration_minutes) * 60;
        let lasting = crate::time::seconds_between(slot.start, until);
        if lasting > longest {
            return Err(DomainError::validation(
                "until",
                format!(
                    "the session would last {} min, longer than the definition's maximum of {max_duration_minutes} min",
                    lasting / 60
                ),
            ));
        }
        let from = slot.end;
        Ok(vec![self.emit(
            EventPayload::LabletExtended {
                from,
                to: until,
                by,
            },
            now,
        )?])
    }

    /// Asks for the session to end early. Repeating is harmless; cancelling a
    /// finished lablet is an invalid transition.
    pub fn cancel(
        &mut self,
        by: Option<String>,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, DomainError> {
        if self.spec.cancel_requested {
            return Ok(Vec::new());
        }
        if self.status.phase.is_finished() {
            return Err(crate::state_machine::TransitionError {
                machine: LabletPhase::MACHINE,
                from: self.status.phase.as_str().to_owned(),
                to: "cancelled".to_owned(),
            }
            .into());
        }
        Ok(vec![
            self.emit(EventPayload::LabletCancelRequested { by }, now)?
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{NewDefinition, ResourceNeeds};
    use crate::resources::Resources;
    use crate::time::{epoch, plus_seconds};
    use crate::version::SemVer;

    fn lablet() -> Lablet {
        let definition = LabletDefinition::new(
            DefinitionId::from_u128(1),
            NewDefinition {
                name: "ccna".into(),
                version: SemVer::new(1, 0, 0),
                topology_yaml: "nodes: []".into(),
                needs: ResourceNeeds {
                    resources: Resources::new(1, 1, 1),
                    nodes: 1,
                    ports: 1,
                },
                licence_affinity: None,
                min_cml_version: None,
                max_duration_minutes: 60,
                warm_pool_depth: 0,
            },
            epoch(),
        )
        .unwrap();
        let input = NewLablet {
            owner: "student".into(),
            timeslot: Timeslot {
                start: plus_seconds(epoch(), 600),
                end: plus_seconds(epoch(), 1200),
            },
            reservation_id: None,
            on_demand: false,
        };
        Lablet::create(LabletId::from_u128(2), &definition, input, epoch())
            .unwrap()
            .0
    }

    fn entry(port: u16) -> LabletAccess {
        LabletAccess {
            node: "n0".into(),
            label: "r1".into(),
            protocol: AccessProtocol::Telnet,
            host: "203.0.113.7".into(),
            port,
        }
    }

    #[test]
    fn access_is_recorded_once_and_goes_with_the_lab_or_the_binding() {
        let now = epoch();
        let mut l = lablet();
        l.bind(WorkerId::from_u128(3), vec![2000], now).unwrap();
        l.assign_lab(CmlLabId::new("lab"), now).unwrap();
        let events = l.assign_access(vec![entry(2000)], now).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].type_name(), "lablet.access.assigned.v1");
        assert!(l.assign_access(vec![entry(2000)], now).unwrap().is_empty());
        assert_eq!(l.status.access, vec![entry(2000)]);
        assert!(
            lablet().assign_access(vec![entry(2000)], now).is_err(),
            "no worker"
        );
        let mut released = l.clone();
        released.release_lab(now).unwrap();
        assert!(released.status.access.is_empty());
        l.unbind("worker lost".into(), now).unwrap();
        assert!(l.status.access.is_empty());
    }

    #[test]
    fn an_extension_moves_the_end_within_the_longest_session_and_replays() {
        let now = plus_seconds(epoch(), 900);
        let mut l = lablet();
        let created = l.clone();
        // Later than the end, up to start + 60 min.
        let until = plus_seconds(epoch(), 600 + 3600);
        let events = l.extend(until, 60, Some("alice".into()), now).unwrap();
        assert_eq!(events[0].type_name(), "lablet.extended.v1");
        assert_eq!(l.spec.timeslot.end, until);
        let mut replayed = created;
        replayed.apply(&events[0]).unwrap();
        assert_eq!(replayed.spec.timeslot, l.spec.timeslot);
        // Not later than the end, past the maximum, or in the past: refused.
        for (until, reason) in [
            (plus_seconds(epoch(), 600 + 3600), "after"),
            (plus_seconds(epoch(), 600 + 3601), "maximum of 60 min"),
        ] {
            match l.extend(until, 60, None, now) {
                Err(DomainError::Validation { field, reason: r }) => {
                    assert_eq!(field, "until");
                    assert!(r.contains(reason), "{r}");
                }
                other => panic!("{other:?}"),
            }
        }
        let mut cancelled = lablet();
        cancelled.cancel(None, now).unwrap();
        assert!(matches!(
            cancelled.extend(until, 60, None, now),
            Err(DomainError::InvalidTransition(_))
        ));
    }

    #[test]
    fn only_an_on_demand_lablet_before_it_runs_is_rescheduled_keeping_its_length() {
        let now = plus_seconds(epoch(), 300);
        let later = plus_seconds(epoch(), 900);
        let mut timed = lablet();
        assert!(matches!(
            timed.reschedule(later, "not ready by the estimate", now),
            Err(DomainError::InvalidTransition(_))
        ));
        let mut l = lablet();
        l.spec.on_demand = true;
        let created = l.clone();
        let events = l
            .reschedule(later, "not ready by the estimate", now)
            .unwrap();
        assert_eq!(events[0].type_name(), "lablet.rescheduled.v1");
        assert_eq!(l.spec.timeslot.start, later);
        assert_eq!(l.spec.timeslot.duration_seconds(), 600);
        let mut replayed = created;
        replayed.apply(&events[0]).unwrap();
        assert_eq!(replayed.spec.timeslot, l.spec.timeslot);
        // The same start again changes nothing and says nothing.
        assert!(l.reschedule(later, "again", now).unwrap().is_empty());
        // Running or cancelled: its start is history.
        let mut running = l.clone();
        running.status.phase = LabletPhase::Running;
        assert!(running.reschedule(now, "ready", now).is_err());
        l.cancel(None, now).unwrap();
        assert!(l.reschedule(now, "ready", now).is_err());
        // Records stored before on-demand lablets read as timed ones.
        let mut stored = serde_json::to_value(lablet()).unwrap();
        stored["spec"].as_object_mut().unwrap().remove("on_demand");
        let read: Lablet = serde_json::from_value(stored).unwrap();
        assert!(!read.spec.on_demand);
    }

    #[test]
    fn the_wire_shape_and_records_stored_before_access() {
        let json = serde_json::to_value(entry(2001)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"node": "n0", "label": "r1", "protocol": "telnet",
                "host": "203.0.113.7", "port": 2001})
        );
        let mut stored = serde_json::to_value(lablet()).unwrap();
        stored["status"].as_object_mut().unwrap().remove("access");
        let read: Lablet = serde_json::from_value(stored).unwrap();
        assert!(read.status.access.is_empty());
    }
}
