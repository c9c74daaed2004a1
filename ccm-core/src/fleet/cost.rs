//! [`Fleet::cost_report`]: what the fleet costs now, today and this week, by
//! region and instance type, and what it saves against keeping the same
//! workers always on. Read from the workers' billing ledgers
//! ([`crate::worker::BillingLedger`]) at the price table's on-demand prices, so
//! every process answers alike and a restart loses nothing.
//!
//! Windows are UTC: today from midnight, this week from Monday's midnight. The
//! always-on reference bills every worker not terminated now for the whole
//! window (a worker created within it from its creation).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveTime};

use super::Fleet;
use crate::error::CoreError;
use crate::ids::Region;
use crate::placement::PriceTable;
use crate::ports::store::WorkerFilter;
use crate::time::{seconds_between, Timestamp};
use crate::worker::{LifecycleState, Worker};

/// Cost over one window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CostWindow {
    /// Where the window begins (a UTC midnight).
    pub from: Timestamp,
    /// Billed worker-hours.
    pub worker_hours: f64,
    /// Their cost, USD.
    pub usd: f64,
    /// What the same workers would have cost always on, USD.
    pub always_on_usd: f64,
}

impl CostWindow {
    /// Always-on cost less the actual cost, USD.
    pub fn saving_usd(&self) -> f64 {
        self.always_on_usd - self.usd
    }

    fn add(&mut self, billed_seconds: u64, always_on_seconds: i64, hourly_usd: f64) {
        let hours = billed_seconds as f64 / 3600.0;
        self.worker_hours += hours;
        self.usd += hours * hourly_usd;
        self.always_on_usd += always_on_seconds.max(0) as f64 / 3600.0 * hourly_usd;
    }
}

/// The cost of the workers of one region and instance type.
#[derive(Clone, Debug, PartialEq)]
pub struct CostGroup {
    /// The region.
    pub region: Region,
    /// The instance type.
    pub instance_type: String,
    /// Its on-demand price, USD per hour (`None`: not in the price table, counted as 0).
    pub hourly_usd: Option<f64>,
    /// Workers billing now.
    pub billing_workers: u32,
    /// Cost per hour now, USD.
    pub burn_rate_usd_per_hour: f64,
    /// Today.
    pub today: CostWindow,
    /// This week.
    pub week: CostWindow,
}

/// What [`Fleet::cost_report`] answers.
#[derive(Clone, Debug, PartialEq)]
pub struct CostReport {
    /// When it was computed.
    pub generated_at: Timestamp,
    /// Workers billing now.
    pub billing_workers: u32,
    /// Cost per hour now, USD.
    pub burn_rate_usd_per_hour: f64,
    /// Today, all groups.
    pub today: CostWindow,
    /// This week, all groups.
    pub week: CostWindow,
    /// By region and instance type.
    pub groups: Vec<CostGroup>,
}

fn midnight(t: Timestamp) -> Timestamp {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

fn window(from: Timestamp) -> CostWindow {
    CostWindow {
        from,
        ..CostWindow::default()
    }
}

impl Fleet {
    /// The fleet's cost now, today and this week (UTC), by region and instance
    /// type, with the saving against always-on. Reads only.
    pub async fn cost_report(&self) -> Result<CostReport, CoreError> {
        let workers = self
            .context
            .store
            .list_workers(&WorkerFilter {
                include_terminated: true,
                ..WorkerFilter::default()
            })
            .await?;
        Ok(CostReport::of(
            &workers,
            &self.settings().instance_types,
            self.context.now(),
        ))
    }
}

impl CostReport {
    /// The cost of `workers` (terminated ones included, for what they billed)
    /// at `prices`, as of `now`.
    pub fn of(workers: &[Worker], prices: &PriceTable, now: Timestamp) -> CostReport {
        let today = midnight(now);
        let monday = today - Duration::days(i64::from(now.weekday().num_days_from_monday()));
        let mut groups: BTreeMap<(Region, String), CostGroup> = BTreeMap::new();
        for worker in workers {
            let hourly = prices
                .types
                .iter()
                .find(|t| t.name == worker.instance_type)
                .map(|t| t.hourly_usd);
            let group = groups
                .entry((worker.region.clone(), worker.instance_type.clone()))
                .or_insert_with(|| CostGroup {
                    region: worker.region.clone(),
                    instance_type: worker.instance_type.clone(),
                    hourly_usd: hourly,
                    billing_workers: 0,
                    burn_rate_usd_per_hour: 0.0,
                    today: window(today),
                    week: window(monday),
                });
            let price = hourly.unwrap_or(0.0);
            let mut billing = worker.status.billing.clone();
            if billing.billing_since.is_none() && worker.status.lifecycle.bills_compute() {
                // A record written before workers kept their billed time: it
                // bills since its last transition as far as ccm can tell.
                billing.billing_since = worker.status.transitioned_at.or(Some(now));
            }
            if billing.billing_since.is_some() {
                group.billing_workers += 1;
                group.burn_rate_usd_per_hour += price;
            }
            let existing = worker.status.lifecycle != LifecycleState::Terminated;
            let always_on = |from: Timestamp| {
                if existing {
                    seconds_between(worker.meta.created_at.max(from), now)
                } else {
                    0
                }
            };
            group
                .today
                .add(billing.billed_since(today, now), always_on(today), price);
            group
                .week
                .add(billing.billed_since(monday, now), always_on(monday), price);
        }
        let groups: Vec<CostGroup> = groups
            .into_values()
            .filter(|g| {
                g.week.worker_hours > 0.0 || g.week.always_on_usd > 0.0 || g.billing_workers > 0
            })
            .collect();
        let mut report = CostReport {
            generated_at: now,
            billing_workers: 0,
            burn_rate_usd_per_hour: 0.0,
            today: window(today),
            week: window(monday),
            groups: Vec::new(),
        };
        for g in &groups {
            report.billing_workers += g.billing_workers;
            report.burn_rate_usd_per_hour += g.burn_rate_usd_per_hour;
            for (total, part) in [(&mut report.today, &g.today), (&mut report.week, &g.week)] {
                total.worker_hours += part.worker_hours;
                total.usd += part.usd;
                total.always_on_usd += part.always_on_usd;
            }
        }
        report.groups = groups;
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::WorkerId;
    use crate::time::{from_unix_seconds, plus_seconds};
    use crate::worker::NewWorker;

    /// Wednesday 2025-12-03 10:00 UTC.
    fn now() -> Timestamp {
        from_unix_seconds(1_764_756_000)
    }

    fn worker(n: u128, region: &str, created: Timestamp) -> Worker {
        let input = NewWorker {
            name: format!("w{n}"),
            region: Region::new(region),
            instance_type: "m5zn.metal".into(),
            capacity: crate::worker::Capacity::new(
                crate::resources::Resources::new(48, 192, 1000),
                100,
            ),
            tags: Default::default(),
            labels: Default::default(),
            idle: Default::default(),
            created_by: None,
            image: None,
        };
        Worker::create(WorkerId::from_u128(n), input, created).0
    }

    #[test]
    fn billed_time_is_priced_by_window_and_group_against_always_on() {
        let prices = PriceTable::default();
        let price = prices
            .types
            .iter()
            .find(|t| t.name == "m5zn.metal")
            .unwrap()
            .hourly_usd;
        // Monday 2025-12-01 00:00 UTC.
        let monday = from_unix_seconds(1_764_547_200);
        // Created Monday, billed Monday 9–11 and since today 08:00.
        let mut a = worker(1, "eu-west-1", monday);
        a.status
            .billing
            .transition(false, true, plus_seconds(monday, 9 * 3600));
        a.status
            .billing
            .transition(true, false, plus_seconds(monday, 11 * 3600));
        a.status
            .billing
            .transition(false, true, plus_seconds(now(), -2 * 3600));
        // A record from before billing was kept: running since 09:00 today.
        let mut b = worker(2, "us-east-1", monday);
        b.status.lifecycle = LifecycleState::Running;
        b.status.transitioned_at = Some(plus_seconds(now(), -3600));
        let report = CostReport::of(&[a, b], &prices, now());
        assert_eq!(report.billing_workers, 2);
        assert!((report.burn_rate_usd_per_hour - 2.0 * price).abs() < 1e-9);
        assert!((report.today.worker_hours - 3.0).abs() < 1e-9, "{report:?}");
        assert!((report.week.worker_hours - 5.0).abs() < 1e-9, "{report:?}");
        assert_eq!(report.week.from, monday);
        // Always on: both since Monday 00:00, 58 hours each.
        assert!((report.week.always_on_usd - 2.0 * 58.0 * price).abs() < 1e-6);
        assert!((report.week.saving_usd() - 111.0 * price).abs() < 1e-6);
        assert_eq!(report.groups.len(), 2);
        assert_eq!(report.groups[0].region.as_str(), "eu-west-1");
        assert!((report.groups[0].week.worker_hours - 4.0).abs() < 1e-9);
    }

    #[test]
    fn a_terminated_worker_keeps_what_it_billed_and_saves_nothing_more() {
        let prices = PriceTable::default();
        let mut gone = worker(3, "eu-west-1", plus_seconds(now(), -5 * 3600));
        gone.status
            .billing
            .transition(false, true, plus_seconds(now(), -5 * 3600));
        gone.status
            .billing
            .transition(true, false, plus_seconds(now(), -4 * 3600));
        gone.status.lifecycle = LifecycleState::Terminated;
        let report = CostReport::of(&[gone], &prices, now());
        assert_eq!(report.billing_workers, 0);
        assert!((report.today.worker_hours - 1.0).abs() < 1e-9);
        assert_eq!(report.today.always_on_usd, 0.0);
    }
}
