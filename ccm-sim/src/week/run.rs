//! Running a week: the simulator and the engine on one virtual clock, the
//! definitions and bookings, the policy's initial fleet, then the engine driven to
//! the end of the week; the report is read back from the event log.

use std::collections::BTreeMap;

use ccm_core::definition::{LabletDefinition, NewDefinition};
use ccm_core::event::EventPayload;
use ccm_core::fleet::{CreateWorker, Fleet, FleetSettings, OnDemandLablet};
use ccm_core::ids::{LabletId, Region};
use ccm_core::lablet::{Lablet, LabletPhase, NewLablet, Timeslot};
use ccm_core::ports::store::{ChangeSet, WorkerFilter};
use ccm_core::ports::{Clock, Store};
use ccm_core::store::MemoryStore;
use ccm_core::time::{from_unix_seconds, plus_seconds, Timestamp};
use ccm_core::version::SemVer;

use super::ledger::WorkerChange;
use super::policy::{always_on_size, needs_of, settings, Policy, NODE_LIMIT};
use super::report::{build_report, BookingKind, LabletOutcome, RunFacts, WeekReport};
use super::traffic::{generate, Booking, Traffic, WeekConfig};
use super::WeekError;
use crate::{SimConfig, SimEngine};

/// Monday 2025-03-03 00:00 UTC: the week starts on a Monday, after every
/// simulated image exists.
const WEEK_START_UNIX: i64 = 1_740_960_000;
/// The engine runs this long before the week so the always-on fleet is up when
/// it starts (a metal boot plus CML is about 25 minutes).
const WARM_UP_SECONDS: i64 = 2 * 3600;

fn topology(name: &str, nodes: u32) -> String {
    let mut yaml = format!("lab:\n  title: {name}\nnodes:\n");
    for n in 0..nodes {
        yaml.push_str(&format!(
            "  - id: n{n}\n    label: r{n}\n    node_definition: iosv\n"
        ));
    }
    yaml.push_str("links: []\n");
    yaml
}

async fn create_definitions(
    fleet: &Fleet,
    config: &WeekConfig,
) -> Result<Vec<LabletDefinition>, WeekError> {
    let mut out = Vec::new();
    for (index, shape) in config.definitions.iter().enumerate() {
        let mut needs = needs_of(config, index);
        needs.nodes = 0; // counted from the topology by the engine
        out.push(
            fleet
                .create_definition(NewDefinition {
                    name: shape.name.clone(),
                    version: SemVer::new(1, 0, 0),
                    topology_yaml: topology(&shape.name, shape.nodes),
                    needs,
                    licence_affinity: None,
                    min_cml_version: None,
                    max_duration_minutes: shape.max_minutes,
                    warm_pool_depth: 0,
                })
                .await?,
        );
    }
    Ok(out)
}

/// A lablet booked in the run.
struct Booked {
    id: LabletId,
    /// As booked (for an on-demand lablet, the estimate the engine answered).
    timeslot: Timeslot,
    definition: usize,
    kind: BookingKind,
    booked_at: Option<Timestamp>,
    cancelled: bool,
}

fn definition_of<'a>(
    definitions: &'a [LabletDefinition],
    booking: &Booking,
) -> Result<&'a LabletDefinition, WeekError> {
    definitions
        .get(booking.definition)
        .ok_or_else(|| WeekError::Config("booking of an unknown definition".into()))
}

fn timeslot_of(booking: &Booking, week_start: Timestamp) -> Timeslot {
    Timeslot {
        start: plus_seconds(week_start, booking.start_offset_seconds),
        end: plus_seconds(week_start, booking.end_offset_seconds()),
    }
}

/// Books every lablet booked before the week the way `Fleet::create_lablet`
/// does, but with ids derived from the booking index: the engine breaks
/// placement ties by lablet id, so random ids would make two runs of one seed
/// differ. (Bookings made during the week go through the engine's API; its
/// ids come from the simulation's seeded source.)
async fn book_ahead(
    fleet: &Fleet,
    store: &MemoryStore,
    traffic: &Traffic,
    definitions: &[LabletDefinition],
    week_start: Timestamp,
) -> Result<BTreeMap<usize, Booked>, WeekError> {
    let now = fleet.clock().now();
    let lead = i64::from(fleet.settings().lablets.lead_time_seconds);
    let mut booked = BTreeMap::new();
    for (index, booking) in traffic.bookings.iter().enumerate() {
        if booking.booked_offset_seconds.is_some() {
            continue;
        }
        let definition = definition_of(definitions, booking)?;
        let timeslot = timeslot_of(booking, week_start);
        let id = LabletId::from_u128(index as u128 + 1);
        let input = NewLablet {
            owner: booking.owner.clone(),
            timeslot,
            reservation_id: None,
            on_demand: false,
        };
        let (lablet, event) = Lablet::create(id, definition, input, now)?;
        store
            .commit(
                ChangeSet::new()
                    .put_lablet(lablet)
                    .events([event])
                    .identified_by(fleet.ids().as_ref()),
            )
            .await?;
        fleet.nudge_lablet_at(id, plus_seconds(timeslot.start, -lead).max(now));
        booked.insert(
            index,
            Booked {
                id,
                timeslot,
                definition: booking.definition,
                kind: BookingKind::Ahead,
                booked_at: None,
                cancelled: false,
            },
        );
    }
    Ok(booked)
}

/// Something a user does during the week, in the order they happen: bookings
/// before cancellations at one instant, then by booking index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum UserAction {
    Book,
    Cancel,
}

fn user_actions(traffic: &Traffic) -> Vec<(i64, UserAction, usize)> {
    let mut actions = Vec::new();
    for (index, booking) in traffic.bookings.iter().enumerate() {
        if let Some(at) = booking.booked_offset_seconds {
            actions.push((at, UserAction::Book, index));
        }
        if let Some(at) = booking.cancel_offset_seconds {
            actions.push((at, UserAction::Cancel, index));
        }
    }
    actions.sort_unstable();
    actions
}

/// Does what a user does: books through the engine's API (on-demand or for a
/// timeslot), or cancels what was booked.
async fn act(
    fleet: &Fleet,
    traffic: &Traffic,
    definitions: &[LabletDefinition],
    week_start: Timestamp,
    (action, index): (UserAction, usize),
    booked: &mut BTreeMap<usize, Booked>,
) -> Result<(), WeekError> {
    let booking = &traffic.bookings[index];
    match action {
        UserAction::Book => {
            let definition = definition_of(definitions, booking)?;
            let lablet = if booking.on_demand {
                let input = OnDemandLablet {
                    owner: booking.owner.clone(),
                    duration_minutes: booking.minutes,
                    reservation_id: None,
                };
                fleet.create_on_demand_lablet(definition.id, input).await?
            } else {
                let input = NewLablet {
                    owner: booking.owner.clone(),
                    timeslot: timeslot_of(booking, week_start),
                    reservation_id: None,
                    on_demand: false,
                };
                fleet.create_lablet(definition.id, input).await?
            };
            let kind = if booking.on_demand {
                BookingKind::OnDemand
            } else {
                BookingKind::ShortNotice
            };
            booked.insert(
                index,
                Booked {
                    id: lablet.id,
                    timeslot: lablet.spec.timeslot,
                    definition: booking.definition,
                    kind,
                    booked_at: Some(lablet.meta.created_at),
                    cancelled: false,
                },
            );
        }
        UserAction::Cancel => {
            if let Some(lablet) = booked.get_mut(&index) {
                fleet
                    .cancel_lablet(lablet.id, Some(booking.owner.clone()))
                    .await?;
                lablet.cancelled = true;
            }
        }
    }
    Ok(())
}

/// Launches the always-on fleet, spread over the regions, with idle detection off.
async fn launch_always_on(
    fleet: &Fleet,
    config: &WeekConfig,
    traffic: &Traffic,
    settings: &FleetSettings,
) -> Result<(), WeekError> {
    let capacity = ccm_core::fleet::settings::capacity_for(
        &settings.instance_types,
        &settings.launch.instance_type,
    )
    .declared;
    let size = always_on_size(
        config,
        traffic,
        capacity,
        i64::from(settings.lablets.lead_time_seconds),
    );
    let regions = &settings.autoscaler.regions;
    for n in 0..size {
        let region = regions
            .get(n % regions.len().max(1))
            .cloned()
            .unwrap_or_else(|| Region::new("us-east-1"));
        fleet
            .create_worker(CreateWorker {
                name: format!("always-on-{n:03}"),
                region,
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: true,
                created_by: Some("week".into()),
                image: None,
            })
            .await?;
    }
    Ok(())
}

/// Runs the week of `config` under `policy` and reports on it.
pub async fn run_week(config: &WeekConfig, policy: Policy) -> Result<WeekReport, WeekError> {
    config.validate()?;
    let week_start = from_unix_seconds(WEEK_START_UNIX);
    let week_end = plus_seconds(week_start, i64::from(config.days) * 86_400);
    let mut sim_config = SimConfig {
        start: plus_seconds(week_start, -WARM_UP_SECONDS),
        ..SimConfig::default()
    };
    sim_config.cml.licensed_at_launch = true;
    sim_config.cml.registered_node_limit = NODE_LIMIT;
    sim_config.delays.boot_jitter_seconds = i64::from(config.boot_jitter_seconds);
    let settings = settings(policy, config);
    let boot_seconds =
        sim_config.boot_seconds(&config.instance_type.name) + sim_config.cml.boot_seconds;
    let lab_ready_seconds = sim_config.cml.node_boot_seconds;
    let engine = SimEngine::start(config.seed, sim_config, settings.clone()).await?;
    let SimEngine {
        sim: _world,
        clock,
        store,
        fleet,
        runner,
    } = engine;
    let definitions = create_definitions(&fleet, config).await?;
    let traffic = generate(config)?;
    if policy == Policy::AlwaysOn {
        launch_always_on(&fleet, config, &traffic, &settings).await?;
    }
    let mut booked = book_ahead(&fleet, &store, &traffic, &definitions, week_start).await?;
    let actions = user_actions(&traffic);
    let mut next_action = 0;
    // Hour by hour, so a long week never holds one huge step, and to each
    // instant a user books or cancels.
    let mut until = clock.now();
    // When the lead was first learned (to the hour), for the lateness of the
    // lablets the learned lead alone decided.
    let mut learned_at = None;
    while until < week_end {
        let hour_later = plus_seconds(until, 3600).min(week_end);
        let action_at = actions
            .get(next_action)
            .map(|(offset, _, _)| plus_seconds(week_start, *offset).max(until));
        until = action_at.map_or(hour_later, |at| at.min(hour_later));
        fleet.run_until(&runner, None, &clock, until).await?;
        while let Some(&(offset, action, index)) = actions.get(next_action) {
            if plus_seconds(week_start, offset) > until {
                break;
            }
            act(
                &fleet,
                &traffic,
                &definitions,
                week_start,
                (action, index),
                &mut booked,
            )
            .await?;
            next_action += 1;
        }
        if learned_at.is_none() && fleet.lead_time().await?.estimates.iter().any(|e| e.learned) {
            learned_at = Some(until);
        }
    }
    let lead = fleet.lead_time().await?;
    let mut facts = collect_facts(&*store, &settings, &booked, week_start, week_end).await?;
    facts.boot_seconds = boot_seconds;
    facts.lab_ready_seconds = lab_ready_seconds;
    facts.lead_learned_at = learned_at;
    let mut report = build_report(config, policy, &settings, &facts);
    report.lead_seconds = lead.seconds;
    report.lead_learned = lead.estimates.iter().any(|e| e.learned);
    Ok(report)
}

/// Each worker's changes and each lablet's readiness, from the event log.
async fn collect_facts(
    store: &dyn Store,
    settings: &FleetSettings,
    booked: &BTreeMap<usize, Booked>,
    week_start: Timestamp,
    week_end: Timestamp,
) -> Result<RunFacts, WeekError> {
    let workers = store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await?;
    let types: BTreeMap<String, String> = workers
        .iter()
        .map(|w| (w.id.to_string(), w.instance_type.clone()))
        .collect();
    let mut ready_at: BTreeMap<String, Timestamp> = BTreeMap::new();
    let mut changes: BTreeMap<String, Vec<(Timestamp, WorkerChange)>> = BTreeMap::new();
    let mut after = 0u64;
    loop {
        let page = store.read_events(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.sequence;
        for stored in &page {
            let event = &stored.event;
            let subject = &event.subject.id;
            let change = match &event.payload {
                EventPayload::LabletPhaseChanged {
                    to: LabletPhase::Ready,
                    ..
                } => {
                    ready_at.entry(subject.clone()).or_insert(event.occurred_at);
                    continue;
                }
                EventPayload::WorkerStatusUpdated { to, .. } => WorkerChange::State(*to),
                EventPayload::WorkerCapacityAllocated { lablet, .. } => {
                    WorkerChange::Allocated(lablet.to_string())
                }
                EventPayload::WorkerCapacityReleased { lablet } => {
                    WorkerChange::Released(lablet.to_string())
                }
                _ => continue,
            };
            changes
                .entry(subject.clone())
                .or_default()
                .push((event.occurred_at, change));
        }
    }
    // A cancelled booking needs no lab: it is neither late nor demand.
    let lablets = booked
        .values()
        .filter(|b| !b.cancelled)
        .map(|b| LabletOutcome {
            start: b.timeslot.start,
            end: b.timeslot.end,
            definition: b.definition,
            ready_at: ready_at.get(&b.id.to_string()).copied(),
            kind: b.kind,
            booked_at: b.booked_at,
        })
        .collect();
    let cancelled = booked.values().filter(|b| b.cancelled).count();
    Ok(RunFacts {
        week_start,
        week_end,
        workers: changes,
        instance_types: types,
        default_instance_type: settings.launch.instance_type.clone(),
        lablets,
        cancelled,
        boot_seconds: 0,
        lab_ready_seconds: 0,
        lead_learned_at: None,
    })
}
