//! The capacity forecast (`GET /api/v1/capacity/forecast`): the workers the
//! bookings need over the next hours, the starts and stops that follow, and the
//! lead time (learned or configured) the engine works with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::Example;

/// Query of `GET /api/v1/capacity/forecast`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ForecastQuery {
    /// Hours ahead (1 to 168, default 48).
    #[param(minimum = 1, maximum = 168)]
    pub hours: Option<u32>,
    /// Minutes between steps (5 to 60, default 15).
    #[param(minimum = 5, maximum = 60)]
    pub step_minutes: Option<u32>,
}

impl ForecastQuery {
    /// Hours ahead when the query does not say.
    pub const DEFAULT_HOURS: u32 = 48;
    /// Minutes between steps when the query does not say.
    pub const DEFAULT_STEP_MINUTES: u32 = 15;

    /// The hours asked for, or the default.
    pub fn hours_or_default(&self) -> u32 {
        self.hours.unwrap_or(Self::DEFAULT_HOURS)
    }

    /// The step asked for, or the default.
    pub fn step_minutes_or_default(&self) -> u32 {
        self.step_minutes.unwrap_or(Self::DEFAULT_STEP_MINUTES)
    }
}

/// The lead of one region and instance type and what it rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadEstimate {
    /// The region.
    pub region: String,
    /// The instance type.
    pub instance_type: String,
    /// Seconds before a lablet's start the engine acts.
    pub seconds: u32,
    /// Learned from observed boots and lab imports (false: the configured lead,
    /// until enough were observed or with learning off).
    pub learned: bool,
    /// The boots are those of the instance type in every region (too few were
    /// observed in this one).
    pub from_other_regions: bool,
    /// The configured percentile of the observed boots (launch or start to CML
    /// available), seconds.
    pub boot_seconds: Option<u32>,
    /// Boots observed (the last 50 are kept).
    pub boot_samples: u32,
    /// The configured percentile of the observed lab imports, seconds.
    pub import_seconds: Option<u32>,
    /// Lab imports observed (the last 50 are kept).
    pub import_samples: u32,
}

/// The lead the scheduler and the autoscaler use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LeadTime {
    /// Seconds before a lablet's start it is placed and its worker started: the
    /// longest estimate.
    pub seconds: u32,
    /// One estimate per region the autoscaler launches in (empty when it
    /// launches nowhere: `seconds` is then the configured lead).
    pub estimates: Vec<LeadEstimate>,
}

/// One step of the forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ForecastStep {
    /// The instant.
    pub at: DateTime<Utc>,
    /// Lablets holding capacity then (from their start minus the lead to their end).
    pub lablets: u32,
    /// Short-notice lablets the learned warm pool expects then, not booked yet
    /// (0 when `autoscaler.learn_warm_pool` is off).
    #[serde(default)]
    pub expected_lablets: u32,
    /// Workers the lablets and the expected ones need, sized as a scale-up
    /// sizes them (cheapest types of the price table).
    pub workers_needed: u64,
    /// Hourly price of those workers, USD.
    pub hourly_usd: f64,
    /// Workers to start or launch by this step.
    pub starts: u64,
    /// Workers that may stop after this step (after the drain grace).
    pub stops: u64,
    /// Lablets no instance type of the price table can take.
    pub unfittable: u32,
}

/// The capacity forecast.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CapacityForecast {
    /// When it was computed: the first step.
    pub generated_at: DateTime<Utc>,
    /// Seconds between steps.
    pub step_seconds: u32,
    /// The lead it assumes.
    pub lead: LeadTime,
    /// Workers running or coming now (booting, or asked to start), not draining.
    pub workers_now: u64,
    /// The steps.
    pub steps: Vec<ForecastStep>,
    /// More lablets fall in the window than one forecast reads (20,000), or a
    /// past week the learned warm pool reads held more than that: only the
    /// first by start were counted.
    pub partial: bool,
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl From<&ccm_core::fleet::LeadEstimate> for LeadEstimate {
    fn from(e: &ccm_core::fleet::LeadEstimate) -> Self {
        Self {
            region: e.region.as_str().to_owned(),
            instance_type: e.instance_type.clone(),
            seconds: e.seconds,
            learned: e.learned,
            from_other_regions: e.from_other_regions,
            boot_seconds: e.boot_seconds,
            boot_samples: count(e.boot_samples),
            import_seconds: e.import_seconds,
            import_samples: count(e.import_samples),
        }
    }
}

impl From<&ccm_core::fleet::LeadTime> for LeadTime {
    fn from(lead: &ccm_core::fleet::LeadTime) -> Self {
        Self {
            seconds: lead.seconds,
            estimates: lead.estimates.iter().map(LeadEstimate::from).collect(),
        }
    }
}

impl From<&ccm_core::fleet::CapacityForecast> for CapacityForecast {
    fn from(f: &ccm_core::fleet::CapacityForecast) -> Self {
        Self {
            generated_at: f.generated_at,
            step_seconds: f.step_seconds,
            lead: LeadTime::from(&f.lead),
            workers_now: f.workers_now,
            steps: f
                .steps
                .iter()
                .map(|s| ForecastStep {
                    at: s.at,
                    lablets: count(s.lablets),
                    expected_lablets: count(s.expected_lablets),
                    workers_needed: s.workers_needed,
                    hourly_usd: s.hourly_usd,
                    starts: s.starts,
                    stops: s.stops,
                    unfittable: count(s.unfittable),
                })
                .collect(),
            partial: f.partial,
        }
    }
}

impl Example for LeadEstimate {
    fn example() -> Self {
        Self {
            region: "eu-west-1".into(),
            instance_type: "m5zn.metal".into(),
            seconds: 1_860,
            learned: true,
            from_other_regions: false,
            boot_seconds: Some(1_500),
            boot_samples: 23,
            import_seconds: Some(120),
            import_samples: 50,
        }
    }
}

impl Example for LeadTime {
    fn example() -> Self {
        Self {
            seconds: 1_860,
            estimates: vec![LeadEstimate::example()],
        }
    }
}

impl Example for ForecastStep {
    fn example() -> Self {
        Self {
            at: DateTime::from_timestamp(1_780_300_800, 0).unwrap_or_default(),
            lablets: 34,
            expected_lablets: 4,
            workers_needed: 3,
            hourly_usd: 11.89,
            starts: 2,
            stops: 0,
            unfittable: 0,
        }
    }
}

impl Example for CapacityForecast {
    fn example() -> Self {
        let step = ForecastStep::example();
        let later = ForecastStep {
            at: step.at + chrono::Duration::minutes(15),
            starts: 0,
            ..step.clone()
        };
        Self {
            generated_at: step.at,
            step_seconds: 900,
            lead: LeadTime::example(),
            workers_now: 1,
            steps: vec![step, later],
            partial: false,
        }
    }
}
