//! The learned lead time: how long before a lablet's start the engine must act
//! so its lab is ready on time, learned from the fleet's own history instead of
//! one fixed `lablets.lead_time_seconds`.
//!
//! The `lead-learning` job follows the event log from a cursor of its own and
//! keeps, per region and instance type, the last boots (a worker's launch or
//! start to its CML answering `available`) and, fleet-wide, the last lab imports
//! (a lablet entering `instantiating` to `ready`). Cursor, samples and the boots
//! and imports still under way are one record in the key-value store, written
//! with compare-and-swap: a restarted process or a new leader goes on from it,
//! and two processes never both count an event.
//!
//! The lead of a region and instance type is the configured percentile of its
//! boots plus that of the lab imports, plus the longest pass interval (a lablet
//! becomes due between two passes) and the margin; with fewer samples than
//! `lead_time_min_samples` in the region, the boots of the instance type in
//! every region stand in, and with too few of those the configured
//! `lead_time_seconds`. The lead
//! the scheduler and the autoscaler use is the longest over the regions the
//! autoscaler launches in with its launch instance type, so no region where a
//! worker may be started is short of time.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::context::Context;
use super::settings::FleetSettings;
use crate::error::CoreError;
use crate::event::{EventPayload, StoredEvent};
use crate::ids::{LabletId, Region, WorkerId};
use crate::lablet::LabletPhase;
use crate::ports::kv::{Expect, MAX_VALUE_BYTES};
use crate::ports::store::StoreError;
use crate::runtime::{Job, JobContext};
use crate::time::{seconds_between, Timestamp};
use crate::worker::{CmlServiceState, DesiredStatus, LifecycleState};

/// Name of the recurrent job that learns lead times from the event log.
pub const LEAD_LEARNING_JOB: &str = "lead-learning";
/// Seconds between two runs of the job.
pub(super) const LEAD_LEARNING_INTERVAL_SECONDS: u64 = 60;

/// Key-value namespace of the learned history.
pub const LEAD_TIME_NAMESPACE: &str = "lead-times";
/// The one record of [`LEAD_TIME_NAMESPACE`].
const HISTORY_KEY: &str = "history";

/// Samples kept per region and instance type, and of lab imports: the recent
/// past, so a change of AMI or region shows within a few dozen boots.
const SAMPLES_KEPT: usize = 50;
/// Regions × instance types remembered (the record has to stay small).
const KEYS_KEPT: usize = 32;
/// Boots, imports and rests under way remembered, each; the oldest go first.
/// Three full maps of these (about 75 bytes an entry) and every sample leave
/// the record well inside the key-value store's value bound ([`MAX_VALUE_BYTES`]);
/// [`LeadHistory::encode`] sheds more should long names not leave it inside.
const OPEN_KEPT: usize = 150;
/// Events read per store call and calls per run: a long backlog is worked off
/// over several runs.
const PAGE_SIZE: usize = 1000;
const PAGES_PER_RUN: usize = 10;
/// A lead is never longer than this, whatever the history says.
const MAX_LEAD_SECONDS: u32 = 6 * 3600;

/// What the job has learned: its place in the log, the samples, and what is
/// under way.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct LeadHistory {
    /// The last event sequence read.
    cursor: u64,
    /// Boot durations in seconds by [`boot_key`], oldest first.
    boots: BTreeMap<String, Vec<u32>>,
    /// Lab import durations in seconds, oldest first.
    imports: Vec<u32>,
    /// Workers booting, since when.
    booting: BTreeMap<WorkerId, Timestamp>,
    /// Lablets importing their lab, since when.
    importing: BTreeMap<LabletId, Timestamp>,
    /// Workers last seen stopping or stopped (a start asked of them opens a
    /// boot, which then includes waiting for the stop to finish), since when.
    resting: BTreeMap<WorkerId, Timestamp>,
}

/// A boot that finished: the worker and how long it took.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FinishedBoot {
    worker: WorkerId,
    seconds: u32,
}

fn boot_key(region: &str, instance_type: &str) -> String {
    format!("{region}/{instance_type}")
}

fn push_bounded(samples: &mut Vec<u32>, seconds: u32) {
    samples.push(seconds);
    if samples.len() > SAMPLES_KEPT {
        samples.remove(0);
    }
}

fn open_bounded<K: Ord + Copy>(open: &mut BTreeMap<K, Timestamp>, key: K, at: Timestamp) {
    open.entry(key).or_insert(at);
    while open.len() > OPEN_KEPT {
        let oldest = open.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k);
        match oldest {
            Some(k) => open.remove(&k),
            None => break,
        };
    }
}

/// Drops the older half of `open` (by when each began).
fn keep_newest_half<K: Ord + Copy>(open: &mut BTreeMap<K, Timestamp>) {
    let mut since: Vec<(Timestamp, K)> = open.iter().map(|(k, t)| (*t, *k)).collect();
    since.sort();
    for (_, key) in since.iter().take(open.len().div_ceil(2)) {
        open.remove(key);
    }
}

fn duration(from: Timestamp, to: Timestamp) -> Option<u32> {
    u32::try_from(seconds_between(from, to)).ok()
}

impl LeadHistory {
    /// Takes one event into account; a boot that finished with it is returned
    /// for the caller to file under its worker's region and instance type.
    pub(crate) fn observe(&mut self, stored: &StoredEvent) -> Option<FinishedBoot> {
        self.cursor = self.cursor.max(stored.sequence);
        let event = &stored.event;
        let at = event.occurred_at;
        match &event.payload {
            EventPayload::WorkerCreatedV2 { .. } => {
                let worker = event.subject.id.parse().ok().map(WorkerId)?;
                open_bounded(&mut self.booting, worker, at);
            }
            // A boot is timed from the start asked for, not from the first
            // observation of `pending`, which comes a monitoring pass later.
            EventPayload::WorkerSpecUpdated { spec }
                if spec.desired_status == DesiredStatus::Running =>
            {
                let worker = event.subject.id.parse().ok().map(WorkerId)?;
                if self.resting.remove(&worker).is_some() {
                    open_bounded(&mut self.booting, worker, at);
                }
            }
            EventPayload::WorkerStatusUpdated { to, .. } => {
                let worker = event.subject.id.parse().ok().map(WorkerId)?;
                if matches!(to, LifecycleState::Stopping | LifecycleState::Stopped) {
                    open_bounded(&mut self.resting, worker, at);
                } else {
                    self.resting.remove(&worker);
                }
                match to {
                    LifecycleState::Pending | LifecycleState::Provisioning => {
                        open_bounded(&mut self.booting, worker, at);
                    }
                    LifecycleState::Running | LifecycleState::Unknown => {}
                    _ => {
                        self.booting.remove(&worker);
                    }
                }
            }
            EventPayload::WorkerCmlUpdated { cml } if cml.state == CmlServiceState::Available => {
                let worker = event.subject.id.parse().ok().map(WorkerId)?;
                let since = self.booting.remove(&worker)?;
                let seconds = duration(since, at)?;
                return Some(FinishedBoot { worker, seconds });
            }
            EventPayload::LabletPhaseChanged { to, .. } => {
                let lablet = event.subject.id.parse().ok().map(LabletId)?;
                match to {
                    LabletPhase::Instantiating => open_bounded(&mut self.importing, lablet, at),
                    LabletPhase::Ready => {
                        let since = self.importing.remove(&lablet)?;
                        push_bounded(&mut self.imports, duration(since, at)?);
                    }
                    _ => {
                        self.importing.remove(&lablet);
                    }
                }
            }
            _ => {}
        }
        None
    }

    /// The record as stored: JSON of at most `max_bytes`. Should the history
    /// not fit, the oldest half of each map of things under way goes (they are
    /// only missed samples), then the older half of every sample list, until it
    /// does; the cursor always stays, so no event is read twice.
    fn encode(&mut self, max_bytes: usize) -> Result<String, serde_json::Error> {
        loop {
            let value = serde_json::to_string(self)?;
            let open = self.booting.len() + self.importing.len() + self.resting.len();
            let samples = self.imports.len() + self.boots.values().map(Vec::len).sum::<usize>();
            if value.len() <= max_bytes || open + samples == 0 {
                return Ok(value);
            }
            if open > 0 {
                for map in [&mut self.booting, &mut self.resting] {
                    keep_newest_half(map);
                }
                keep_newest_half(&mut self.importing);
            } else {
                for samples in self.boots.values_mut().chain([&mut self.imports]) {
                    samples.drain(..samples.len().div_ceil(2));
                }
            }
        }
    }

    /// Files a finished boot under its worker's region and instance type.
    pub(crate) fn record_boot(&mut self, region: &str, instance_type: &str, seconds: u32) {
        let key = boot_key(region, instance_type);
        if !self.boots.contains_key(&key) && self.boots.len() >= KEYS_KEPT {
            return;
        }
        push_bounded(self.boots.entry(key).or_default(), seconds);
    }

    /// The lead of workers of `instance_type` in `region` under `settings`.
    pub(crate) fn lead_for(
        &self,
        settings: &FleetSettings,
        region: &Region,
        instance_type: &str,
    ) -> LeadEstimate {
        let lablets = &settings.lablets;
        let enough = |samples: usize| samples >= lablets.lead_time_min_samples.max(1) as usize;
        let own = self
            .boots
            .get(&boot_key(region.as_str(), instance_type))
            .cloned()
            .unwrap_or_default();
        // A region the fleet has not booted in enough yet borrows the boots of
        // the same instance type elsewhere: an AMI boots alike across regions,
        // and the margin covers the rest.
        let (boots, from_other_regions) = if enough(own.len()) {
            (own, false)
        } else {
            let suffix = format!("/{instance_type}");
            let pooled: Vec<u32> = self
                .boots
                .iter()
                .filter(|(key, _)| key.ends_with(&suffix))
                .flat_map(|(_, samples)| samples.iter().copied())
                .collect();
            let borrowed = pooled.len() > own.len();
            (pooled, borrowed)
        };
        let percentile = lablets.lead_time_percentile.clamp(50, 100);
        let boot = percentile_of(&boots, percentile);
        let import = percentile_of(&self.imports, percentile);
        let learned = match (boot, import) {
            (Some(boot), Some(import))
                if lablets.learn_lead_time && enough(boots.len()) && enough(self.imports.len()) =>
            {
                let interval = if settings.autoscaler.enabled {
                    settings.autoscaler.interval_seconds
                } else {
                    0
                }
                .max(lablets.scheduler_interval_seconds);
                Some(
                    boot.saturating_add(import)
                        .saturating_add(interval)
                        .saturating_add(lablets.lead_time_margin_seconds)
                        .min(MAX_LEAD_SECONDS),
                )
            }
            _ => None,
        };
        LeadEstimate {
            region: region.clone(),
            instance_type: instance_type.to_owned(),
            seconds: learned.unwrap_or(lablets.lead_time_seconds),
            learned: learned.is_some(),
            from_other_regions,
            boot_seconds: boot,
            boot_samples: boots.len(),
            import_seconds: import,
            import_samples: self.imports.len(),
        }
    }
}

/// The nearest-rank `percentile` of `samples` (`None` when there are none).
fn percentile_of(samples: &[u32], percentile: u8) -> Option<u32> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let rank = (usize::from(percentile) * sorted.len())
        .div_ceil(100)
        .max(1);
    sorted.get(rank - 1).copied()
}

/// The lead of one region and instance type, and what it rests on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadEstimate {
    /// The region.
    pub region: Region,
    /// The instance type.
    pub instance_type: String,
    /// Seconds before a lablet's start the engine acts.
    pub seconds: u32,
    /// Whether `seconds` was learned (else it is the configured lead time).
    pub learned: bool,
    /// The boots are those of the instance type in every region (too few were
    /// observed in this one).
    pub from_other_regions: bool,
    /// The percentile of the observed boots, when any were observed.
    pub boot_seconds: Option<u32>,
    /// Boots observed.
    pub boot_samples: usize,
    /// The percentile of the observed lab imports, when any were observed.
    pub import_seconds: Option<u32>,
    /// Lab imports observed.
    pub import_samples: usize,
}

/// The lead the engine works with: the longest of its estimates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadTime {
    /// Seconds before a lablet's start it is placed and its worker started.
    pub seconds: u32,
    /// One estimate per region the autoscaler launches in (empty when it
    /// launches nowhere: then `seconds` is the configured lead time).
    pub estimates: Vec<LeadEstimate>,
}

/// The history as read, with its record's version (`None`: no record yet).
struct StoredHistory {
    history: LeadHistory,
    version: Option<u64>,
}

/// What one learning run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct LearningReport {
    /// Events read.
    pub(crate) events: usize,
    /// Boots filed.
    pub(crate) boots: usize,
}

/// Learns lead times and answers the lead in force.
#[derive(Clone)]
pub(crate) struct LeadTimes {
    ctx: Arc<Context>,
}

impl LeadTimes {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    async fn load(&self) -> Result<StoredHistory, CoreError> {
        let now = self.ctx.now();
        let Some(entry) = self
            .ctx
            .key_values
            .get(LEAD_TIME_NAMESPACE, HISTORY_KEY, now)
            .await?
        else {
            return Ok(StoredHistory {
                history: LeadHistory::default(),
                version: None,
            });
        };
        // An unreadable record is relearned from the log's start: it costs a few
        // runs of reading, never a wrong lead.
        let history = serde_json::from_str(&entry.value).unwrap_or_else(|error| {
            tracing::warn!(%error, "unreadable lead-time history; learning afresh");
            LeadHistory::default()
        });
        Ok(StoredHistory {
            history,
            version: Some(entry.version),
        })
    }

    /// The lead in force: the longest estimate over the regions the autoscaler
    /// launches in, with its launch instance type.
    pub(crate) async fn current(&self) -> Result<LeadTime, CoreError> {
        let settings = &self.ctx.settings;
        let regions = &settings.autoscaler.regions;
        if regions.is_empty() || !settings.lablets.learn_lead_time {
            return Ok(LeadTime {
                seconds: settings.lablets.lead_time_seconds,
                estimates: Vec::new(),
            });
        }
        let history = self.load().await?.history;
        let estimates: Vec<LeadEstimate> = regions
            .iter()
            .map(|r| history.lead_for(settings, r, &settings.launch.instance_type))
            .collect();
        let seconds = estimates
            .iter()
            .map(|e| e.seconds)
            .max()
            .unwrap_or(settings.lablets.lead_time_seconds);
        Ok(LeadTime { seconds, estimates })
    }

    /// Reads the event log from the history's cursor and files what it shows;
    /// the history is written back with compare-and-swap, so of two processes
    /// learning at once one loses and the events are counted once.
    pub(crate) async fn learn(&self) -> Result<LearningReport, CoreError> {
        let stored = self.load().await?;
        let mut history = stored.history.clone();
        let mut report = LearningReport::default();
        let mut types: BTreeMap<WorkerId, Option<(String, String)>> = BTreeMap::new();
        for _ in 0..PAGES_PER_RUN {
            let page = self
                .ctx
                .store
                .read_events(history.cursor, PAGE_SIZE)
                .await?;
            report.events += page.len();
            for event in &page {
                let Some(boot) = history.observe(event) else {
                    continue;
                };
                let key = match types.get(&boot.worker) {
                    Some(key) => key.clone(),
                    None => {
                        let key = self
                            .ctx
                            .store
                            .get_worker(boot.worker)
                            .await?
                            .map(|w| (w.region.as_str().to_owned(), w.instance_type));
                        types.insert(boot.worker, key.clone());
                        key
                    }
                };
                if let Some((region, instance_type)) = key {
                    history.record_boot(&region, &instance_type, boot.seconds);
                    report.boots += 1;
                }
            }
            if page.len() < PAGE_SIZE {
                break;
            }
        }
        if history != stored.history {
            let value = history
                .encode(MAX_VALUE_BYTES)
                .map_err(|e| StoreError::Corrupt {
                    kind: "lead-time history".into(),
                    id: HISTORY_KEY.into(),
                    message: e.to_string(),
                })?;
            let expect = stored.version.map_or(Expect::Absent, Expect::Version);
            self.ctx
                .key_values
                .put(
                    LEAD_TIME_NAMESPACE,
                    HISTORY_KEY,
                    &value,
                    expect,
                    None,
                    self.ctx.now(),
                )
                .await?;
        }
        Ok(report)
    }
}

#[async_trait]
impl Job for LeadTimes {
    async fn run(&self, _ctx: &JobContext) -> Result<(), String> {
        let report = self.learn().await.map_err(|e| e.to_string())?;
        if report.boots > 0 {
            tracing::debug!(
                events = report.events,
                boots = report.boots,
                "lead times learned"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{DomainEvent, ResourceKind, Subject};
    use crate::time::{from_unix_seconds, plus_seconds};
    use crate::worker::CmlService;

    fn at(seconds: i64) -> Timestamp {
        plus_seconds(from_unix_seconds(1_800_000_000), seconds)
    }

    fn stored(
        sequence: u64,
        kind: ResourceKind,
        id: String,
        payload: EventPayload,
        t: i64,
    ) -> StoredEvent {
        StoredEvent {
            sequence,
            event: DomainEvent::new(Subject { kind, id }, payload, at(t)),
        }
    }

    fn status(seq: u64, worker: WorkerId, to: LifecycleState, t: i64) -> StoredEvent {
        let payload = EventPayload::WorkerStatusUpdated {
            from: LifecycleState::Stopped,
            to,
            ec2_state: None,
            reason: None,
        };
        stored(seq, ResourceKind::Worker, worker.to_string(), payload, t)
    }

    fn cml(seq: u64, worker: WorkerId, state: CmlServiceState, t: i64) -> StoredEvent {
        let payload = EventPayload::WorkerCmlUpdated {
            cml: CmlService {
                state,
                ..CmlService::default()
            },
        };
        stored(seq, ResourceKind::Worker, worker.to_string(), payload, t)
    }

    fn phase(seq: u64, lablet: LabletId, to: LabletPhase, t: i64) -> StoredEvent {
        let payload = EventPayload::LabletPhaseChanged {
            from: LabletPhase::Scheduled,
            to,
            reason: None,
        };
        stored(seq, ResourceKind::Lablet, lablet.to_string(), payload, t)
    }

    fn settings() -> FleetSettings {
        let mut s = FleetSettings::default();
        s.lablets.lead_time_min_samples = 3;
        s.lablets.lead_time_margin_seconds = 120;
        s.lablets.scheduler_interval_seconds = 60;
        s
    }

    #[test]
    fn a_boot_runs_from_its_start_to_cml_available() {
        let w = WorkerId::from_u128(1);
        let mut h = LeadHistory::default();
        assert_eq!(
            h.observe(&status(1, w, LifecycleState::Provisioning, 0)),
            None
        );
        assert_eq!(h.observe(&cml(2, w, CmlServiceState::Starting, 900)), None);
        assert_eq!(
            h.observe(&cml(3, w, CmlServiceState::Available, 1500)),
            Some(FinishedBoot {
                worker: w,
                seconds: 1500
            })
        );
        // Available again without a boot in between is not a boot.
        assert_eq!(
            h.observe(&cml(4, w, CmlServiceState::Available, 1600)),
            None
        );
        assert_eq!(h.cursor, 4);
    }

    #[test]
    fn a_start_is_timed_from_when_it_was_asked_for() {
        let w = WorkerId::from_u128(3);
        let mut h = LeadHistory::default();
        h.observe(&status(1, w, LifecycleState::Stopped, 0));
        let spec = crate::worker::WorkerSpec {
            desired_status: DesiredStatus::Running,
            idle: Default::default(),
            draining: false,
            stop_reason: None,
            start_reason: None,
            monitoring_interval_seconds: None,
            cml_endpoint: None,
            image: None,
        };
        let asked = EventPayload::WorkerSpecUpdated { spec: spec.clone() };
        h.observe(&stored(
            2,
            ResourceKind::Worker,
            w.to_string(),
            asked.clone(),
            100,
        ));
        // Pending is observed a monitoring pass later; the boot began at the ask.
        h.observe(&status(3, w, LifecycleState::Provisioning, 400));
        assert_eq!(
            h.observe(&cml(4, w, CmlServiceState::Available, 1600)),
            Some(FinishedBoot {
                worker: w,
                seconds: 1500
            })
        );
        // A spec change of a running worker opens nothing.
        h.observe(&stored(5, ResourceKind::Worker, w.to_string(), asked, 2000));
        assert!(h.booting.is_empty());
    }

    #[test]
    fn a_boot_given_up_is_not_a_sample() {
        let w = WorkerId::from_u128(1);
        let mut h = LeadHistory::default();
        h.observe(&status(1, w, LifecycleState::Provisioning, 0));
        h.observe(&status(2, w, LifecycleState::Stopping, 100));
        assert_eq!(
            h.observe(&cml(3, w, CmlServiceState::Available, 4000)),
            None
        );
    }

    #[test]
    fn imports_are_timed_from_instantiating_to_ready() {
        let l = LabletId::from_u128(7);
        let mut h = LeadHistory::default();
        h.observe(&phase(1, l, LabletPhase::Instantiating, 10));
        h.observe(&phase(2, l, LabletPhase::Ready, 160));
        assert_eq!(h.imports, vec![150]);
        // A failed import is dropped.
        h.observe(&phase(3, l, LabletPhase::Instantiating, 200));
        h.observe(&phase(4, l, LabletPhase::Failed, 260));
        h.observe(&phase(5, l, LabletPhase::Ready, 300));
        assert_eq!(h.imports, vec![150]);
    }

    #[test]
    fn the_lead_falls_back_until_enough_samples_then_adds_percentiles_interval_and_margin() {
        let s = settings();
        let region = Region::new("eu-west-1");
        let mut h = LeadHistory::default();
        for seconds in [1500, 1400] {
            h.record_boot("eu-west-1", "m5zn.metal", seconds);
        }
        h.imports = vec![100, 200, 150];
        let short = h.lead_for(&s, &region, "m5zn.metal");
        assert!(!short.learned);
        assert_eq!(short.seconds, s.lablets.lead_time_seconds);
        h.record_boot("eu-west-1", "m5zn.metal", 1600);
        let learned = h.lead_for(&s, &region, "m5zn.metal");
        assert!(learned.learned);
        // p95 of three samples is the largest.
        assert_eq!(learned.boot_seconds, Some(1600));
        assert_eq!(learned.import_seconds, Some(200));
        assert_eq!(learned.seconds, 1600 + 200 + 60 + 120);
        // Another region borrows the instance type's boots; another type has none.
        let borrowed = h.lead_for(&s, &Region::new("us-east-1"), "m5zn.metal");
        assert!(borrowed.learned && borrowed.from_other_regions);
        assert_eq!(borrowed.seconds, learned.seconds);
        assert!(!learned.from_other_regions);
        assert!(!h.lead_for(&s, &region, "c5.metal").learned);
        // Learning switched off: the configured lead.
        let mut off = s.clone();
        off.lablets.learn_lead_time = false;
        assert_eq!(
            h.lead_for(&off, &region, "m5zn.metal").seconds,
            off.lablets.lead_time_seconds
        );
    }

    #[test]
    fn samples_and_open_boots_stay_bounded() {
        let mut h = LeadHistory::default();
        for n in 0..(SAMPLES_KEPT as u32 + 10) {
            h.record_boot("r", "t", n);
        }
        assert_eq!(h.boots["r/t"].len(), SAMPLES_KEPT);
        assert_eq!(h.boots["r/t"][0], 10);
        for k in 0..(KEYS_KEPT + 5) {
            h.record_boot(&format!("r{k}"), "t", 1);
        }
        assert_eq!(h.boots.len(), KEYS_KEPT);
        for n in 0..(OPEN_KEPT as u128 + 20) {
            let w = WorkerId::from_u128(n + 1);
            h.observe(&status(
                n as u64 + 1,
                w,
                LifecycleState::Provisioning,
                n as i64,
            ));
        }
        assert_eq!(h.booting.len(), OPEN_KEPT);
        assert!(!h.booting.contains_key(&WorkerId::from_u128(1)));
    }

    #[test]
    fn a_history_full_to_every_bound_fits_the_key_value_store() {
        let mut h = LeadHistory {
            cursor: u64::MAX,
            ..LeadHistory::default()
        };
        for k in 0..KEYS_KEPT {
            for _ in 0..SAMPLES_KEPT {
                h.record_boot(&format!("ap-southeast-{k:02}"), "m5zn.metal", u32::MAX);
            }
        }
        h.imports = vec![u32::MAX; SAMPLES_KEPT];
        let late = at(i64::from(i32::MAX)) + chrono::Duration::nanoseconds(123_456_789);
        for n in 0..OPEN_KEPT as u128 {
            h.booting.insert(WorkerId::from_u128(u128::MAX - n), late);
            h.resting.insert(WorkerId::from_u128(u128::MAX - n), late);
            h.importing.insert(LabletId::from_u128(u128::MAX - n), late);
        }
        let before = h.clone();
        let value = h.encode(MAX_VALUE_BYTES).unwrap();
        assert!(value.len() <= MAX_VALUE_BYTES, "{} bytes", value.len());
        assert_eq!(h, before, "nothing shed when the bounds hold");
    }

    #[test]
    fn a_history_over_the_bound_sheds_the_oldest_until_it_fits() {
        let mut h = LeadHistory {
            cursor: 42,
            ..LeadHistory::default()
        };
        for n in 0..SAMPLES_KEPT as u32 {
            h.record_boot("r", "t", n);
        }
        for n in 0..OPEN_KEPT as u128 {
            h.booting.insert(WorkerId::from_u128(n + 1), at(n as i64));
        }
        let newest = WorkerId::from_u128(OPEN_KEPT as u128);
        let full = serde_json::to_string(&h).unwrap().len();
        let value = h.encode(full / 2).unwrap();
        assert!(value.len() <= full / 2);
        assert_eq!(h.cursor, 42);
        assert!(h.booting.contains_key(&newest), "the newest stays");
        assert!(!h.booting.contains_key(&WorkerId::from_u128(1)));
        assert_eq!(h.boots["r/t"].len(), SAMPLES_KEPT, "samples go last");
        let tiny = h.encode(100).unwrap();
        assert!(tiny.len() <= 100, "{tiny}");
        assert!(h.booting.is_empty());
        let kept = &h.boots["r/t"];
        assert!(kept.len() < SAMPLES_KEPT, "{tiny}");
        assert_eq!(
            kept.last(),
            Some(&(SAMPLES_KEPT as u32 - 1)),
            "the newest stay"
        );
        assert!(tiny.contains("\"cursor\":42"), "{tiny}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(percentile_of(&[], 95), None);
        assert_eq!(percentile_of(&[5], 50), Some(5));
        let hundred: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile_of(&hundred, 95), Some(95));
        assert_eq!(percentile_of(&hundred, 100), Some(100));
        assert_eq!(percentile_of(&hundred, 50), Some(50));
    }
}
