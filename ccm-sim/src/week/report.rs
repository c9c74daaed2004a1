//! What a week cost and how late it was: the report, computed from the engine's
//! event log, and its markdown table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use ccm_core::fleet::FleetSettings;
use ccm_core::time::{plus_seconds, seconds_between, Timestamp};
use serde::{Deserialize, Serialize};

use super::bound::boot_aware_bound_seconds;
use super::ledger::{account, WorkerChange};
use super::policy::{needs_of, Policy, NODE_LIMIT};
use super::traffic::WeekConfig;

/// How a lablet was booked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BookingKind {
    /// Before the week began.
    Ahead,
    /// During the week, 0–30 minutes before its start.
    ShortNotice,
    /// During the week, on demand: its start is the engine's answer.
    OnDemand,
}

/// One booked lablet (not cancelled) and when it was first ready.
#[derive(Clone, Debug)]
pub(crate) struct LabletOutcome {
    pub start: Timestamp,
    pub end: Timestamp,
    pub definition: usize,
    pub ready_at: Option<Timestamp>,
    pub kind: BookingKind,
    /// When it was booked, for those booked during the week.
    pub booked_at: Option<Timestamp>,
}

impl LabletOutcome {
    fn on_time(&self) -> bool {
        self.ready_at.is_some_and(|ready| ready <= self.start)
    }
}

/// Everything the report is computed from.
#[derive(Clone, Debug)]
pub(crate) struct RunFacts {
    pub week_start: Timestamp,
    pub week_end: Timestamp,
    /// Each worker's changes in log order, by worker id.
    pub workers: BTreeMap<String, Vec<(Timestamp, WorkerChange)>>,
    pub instance_types: BTreeMap<String, String>,
    pub default_instance_type: String,
    pub lablets: Vec<LabletOutcome>,
    /// Bookings cancelled before their start (not in `lablets`).
    pub cancelled: usize,
    /// How long a started worker takes until it can host a lab (boot and CML).
    pub boot_seconds: i64,
    /// How long a lab takes to come up once imported (its nodes' boot).
    pub lab_ready_seconds: i64,
    /// When the engine's lead was first learned (checked hourly).
    pub lead_learned_at: Option<Timestamp>,
}

/// Lablets that were not ready at their start.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Lateness {
    /// Lablets ready after their start.
    pub late: usize,
    /// Lablets never ready (expired or failed); not in `late`.
    pub never_ready: usize,
    /// Median lateness of the late lablets, minutes.
    pub p50_minutes: f64,
    /// 99th percentile lateness of the late lablets, minutes.
    pub p99_minutes: f64,
    /// Worst lateness, minutes.
    pub max_minutes: f64,
    /// Median of how long before its start an on-time lablet was ready, minutes:
    /// lead time that bought nothing once it passes a few minutes.
    pub early_p50_minutes: f64,
    /// Late lablets by the day of the week they start on (0: the first day);
    /// days after the last late one are left out.
    #[serde(default)]
    pub late_by_day: Vec<usize>,
    /// Late lablets whose lead window (the configured lead before their start)
    /// opened after the lead was learned: those the learned lead alone decided.
    #[serde(default)]
    pub late_after_learning: usize,
}

/// The bookings made during the week and how many were ready on time: the
/// share a warm pool buys. Counted from `from_day` on (the second week when
/// there is one, so the learned warm pool has a week of history).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ShortNoticeOutcome {
    /// First day counted (0: the first day of the run).
    pub from_day: u32,
    /// Short-notice bookings for a timeslot (not cancelled).
    pub booked: usize,
    /// Of those, ready by their start.
    pub on_time: usize,
    /// On-demand lablets (not cancelled).
    pub on_demand: usize,
    /// Of those, ready by the time the engine answered at booking.
    pub on_demand_on_time: usize,
    /// Median wait of an on-demand lablet from its booking to a ready lab,
    /// minutes (never-ready ones left out): what a warm pool shortens.
    pub on_demand_wait_p50_minutes: f64,
    /// 90th percentile of that wait, minutes.
    pub on_demand_wait_p90_minutes: f64,
    /// Bookings of any kind cancelled before their start, over the whole run.
    pub cancelled: usize,
}

impl ShortNoticeOutcome {
    /// Share of short-notice and on-demand lablets ready on time (1.0 when
    /// there were none).
    pub fn on_time_share(&self) -> f64 {
        let all = self.booked + self.on_demand;
        if all == 0 {
            return 1.0;
        }
        (self.on_time + self.on_demand_on_time) as f64 / all as f64
    }
}

fn short_notice_outcome(facts: &RunFacts, days: u32) -> ShortNoticeOutcome {
    let from_day = if days > 7 { 7 } else { 0 };
    let counted_from = plus_seconds(facts.week_start, i64::from(from_day) * 86_400);
    let mut outcome = ShortNoticeOutcome {
        from_day,
        cancelled: facts.cancelled,
        ..ShortNoticeOutcome::default()
    };
    let mut waits = Vec::new();
    for lablet in facts.lablets.iter().filter(|l| l.start >= counted_from) {
        match lablet.kind {
            BookingKind::Ahead => {}
            BookingKind::ShortNotice => {
                outcome.booked += 1;
                outcome.on_time += usize::from(lablet.on_time());
            }
            BookingKind::OnDemand => {
                outcome.on_demand += 1;
                outcome.on_demand_on_time += usize::from(lablet.on_time());
                if let (Some(booked), Some(ready)) = (lablet.booked_at, lablet.ready_at) {
                    waits.push(seconds_between(booked, ready) as f64 / 60.0);
                }
            }
        }
    }
    waits.sort_by(f64::total_cmp);
    outcome.on_demand_wait_p50_minutes = percentile(&waits, 50.0);
    outcome.on_demand_wait_p90_minutes = percentile(&waits, 90.0);
    outcome
}

/// Workers billing at one instant of the week.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelinePoint {
    /// Minutes since the week started.
    pub minute: i64,
    /// Workers billing compute.
    pub workers: u32,
    /// Workers the lablets running then need at the least (packing lower bound).
    pub needed: u32,
}

/// The outcome of one policy over the week.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeekReport {
    /// The policy.
    pub policy: Policy,
    /// Seed of traffic and simulator.
    pub seed: u64,
    /// Days simulated.
    pub days: u32,
    /// Lablets booked.
    pub lablets: usize,
    /// Distinct workers that billed during the week.
    pub workers_used: usize,
    /// Most workers billing at once.
    pub peak_workers: u32,
    /// Worker-hours billed within the week.
    pub worker_hours: f64,
    /// Of those, hours spent booting (EC2 `pending`).
    pub boot_hours: f64,
    /// Of those, hours running with no lablet allocated (neither reserved nor
    /// running): what scale-down could still save.
    pub idle_hours: f64,
    /// Workers started or launched during the week.
    pub starts: u32,
    /// Their cost at the price table's on-demand prices, USD.
    pub cost_usd: f64,
    /// Lablet demand (resource-hours over one worker's capacity, tightest
    /// dimension): worker-hours no fleet can go below.
    pub lower_bound_worker_hours: f64,
    /// The lower bound's cost, USD.
    pub lower_bound_cost_usd: f64,
    /// What a fleet that is never late must bill at the least: at each instant
    /// the lablets holding capacity (from their lab's import, a node boot before
    /// the start, to their end) in whole workers, plus a boot (or the idle gap
    /// since that worker was last needed, when shorter) before each rise. The
    /// gap between the plain bound and this one is what no policy can close.
    pub boot_aware_lower_bound_worker_hours: f64,
    /// Lateness of lablets.
    pub lateness: Lateness,
    /// The bookings made during the week (none in the default week).
    #[serde(default)]
    pub short_notice: ShortNoticeOutcome,
    /// The lead time in force at the end of the week, seconds.
    pub lead_seconds: u32,
    /// Whether that lead was learned from the week's boots and lab imports.
    pub lead_learned: bool,
    /// Workers over the week, every 10 minutes.
    pub timeline: Vec<TimelinePoint>,
}

impl WeekReport {
    /// Worker-hours over the lower bound (1.0 would be perfect packing, no boot time).
    pub fn ratio_to_lower_bound(&self) -> f64 {
        self.worker_hours / self.lower_bound_worker_hours.max(1e-9)
    }

    /// Worker-hours over the boot-aware lower bound.
    pub fn ratio_to_boot_aware_bound(&self) -> f64 {
        self.worker_hours / self.boot_aware_lower_bound_worker_hours.max(1e-9)
    }
}

pub(crate) const TIMELINE_STEP_SECONDS: i64 = 600;

/// Per-worker capacity along cpu, memory, disk and nodes.
fn capacity(settings: &FleetSettings) -> [f64; 4] {
    let declared = ccm_core::fleet::settings::capacity_for(
        &settings.instance_types,
        &settings.launch.instance_type,
    )
    .declared;
    [
        declared.cpu_millis as f64,
        declared.memory_mib as f64,
        declared.storage_gib as f64,
        f64::from(NODE_LIMIT),
    ]
}

fn demand(config: &WeekConfig, definition: usize) -> [f64; 4] {
    let needs = needs_of(config, definition);
    [
        needs.resources.cpu_millis as f64,
        needs.resources.memory_mib as f64,
        needs.resources.storage_gib as f64,
        f64::from(needs.nodes),
    ]
}

/// Workers' worth of `total` demand: the tightest dimension.
fn worker_equivalents(total: [f64; 4], per_worker: [f64; 4]) -> f64 {
    total
        .iter()
        .zip(per_worker)
        .filter(|(_, cap)| *cap > 0.0)
        .map(|(sum, cap)| sum / cap)
        .fold(0.0, f64::max)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn lateness(
    lablets: &[LabletOutcome],
    week_start: Timestamp,
    window_opens_after: impl Fn(Timestamp) -> bool,
) -> Lateness {
    let mut late_after_learning = 0;
    let mut late_by_day: Vec<usize> = Vec::new();
    let mut minutes: Vec<f64> = Vec::new();
    let mut early: Vec<f64> = Vec::new();
    let mut never_ready = 0;
    for lablet in lablets {
        match lablet.ready_at {
            Some(ready) if ready > lablet.start => {
                let day = seconds_between(week_start, lablet.start).max(0) / 86_400;
                let day = usize::try_from(day).unwrap_or(0);
                if late_by_day.len() <= day {
                    late_by_day.resize(day + 1, 0);
                }
                late_by_day[day] += 1;
                if window_opens_after(lablet.start) {
                    late_after_learning += 1;
                }
                minutes.push(seconds_between(lablet.start, ready) as f64 / 60.0)
            }
            Some(ready) => early.push(seconds_between(ready, lablet.start) as f64 / 60.0),
            None => never_ready += 1,
        }
    }
    minutes.sort_by(f64::total_cmp);
    early.sort_by(f64::total_cmp);
    Lateness {
        late: minutes.len(),
        never_ready,
        p50_minutes: percentile(&minutes, 50.0),
        p99_minutes: percentile(&minutes, 99.0),
        max_minutes: minutes.last().copied().unwrap_or(0.0),
        early_p50_minutes: percentile(&early, 50.0),
        late_by_day,
        late_after_learning,
    }
}

/// The report of one run.
pub(crate) fn build_report(
    config: &WeekConfig,
    policy: Policy,
    settings: &FleetSettings,
    facts: &RunFacts,
) -> WeekReport {
    let (start, end) = (facts.week_start, facts.week_end);
    let price_of = |kind: &str| {
        settings
            .instance_types
            .types
            .iter()
            .find(|t| t.name == kind)
            .map_or(0.0, |t| t.hourly_usd)
    };
    // Whole seconds per instance type: sums in any worker order give one answer
    // (worker ids are random, so float sums in id order would not).
    let mut billed_seconds: BTreeMap<&str, i64> = BTreeMap::new();
    let (mut boot_seconds, mut idle_seconds, mut starts) = (0i64, 0i64, 0u32);
    let mut workers_used = 0usize;
    let mut clipped: Vec<(Timestamp, Timestamp)> = Vec::new();
    let mut changes: Vec<(Timestamp, i32)> = Vec::new();
    for (worker, history) in &facts.workers {
        let ledger = account(history, start, end);
        if ledger.billed.is_empty() {
            continue;
        }
        workers_used += 1;
        boot_seconds += ledger.boot_seconds;
        idle_seconds += ledger.idle_seconds;
        starts += ledger.starts;
        let kind = facts
            .instance_types
            .get(worker)
            .unwrap_or(&facts.default_instance_type);
        for (from, to) in ledger.billed {
            *billed_seconds.entry(kind.as_str()).or_default() += seconds_between(from, to);
            changes.push((from, 1));
            changes.push((to, -1));
            clipped.push((from, to));
        }
    }
    // At one instant, stops count before starts: a worker handing over is not two.
    changes.sort();
    let mut running = 0i32;
    let mut peak = 0i32;
    for (_, delta) in &changes {
        running += delta;
        peak = peak.max(running);
    }

    let per_worker = capacity(settings);
    let mut total = [0.0f64; 4];
    for lablet in &facts.lablets {
        let seconds = seconds_between(lablet.start, lablet.end) as f64;
        for (sum, need) in total.iter_mut().zip(demand(config, lablet.definition)) {
            *sum += need * seconds;
        }
    }
    let lower_bound_worker_hours = worker_equivalents(total, per_worker) / 3600.0;
    let intervals: Vec<(Timestamp, Timestamp, [f64; 4])> = facts
        .lablets
        .iter()
        .map(|l| {
            let imported = plus_seconds(l.start, -facts.lab_ready_seconds);
            (imported, l.end, demand(config, l.definition))
        })
        .collect();
    let bound = boot_aware_bound_seconds(&intervals, facts.boot_seconds, |now| {
        worker_equivalents(now, per_worker).ceil() as usize
    });
    let boot_aware_lower_bound_worker_hours = bound as f64 / 3600.0;
    let worker_hours = billed_seconds.values().sum::<i64>() as f64 / 3600.0;
    let cost_usd = billed_seconds
        .iter()
        .map(|(kind, seconds)| *seconds as f64 / 3600.0 * price_of(kind))
        .sum::<f64>();
    let default_price = price_of(&facts.default_instance_type);

    let mut timeline = Vec::new();
    let mut at = start;
    while at < end {
        let billing = clipped
            .iter()
            .filter(|(from, to)| *from <= at && at < *to)
            .count();
        let mut now = [0.0f64; 4];
        for lablet in facts.lablets.iter().filter(|l| l.start <= at && at < l.end) {
            for (sum, need) in now.iter_mut().zip(demand(config, lablet.definition)) {
                *sum += need;
            }
        }
        timeline.push(TimelinePoint {
            minute: seconds_between(start, at) / 60,
            workers: u32::try_from(billing).unwrap_or(u32::MAX),
            needed: worker_equivalents(now, per_worker).ceil() as u32,
        });
        at = plus_seconds(at, TIMELINE_STEP_SECONDS);
    }

    WeekReport {
        policy,
        seed: config.seed,
        days: config.days,
        lablets: facts.lablets.len(),
        workers_used,
        peak_workers: u32::try_from(peak.max(0)).unwrap_or(0),
        worker_hours,
        boot_hours: boot_seconds as f64 / 3600.0,
        idle_hours: idle_seconds as f64 / 3600.0,
        starts,
        cost_usd,
        lower_bound_worker_hours,
        lower_bound_cost_usd: lower_bound_worker_hours * default_price,
        boot_aware_lower_bound_worker_hours,
        lateness: lateness(&facts.lablets, facts.week_start, |start| {
            let configured = i64::from(settings.lablets.lead_time_seconds);
            facts
                .lead_learned_at
                .is_some_and(|learned| plus_seconds(start, -configured) >= learned)
        }),
        short_notice: short_notice_outcome(facts, config.days),
        lead_seconds: settings.lablets.lead_time_seconds,
        lead_learned: false,
        timeline,
    }
}

/// The reports side by side as a markdown table.
pub fn markdown_table(reports: &[WeekReport]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| policy | worker-hours | of which booting / idle | cost (USD) | × lower bound | × boot-aware bound | peak workers | workers used | starts | late lablets | late p50 / p99 / max (min) | never ready | on-time ready early, p50 (min) |"
    );
    let _ = writeln!(out, "|---|{}", "---:|".repeat(12));
    for r in reports {
        let l = &r.lateness;
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} / {:.1} | {:.0} | {:.2} | {:.2} | {} | {} | {} | {} of {} | {:.1} / {:.1} / {:.1} | {} | {:.1} |",
            r.policy.as_str(),
            r.worker_hours,
            r.boot_hours,
            r.idle_hours,
            r.cost_usd,
            r.ratio_to_lower_bound(),
            r.ratio_to_boot_aware_bound(),
            r.peak_workers,
            r.workers_used,
            r.starts,
            l.late,
            r.lablets,
            l.p50_minutes,
            l.p99_minutes,
            l.max_minutes,
            l.never_ready,
            l.early_p50_minutes,
        );
    }
    if let Some(first) = reports.first() {
        let _ = writeln!(
            out,
            "| lower bound | {:.1} | | {:.0} | 1.00 | | | | | | | | |",
            first.lower_bound_worker_hours, first.lower_bound_cost_usd
        );
        let boot_aware = first.boot_aware_lower_bound_worker_hours;
        let _ = writeln!(
            out,
            "| boot-aware lower bound | {:.1} | | {:.0} | {:.2} | 1.00 | | | | | | | |",
            boot_aware,
            first.lower_bound_cost_usd / first.lower_bound_worker_hours.max(1e-9) * boot_aware,
            boot_aware / first.lower_bound_worker_hours.max(1e-9)
        );
    }
    out
}

/// The short-notice weeks side by side: what each policy bills, how many
/// bookings made during the week were ready on time, and what the warm pool
/// costs over the autoscaler without it (the first report of that policy).
pub fn short_notice_table(reports: &[WeekReport]) -> String {
    let mut out = String::new();
    let baseline = reports
        .iter()
        .find(|r| r.policy == Policy::Autoscaler)
        .map(|r| r.worker_hours);
    let _ = writeln!(
        out,
        "| policy | worker-hours | idle hours | cost (USD) | × boot-aware bound | short-notice on time | on-demand on time | on-demand wait p50 / p90 (min) | all on time | warm pool cost (worker-hours) |"
    );
    let _ = writeln!(out, "|---|{}", "---:|".repeat(9));
    for r in reports {
        let s = &r.short_notice;
        let all = r.lablets.max(1);
        let on_time = r
            .lablets
            .saturating_sub(r.lateness.late + r.lateness.never_ready);
        let extra = match (r.policy, baseline) {
            (Policy::AutoscalerWarmPool, Some(base)) => format!("{:+.1}", r.worker_hours - base),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.0} | {:.2} | {} of {} ({:.0} %) | {} of {} ({:.0} %) | {:.1} / {:.1} | {:.1} % | {} |",
            r.policy.as_str(),
            r.worker_hours,
            r.idle_hours,
            r.cost_usd,
            r.ratio_to_boot_aware_bound(),
            s.on_time,
            s.booked,
            100.0 * s.on_time as f64 / s.booked.max(1) as f64,
            s.on_demand_on_time,
            s.on_demand,
            100.0 * s.on_demand_on_time as f64 / s.on_demand.max(1) as f64,
            s.on_demand_wait_p50_minutes,
            s.on_demand_wait_p90_minutes,
            100.0 * on_time as f64 / all as f64,
            extra,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn the_tightest_dimension_sets_the_bound() {
        assert_eq!(
            worker_equivalents([96.0, 10.0, 0.0, 0.0], [48.0, 192.0, 0.0, 0.0]),
            2.0
        );
    }
}
