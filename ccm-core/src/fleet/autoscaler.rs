//! The autoscaler: keeps enough workers up for the lablets due within the lead
//! time (and the warm pools), and no more. Scale-up starts stopped workers first
//! (cheaper and faster than a launch), counts workers already booting, then
//! launches the instance types placement suggests, within per-region caps and a
//! cooldown. Scale-down drains empty workers (no new placements) and stops them
//! after a grace period, never below the minimum. Every decision is an event that
//! says why.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::catalog_sync::new_worker_catalog;
use super::context::Context;
use super::lifetimes::mark_busy_until;
use super::scheduler::Scheduler;
use super::warm_pool::WarmPool;
use super::waves::{future_candidate, is_coming, place_in_waves};
use super::workers::{CreateWorker, Workers};
use crate::definition::LabletDefinition;
use crate::error::CoreError;
use crate::event::{DomainEvent, EventPayload, ResourceKind, ScalingAction, Subject};
use crate::ids::{LabletId, Region, WorkerId};
use crate::lablet::Lablet;
use crate::placement::{suggest_scale_up, PlacementRequest, WorkerCandidate};
use crate::ports::kv::Expect;
use crate::ports::store::{ChangeSet, Fence, StoreError, WorkerFilter};
use crate::time::{plus_seconds, Timestamp};
use crate::worker::{DesiredStatus, LifecycleState, PauseReason, ResumeReason, Worker};

/// Tag on workers the autoscaler launched.
pub const AUTOSCALED_LABEL: &str = "ccm.io/autoscaled";

/// Key-value namespace of the autoscaler's pacing.
pub const AUTOSCALER_NAMESPACE: &str = "autoscaler";
/// The one record of [`AUTOSCALER_NAMESPACE`]: the whole [`AutoscalerState`].
const STATE_KEY: &str = "state";

/// The autoscaler's pacing: its last decisions (when it last scaled up and down,
/// when each worker began draining) and the launch counter behind worker names.
/// It lives in the key-value store, read at the start of each pass and written
/// back (compare-and-swap) when the pass changed it, so a restarted process or a
/// new leader keeps the cooldowns and drain graces of the last one. An unreadable
/// record starts afresh: that at worst repeats one decision, which the counting
/// of booting workers keeps harmless.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
struct AutoscalerState {
    last_scale_up: Option<Timestamp>,
    last_scale_down: Option<Timestamp>,
    drained_at: BTreeMap<WorkerId, Timestamp>,
    launched: u64,
}

/// The state as read, with the version of its record (`None`: no record yet).
struct StoredState {
    state: AutoscalerState,
    version: Option<u64>,
}

/// What one autoscaler pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingReport {
    /// Workers started.
    pub started: Vec<WorkerId>,
    /// Workers launched.
    pub launched: Vec<WorkerId>,
    /// Workers marked draining.
    pub drained: Vec<WorkerId>,
    /// Drained workers brought back into service.
    pub undrained: Vec<WorkerId>,
    /// Workers stopped.
    pub stopped: Vec<WorkerId>,
    /// Why a needed scale-up did not (fully) happen.
    pub blocked: Option<String>,
}

/// What a pass must keep room for: the lablets due within the lead, and their
/// requests followed by those the learned warm pool expects.
struct Demand<'a> {
    due: &'a [(Lablet, LabletDefinition)],
    requests: &'a [PlacementRequest],
    starts: &'a [Timestamp],
}

fn fleet_subject() -> Subject {
    Subject {
        kind: ResourceKind::Fleet,
        id: "autoscaler".into(),
    }
}

/// The autoscaler.
#[derive(Clone)]
pub(crate) struct Autoscaler {
    ctx: Arc<Context>,
    scheduler: Scheduler,
    workers: Workers,
    warm_pool: WarmPool,
}

impl Autoscaler {
    pub(crate) fn new(ctx: Arc<Context>, scheduler: Scheduler, workers: Workers) -> Self {
        Self {
            warm_pool: WarmPool::new(ctx.clone()),
            ctx,
            scheduler,
            workers,
        }
    }

    async fn load_scaling_state(&self, now: Timestamp) -> Result<StoredState, CoreError> {
        let Some(entry) = self
            .ctx
            .key_values
            .get(AUTOSCALER_NAMESPACE, STATE_KEY, now)
            .await?
        else {
            return Ok(StoredState {
                state: AutoscalerState::default(),
                version: None,
            });
        };
        let state = serde_json::from_str(&entry.value).unwrap_or_else(|error| {
            tracing::warn!(%error, "unreadable autoscaler state; starting afresh");
            AutoscalerState::default()
        });
        Ok(StoredState {
            state,
            version: Some(entry.version),
        })
    }

    async fn save_scaling_state(
        &self,
        state: &AutoscalerState,
        version: Option<u64>,
        now: Timestamp,
    ) -> Result<(), CoreError> {
        let value = serde_json::to_string(state).map_err(|e| StoreError::Corrupt {
            kind: "autoscaler state".into(),
            id: STATE_KEY.into(),
            message: e.to_string(),
        })?;
        let expect = version.map_or(Expect::Absent, Expect::Version);
        self.ctx
            .key_values
            .put(AUTOSCALER_NAMESPACE, STATE_KEY, &value, expect, None, now)
            .await?;
        Ok(())
    }

    async fn record_decision(
        &self,
        action: ScalingAction,
        workers: Vec<WorkerId>,
        reason: String,
        fence: Option<&Fence>,
    ) -> Result<(), CoreError> {
        tracing::info!(?action, count = workers.len(), %reason, "autoscaler decision");
        let event = DomainEvent::new(
            fleet_subject(),
            EventPayload::FleetScalingDecided {
                action,
                workers,
                reason,
            },
            self.ctx.now(),
        );
        let mut changes = ChangeSet::new().events([event]);
        changes.fence = fence.cloned();
        self.ctx.commit(changes).await?;
        Ok(())
    }

    /// Requests that placement in start-time waves on `candidates` (the way the
    /// scheduler will place them) cannot take.
    fn unplaced_on<'a>(
        &self,
        candidates: &[WorkerCandidate],
        requests: &'a [PlacementRequest],
        starts: &[Timestamp],
    ) -> Vec<&'a PlacementRequest> {
        let plan = place_in_waves(
            candidates.to_vec(),
            requests,
            starts,
            self.ctx.settings.lablets.policy,
        );
        plan.unplaced.iter().map(|(i, _)| &requests[*i]).collect()
    }

    /// One autoscaler pass. Its pacing is read from the key-value store first and
    /// written back when the pass changed it, even when the pass failed halfway
    /// (what it did by then counts for the cooldowns).
    pub(crate) async fn autoscale(
        &self,
        fence: Option<&Fence>,
    ) -> Result<ScalingReport, CoreError> {
        if !self.ctx.settings.autoscaler.enabled {
            return Ok(ScalingReport::default());
        }
        let now = self.ctx.now();
        let stored = self.load_scaling_state(now).await?;
        let mut state = stored.state.clone();
        let outcome = self.autoscale_with(&mut state, now, fence).await;
        if state != stored.state {
            self.save_scaling_state(&state, stored.version, now).await?;
        }
        outcome
    }

    async fn autoscale_with(
        &self,
        state: &mut AutoscalerState,
        now: Timestamp,
        fence: Option<&Fence>,
    ) -> Result<ScalingReport, CoreError> {
        let settings = self.ctx.settings.autoscaler.clone();
        let mut report = ScalingReport::default();
        let workers = self
            .ctx
            .store
            .list_workers(&WorkerFilter::default())
            .await?;
        // Drain marks of workers gone or back in service are stale; dropping them
        // keeps the record small.
        state
            .drained_at
            .retain(|id, _| workers.iter().any(|w| w.id == *id && w.spec.draining));
        let lead_seconds = self.scheduler.lead_seconds().await?;
        let due = self.scheduler.due_pending_within(now, lead_seconds).await?;
        let mut requests: Vec<PlacementRequest> = due
            .iter()
            .map(|(l, d)| PlacementRequest::for_lablet(l, d))
            .collect::<Result<_, _>>()?;
        let mut starts: Vec<Timestamp> = due.iter().map(|(l, _)| l.spec.timeslot.start).collect();
        // The learned warm pool's expected bookings are placed with the due
        // lablets: spare room covers them first, and scale-down keeps it.
        let expected = self.warm_pool.expected(now, lead_seconds).await?;
        requests.extend(expected.requests.iter().cloned());
        starts.extend(expected.starts.iter().copied());
        let warm_target = self.warm_pool.static_depth().await?;
        let mut candidates: Vec<WorkerCandidate> = workers
            .iter()
            .filter(|w| is_coming(w) && !w.spec.draining)
            .map(|w| future_candidate(w, &self.ctx.settings))
            .collect();
        mark_busy_until(&self.ctx, &mut candidates).await?;
        let mut unplaced = self.unplaced_on(&candidates, &requests, &starts);
        let idle = workers
            .iter()
            .filter(|w| is_coming(w) && !w.spec.draining)
            .filter(|w| w.status.capacity.allocations.is_empty())
            .count();
        let warm_deficit = warm_target.saturating_sub(u32::try_from(idle).unwrap_or(u32::MAX));
        if unplaced.is_empty() && warm_deficit == 0 {
            let demand = Demand {
                due: &due,
                requests: &requests,
                starts: &starts,
            };
            self.scale_down(&workers, &demand, warm_target, state, fence, &mut report)
                .await?;
            return Ok(report);
        }
        let cooling = state
            .last_scale_up
            .is_some_and(|t| plus_seconds(t, i64::from(settings.scale_up_cooldown_seconds)) > now);
        if cooling {
            return Ok(report);
        }
        // The warm pool's expected lablets are said apart in the reasons.
        let expected_ids: BTreeSet<LabletId> = expected.requests.iter().map(|r| r.lablet).collect();
        let why = |unplaced: &[&PlacementRequest]| {
            let expected_unplaced = unplaced
                .iter()
                .filter(|r| expected_ids.contains(&r.lablet))
                .count();
            let due_unplaced = unplaced.len() - expected_unplaced;
            let mut parts = Vec::new();
            if due_unplaced > 0 {
                parts.push(format!(
                    "{due_unplaced} lablet(s) due within {} min cannot be placed on running or booting workers",
                    lead_seconds / 60
                ));
            }
            if expected_unplaced > 0 {
                parts.push(expected.reason(lead_seconds));
            }
            parts.join("; ")
        };

        // 1. Drained workers are the cheapest capacity: they are still running.
        let mut deficit = warm_deficit;
        for worker in workers.iter().filter(|w| w.spec.draining && is_coming(w)) {
            if unplaced.is_empty() && deficit == 0 {
                break;
            }
            let mut trial = candidates.clone();
            let mut undrained = future_candidate(worker, &self.ctx.settings);
            undrained.draining = false;
            trial.push(undrained);
            let still = self.unplaced_on(&trial, &requests, &starts);
            if still.len() < unplaced.len() || deficit > 0 {
                self.ctx
                    .update::<Worker, _, _>(worker.id, fence, |w, now| w.set_draining(false, now))
                    .await?;
                state.drained_at.remove(&worker.id);
                report.undrained.push(worker.id);
                candidates = trial;
                deficit = deficit.saturating_sub(1);
                unplaced = still;
            }
        }

        // 2. Start stopped workers before launching new ones.
        let stopped: Vec<&Worker> = workers
            .iter()
            .filter(|w| {
                w.status.lifecycle == LifecycleState::Stopped
                    && w.spec.desired_status == DesiredStatus::Stopped
                    && w.instance_id.is_some()
            })
            .collect();
        let before_starts = unplaced.clone();
        for worker in stopped {
            if unplaced.is_empty() && deficit == 0 {
                break;
            }
            let mut trial = candidates.clone();
            let mut started = future_candidate(worker, &self.ctx.settings);
            started.running = true;
            started.cml_available = true;
            started.draining = false;
            trial.push(started);
            let still = self.unplaced_on(&trial, &requests, &starts);
            if still.len() < unplaced.len() || (unplaced.is_empty() && deficit > 0) {
                self.ctx
                    .update::<Worker, _, _>(worker.id, fence, |w, now| {
                        w.request_start(ResumeReason::ScaleUp, now)
                    })
                    .await?;
                self.ctx.nudge_worker(worker.id);
                report.started.push(worker.id);
                if unplaced.is_empty() {
                    deficit = deficit.saturating_sub(1);
                }
                candidates = trial;
                unplaced = still;
            }
        }
        if !report.started.is_empty() {
            self.record_decision(
                ScalingAction::Start,
                report.started.clone(),
                if !before_starts.is_empty() {
                    why(&before_starts)
                } else {
                    format!("warm pool below {warm_target} idle workers")
                },
                fence,
            )
            .await?;
        }

        // 3. Launch what placement suggests for the rest, within the regional caps,
        // leaving out lablets whose topology a new worker's CML could not run:
        // launching for them would buy workers that never take them.
        let new_catalog = new_worker_catalog(&workers);
        let (launchable, lacking): (Vec<&PlacementRequest>, Vec<&PlacementRequest>) = unplaced
            .iter()
            .copied()
            .partition(|r| r.shape().accepts_catalog(new_catalog.as_deref()));
        if let Some(first) = lacking.first() {
            let missing = first
                .requires
                .as_deref()
                .map(|needs| needs.missing_from(new_catalog.as_deref()))
                .unwrap_or_default();
            report.blocked = Some(format!(
                "{} lablet(s) need definitions new workers' CML lacks ({})",
                lacking.len(),
                missing.join(", ")
            ));
        }
        let mut to_launch: Vec<String> = Vec::new();
        if !launchable.is_empty() {
            let suggestion = suggest_scale_up(
                launchable.iter().copied(),
                &self.ctx.settings.instance_types,
                &settings.new_worker_profile,
            );
            for line in &suggestion.lines {
                for _ in 0..line.workers {
                    to_launch.push(line.instance_type.clone());
                }
            }
            if !suggestion.unfittable.is_empty() {
                let unfittable = format!(
                    "{} lablet(s) fit no instance type in the price table",
                    suggestion.unfittable.len()
                );
                report.blocked = Some(match report.blocked.take() {
                    Some(lacking) => format!("{lacking}; {unfittable}"),
                    None => unfittable,
                });
            }
        }
        for _ in 0..deficit {
            to_launch.push(self.ctx.settings.launch.instance_type.clone());
        }
        let mut per_region: BTreeMap<Region, u32> = BTreeMap::new();
        for w in &workers {
            if w.status.lifecycle != LifecycleState::Terminated {
                *per_region.entry(w.region.clone()).or_default() += 1;
            }
        }
        for instance_type in to_launch {
            let region = settings
                .regions
                .iter()
                .find(|r| {
                    per_region.get(*r).copied().unwrap_or(0) < settings.max_workers_per_region
                })
                .cloned();
            let Some(region) = region else {
                report.blocked = Some(format!(
                    "every region is at its cap of {} workers",
                    settings.max_workers_per_region
                ));
                break;
            };
            *per_region.entry(region.clone()).or_default() += 1;
            state.launched += 1;
            let n = state.launched;
            let mut labels = BTreeMap::new();
            labels.insert(AUTOSCALED_LABEL.to_owned(), "true".to_owned());
            let worker = self
                .workers
                .create(CreateWorker {
                    name: format!("auto-{}-{}-{n}", region.as_str(), now.format("%H%M")),
                    region,
                    instance_type: Some(instance_type),
                    labels,
                    tags: BTreeMap::new(),
                    idle_detection_disabled: false,
                    created_by: Some("autoscaler".into()),
                    image: None,
                })
                .await?;
            report.launched.push(worker.id);
        }
        if !report.launched.is_empty() {
            let reason = if unplaced.is_empty() {
                format!("warm pool below {warm_target} idle workers")
            } else {
                why(&unplaced)
            };
            self.record_decision(
                ScalingAction::Launch,
                report.launched.clone(),
                reason,
                fence,
            )
            .await?;
        }
        if let Some(blocked) = &report.blocked {
            self.record_decision(ScalingAction::Blocked, Vec::new(), blocked.clone(), fence)
                .await?;
        }
        if !report.started.is_empty() || !report.launched.is_empty() || !report.undrained.is_empty()
        {
            state.last_scale_up = Some(now);
        }
        Ok(report)
    }

    /// Drains running workers nothing needs, and stops drained ones after the grace.
    async fn scale_down(
        &self,
        workers: &[Worker],
        demand: &Demand<'_>,
        warm_target: u32,
        state: &mut AutoscalerState,
        fence: Option<&Fence>,
        report: &mut ScalingReport,
    ) -> Result<(), CoreError> {
        let settings = &self.ctx.settings.autoscaler;
        let now = self.ctx.now();
        // Stop drained workers whose grace has passed and that still hold nothing.
        let grace = i64::from(settings.drain_grace_seconds);
        for worker in workers
            .iter()
            .filter(|w| w.spec.draining && w.status.lifecycle == LifecycleState::Running)
        {
            let since = *state.drained_at.entry(worker.id).or_insert(now);
            if plus_seconds(since, grace) > now || !worker.status.capacity.allocations.is_empty() {
                continue;
            }
            self.ctx
                .update::<Worker, _, _>(worker.id, fence, |w, now| {
                    w.request_stop(PauseReason::ScaleDown, now)
                })
                .await?;
            state.drained_at.remove(&worker.id);
            self.ctx.nudge_worker(worker.id);
            report.stopped.push(worker.id);
        }
        if !report.stopped.is_empty() {
            self.record_decision(
                ScalingAction::Stop,
                report.stopped.clone(),
                format!("drained for {} min with no lablets", grace / 60),
                fence,
            )
            .await?;
        }
        let cooling = state.last_scale_down.is_some_and(|t| {
            plus_seconds(t, i64::from(settings.scale_down_cooldown_seconds)) > now
        });
        if cooling {
            return Ok(());
        }
        let busy: BTreeSet<WorkerId> = demand
            .due
            .iter()
            .filter_map(|(l, _)| l.status.worker_id)
            .collect();
        let running: Vec<&Worker> = workers
            .iter()
            .filter(|w| {
                w.status.lifecycle == LifecycleState::Running
                    && w.spec.desired_status == DesiredStatus::Running
            })
            .collect();
        let keep = settings.min_running_workers.max(warm_target) as usize;
        let active = running.iter().filter(|w| !w.spec.draining).count();
        let mut spare = active.saturating_sub(keep);
        let mut drained = Vec::new();
        // A worker may go only if everything due (and the warm pool's expected
        // bookings) still places without it.
        let (requests, starts) = (demand.requests, demand.starts);
        let mut remaining: Vec<&Worker> = workers
            .iter()
            .filter(|w| is_coming(w) && !w.spec.draining)
            .collect();
        for worker in running {
            if spare == 0 {
                break;
            }
            // Nodes running outside lablets mean someone works there by hand.
            let hand_made_nodes = worker
                .status
                .metrics
                .cml
                .value
                .as_ref()
                .and_then(|m| m.running_nodes)
                .unwrap_or(0);
            if worker.spec.draining
                || !worker.status.capacity.allocations.is_empty()
                || busy.contains(&worker.id)
                || hand_made_nodes > 0
                || started_by_hand_lately(worker, now)
            {
                continue;
            }
            let without: Vec<&Worker> = remaining
                .iter()
                .copied()
                .filter(|w| w.id != worker.id)
                .collect();
            // Only workers that can host labs now stand in for it: one still
            // booting would make what is due wait for its boot, and a worker
            // that is up only looks empty until the scheduler binds to it.
            if !requests.is_empty() {
                let trial: Vec<WorkerCandidate> = without
                    .iter()
                    .filter(|w| w.can_host_labs())
                    .map(|w| future_candidate(w, &self.ctx.settings))
                    .collect();
                if !self.unplaced_on(&trial, requests, starts).is_empty() {
                    continue;
                }
            }
            remaining = without;
            self.ctx
                .update::<Worker, _, _>(worker.id, fence, |w, now| w.set_draining(true, now))
                .await?;
            state.drained_at.insert(worker.id, now);
            drained.push(worker.id);
            spare -= 1;
        }
        if !drained.is_empty() {
            report.drained = drained.clone();
            state.last_scale_down = Some(now);
            self.record_decision(
                ScalingAction::Drain,
                drained,
                "running with no lablet running or due within the lead time".into(),
                fence,
            )
            .await?;
        }
        Ok(())
    }
}

/// True while a worker an operator started by hand is within its idle snooze:
/// the autoscaler does not drain what someone just asked to run (idle
/// detection, which the operator controls per worker, takes over after).
fn started_by_hand_lately(worker: &Worker, now: Timestamp) -> bool {
    let activity = &worker.status.activity;
    activity.last_resume_reason == Some(ResumeReason::Manual)
        && activity.snooze_until.is_some_and(|until| until > now)
}
