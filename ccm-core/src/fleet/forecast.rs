//! [`Fleet::capacity_forecast`]: the workers the bookings need over the next
//! hours, step by step, and the starts and stops that follow from it.
//!
//! A booked lablet holds capacity from its start minus the lead in force (the
//! learned one: that is when the scheduler reserves it and the autoscaler
//! starts its worker) to its end. At each step the lablets holding capacity
//! then are sized as the autoscaler sizes a scale-up
//! ([`suggest_scale_up`]: the cheapest workers of the price table's types that
//! take them all), which gives the workers needed and their hourly price. The
//! planned starts of a step are the rise of that count over the previous step
//! (over the workers running or coming now for the first), the stops its fall.
//! The active set changes only at starts and ends, so steps with the same set
//! share one sizing. With the learned warm pool on, each step also holds the
//! short-notice lablets it expects then (`fleet::warm_pool`), sized with the
//! booked ones: the workers the autoscaler will keep.

use std::collections::BTreeMap;

use super::warm_pool::WarmPool;
use super::waves::is_coming;
use super::{Fleet, LeadTime};
use crate::definition::LabletDefinition;
use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::ids::{DefinitionId, LabletId};
use crate::lablet::{Lablet, LabletPhase};
use crate::placement::{suggest_scale_up, PlacementRequest};
use crate::ports::store::{LabletFilter, WorkerFilter};
use crate::time::{plus_seconds, Timestamp};

/// Longest forecast, hours (a week).
pub const MAX_FORECAST_HOURS: u32 = 168;
/// Shortest and longest step, minutes.
pub const FORECAST_STEP_MINUTES: std::ops::RangeInclusive<u32> = 5..=60;
/// Most lablets one forecast reads; beyond it (or beyond what the warm pool
/// reads of one past week) the forecast says it is partial.
pub const MAX_FORECAST_LABLETS: usize = 20_000;

/// One step of a [`CapacityForecast`].
#[derive(Clone, Debug, PartialEq)]
pub struct ForecastStep {
    /// The instant.
    pub at: Timestamp,
    /// Lablets holding capacity then (from their start minus the lead to their end).
    pub lablets: usize,
    /// Short-notice lablets the learned warm pool expects then (0 when it is off).
    pub expected_lablets: usize,
    /// Workers those lablets and the expected ones need, sized as a scale-up
    /// would size them.
    pub workers_needed: u64,
    /// Hourly price of those workers, USD.
    pub hourly_usd: f64,
    /// Workers to start or launch by this step.
    pub starts: u64,
    /// Workers that may stop after this step (after the drain grace).
    pub stops: u64,
    /// Lablets no instance type in the price table can take.
    pub unfittable: usize,
}

/// What [`Fleet::capacity_forecast`] answers.
#[derive(Clone, Debug, PartialEq)]
pub struct CapacityForecast {
    /// When it was computed (the first step).
    pub generated_at: Timestamp,
    /// Seconds between steps.
    pub step_seconds: u32,
    /// The lead it assumed.
    pub lead: LeadTime,
    /// Workers running or coming (booting, asked to start) now, not draining.
    pub workers_now: u64,
    /// The steps, the first at `generated_at`.
    pub steps: Vec<ForecastStep>,
    /// More than [`MAX_FORECAST_LABLETS`] lablets fall in the window, or a past
    /// week of the learned warm pool held more than it reads: only the first
    /// ones (by start) were counted.
    pub partial: bool,
}

impl Fleet {
    /// The workers the bookings need over the next `hours` (1 to
    /// [`MAX_FORECAST_HOURS`]) in steps of `step_minutes` (5 to 60). Reads only.
    pub async fn capacity_forecast(
        &self,
        hours: u32,
        step_minutes: u32,
    ) -> Result<CapacityForecast, CoreError> {
        if !(1..=MAX_FORECAST_HOURS).contains(&hours) {
            return Err(DomainError::validation(
                "hours",
                format!("must be between 1 and {MAX_FORECAST_HOURS}"),
            )
            .into());
        }
        if !FORECAST_STEP_MINUTES.contains(&step_minutes) {
            return Err(DomainError::validation(
                "step_minutes",
                format!(
                    "must be between {} and {}",
                    FORECAST_STEP_MINUTES.start(),
                    FORECAST_STEP_MINUTES.end()
                ),
            )
            .into());
        }
        let now = self.context.now();
        let horizon = plus_seconds(now, i64::from(hours) * 3600);
        let lead = self.lead_times.current().await?;
        let lead_seconds = i64::from(lead.seconds);
        let settings = self.settings();
        let booked: Vec<Lablet> = self
            .context
            .store
            .list_lablets(&LabletFilter {
                starts_by: Some(plus_seconds(horizon, lead_seconds)),
                ..LabletFilter::default()
            })
            .await?
            .into_iter()
            .filter(|l| {
                !l.status.phase.is_finished()
                    && l.status.phase != LabletPhase::Stopping
                    && !l.spec.cancel_requested
                    && l.spec.timeslot.end > now
            })
            .collect();
        let partial = booked.len() > MAX_FORECAST_LABLETS;
        let mut definitions: BTreeMap<DefinitionId, Option<LabletDefinition>> = BTreeMap::new();
        let mut holding: Vec<(Timestamp, Timestamp, PlacementRequest)> = Vec::new();
        for lablet in booked.iter().take(MAX_FORECAST_LABLETS) {
            let id = lablet.spec.definition_id;
            let definition = match definitions.entry(id) {
                std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(self.context.store.get_definition(id).await?)
                }
            };
            // A lablet whose definition is gone cannot be placed; it needs nothing.
            let Some(definition) = definition else {
                continue;
            };
            let request = PlacementRequest::for_lablet(lablet, definition)?;
            let slot = &lablet.spec.timeslot;
            holding.push((plus_seconds(slot.start, -lead_seconds), slot.end, request));
        }
        let workers = self
            .context
            .store
            .list_workers(&WorkerFilter::default())
            .await?;
        let workers_now = workers
            .iter()
            .filter(|w| is_coming(w) && !w.spec.draining)
            .count() as u64;

        let history = WarmPool::new(self.context.clone())
            .history(now, horizon, lead.seconds)
            .await?;

        let step_seconds = step_minutes * 60;
        let mut steps = Vec::new();
        let mut previous = workers_now;
        // Workers, hourly price and unfittable lablets of the last set sized.
        type Sized = (u64, f64, usize);
        // The booked lablets holding capacity and the expected ones.
        type ActiveSet = (Vec<usize>, Vec<LabletId>);
        let mut last_active: Option<(ActiveSet, Sized)> = None;
        let mut at = now;
        while at < horizon {
            let active: Vec<usize> = holding
                .iter()
                .enumerate()
                .filter(|(_, (from, to, _))| *from <= at && at < *to)
                .map(|(i, _)| i)
                .collect();
            let expected = history.expected_at(at).requests;
            let set = (active, expected.iter().map(|r| r.lablet).collect());
            let (workers_needed, hourly_usd, unfittable) = match &last_active {
                Some((last, sized)) if *last == set => *sized,
                _ => {
                    let suggestion = suggest_scale_up(
                        set.0.iter().map(|i| &holding[*i].2).chain(&expected),
                        &settings.instance_types,
                        &settings.autoscaler.new_worker_profile,
                    );
                    let sized = (
                        suggestion.workers(),
                        suggestion.total_hourly_usd,
                        suggestion.unfittable.len(),
                    );
                    last_active = Some((set.clone(), sized));
                    sized
                }
            };
            steps.push(ForecastStep {
                at,
                lablets: set.0.len(),
                expected_lablets: expected.len(),
                workers_needed,
                hourly_usd,
                starts: workers_needed.saturating_sub(previous),
                stops: previous.saturating_sub(workers_needed),
                unfittable,
            });
            previous = workers_needed;
            at = plus_seconds(at, i64::from(step_seconds));
        }
        Ok(CapacityForecast {
            generated_at: now,
            step_seconds,
            lead,
            workers_now,
            steps,
            partial: partial || history.truncated,
        })
    }
}
