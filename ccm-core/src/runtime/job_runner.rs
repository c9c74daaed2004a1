//! The job runner: recurrent and one-shot jobs whose schedule and outcomes live in
//! the store, so every process shows the same `next_run_at`, a trigger from any
//! process reaches the leader, and a restart loses nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::job::{JobOutcome, JobRecord, JobSchedule};
use crate::ports::store::{ChangeSet, Fence, Store, StoreError};
use crate::ports::Clock;
use crate::time::{plus_seconds, seconds_between, Timestamp};

/// Context handed to a running job.
#[derive(Clone, Debug)]
pub struct JobContext {
    /// Job name.
    pub name: String,
    /// When the run was planned.
    pub scheduled_for: Timestamp,
    /// When it started.
    pub started_at: Timestamp,
    /// Fence to attach to the job's own writes.
    pub fence: Option<Fence>,
}

/// Work done by a job. The error text is stored as the run's outcome.
#[async_trait]
pub trait Job: Send + Sync {
    /// Runs once.
    async fn run(&self, ctx: &JobContext) -> Result<(), String>;
}

/// What a trigger did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", content = "at", rename_all = "snake_case")]
pub enum TriggerOutcome {
    /// The job will run at this time (now).
    Scheduled(Timestamp),
    /// A run was already due within the coalescing window; nothing was added.
    Coalesced(Timestamp),
}

/// The outcome of one run, as returned by [`JobRunner::run_due`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRun {
    /// Job name.
    pub name: String,
    /// When it started.
    pub started_at: Timestamp,
    /// How it ended.
    pub outcome: JobOutcome,
    /// Next planned run.
    pub next_run_at: Option<Timestamp>,
}

/// Runs registered jobs when due. Only the lease holder should call
/// [`JobRunner::run_due`]; any process may list, trigger, pause and resume.
pub struct JobRunner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    handlers: BTreeMap<String, Arc<dyn Job>>,
    coalesce_seconds: i64,
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner")
            .field("jobs", &self.handlers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

const WRITE_ATTEMPTS: usize = 5;

fn not_found(name: &str) -> CoreError {
    DomainError::NotFound {
        kind: "job",
        id: name.to_owned(),
    }
    .into()
}

/// First planned time after `now` on an every-`interval` grid starting at `planned`.
fn next_on_grid(planned: Timestamp, interval: u64, now: Timestamp) -> Timestamp {
    let interval = i64::try_from(interval.max(1)).unwrap_or(i64::MAX);
    let behind = seconds_between(planned, now).max(0);
    let steps = behind / interval + 1;
    plus_seconds(planned, steps.saturating_mul(interval))
}

impl JobRunner {
    /// Refresh requests this close to a planned run are merged into it.
    pub const DEFAULT_COALESCE_SECONDS: i64 = 10;

    /// A runner over `store` using `clock`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            handlers: BTreeMap::new(),
            coalesce_seconds: Self::DEFAULT_COALESCE_SECONDS,
        }
    }

    /// Changes the coalescing window.
    pub fn with_coalesce_seconds(mut self, seconds: i64) -> Self {
        self.coalesce_seconds = seconds.max(0);
        self
    }

    /// Registers a job. A stored record keeps its next run and paused flag (a
    /// restart does not reset schedules); a changed schedule is updated.
    pub async fn register(
        &mut self,
        name: &str,
        schedule: JobSchedule,
        handler: Arc<dyn Job>,
    ) -> Result<JobRecord, CoreError> {
        self.handlers.insert(name.to_owned(), handler);
        let now = self.clock.now();
        for _ in 0..WRITE_ATTEMPTS {
            let record = match self.store.get_job(name).await? {
                Some(existing) if existing.schedule == schedule => return Ok(existing),
                Some(mut existing) => {
                    existing.next_run_at = match &schedule {
                        JobSchedule::Every { .. } => existing.next_run_at.or(Some(now)),
                        JobSchedule::Once { at } => Some(*at),
                    };
                    existing.schedule = schedule.clone();
                    existing
                }
                None => JobRecord {
                    name: name.to_owned(),
                    next_run_at: Some(match &schedule {
                        JobSchedule::Every { .. } => now,
                        JobSchedule::Once { at } => *at,
                    }),
                    schedule: schedule.clone(),
                    last_run_at: None,
                    last_duration_ms: None,
                    last_outcome: None,
                    paused: false,
                    version: 0,
                },
            };
            match self.save(record, None).await {
                Ok(saved) => return Ok(saved),
                Err(CoreError::Store(StoreError::Conflict { .. })) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(conflict_exhausted(name))
    }

    async fn save(&self, record: JobRecord, fence: Option<&Fence>) -> Result<JobRecord, CoreError> {
        let mut changes = ChangeSet::new().put_job(record.clone());
        if let Some(fence) = fence {
            changes = changes.fenced(fence.clone());
        }
        let receipt = self.store.commit(changes).await?;
        let mut saved = record;
        saved.version = receipt
            .versions
            .first()
            .copied()
            .unwrap_or(saved.version + 1);
        Ok(saved)
    }

    /// Re-reads `name` and applies `change` until the write wins or attempts run out.
    async fn update(
        &self,
        name: &str,
        fence: Option<&Fence>,
        mut change: impl FnMut(&mut JobRecord) -> bool,
    ) -> Result<JobRecord, CoreError> {
        for _ in 0..WRITE_ATTEMPTS {
            let mut record = self
                .store
                .get_job(name)
                .await?
                .ok_or_else(|| not_found(name))?;
            if !change(&mut record) {
                return Ok(record);
            }
            match self.save(record, fence).await {
                Ok(saved) => return Ok(saved),
                Err(CoreError::Store(StoreError::Conflict { .. })) => continue,
                Err(other) => return Err(other),
            }
        }
        Err(conflict_exhausted(name))
    }

    /// All jobs as stored.
    pub async fn list(&self) -> Result<Vec<JobRecord>, CoreError> {
        Ok(self.store.list_jobs().await?)
    }

    /// Whether this runner has a handler for `name`.
    pub fn is_registered(&self, name: &str) -> bool {
        self.handlers.contains_key(name)
    }

    /// Asks for a run now, unless one is already due within the coalescing window.
    pub async fn trigger(&self, name: &str) -> Result<TriggerOutcome, CoreError> {
        let now = self.clock.now();
        let window = plus_seconds(now, self.coalesce_seconds);
        let mut outcome = TriggerOutcome::Scheduled(now);
        self.update(name, None, |record| match record.next_run_at {
            Some(next) if next <= window => {
                outcome = TriggerOutcome::Coalesced(next);
                false
            }
            _ => {
                outcome = TriggerOutcome::Scheduled(now);
                record.next_run_at = Some(now);
                true
            }
        })
        .await?;
        Ok(outcome)
    }

    /// Pauses or resumes a job; its schedule is kept either way.
    pub async fn set_paused(&self, name: &str, paused: bool) -> Result<JobRecord, CoreError> {
        self.update(name, None, |record| {
            let changed = record.paused != paused;
            record.paused = paused;
            changed
        })
        .await
    }

    /// Earliest next run of an unpaused job this runner can run.
    pub async fn next_due(&self) -> Result<Option<Timestamp>, CoreError> {
        let jobs = self.store.list_jobs().await?;
        Ok(jobs
            .iter()
            .filter(|j| !j.paused && self.handlers.contains_key(&j.name))
            .filter_map(|j| j.next_run_at)
            .min())
    }

    /// Runs every due, unpaused job once (in name order) and records the outcomes
    /// under `fence`. A failing job keeps its schedule and records the error.
    pub async fn run_due(&self, fence: Option<&Fence>) -> Result<Vec<JobRun>, CoreError> {
        let now = self.clock.now();
        let mut runs = Vec::new();
        for job in self.store.list_jobs().await? {
            let Some(scheduled_for) = job.next_run_at else {
                continue;
            };
            if job.paused || scheduled_for > now {
                continue;
            }
            let Some(handler) = self.handlers.get(&job.name) else {
                continue;
            };
            runs.push(
                self.run_one(&job, scheduled_for, handler.as_ref(), fence)
                    .await?,
            );
        }
        Ok(runs)
    }

    async fn run_one(
        &self,
        job: &JobRecord,
        scheduled_for: Timestamp,
        handler: &dyn Job,
        fence: Option<&Fence>,
    ) -> Result<JobRun, CoreError> {
        let started_at = self.clock.now();
        let ctx = JobContext {
            name: job.name.clone(),
            scheduled_for,
            started_at,
            fence: fence.cloned(),
        };
        let outcome = match handler.run(&ctx).await {
            Ok(()) => JobOutcome::Succeeded,
            Err(error) => {
                tracing::warn!(job = %job.name, %error, "job failed");
                JobOutcome::Failed { error }
            }
        };
        let finished = self.clock.now();
        // By the engine's clock, like every other time it records: wall time in
        // production, the virtual clock in a simulation.
        let duration_ms = u64::try_from((finished - started_at).num_milliseconds()).unwrap_or(0);
        let planned_next = match &job.schedule {
            JobSchedule::Every { seconds } => Some(next_on_grid(scheduled_for, *seconds, finished)),
            JobSchedule::Once { .. } => None,
        };
        let saved = self
            .update(&job.name, fence, |record| {
                record.last_run_at = Some(started_at);
                record.last_duration_ms = Some(duration_ms);
                record.last_outcome = Some(outcome.clone());
                // A trigger that arrived during the run moved next_run_at past the
                // planned time we ran for; keep it if it is earlier than our plan.
                let triggered = record.next_run_at.filter(|at| *at > scheduled_for);
                record.next_run_at = match (triggered, planned_next) {
                    (Some(t), Some(p)) => Some(t.min(p)),
                    (Some(t), None) => Some(t),
                    (None, p) => p,
                };
                true
            })
            .await?;
        Ok(JobRun {
            name: job.name.clone(),
            started_at,
            outcome,
            next_run_at: saved.next_run_at,
        })
    }
}

/// Changes the period of the recurrent job `name` in the store, from any
/// process: the leader's runner plans its next run from the stored schedule.
/// The next run moves earlier when the new period ends before the planned run.
/// Returns `None` when no such job is registered yet (registration computes
/// the period itself).
pub async fn reschedule_every(
    store: &dyn Store,
    name: &str,
    seconds: u64,
    now: Timestamp,
) -> Result<Option<JobRecord>, CoreError> {
    let schedule = JobSchedule::Every { seconds };
    for _ in 0..WRITE_ATTEMPTS {
        let Some(mut record) = store.get_job(name).await? else {
            return Ok(None);
        };
        if record.schedule == schedule {
            return Ok(Some(record));
        }
        record.schedule = schedule.clone();
        let sooner = plus_seconds(now, i64::try_from(seconds).unwrap_or(i64::MAX));
        record.next_run_at = Some(record.next_run_at.map_or(sooner, |at| at.min(sooner)));
        match store.commit(ChangeSet::new().put_job(record.clone())).await {
            Ok(receipt) => {
                record.version = receipt.versions.first().copied().unwrap_or(record.version);
                return Ok(Some(record));
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(conflict_exhausted(name))
}

fn conflict_exhausted(name: &str) -> CoreError {
    CoreError::Store(StoreError::Unavailable(format!(
        "job `{name}` kept changing under concurrent writers"
    )))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::ports::VirtualClock;
    use crate::store::MemoryStore;
    use crate::time::epoch;

    struct Counting {
        runs: AtomicU32,
        fail: bool,
    }

    #[async_trait]
    impl Job for Counting {
        async fn run(&self, _ctx: &JobContext) -> Result<(), String> {
            self.runs.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                Err("upstream down".into())
            } else {
                Ok(())
            }
        }
    }

    fn setup() -> (JobRunner, VirtualClock, Arc<MemoryStore>) {
        let clock = VirtualClock::new(epoch());
        let store = Arc::new(MemoryStore::new());
        let runner = JobRunner::new(store.clone(), Arc::new(clock.clone()));
        (runner, clock, store)
    }

    fn counting(fail: bool) -> Arc<Counting> {
        Arc::new(Counting {
            runs: AtomicU32::new(0),
            fail,
        })
    }

    #[tokio::test]
    async fn recurrent_job_runs_on_its_grid_and_records_outcome() {
        let (mut runner, clock, _) = setup();
        let job = counting(false);
        runner
            .register("sweep", JobSchedule::Every { seconds: 300 }, job.clone())
            .await
            .unwrap();
        let runs = runner.run_due(None).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].next_run_at, Some(plus_seconds(epoch(), 300)));
        assert!(
            runner.run_due(None).await.unwrap().is_empty(),
            "not due yet"
        );
        // Missed runs are skipped, not replayed in a burst.
        clock.advance_seconds(1000);
        let runs = runner.run_due(None).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].next_run_at, Some(plus_seconds(epoch(), 1200)));
        assert_eq!(job.runs.load(Ordering::SeqCst), 2);
        let stored = runner.list().await.unwrap();
        assert_eq!(stored[0].last_outcome, Some(JobOutcome::Succeeded));
        assert_eq!(stored[0].last_run_at, Some(plus_seconds(epoch(), 1000)));
    }

    #[tokio::test]
    async fn failing_job_keeps_schedule_and_records_error() {
        let (mut runner, _, _) = setup();
        runner
            .register("sync", JobSchedule::Every { seconds: 60 }, counting(true))
            .await
            .unwrap();
        let runs = runner.run_due(None).await.unwrap();
        assert_eq!(
            runs[0].outcome,
            JobOutcome::Failed {
                error: "upstream down".into()
            }
        );
        assert_eq!(runs[0].next_run_at, Some(plus_seconds(epoch(), 60)));
    }

    #[tokio::test]
    async fn trigger_near_the_next_run_is_coalesced() {
        let (mut runner, clock, _) = setup();
        runner
            .register(
                "sweep",
                JobSchedule::Every { seconds: 300 },
                counting(false),
            )
            .await
            .unwrap();
        runner.run_due(None).await.unwrap();
        clock.advance_seconds(292);
        assert_eq!(
            runner.trigger("sweep").await.unwrap(),
            TriggerOutcome::Coalesced(plus_seconds(epoch(), 300))
        );
        let (mut runner2, clock2, _) = setup();
        runner2
            .register(
                "sweep",
                JobSchedule::Every { seconds: 300 },
                counting(false),
            )
            .await
            .unwrap();
        runner2.run_due(None).await.unwrap();
        clock2.advance_seconds(100);
        let now = clock2.now();
        assert_eq!(
            runner2.trigger("sweep").await.unwrap(),
            TriggerOutcome::Scheduled(now)
        );
        assert_eq!(runner2.next_due().await.unwrap(), Some(now));
        assert!(matches!(
            runner2.trigger("nope").await,
            Err(CoreError::Domain(DomainError::NotFound { .. }))
        ));
    }

    #[tokio::test]
    async fn paused_jobs_do_not_run_and_one_shots_run_once() {
        let (mut runner, clock, _) = setup();
        let job = counting(false);
        runner
            .register("sweep", JobSchedule::Every { seconds: 60 }, job.clone())
            .await
            .unwrap();
        runner.set_paused("sweep", true).await.unwrap();
        assert!(runner.run_due(None).await.unwrap().is_empty());
        runner.set_paused("sweep", false).await.unwrap();
        assert_eq!(runner.run_due(None).await.unwrap().len(), 1);

        let once = counting(false);
        let at = plus_seconds(epoch(), 30);
        runner
            .register("import", JobSchedule::Once { at }, once.clone())
            .await
            .unwrap();
        clock.advance_seconds(30);
        let runs = runner.run_due(None).await.unwrap();
        assert!(runs
            .iter()
            .any(|r| r.name == "import" && r.next_run_at.is_none()));
        clock.advance_seconds(3600);
        runner.run_due(None).await.unwrap();
        assert_eq!(once.runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn registration_after_restart_keeps_the_stored_schedule() {
        let (mut runner, clock, store) = setup();
        runner
            .register(
                "sweep",
                JobSchedule::Every { seconds: 300 },
                counting(false),
            )
            .await
            .unwrap();
        runner.run_due(None).await.unwrap();
        let mut restarted = JobRunner::new(store, Arc::new(clock.clone()));
        let record = restarted
            .register(
                "sweep",
                JobSchedule::Every { seconds: 300 },
                counting(false),
            )
            .await
            .unwrap();
        assert_eq!(record.next_run_at, Some(plus_seconds(epoch(), 300)));
    }

    #[tokio::test]
    async fn stale_fence_rejects_the_outcome_write() {
        let (mut runner, clock, store) = setup();
        runner
            .register(
                "sweep",
                JobSchedule::Every { seconds: 300 },
                counting(false),
            )
            .await
            .unwrap();
        let lease = store
            .try_acquire_lease("controllers", "a", 15, clock.now())
            .await
            .unwrap()
            .unwrap();
        clock.advance_seconds(20);
        store
            .try_acquire_lease("controllers", "b", 15, clock.now())
            .await
            .unwrap()
            .unwrap();
        let stale = Fence {
            lease: "controllers".into(),
            token: lease.token,
        };
        let err = runner.run_due(Some(&stale)).await.unwrap_err();
        assert!(matches!(err, CoreError::Store(StoreError::Fenced { .. })));
    }

    #[test]
    fn grid_skips_missed_slots() {
        let start = epoch();
        assert_eq!(next_on_grid(start, 60, start), plus_seconds(start, 60));
        assert_eq!(
            next_on_grid(start, 60, plus_seconds(start, 59)),
            plus_seconds(start, 60)
        );
        assert_eq!(
            next_on_grid(start, 60, plus_seconds(start, 60)),
            plus_seconds(start, 120)
        );
        assert_eq!(next_on_grid(start, 0, start), plus_seconds(start, 1));
    }
}
