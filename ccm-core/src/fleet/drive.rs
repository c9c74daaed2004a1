//! Driving the engine: take over after winning the lease, step (follow the log,
//! run due jobs and due reconciles), and run through virtual time by jumping the
//! clock to the next due instant — simulations, tests and the Python `advance()`
//! do that; the server runs the same steps on the real clock. Also single passes
//! of engine parts, for tests, benches and smoke runs.

use super::step_phase::{StepObserver, StepPhase, Unobserved};
use super::{Fleet, ScalingReport, SweepReport};
use crate::error::CoreError;
use crate::ids::{LabletId, WorkerId};
use crate::ports::store::{CompactionReport, Fence};
use crate::ports::VirtualClock;
use crate::runtime::{JobRunner, ReconcileOutcome};
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
        self.log_watch.resync().await
    }

    /// Follows the event log (and resyncs when due), then runs due jobs and due
    /// reconciles once. Returns when something is next due.
    pub async fn step(
        &self,
        runner: &JobRunner,
        fence: Option<&Fence>,
    ) -> Result<Option<Timestamp>, CoreError> {
        self.step_observed(runner, fence, &Unobserved).await
    }

    /// [`Fleet::step`], telling `observer` of each part as it ends.
    pub async fn step_observed(
        &self,
        runner: &JobRunner,
        fence: Option<&Fence>,
        observer: &dyn StepObserver,
    ) -> Result<Option<Timestamp>, CoreError> {
        let log = self.log_watch.follow().await?;
        observer.phase_ended(StepPhase::Log, log.events);
        // A resync (a new leader's first look among them) starts past the events of
        // bookings the previous leader may have left unplaced: the scheduler looks
        // at once rather than at its next interval.
        if (log.bookings > 0 || log.resynced) && runner.is_registered(super::SCHEDULER_JOB) {
            runner.trigger(super::SCHEDULER_JOB).await?;
        }
        let jobs = runner.run_due(fence).await?;
        observer.phase_ended(StepPhase::Jobs, jobs.len());
        let workers = self
            .worker_controller
            .reconcile_due(fence, RECONCILE_BATCH)
            .await;
        observer.phase_ended(StepPhase::Workers, workers);
        let lablets = self
            .lablet_controller
            .reconcile_due(fence, RECONCILE_BATCH)
            .await;
        observer.phase_ended(StepPhase::Lablets, lablets);
        let next = [
            runner.next_due().await?,
            self.log_watch.next_resync_at(),
            self.worker_controller.next_due(),
            self.lablet_controller.next_due(),
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
        let mut here = self.context.now();
        loop {
            let next = self.step(runner, fence).await?;
            let now = self.context.now();
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
            if self.context.now() > until {
                return Ok(());
            }
        }
    }

    /// Queues the lablet controller for `id` at `at` (a booking made outside
    /// [`Fleet::create_lablet`], as simulations do).
    pub fn nudge_lablet_at(&self, id: LabletId, at: Timestamp) {
        self.context.nudge_lablet_at(id, at);
    }

    /// Forgets the event-log position, so the next step resyncs: what a process
    /// does when it stops leading (another leader moves on meanwhile).
    pub fn forget_log_position(&self) {
        self.log_watch.forget_position();
    }

    // One pass of an engine part, outside the step (tests, benches, smoke runs).

    /// Sweeps every worker that is due.
    pub async fn sweep(&self, fence: Option<&Fence>) -> Result<SweepReport, CoreError> {
        self.monitor.sweep(fence).await
    }

    /// One pass of the worker controller for `id`.
    pub async fn reconcile_worker(
        &self,
        id: WorkerId,
        fence: Option<&Fence>,
    ) -> Result<ReconcileOutcome, CoreError> {
        self.worker_controller.reconcile(id, fence).await
    }

    /// The lead time in force: learned from the fleet's boots and lab imports
    /// (`lead-learning` job) or, until enough were observed, the configured one.
    pub async fn lead_time(&self) -> Result<super::LeadTime, CoreError> {
        self.lead_times.current().await
    }

    /// One run of the `lead-learning` job: reads the event log from its cursor.
    pub async fn learn_lead_times(&self) -> Result<(), CoreError> {
        self.lead_times.learn().await.map(|_| ())
    }

    /// One autoscaler pass. Its pacing is read from the key-value store first and
    /// written back when the pass changed it, even when the pass failed halfway
    /// (what it did by then counts for the cooldowns).
    pub async fn autoscale(&self, fence: Option<&Fence>) -> Result<ScalingReport, CoreError> {
        self.autoscaler.autoscale(fence).await
    }

    /// Compacts the event log down to the retention settings; returns what the
    /// last store call reported, its counts summed over the calls.
    pub async fn retain_event_log(&self) -> Result<CompactionReport, CoreError> {
        self.log_retention.retain_event_log().await
    }
}
