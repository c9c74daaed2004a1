//! Driving the engine through virtual time: run what is due, then jump the clock to
//! the next due instant. Simulations, tests and the Python `advance()` use this;
//! the server runs the same steps on the real clock.

use super::Fleet;
use crate::error::CoreError;
use crate::ports::store::Fence;
use crate::ports::VirtualClock;
use crate::runtime::JobRunner;
use crate::time::Timestamp;

/// Steps at one instant before giving up: a controller that keeps asking to run
/// "now" must not hang a simulation.
const MAX_STEPS_PER_INSTANT: usize = 1000;
/// Reconciles per step.
const RECONCILE_BATCH: usize = 10_000;

impl Fleet {
    /// Queues every unconverged worker and every unfinished lablet: what a process
    /// must do when it starts leading (at start-up, after a crash, after a
    /// leadership change), since the in-memory queues start empty. Both are
    /// attempted even when one fails (the first error is returned). Returns how many
    /// workers and lablets were queued.
    pub async fn take_over(&self) -> Result<(usize, usize), CoreError> {
        let workers = self.enqueue_unconverged().await;
        let lablets = self.enqueue_open_lablets().await;
        Ok((workers?, lablets?))
    }

    /// Follows the event log (and resyncs when due), then runs due jobs and due
    /// reconciles once. Returns when something is next due.
    pub async fn step(
        &self,
        runner: &JobRunner,
        fence: Option<&Fence>,
    ) -> Result<Option<Timestamp>, CoreError> {
        let log = self.follow_log().await?;
        if log.bookings > 0 && runner.is_registered(super::SCHEDULER_JOB) {
            runner.trigger(super::SCHEDULER_JOB).await?;
        }
        runner.run_due(fence).await?;
        self.reconcile_due(fence, RECONCILE_BATCH).await;
        self.reconcile_lablets_due(fence, RECONCILE_BATCH).await;
        let next = [
            runner.next_due().await?,
            self.next_resync_at(),
            self.next_reconcile_at(),
            self.next_lablet_reconcile_at(),
        ];
        Ok(next.into_iter().flatten().min())
    }

    /// Runs the engine on `clock` until `until`, jumping from one due instant to the next.
    pub async fn run_until(
        &self,
        runner: &JobRunner,
        fence: Option<&Fence>,
        clock: &VirtualClock,
        until: Timestamp,
    ) -> Result<(), CoreError> {
        let mut steps_here = 0;
        let mut here = self.clock.now();
        loop {
            let next = self.step(runner, fence).await?;
            let now = self.clock.now();
            if now != here {
                here = now;
                steps_here = 0;
            }
            match next {
                Some(at) if at <= now => {
                    steps_here += 1;
                    if steps_here >= MAX_STEPS_PER_INSTANT {
                        tracing::warn!(%now, "work keeps coming due at one instant; moving on");
                        clock.advance_seconds(1);
                    }
                }
                Some(at) if at <= until => clock.advance_to(at),
                _ => {
                    clock.advance_to(until);
                    return Ok(());
                }
            }
            if self.clock.now() > until {
                return Ok(());
            }
        }
    }
}
