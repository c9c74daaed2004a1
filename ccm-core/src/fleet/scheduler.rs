//! The scheduler: places pending lablets whose timeslot starts within the lead
//! time. The binding is written together with the worker's allocation in one
//! commit that names the versions it read, so two schedulers (or a scheduler and
//! anything else touching the worker) can never double-book a worker: the loser's
//! commit conflicts and is re-validated against the fresh worker.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::context::Context;
use super::definitions::Definitions;
use super::lead_time::LeadTimes;
use super::lifetimes::mark_busy_until;
use super::waves::{place_in_waves, scheduling_candidates};
use crate::definition::LabletDefinition;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::ids::{DefinitionId, LabletId, WorkerId};
use crate::lablet::{Lablet, LabletPhase};
use crate::placement::{Assignment, PlacementRequest};
use crate::ports::store::{ChangeSet, Fence, LabletFilter, StoreError, WorkerFilter};
use crate::time::{plus_seconds, Timestamp};

/// What one scheduling pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleReport {
    /// Pending lablets inside the lead time.
    pub due: usize,
    /// Lablets bound, with their worker.
    pub placed: Vec<(LabletId, WorkerId)>,
    /// Lablets no worker could take now, with the dominant reason.
    pub unplaced: Vec<(LabletId, String)>,
    /// Bindings lost to a concurrent writer (retried next pass).
    pub conflicts: usize,
}

/// The lablet scheduler.
#[derive(Clone)]
pub(crate) struct Scheduler {
    ctx: Arc<Context>,
    definitions: Definitions,
    lead_times: LeadTimes,
}

impl Scheduler {
    pub(crate) fn new(ctx: Arc<Context>, definitions: Definitions, lead_times: LeadTimes) -> Self {
        Self {
            ctx,
            definitions,
            lead_times,
        }
    }

    /// Pending lablets due for placement at `now` (their start is within the
    /// lead in force: learned, or the configured one), with their definitions.
    pub(crate) async fn due_pending(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(Lablet, LabletDefinition)>, CoreError> {
        let lead = self.lead_seconds().await?;
        self.due_pending_within(now, lead).await
    }

    /// The lead in force, in seconds.
    pub(crate) async fn lead_seconds(&self) -> Result<u32, CoreError> {
        Ok(self.lead_times.current().await?.seconds)
    }

    /// Pending lablets starting within `lead_seconds` of `now`.
    pub(crate) async fn due_pending_within(
        &self,
        now: Timestamp,
        lead_seconds: u32,
    ) -> Result<Vec<(Lablet, LabletDefinition)>, CoreError> {
        let lead = i64::from(lead_seconds);
        let pending = self
            .ctx
            .store
            .list_lablets(&LabletFilter {
                phases: vec![LabletPhase::Pending],
                // Bookings further out are not read: at fleet scale most
                // pending lablets are days away.
                starts_by: Some(plus_seconds(now, lead)),
                ..LabletFilter::default()
            })
            .await?;
        let mut definitions: BTreeMap<DefinitionId, LabletDefinition> = BTreeMap::new();
        let mut due = Vec::new();
        for lablet in pending {
            if lablet.spec.cancel_requested
                || plus_seconds(lablet.spec.timeslot.start, -lead) > now
                || lablet.spec.timeslot.end <= now
            {
                continue;
            }
            let id = lablet.spec.definition_id;
            let definition = match definitions.get(&id) {
                Some(definition) => definition.clone(),
                None => {
                    let fetched = self.definitions.get(id).await?;
                    definitions.insert(id, fetched.clone());
                    fetched
                }
            };
            due.push((lablet, definition));
        }
        Ok(due)
    }

    /// Places the pending lablets that are due and binds them, in waves of start
    /// time (see `waves`): a lablet starting later never takes the room one
    /// starting sooner needs.
    pub(crate) async fn schedule_pending(
        &self,
        fence: Option<&Fence>,
    ) -> Result<ScheduleReport, CoreError> {
        let now = self.ctx.now();
        let due = self.due_pending(now).await?;
        let mut report = ScheduleReport {
            due: due.len(),
            ..ScheduleReport::default()
        };
        if due.is_empty() {
            return Ok(report);
        }
        let requests: Vec<PlacementRequest> = due
            .iter()
            .map(|(lablet, definition)| PlacementRequest::for_lablet(lablet, definition))
            .collect::<Result<_, _>>()?;
        let starts: Vec<Timestamp> = due.iter().map(|(l, _)| l.spec.timeslot.start).collect();
        let workers = self
            .ctx
            .store
            .list_workers(&WorkerFilter::default())
            .await?;
        let mut candidates = scheduling_candidates(&workers, &self.ctx.settings);
        mark_busy_until(&self.ctx, &mut candidates).await?;
        let plan = place_in_waves(
            candidates,
            &requests,
            &starts,
            self.ctx.settings.lablets.policy,
        );
        for (index, reason) in plan.unplaced {
            report.unplaced.push((requests[index].lablet, reason));
        }
        let mut by_worker: BTreeMap<WorkerId, Vec<&Assignment>> = BTreeMap::new();
        for assignment in &plan.assignments {
            by_worker
                .entry(assignment.worker)
                .or_default()
                .push(assignment);
        }
        for (worker_id, assignments) in by_worker {
            let bound = self
                .bind_on_worker(worker_id, &assignments, &requests, fence)
                .await?;
            report.conflicts += assignments.len() - bound.len();
            for lablet in bound {
                report.placed.push((lablet, worker_id));
                self.ctx.nudge_lablet(lablet);
            }
        }
        Ok(report)
    }

    /// Commits the allocations on one worker and the bindings of its lablets
    /// atomically; on a conflict it re-reads and re-validates, dropping any
    /// assignment the fresh worker can no longer take.
    async fn bind_on_worker(
        &self,
        worker_id: WorkerId,
        assignments: &[&Assignment],
        requests: &[PlacementRequest],
        fence: Option<&Fence>,
    ) -> Result<Vec<LabletId>, CoreError> {
        for _ in 0..3 {
            let now = self.ctx.now();
            let Some(mut worker) = self.ctx.store.get_worker(worker_id).await? else {
                return Ok(Vec::new());
            };
            let mut changes = ChangeSet::new();
            changes.fence = fence.cloned();
            let mut bound = Vec::new();
            for assignment in assignments {
                let Some(mut lablet) = self.ctx.store.get_lablet(assignment.lablet).await? else {
                    continue;
                };
                if lablet.status.phase != LabletPhase::Pending || lablet.spec.cancel_requested {
                    continue;
                }
                let needs = requests[assignment.request_index].needs;
                let mut events =
                    match worker.allocate(lablet.id, assignment.allocation(&needs), now) {
                        Ok(events) => events,
                        // The worker changed since placement; the lablet waits for the next pass.
                        Err(
                            DomainError::CapacityExceeded { .. } | DomainError::Validation { .. },
                        ) => continue,
                        Err(other) => return Err(other.into()),
                    };
                events.extend(lablet.bind(worker_id, assignment.ports.clone(), now)?);
                changes = changes.put_lablet(lablet.clone()).events(events);
                bound.push(lablet.id);
            }
            if bound.is_empty() {
                return Ok(bound);
            }
            changes
                .writes
                .insert(0, crate::ports::store::Write::PutWorker(Box::new(worker)));
            match self.ctx.commit(changes).await {
                Ok(_) => return Ok(bound),
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Ok(Vec::new())
    }
}
