//! Acting on idle verdicts: pause (stop) every worker whose verdict says so, and
//! explain the verdict of one.

use std::sync::Arc;

use super::context::Context;
use super::idle::{idle_status, IdleStatus, IdleVerdict};
use super::warm_pool::WarmPool;
use crate::error::CoreError;
use crate::ids::WorkerId;
use crate::lablet::LabletPhase;
use crate::ports::store::{Fence, LabletFilter, PageRequest, WorkerFilter};
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

    /// Lablets holding the worker (bound and not finished).
    async fn lablets_on(&self, id: WorkerId) -> Result<u32, CoreError> {
        let holding = LabletFilter {
            phases: vec![
                LabletPhase::Scheduled,
                LabletPhase::Instantiating,
                LabletPhase::Ready,
                LabletPhase::Running,
                LabletPhase::Stopping,
            ],
            worker_id: Some(id),
            ..LabletFilter::default()
        };
        // Only the count: an empty page carries it without reading a record.
        let none = PageRequest {
            offset: 0,
            limit: 0,
        };
        let listed = self.ctx.store.list_lablets_page(&holding, none).await?;
        Ok(u32::try_from(listed.total).unwrap_or(u32::MAX))
    }

    /// Stops every running worker that has been idle past its timeout (and is not
    /// snoozed, in use, or excluded). Returns the workers paused.
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
        let mut paused = Vec::new();
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
        for worker in workers {
            if still_running <= keep {
                break;
            }
            if worker.spec.desired_status != DesiredStatus::Running || !worker.spec.idle.enabled {
                continue;
            }
            let running = self.lablets_on(worker.id).await?;
            let now = self.ctx.now();
            if !matches!(
                idle_status(&worker, running, now).verdict,
                IdleVerdict::PauseNow { .. }
            ) {
                continue;
            }
            self.ctx
                .update::<Worker, _, _>(worker.id, fence, |w, now| {
                    // Re-check on the fresh copy: activity may have landed meanwhile.
                    match idle_status(w, running, now).verdict {
                        IdleVerdict::PauseNow { .. } => {
                            w.request_stop(PauseReason::IdleTimeout, now)
                        }
                        _ => Ok(Vec::new()),
                    }
                })
                .await?;
            tracing::info!(worker = %worker.id, name = worker.name(), "pausing idle worker");
            self.ctx.nudge_worker(worker.id);
            paused.push(worker.id);
            still_running -= 1;
        }
        Ok(paused)
    }
}
