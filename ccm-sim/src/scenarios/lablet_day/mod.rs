//! # A day in the life of a lablet fleet, with crashes
//!
//! Three definitions, ten workers that exist but are stopped, and a number of
//! lablets (200 on the in-memory store, fewer on the slower durable ones) booked
//! in overlapping timeslots over a business day; the autoscaler on; the real
//! engine driven on a virtual clock until two hours after the last lablet ends.
//!
//! A [`DayPlan`] may crash the engine at chosen minutes ([`Crash`]). A crash drops
//! the engine, its job runner and every handle on the store — for a durable store
//! the pool too, as a killed process would — then opens the store again through
//! the [`StoreOpener`] and starts the engine the way a starting process does (jobs
//! registered, everything open queued by `take_over`, key-value store and metric
//! series from the store). The simulator survives: the cloud does not restart with
//! ccm. Most crashes strike inside a step, at one of its awaits, after a chosen
//! number of EC2 and CML calls (see [`Crash`]), so an effect can land in the cloud
//! or in CML without the engine having recorded it.
//!
//! [`run_day`] returns a [`DayReport`] whose [`Violation`]s must be empty: the
//! planned crashes all happened, at least one of them inside a step; every
//! lablet ready before its start and terminated at the end with its finalizers
//! done, no worker ever over capacity (every allocation replayed from the log),
//! one live instance per worker, one lab per lablet (no two at once, one import
//! each), and no lab, running instance, running worker or held capacity left.

mod checks;
mod crash;
mod setup;

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ccm_core::error::CoreError;
use ccm_core::fleet::{Adapters, Fleet};
use ccm_core::ports::store::StoreError;
use ccm_core::ports::{Clock, SeededIds};
use ccm_core::runtime::JobRunner;
use ccm_core::time::{plus_seconds, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub use checks::Violation;

use super::{OpenedStore, StoreOpener};
use crate::SimError;
use crash::Interrupt;
use setup::World;

/// The engine is driven this long at a time; labs are looked at in between.
const SEGMENT_SECONDS: i64 = 10 * 60;
/// The day ends this long after the last lablet: its teardown, an idle
/// worker's 60 minutes before it is paused, its stop, and as much again to spare.
/// Every step of the quiet night after that would cost a durable store hundreds of
/// reads and show nothing new.
const SETTLE_SECONDS: i64 = 2 * 3600;
/// Real time every EC2 and CML call takes while a crash is armed. In memory
/// nothing else in a step ever waits, so without it a step could only be
/// interrupted at its end; with it each call is an await where it can stop.
const ARMED_CALL_LATENCY: Duration = Duration::from_millis(1);

/// One crash of the engine (a process restart on a durable store).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Crash {
    /// Minutes into the day (counted from the end of the bookings) when the crash
    /// is armed.
    pub at_minute: i64,
    /// EC2 and CML calls the engine makes, once armed, before the crash can strike.
    pub after_calls: u64,
    /// Then it strikes at this wait (1: the first) of the step in flight. A
    /// segment that ends before that crashes between two steps instead.
    pub at_wait: u32,
}

/// What the day is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayPlan {
    /// Seeds the simulator and the bookings.
    pub seed: u64,
    /// Lablets booked.
    pub lablets: usize,
    /// Crashes, in any order.
    pub crashes: Vec<Crash>,
}

impl DayPlan {
    /// `lablets` lablets booked from `seed`, no crash.
    pub fn calm(seed: u64, lablets: usize) -> Self {
        Self {
            seed,
            lablets,
            crashes: Vec::new(),
        }
    }

    /// The same day with `count` crashes drawn from `crash_seed`: armed on a
    /// ten-minute boundary within the first twelve hours (while lablets are
    /// placed, started and torn down), after up to 40 calls, at one of the next
    /// three waits.
    pub fn with_random_crashes(mut self, crash_seed: u64, count: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(crash_seed);
        self.crashes = (0..count)
            .map(|_| Crash {
                at_minute: rng.gen_range(1..=72i64) * 10,
                after_calls: rng.gen_range(0..=40),
                at_wait: rng.gen_range(1..=3),
            })
            .collect();
        self
    }
}

/// What the day came to.
#[derive(Clone, Debug)]
pub struct DayReport {
    /// Lablets booked.
    pub lablets: usize,
    /// Crashes that happened (each a restart).
    pub crashes: usize,
    /// Of those, crashes that struck inside a step rather than between steps.
    pub crashes_inside_a_step: usize,
    /// Workers the fleet had: the stopped ones and those the autoscaler added.
    pub workers: usize,
    /// Worker-hours billed (running or pending instances).
    pub worker_hours: f64,
    /// Worker-hours no packing could beat.
    pub lower_bound_hours: f64,
    /// What went wrong; empty for a good day.
    pub violations: Vec<Violation>,
}

impl DayReport {
    /// Whether nothing went wrong.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for DayReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} lablets, {} crashes ({} inside a step), {} workers, {:.1} worker-hours \
             against a lower bound of {:.1}, {} violations",
            self.lablets,
            self.crashes,
            self.crashes_inside_a_step,
            self.workers,
            self.worker_hours,
            self.lower_bound_hours,
            self.violations.len()
        )?;
        for v in &self.violations {
            write!(f, "\n  {v}")?;
        }
        Ok(())
    }
}

/// What can stop the day from being run at all (as opposed to a [`Violation`]).
#[derive(Debug, thiserror::Error)]
pub enum DayError {
    /// The engine failed outside a crash.
    #[error("engine: {0}")]
    Engine(#[from] CoreError),
    /// Reading the store for the checks failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// The simulator failed.
    #[error("simulator: {0}")]
    Sim(#[from] SimError),
    /// The store could not be opened (again): after a crash, a handle the
    /// crashed process held may still be alive (SQLite's one-process lock).
    #[error("opening the store for process {process}: {source}")]
    Open {
        /// 0 for the first process, n after the n-th crash.
        process: usize,
        /// Why.
        source: StoreError,
    },
    /// The world before the day is not what the day needs.
    #[error("setting up the day: {0}")]
    Setup(String),
}

/// One ccm process: the store as it opened it and the engine on it. Dropping it
/// is the crash.
struct Process {
    fleet: Fleet,
    runner: JobRunner,
    store: OpenedStore,
}

impl Process {
    async fn start(
        world: &World,
        opener: &dyn StoreOpener,
        number: usize,
    ) -> Result<Self, DayError> {
        let store = opener.open().await.map_err(|source| DayError::Open {
            process: number,
            source,
        })?;
        let clock: Arc<dyn Clock> = Arc::new(world.clock.clone());
        let fleet = Fleet::new(
            Adapters {
                store: store.store.clone(),
                cloud: Arc::new(world.sim.cloud()),
                cml: Arc::new(world.sim.cml()),
                clock: clock.clone(),
            },
            world.settings.clone(),
        )
        // Each process draws its own sequence of the day's seed: a restarted
        // process must not hand out the ids its predecessor did.
        .with_ids(Arc::new(SeededIds::new(
            world.seed ^ (u64::try_from(number).unwrap_or(u64::MAX) << 40),
        )))
        .with_metric_series(store.series.clone())
        .with_key_values(store.kv.clone());
        let mut runner = JobRunner::new(store.store.clone(), clock);
        fleet.register_jobs(&mut runner).await?;
        fleet.take_over().await?;
        Ok(Self {
            fleet,
            runner,
            store,
        })
    }

    async fn run_until(&self, world: &World, until: Timestamp) -> Result<(), CoreError> {
        self.fleet
            .run_until(&self.runner, None, &world.clock, until)
            .await
    }

    /// Runs until `until` with `crash` armed. Returns whether it struck inside a
    /// step; if not, the caller crashes the process between steps.
    async fn run_into(
        &self,
        world: &World,
        crash: &Crash,
        until: Timestamp,
    ) -> Result<bool, DayError> {
        let strike_from = world.sim_calls()?.saturating_add(crash.after_calls);
        world
            .sim
            .update_faults(|f| f.latency = Some(ARMED_CALL_LATENCY))?;
        // A simulator that cannot count any more is as good a place to crash as any.
        let armed = || world.sim_calls().map_or(true, |calls| calls >= strike_from);
        let outcome = Interrupt::new(self.run_until(world, until), armed, crash.at_wait).await;
        world.sim.update_faults(|f| f.latency = None)?;
        match outcome {
            None => Ok(true),
            Some(ran) => ran.map(|()| false).map_err(DayError::from),
        }
    }
}

/// Runs the day over the store `opener` opens, crashing as `plan` says.
pub async fn run_day(opener: &dyn StoreOpener, plan: &DayPlan) -> Result<DayReport, DayError> {
    let world = World::new(plan.seed);
    let mut process = Process::start(&world, opener, 0).await?;
    let definitions = setup::definitions(&process.fleet).await?;
    setup::stopped_workers(&world, &process.fleet, &process.runner).await?;
    let booked = setup::book(
        &world,
        &process.fleet,
        &definitions,
        plan.seed,
        plan.lablets,
    )
    .await?;
    let day_began = world.clock.now();
    let last_crash = plan.crashes.iter().map(|c| c.at_minute).max().unwrap_or(0);
    let end = plus_seconds(booked.last_end, SETTLE_SECONDS)
        .max(plus_seconds(day_began, last_crash * 60 + SEGMENT_SECONDS));

    let mut crashes: Vec<&Crash> = plan.crashes.iter().collect();
    crashes.sort_by_key(|c| c.at_minute);
    let mut crashes = VecDeque::from(crashes);
    let (mut crashed, mut inside_a_step) = (0, 0);
    let mut violations = Vec::new();
    while world.clock.now() < end {
        let now = world.clock.now();
        let until = plus_seconds(now, SEGMENT_SECONDS);
        let minute = (now - day_began).num_minutes();
        match crashes.front() {
            Some(crash) if crash.at_minute <= minute => {
                if process.run_into(&world, crash, until).await? {
                    inside_a_step += 1;
                }
                crashes.pop_front();
                crashed += 1;
                drop(process);
                process = Process::start(&world, opener, crashed).await?;
            }
            _ => process.run_until(&world, until).await?,
        }
        violations.extend(checks::labs_seen_twice(&world)?);
    }
    let verdict = checks::check_day(
        &world,
        process.store.store.as_ref(),
        &definitions,
        &booked.ids,
    )
    .await?;
    violations.extend(verdict.violations);
    if crashed != plan.crashes.len() {
        violations.push(Violation::CrashesMissed {
            planned: plan.crashes.len(),
            happened: crashed,
        });
    }
    if crashed > 0 && inside_a_step == 0 {
        violations.push(Violation::NoCrashInsideAStep);
    }
    Ok(DayReport {
        lablets: booked.ids.len(),
        crashes: crashed,
        crashes_inside_a_step: inside_a_step,
        workers: verdict.workers,
        worker_hours: verdict.worker_hours,
        lower_bound_hours: verdict.lower_bound_hours,
        violations,
    })
}
