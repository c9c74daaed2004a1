//! Acting on idle verdicts: pause (stop) every worker whose verdict says so.

use super::idle::{idle_status, IdleVerdict};
use super::persist::update;
use super::Fleet;
use crate::error::CoreError;
use crate::ids::WorkerId;
use crate::ports::store::{Fence, WorkerFilter};
use crate::worker::{DesiredStatus, LifecycleState, PauseReason, Worker};

impl Fleet {
    /// Stops every running worker that has been idle past its timeout (and is not
    /// snoozed, in use, or excluded). Returns the workers paused.
    pub async fn pause_idle_workers(
        &self,
        fence: Option<&Fence>,
    ) -> Result<Vec<WorkerId>, CoreError> {
        let workers = self
            .store
            .list_workers(&WorkerFilter {
                lifecycle: vec![LifecycleState::Running],
                ..WorkerFilter::default()
            })
            .await?;
        let mut paused = Vec::new();
        // With autoscaling on, idle workers up to the warm pool (or the minimum) are
        // kept on purpose: they are idle by design.
        let keep = if self.settings.autoscaler.enabled {
            let warm = self
                .store
                .list_definitions(&crate::ports::store::DefinitionFilter {
                    name: None,
                    active_only: true,
                })
                .await?
                .iter()
                .map(|d| d.warm_pool_depth)
                .max()
                .unwrap_or(0);
            warm.max(self.settings.autoscaler.min_running_workers) as usize
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
            let running = self.running_lablets_on(worker.id).await?;
            let now = self.clock.now();
            if !matches!(
                idle_status(&worker, running, now).verdict,
                IdleVerdict::PauseNow { .. }
            ) {
                continue;
            }
            update::<Worker, _>(self.store.as_ref(), worker.id, fence, now, |w, now| {
                // Re-check on the fresh copy: activity may have landed meanwhile.
                match idle_status(w, running, now).verdict {
                    IdleVerdict::PauseNow { .. } => w.request_stop(PauseReason::IdleTimeout, now),
                    _ => Ok(Vec::new()),
                }
            })
            .await?;
            tracing::info!(worker = %worker.id, name = worker.name(), "pausing idle worker");
            self.nudge(worker.id);
            paused.push(worker.id);
            still_running -= 1;
        }
        Ok(paused)
    }
}
