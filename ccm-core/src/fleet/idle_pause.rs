//! Acting on idle verdicts: pause (stop) every worker whose verdict says so, and
//! explain the verdict of one.

use std::sync::Arc;

use super::context::Context;
use super::idle::{idle_status, IdleStatus, IdleVerdict};
use super::warm_pool::WarmPool;
use crate::error::CoreError;
use crate::ids::WorkerId;
use crate::lablet::LabletPhase;
use crate::ports::store::{ChangeSet, Fence, LabletFilter, StoreError, WorkerFilter};
use crate::time::Timestamp;
use crate::worker::{DesiredStatus, LifecycleState, PauseReason, Worker};

/// Idle pause: the idle-check job and the verdict it acts on.
#[derive(Clone)]
pub(crate) struct IdlePause {
    ctx: Arc<Context>,
    warm_pool: WarmPool,
}

impl IdlePause {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self {
            warm_pool: WarmPool::new(ctx.clone()),
            ctx,
        }
    }

    /// Why the worker is or is not eligible for an idle pause, and when it would be paused.
    pub(crate) async fn status(&self, id: WorkerId) -> Result<IdleStatus, CoreError> {
        let worker = self.ctx.worker(id).await?;
        let running = self.lablets_on(id).await?;
        Ok(idle_status(&worker, running, self.ctx.now()))
    }

    /// Lablets holding the worker (bound and not finished), counted by the
    /// same store call the idle check makes for the whole fleet.
    async fn lablets_on(&self, id: WorkerId) -> Result<u32, CoreError> {
        let holding = LabletFilter {
            worker_id: Some(id),
            ..holding_lablets()
        };
        let counts = self.ctx.store.count_lablets_by_worker(&holding).await?;
        let running = counts.get(&id).copied().unwrap_or(0);
        Ok(u32::try_from(running).unwrap_or(u32::MAX))
    }

    /// Stops every running worker that has been idle past its timeout (and is not
    /// snoozed, in use, or excluded). Returns the workers paused.
    ///
    /// Whatever the fleet's size, this reads the running workers once and the
    /// lablets holding them once (a count per worker), and commits the pauses
    /// in batches of [`PAUSES_PER_COMMIT`]. A batch commits only if none of its
    /// workers changed since they were read, so a lablet placed on one meanwhile
    /// (which rewrites the worker) turns the batch into a conflict; its workers
    /// are then paused one by one, each on a fresh read and a fresh count.
    pub(crate) async fn pause_idle_workers(
        &self,
        fence: Option<&Fence>,
    ) -> Result<Vec<WorkerId>, CoreError> {
        let workers = self
            .ctx
            .store
            .list_workers(&WorkerFilter {
                lifecycle: vec![LifecycleState::Running],
                ..WorkerFilter::default()
            })
            .await?;
        // With autoscaling on, idle workers up to the warm pool (or the minimum) are
        // kept on purpose: they are idle by design.
        let keep = if self.ctx.settings.autoscaler.enabled {
            self.warm_pool.workers_to_keep().await? as usize
        } else {
            0
        };
        let mut still_running = workers
            .iter()
            .filter(|w| w.spec.desired_status == DesiredStatus::Running)
            .count();
        let now = self.ctx.now();
        // A worker with lablets is never due, so only those that would be due
        // if empty need the count; most of a busy fleet is skipped unread.
        let due_if_empty: Vec<Worker> = workers
            .into_iter()
            .filter(|w| {
                w.spec.desired_status == DesiredStatus::Running
                    && w.spec.idle.enabled
                    && pause_now(w, 0, now)
            })
            .collect();
        if due_if_empty.is_empty() || still_running <= keep {
            return Ok(Vec::new());
        }
        let holding = self
            .ctx
            .store
            .count_lablets_by_worker(&holding_lablets())
            .await?;
        let mut due = Vec::new();
        for worker in due_if_empty {
            if still_running <= keep {
                break;
            }
            let running = holding.get(&worker.id).copied().unwrap_or(0);
            if pause_now(&worker, u32::try_from(running).unwrap_or(u32::MAX), now) {
                due.push(worker);
                still_running -= 1;
            }
        }
        let mut paused = Vec::with_capacity(due.len());
        for batch in due.chunks(PAUSES_PER_COMMIT) {
            let mut changes = ChangeSet::new();
            changes.fence = fence.cloned();
            for worker in batch {
                let mut worker = worker.clone();
                let events = worker.request_stop(PauseReason::IdleTimeout, now)?;
                changes = changes.put_worker(worker).events(events);
            }
            match self.ctx.commit(changes).await {
                Ok(_) => paused.extend(batch.iter().map(|w| w.id)),
                Err(StoreError::Conflict { .. }) => {
                    for worker in batch {
                        if self.pause_one(worker.id, fence).await? {
                            paused.push(worker.id);
                        }
                    }
                }
                Err(other) => return Err(other.into()),
            }
        }
        for worker in &paused {
            tracing::info!(worker = %worker, "pausing idle worker");
            self.ctx.nudge_worker(*worker);
        }
        Ok(paused)
    }

    /// Pauses one worker if it is still due on a fresh read and a fresh count.
    async fn pause_one(&self, id: WorkerId, fence: Option<&Fence>) -> Result<bool, CoreError> {
        let running = self.lablets_on(id).await?;
        let mut stopped = false;
        self.ctx
            .update::<Worker, _, _>(id, fence, |w, now| {
                stopped = false;
                if w.spec.desired_status != DesiredStatus::Running
                    || w.status.lifecycle != LifecycleState::Running
                    || !pause_now(w, running, now)
                {
                    return Ok(Vec::new());
                }
                stopped = true;
                w.request_stop(PauseReason::IdleTimeout, now)
            })
            .await?;
        Ok(stopped)
    }
}

/// Pauses one idle worker's commit carries; a batch is one write transaction,
/// kept short so other writers wait little behind it.
const PAUSES_PER_COMMIT: usize = 100;

/// Lablets that hold a worker: bound and not finished.
fn holding_lablets() -> LabletFilter {
    LabletFilter {
        phases: vec![
            LabletPhase::Scheduled,
            LabletPhase::Instantiating,
            LabletPhase::Ready,
            LabletPhase::Running,
            LabletPhase::Stopping,
        ],
        ..LabletFilter::default()
    }
}

fn pause_now(worker: &Worker, running_lablets: u32, now: Timestamp) -> bool {
    matches!(
        idle_status(worker, running_lablets, now).verdict,
        IdleVerdict::PauseNow { .. }
    )
}
