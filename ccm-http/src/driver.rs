//! The engine driver: in the server process, runs leader election, and while this
//! process holds the lease, `Fleet::step` (due jobs and controller reconciles) on
//! the real clock with the lease's fencing token on every write. It sleeps until
//! the next due time, the next election step, or a nudge from the API. On shutdown
//! it finishes the step in flight and then resigns the lease so a successor need
//! not wait for it to expire.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ccm_core::fleet::Fleet;
use ccm_core::runtime::{JobRunner, LeaderElector};
use ccm_core::time::plus_seconds;
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use crate::metrics::Metrics;

/// Longest sleep between two looks at the world, whatever is due.
const MAX_SLEEP_SECONDS: i64 = 30;
/// Pause after a failed step.
const RETRY_SECONDS: i64 = 5;
/// Shortest gap between two steps not asked for by a nudge, so work that keeps
/// coming due "now" cannot spin the CPU.
const MIN_GAP: Duration = Duration::from_millis(100);

/// Drives one engine in one process.
pub struct Driver {
    /// The engine.
    pub fleet: Arc<Fleet>,
    /// Its jobs.
    pub jobs: Arc<JobRunner>,
    /// Leader election.
    pub elector: Arc<LeaderElector>,
    /// Wake-ups from the API.
    pub nudge: Arc<Notify>,
    /// Step durations go here.
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("elector", &self.elector)
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Runs until `shutdown` turns true, then resigns the lease.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let clock = self.fleet.clock().clone();
        let mut leading = false;
        let mut next_election = clock.now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = clock.now();
            if now >= next_election {
                self.elector.step().await;
                next_election = self.elector.next_step_at();
            }
            let mut next_due = None;
            match self.elector.fence() {
                Some(fence) => {
                    if !leading {
                        leading = true;
                        tracing::info!(
                            token = fence.token,
                            "leading: running controllers and jobs"
                        );
                        if let Err(error) = self.fleet.take_over().await {
                            tracing::warn!(%error, "could not queue unconverged workers and open lablets");
                        }
                    }
                    let started = Instant::now();
                    let step = self
                        .fleet
                        .step(&self.jobs, Some(&fence))
                        .instrument(crate::telemetry::trace::engine_step_span())
                        .await;
                    match step {
                        Ok(next) => next_due = next,
                        Err(error) => {
                            tracing::warn!(%error, "engine step failed; retrying");
                            next_due = Some(plus_seconds(clock.now(), RETRY_SECONDS));
                        }
                    }
                    self.metrics.observe_step(started.elapsed().as_secs_f64());
                }
                None => {
                    if leading {
                        tracing::warn!("not leading any more: controllers and jobs paused");
                    }
                    leading = false;
                }
            }
            let now = clock.now();
            let wake = [next_due, Some(next_election)]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(next_election)
                .min(plus_seconds(now, MAX_SLEEP_SECONDS));
            let gap = tokio::time::sleep(MIN_GAP);
            tokio::select! {
                _ = async { gap.await; clock.sleep_until(wake).await } => {}
                _ = self.nudge.notified() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        self.elector.resign().await;
        tracing::info!("engine driver stopped; lease released");
    }
}
