//! The fleet's cost (`GET /api/v1/cost`): the burn rate now, the cost of today
//! and of this week (UTC) by region and instance type, and the saving against
//! keeping the same workers always on.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Example;

/// Cost over one window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostWindow {
    /// Where the window begins: today's or this Monday's midnight, UTC.
    pub from: DateTime<Utc>,
    /// Billed worker-hours (an instance bills while pending, running or stopping).
    pub worker_hours: f64,
    /// Their cost at the price table's on-demand prices, USD.
    pub usd: f64,
    /// What the same workers would have cost always on over the window, USD.
    pub always_on_usd: f64,
    /// `always_on_usd` less `usd`.
    pub saving_usd: f64,
}

/// The cost of the workers of one region and instance type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostGroup {
    /// The region.
    pub region: String,
    /// The instance type.
    pub instance_type: String,
    /// Its on-demand price, USD per hour; `null` when the price table does not
    /// list it (its cost is then counted as 0).
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

/// The fleet's cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CostReport {
    /// When it was computed.
    pub generated_at: DateTime<Utc>,
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

/// Cents are what a bill shows; rounding keeps the JSON free of float noise.
fn cents(usd: f64) -> f64 {
    (usd * 100.0).round() / 100.0
}

impl From<&ccm_core::fleet::CostWindow> for CostWindow {
    fn from(w: &ccm_core::fleet::CostWindow) -> Self {
        Self {
            from: w.from,
            worker_hours: (w.worker_hours * 1000.0).round() / 1000.0,
            usd: cents(w.usd),
            always_on_usd: cents(w.always_on_usd),
            saving_usd: cents(w.saving_usd()),
        }
    }
}

impl From<&ccm_core::fleet::CostReport> for CostReport {
    fn from(r: &ccm_core::fleet::CostReport) -> Self {
        Self {
            generated_at: r.generated_at,
            billing_workers: r.billing_workers,
            burn_rate_usd_per_hour: cents(r.burn_rate_usd_per_hour),
            today: CostWindow::from(&r.today),
            week: CostWindow::from(&r.week),
            groups: r
                .groups
                .iter()
                .map(|g| CostGroup {
                    region: g.region.as_str().to_owned(),
                    instance_type: g.instance_type.clone(),
                    hourly_usd: g.hourly_usd,
                    billing_workers: g.billing_workers,
                    burn_rate_usd_per_hour: cents(g.burn_rate_usd_per_hour),
                    today: CostWindow::from(&g.today),
                    week: CostWindow::from(&g.week),
                })
                .collect(),
        }
    }
}

fn example_window(days: i64, worker_hours: f64, always_on_hours: f64) -> CostWindow {
    let now = DateTime::from_timestamp(1_780_300_800, 0).unwrap_or_default();
    let usd = cents(worker_hours * 3.9641);
    let always_on_usd = cents(always_on_hours * 3.9641);
    CostWindow {
        from: now - chrono::Duration::days(days),
        worker_hours,
        usd,
        always_on_usd,
        saving_usd: cents(always_on_usd - usd),
    }
}

impl Example for CostWindow {
    fn example() -> Self {
        example_window(0, 21.5, 72.0)
    }
}

impl Example for CostGroup {
    fn example() -> Self {
        Self {
            region: "eu-west-1".into(),
            instance_type: "m5zn.metal".into(),
            hourly_usd: Some(3.9641),
            billing_workers: 2,
            burn_rate_usd_per_hour: 7.93,
            today: CostWindow::example(),
            week: example_window(2, 88.0, 216.0),
        }
    }
}

impl Example for CostReport {
    fn example() -> Self {
        let group = CostGroup::example();
        Self {
            generated_at: DateTime::from_timestamp(1_780_300_800 + 15 * 3600, 0)
                .unwrap_or_default(),
            billing_workers: group.billing_workers,
            burn_rate_usd_per_hour: group.burn_rate_usd_per_hour,
            today: group.today.clone(),
            week: group.week.clone(),
            groups: vec![group],
        }
    }
}
