//! The engine driver: in the server process, keeps the lease in a task of its
//! own and, while this process holds it, runs `Fleet::step` (follow the event
//! log, due jobs, controller reconciles) on the real clock with the lease's
//! fencing token on every write and the lease gate on every cloud and CML call.
//!
//! It wakes for the next due time, for any commit to the store's log (by any
//! process: LISTEN/NOTIFY on PostgreSQL), for a leadership change, or for a
//! nudge from this process's API (which only shortens the wait: the log is the
//! trigger). A step that outlives the lease is cancelled. On shutdown it lets
//! the step in flight finish and then resigns the lease so a successor need not
//! wait for it to expire.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccm_core::fleet::{Fleet, StepObserver, StepPhase};
use ccm_core::runtime::lease_gate::acting_under;
use ccm_core::runtime::{JobRunner, LeaderElector};
use ccm_core::time::{plus_seconds, Timestamp};
use tokio::sync::{watch, Notify};
use tracing::Instrument;

use crate::metrics::Metrics;

/// Longest sleep between two looks at the world, whatever is due.
const MAX_SLEEP_SECONDS: i64 = 30;
/// Pause after a failed step.
const RETRY_SECONDS: i64 = 5;
/// Shortest gap between two steps, so work that keeps coming due "now" (or a
/// stream of commits) cannot spin the CPU.
const MIN_GAP: Duration = Duration::from_millis(50);

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

/// Times each part of one step on the wall clock for `/metrics`
/// (`ccm_engine_step_phase_seconds_total`): a part lasts from the end of the
/// one before (or the step's start) to its own end.
struct PhaseTimer {
    metrics: Arc<Metrics>,
    since: Mutex<Instant>,
}

impl PhaseTimer {
    fn start(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            since: Mutex::new(Instant::now()),
        }
    }
}

impl StepObserver for PhaseTimer {
    fn phase_ended(&self, phase: StepPhase, items: usize) {
        let now = Instant::now();
        let mut since = match self.since.lock() {
            Ok(guard) => guard,
            Err(poison) => poison.into_inner(),
        };
        let seconds = now.duration_since(*since).as_secs_f64();
        *since = now;
        self.metrics.observe_step_phase(phase, seconds, items);
    }
}

/// How one step ended.
enum StepEnd {
    /// It ran; something is next due then.
    Ran(Option<Timestamp>),
    /// The lease ran out first; the step was dropped mid-way.
    LeaseLost,
}

impl Driver {
    /// Runs until `shutdown` turns true, then resigns the lease.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let clock = self.fleet.clock().clone();
        // The lease task stops only after the loop below, so the step in flight
        // at shutdown finishes under a lease that is still renewed.
        let (stop_lease, lease_stopped) = watch::channel(false);
        let lease = {
            let elector = self.elector.clone();
            tokio::spawn(async move { elector.run(lease_stopped).await })
        };
        let mut leadership = self.elector.subscribe();
        let mut log = Some(self.fleet.store().subscribe());
        let mut leading = false;
        loop {
            if *shutdown.borrow() {
                break;
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
                    }
                    let started = Instant::now();
                    let phases = PhaseTimer::start(self.metrics.clone());
                    let step = acting_under(
                        self.elector.clone(),
                        self.fleet.step_observed(&self.jobs, Some(&fence), &phases),
                    )
                    .instrument(crate::telemetry::trace::engine_step_span());
                    let end = tokio::select! {
                        outcome = step => match outcome {
                            Ok(next) => StepEnd::Ran(next),
                            Err(error) => {
                                tracing::warn!(%error, "engine step failed; retrying");
                                StepEnd::Ran(Some(plus_seconds(clock.now(), RETRY_SECONDS)))
                            }
                        },
                        () = self.elector.lease_ends() => StepEnd::LeaseLost,
                    };
                    self.metrics.observe_step(started.elapsed().as_secs_f64());
                    match end {
                        StepEnd::Ran(next) => next_due = next,
                        StepEnd::LeaseLost => {
                            tracing::warn!(
                                "the lease ran out during an engine step; the step was cancelled"
                            );
                            self.fleet.forget_log_position();
                        }
                    }
                }
                None => {
                    if leading {
                        tracing::warn!("not leading any more: controllers and jobs paused");
                        // Another leader moves on meanwhile: start over from a resync.
                        self.fleet.forget_log_position();
                    }
                    leading = false;
                }
            }
            let now = clock.now();
            let wake = next_due
                .unwrap_or_else(|| plus_seconds(now, MAX_SLEEP_SECONDS))
                .min(plus_seconds(now, MAX_SLEEP_SECONDS));
            let committed = async {
                match log.as_mut() {
                    Some(rx) => {
                        if rx.changed().await.is_err() {
                            log = None;
                        }
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = async { tokio::time::sleep(MIN_GAP).await; clock.sleep_until(wake).await } => {}
                () = async { tokio::time::sleep(MIN_GAP).await; self.nudge.notified().await } => {}
                () = async { tokio::time::sleep(MIN_GAP).await; committed.await } => {}
                _ = leadership.changed() => {}
                changed = shutdown.changed() => {
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
        // The lease task resigns when told; wait for it so no renewal races the
        // release.
        let _ = stop_lease.send(true);
        if let Err(error) = lease.await {
            tracing::warn!(%error, "lease task ended abnormally");
            self.elector.resign().await;
        }
        tracing::info!("engine driver stopped; lease released");
    }
}
