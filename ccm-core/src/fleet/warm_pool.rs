//! The learned warm pool: capacity kept up for the lablets that will be booked
//! too late for a worker to boot for them, sized from what the same hour of the
//! week brought in the weeks before (the way predictive scaling learns from the
//! last 14 days).
//!
//! A lablet booked at `t` whose start is within the lead of `t` (an on-demand
//! one always is) can only be served by a worker already up. So the demand a
//! warm pool must cover at `now` is what will be booked after `now` and start
//! before `now + lead`. Its history is exact and durable: in each of the last
//! `warm_pool_history_weeks` weeks, the lablets whose timeslot started in
//! `[now - k·week, now - k·week + lead]` and that were booked after
//! `now - k·week`. The store holds every lablet record, so any process reads
//! the same history, and a restart loses none of it. Arrivals are random within
//! the hour, so each week also offers the windows opening a quarter and a half
//! hour later (one store read per week covers all three).
//!
//! The busiest of those windows (the one needing the most new workers, then the
//! most lablets, then the latest week) is replayed into the present as
//! *expected* requests. The autoscaler places them with the lablets that are due: spare
//! room on running workers covers them first, and only the rest starts or
//! launches workers. Scale-down keeps what they need. Nothing is booked: they
//! are a forecast, gone from the next pass's view as the window moves on.
//!
//! Off by default (`autoscaler.learn_warm_pool`); the static per-definition
//! `warm_pool_depth` still applies on top.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::context::Context;
use super::lead_time::LeadTimes;
use crate::error::CoreError;
use crate::ids::DefinitionId;
use crate::placement::{suggest_scale_up, NewWorkerProfile, PlacementRequest, PriceTable};
use crate::ports::store::{DefinitionFilter, LabletFilter, PageRequest};
use crate::time::{plus_seconds, Timestamp};

/// Seconds in a week: the period the demand repeats with.
const WEEK_SECONDS: i64 = 7 * 86_400;
/// Most weeks of history read (each is one store read per pass).
pub const MAX_WARM_POOL_HISTORY_WEEKS: u32 = 8;
/// Arrivals at short notice are random within the hour: each week offers the
/// busiest lead-long window opening in the half hour from this instant, in
/// quarter-hour steps, so the pool covers the coming demand rather than one
/// draw of it. (Not earlier windows: what they held has been booked this week
/// already, and counts as due.)
const NEIGHBOURHOOD_SECONDS: i64 = 30 * 60;
const NEIGHBOURHOOD_STEP_SECONDS: i64 = 15 * 60;
/// Most lablets read from one past week (a forecast reads up to a week of
/// them): the pool of a huge fleet is bounded by the region caps anyway, and a
/// pass must stay cheap.
const MAX_HISTORY_LABLETS: usize = 20_000;

/// The short-notice demand the learned warm pool expects within the lead.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ExpectedDemand {
    /// The past week's lablets, replayed into the present (their ends shifted
    /// by the same weeks, for lifetime placement).
    pub(crate) requests: Vec<PlacementRequest>,
    /// Their starts, shifted into the present (for placement in waves).
    pub(crate) starts: Vec<Timestamp>,
    /// New workers they would need if nothing else were up.
    pub(crate) workers: u32,
    /// How many weeks back the replayed week is (0: nothing expected).
    pub(crate) weeks_back: u32,
}

impl ExpectedDemand {
    /// Why the autoscaler keeps capacity for this demand, for its events.
    pub(crate) fn reason(&self, lead_seconds: u32) -> String {
        format!(
            "warm pool: {} short-notice lablet(s) expected within {} min (as booked {} week(s) ago)",
            self.requests.len(),
            lead_seconds / 60,
            self.weeks_back
        )
    }
}

/// Reads the short-notice demand history.
#[derive(Clone)]
pub(crate) struct WarmPool {
    ctx: Arc<Context>,
    lead_times: LeadTimes,
}

impl WarmPool {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self {
            lead_times: LeadTimes::new(ctx.clone()),
            ctx,
        }
    }

    /// The static pool: the largest `warm_pool_depth` of the active
    /// definitions, in idle workers kept whatever the history says.
    pub(crate) async fn static_depth(&self) -> Result<u32, CoreError> {
        Ok(self
            .ctx
            .store
            .list_definitions(&DefinitionFilter {
                name: None,
                active_only: true,
            })
            .await?
            .iter()
            .map(|d| d.warm_pool_depth)
            .max()
            .unwrap_or(0))
    }

    /// Running workers idle pause leaves alone while the autoscaler is on: the
    /// static pool or the minimum, and what the learned pool expects now. They
    /// are idle by design; pausing them would only have the autoscaler start
    /// them again.
    pub(crate) async fn workers_to_keep(&self) -> Result<u32, CoreError> {
        let autoscaler = &self.ctx.settings.autoscaler;
        let mut keep = self
            .static_depth()
            .await?
            .max(autoscaler.min_running_workers);
        if autoscaler.learn_warm_pool {
            let lead = self.lead_times.current().await?.seconds;
            keep = keep.max(self.expected(self.ctx.now(), lead).await?.workers);
        }
        Ok(keep)
    }

    /// The demand expected between `now` and `now + lead_seconds` from lablets
    /// not booked yet; empty when the learned warm pool is off.
    pub(crate) async fn expected(
        &self,
        now: Timestamp,
        lead_seconds: u32,
    ) -> Result<ExpectedDemand, CoreError> {
        Ok(self.history(now, now, lead_seconds).await?.expected_at(now))
    }

    /// The past weeks' bookings that the expected demand of any instant from
    /// `from` to `to` is computed from: one store read per week. Empty when the
    /// learned warm pool is off.
    pub(crate) async fn history(
        &self,
        from: Timestamp,
        to: Timestamp,
        lead_seconds: u32,
    ) -> Result<DemandHistory, CoreError> {
        let settings = &self.ctx.settings;
        let lead = i64::from(lead_seconds);
        let mut history = DemandHistory {
            lead,
            weeks: Vec::new(),
            truncated: false,
            instance_types: settings.instance_types.clone(),
            profile: settings.autoscaler.new_worker_profile.clone(),
        };
        if !settings.autoscaler.learn_warm_pool {
            return Ok(history);
        }
        let weeks = settings
            .autoscaler
            .warm_pool_history_weeks
            .clamp(1, MAX_WARM_POOL_HISTORY_WEEKS);
        // Inactive definitions too: last week's lablets may be of one retired since.
        let definitions: BTreeMap<DefinitionId, _> = self
            .ctx
            .store
            .list_definitions(&DefinitionFilter {
                name: None,
                active_only: false,
            })
            .await?
            .into_iter()
            .map(|d| (d.id, d))
            .collect();
        for weeks_back in 1..=weeks {
            let shift = WEEK_SECONDS * i64::from(weeks_back);
            let span = LabletFilter {
                starts_from: Some(plus_seconds(from, -shift)),
                starts_by: Some(plus_seconds(to, NEIGHBOURHOOD_SECONDS + lead - shift)),
                ..LabletFilter::default()
            };
            let page = PageRequest {
                offset: 0,
                limit: MAX_HISTORY_LABLETS,
            };
            let listed = self.ctx.store.list_lablets_page(&span, page).await?;
            history.truncated |= listed.total > listed.items.len();
            let mut week = Vec::with_capacity(listed.items.len());
            // Listed by start: `expected_at` finds a window by bisection.
            for lablet in &listed.items {
                // A lablet of a definition deleted since cannot be replayed.
                let Some(definition) = definitions.get(&lablet.spec.definition_id) else {
                    continue;
                };
                week.push(PastBooking {
                    start: lablet.spec.timeslot.start,
                    booked: lablet.meta.created_at,
                    request: PlacementRequest::for_lablet(lablet, definition)?,
                });
            }
            history.weeks.push(week);
        }
        Ok(history)
    }
}

/// A lablet of a past week, as the warm pool replays it.
#[derive(Clone, Debug)]
struct PastBooking {
    start: Timestamp,
    booked: Timestamp,
    request: PlacementRequest,
}

/// The past weeks' bookings around a span of time, read once; the expected
/// demand of any instant in the span is computed from it without I/O.
#[derive(Clone, Debug)]
pub(crate) struct DemandHistory {
    lead: i64,
    /// One entry per week back (the first is last week), each by start.
    weeks: Vec<Vec<PastBooking>>,
    /// A week held more than [`MAX_HISTORY_LABLETS`]: only its first were read,
    /// so the later instants of the span may expect too little.
    pub(crate) truncated: bool,
    instance_types: PriceTable,
    profile: NewWorkerProfile,
}

impl DemandHistory {
    /// The demand expected from `now` to a lead later: the busiest window
    /// over the weeks and the window openings of the look-ahead.
    pub(crate) fn expected_at(&self, now: Timestamp) -> ExpectedDemand {
        let mut best = ExpectedDemand::default();
        for (weeks_back, week) in (1u32..).zip(&self.weeks) {
            let shift = WEEK_SECONDS * i64::from(weeks_back);
            let then = plus_seconds(now, -shift);
            let mut offset = 0;
            while offset <= NEIGHBOURHOOD_SECONDS {
                let opens = plus_seconds(then, offset);
                let closes = plus_seconds(opens, self.lead);
                let first = week.partition_point(|b| b.start < opens);
                let last = week.partition_point(|b| b.start <= closes);
                // The window is replayed so that its opening is now.
                let replay = shift - offset;
                let mut sample = ExpectedDemand {
                    weeks_back,
                    ..ExpectedDemand::default()
                };
                let booked_in_window = week
                    .get(first..last)
                    .unwrap_or_default()
                    .iter()
                    .filter(|b| b.booked > opens);
                for past in booked_in_window {
                    let mut request = past.request.clone();
                    request.ends_at = request.ends_at.map(|end| plus_seconds(end, replay));
                    sample.requests.push(request);
                    sample.starts.push(plus_seconds(past.start, replay));
                }
                let needed =
                    suggest_scale_up(&sample.requests, &self.instance_types, &self.profile)
                        .workers();
                sample.workers = u32::try_from(needed).unwrap_or(u32::MAX);
                // The busiest window wins; on a tie the more recent week and the
                // earlier window (already in `best`).
                if (sample.workers, sample.requests.len()) > (best.workers, best.requests.len()) {
                    best = sample;
                }
                offset += NEIGHBOURHOOD_STEP_SECONDS;
            }
        }
        best
    }
}
