//! The learned warm pool: capacity kept up for the short-notice bookings the
//! same hour of the week brought before. The history is the store's lablet
//! records, so a process that booked nothing (a new leader, a restart) reads it
//! the same; bookings made ahead of the window are not short-notice; and on the
//! simulator a week of the same short-notice traffic is served on time the
//! second time round, while idle pause leaves the warm worker running.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use ccm_core::definition::LabletDefinition;
use ccm_core::event::{EventPayload, ScalingAction};
use ccm_core::fleet::{Fleet, FleetSettings};
use ccm_core::lablet::{Lablet, LabletPhase, NewLablet, Timeslot};
use ccm_core::ports::{Clock, KeyValueStore, Store};
use ccm_core::store::MemoryKeyValueStore;
use ccm_core::time::{plus_seconds, Timestamp};
use ccm_core::worker::LifecycleState;
use support::{SharedWorld, SimWorld};

const WEEK: i64 = 7 * 86_400;
const MINUTE: i64 = 60;

fn learning(on: bool) -> FleetSettings {
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    settings.autoscaler.learn_warm_pool = on;
    // Late lablets wait to be measured rather than expire.
    settings.lablets.start_grace_seconds = 3 * 3600;
    settings
}

async fn definition(fleet: &Fleet) -> LabletDefinition {
    fleet.create_definition(support::ccna(0)).await.unwrap()
}

async fn book(fleet: &Fleet, definition: &LabletDefinition, start: Timestamp) -> Lablet {
    fleet
        .create_lablet(
            definition.id,
            NewLablet {
                owner: "student".into(),
                timeslot: Timeslot {
                    start,
                    end: plus_seconds(start, 60 * MINUTE),
                },
                reservation_id: None,
                on_demand: false,
            },
        )
        .await
        .unwrap()
}

fn scaling_reasons(events: &[ccm_core::event::StoredEvent]) -> Vec<(ScalingAction, String)> {
    events
        .iter()
        .filter_map(|e| match &e.event.payload {
            EventPayload::FleetScalingDecided { action, reason, .. } => {
                Some((*action, reason.clone()))
            }
            _ => None,
        })
        .collect()
}

/// One booking made well ahead and three at short notice, a week ago, by one
/// process; the pass a week later runs on another.
async fn last_week(w: &SharedWorld) -> Timestamp {
    let booking = w.process(learning(true), Arc::new(MemoryKeyValueStore::new()));
    let definition = definition(&booking).await;
    let t0 = w.clock.now();
    book(&booking, &definition, plus_seconds(t0, 40 * MINUTE)).await;
    w.clock.advance_seconds(20 * MINUTE);
    for _ in 0..3 {
        book(&booking, &definition, plus_seconds(t0, 25 * MINUTE)).await;
    }
    // A week later, ten minutes past the first booking: the window of the
    // lead (35 minutes) holds all four starts.
    w.clock.advance_seconds(WEEK + 10 * MINUTE - 20 * MINUTE);
    t0
}

#[tokio::test]
async fn another_process_keeps_room_for_last_weeks_short_notice_bookings_and_says_why() {
    let w = SharedWorld::new(11);
    last_week(&w).await;
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
    let leader = w.process(learning(true), kv);
    let report = leader.autoscale(None).await.unwrap();
    assert_eq!(report.launched.len(), 1, "{report:?}");
    let events = w.store.read_events(0, usize::MAX).await.unwrap();
    let reasons = scaling_reasons(&events);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].0, ScalingAction::Launch);
    // Three, not four: the booking made ahead of the window is not short-notice.
    assert!(
        reasons[0].1.contains(
            "warm pool: 3 short-notice lablet(s) expected within 35 min (as booked 1 week(s) ago)"
        ),
        "{}",
        reasons[0].1
    );
}

#[tokio::test]
async fn with_the_learned_warm_pool_off_the_same_history_launches_nothing() {
    let w = SharedWorld::new(11);
    last_week(&w).await;
    let leader = w.process(learning(false), Arc::new(MemoryKeyValueStore::new()));
    let forecast = leader.capacity_forecast(1, 15).await.unwrap();
    assert!(forecast.steps.iter().all(|s| s.expected_lablets == 0));
    let report = leader.autoscale(None).await.unwrap();
    assert!(report.launched.is_empty(), "{report:?}");
}

#[tokio::test]
async fn the_capacity_forecast_counts_the_expected_lablets_in_the_workers_it_plans() {
    let w = SharedWorld::new(11);
    last_week(&w).await;
    let fleet = w.process(learning(true), Arc::new(MemoryKeyValueStore::new()));
    let forecast = fleet.capacity_forecast(2, 15).await.unwrap();
    let first = &forecast.steps[0];
    assert_eq!((first.lablets, first.expected_lablets), (0, 3), "{first:?}");
    assert_eq!(first.workers_needed, 1);
    assert_eq!(first.starts, 1, "nothing runs yet: the pool is a start");
    // Last week's bookings are in the past of the window a quarter hour on.
    let later = &forecast.steps[1];
    assert_eq!(
        (later.expected_lablets, later.workers_needed),
        (0, 0),
        "{later:?}"
    );
}

#[tokio::test]
async fn history_older_than_the_weeks_read_is_not_replayed() {
    let w = SharedWorld::new(11);
    last_week(&w).await;
    // Two more weeks on: the bookings are three weeks old, and two are read.
    w.clock.advance_seconds(2 * WEEK);
    let leader = w.process(learning(true), Arc::new(MemoryKeyValueStore::new()));
    assert!(leader.autoscale(None).await.unwrap().launched.is_empty());
    let mut three_weeks = learning(true);
    three_weeks.autoscaler.warm_pool_history_weeks = 3;
    let reading_more = w.process(three_weeks, Arc::new(MemoryKeyValueStore::new()));
    assert_eq!(
        reading_more.autoscale(None).await.unwrap().launched.len(),
        1
    );
}

#[tokio::test]
async fn a_booking_that_came_later_in_the_half_hour_last_week_is_expected_now() {
    let w = SharedWorld::new(11);
    let booking = w.process(learning(true), Arc::new(MemoryKeyValueStore::new()));
    let definition = definition(&booking).await;
    let t0 = w.clock.now();
    // Booked 45 minutes in, for 5 minutes later: outside the lead-long window
    // that opens at t0, inside the one opening a quarter hour later.
    w.clock.advance_seconds(45 * MINUTE);
    book(&booking, &definition, plus_seconds(t0, 50 * MINUTE)).await;
    w.clock.advance_seconds(WEEK - 45 * MINUTE);
    let leader = w.process(learning(true), Arc::new(MemoryKeyValueStore::new()));
    let report = leader.autoscale(None).await.unwrap();
    assert_eq!(report.launched.len(), 1, "{report:?}");
    let events = w.store.read_events(0, usize::MAX).await.unwrap();
    let reasons = scaling_reasons(&events);
    assert!(
        reasons[0].1.contains("warm pool: 1 short-notice lablet(s)"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_forecast_says_it_is_partial_when_a_past_week_holds_more_than_the_pool_reads() {
    let w = SharedWorld::new(11);
    let fleet = w.process(learning(true), Arc::new(MemoryKeyValueStore::new()));
    let definition = definition(&fleet).await;
    let t0 = w.clock.now();
    let start = plus_seconds(t0, 5 * MINUTE);
    let mut changes = ccm_core::ports::store::ChangeSet::new();
    for n in 0..20_001u128 {
        let input = NewLablet {
            owner: "student".into(),
            timeslot: Timeslot {
                start,
                end: plus_seconds(start, 60 * MINUTE),
            },
            reservation_id: None,
            on_demand: false,
        };
        let (lablet, _) = Lablet::create(
            ccm_core::ids::LabletId::from_u128(n + 1),
            &definition,
            input,
            t0,
        )
        .unwrap();
        changes = changes.put_lablet(lablet);
    }
    w.store.commit(changes).await.unwrap();
    w.clock.advance_seconds(WEEK - 10 * MINUTE);
    assert!(fleet.capacity_forecast(1, 15).await.unwrap().partial);
    let off = w.process(learning(false), Arc::new(MemoryKeyValueStore::new()));
    assert!(!off.capacity_forecast(1, 15).await.unwrap().partial);
}

/// Phases of `lablets` and when each became ready.
async fn ready_times(w: &SimWorld, lablets: &[Lablet]) -> Vec<Option<Timestamp>> {
    let events = w.store.read_events(0, usize::MAX).await.unwrap();
    lablets
        .iter()
        .map(|l| {
            events
                .iter()
                .find(|e| {
                    e.event.subject.id == l.id.to_string()
                        && matches!(
                            e.event.payload,
                            EventPayload::LabletPhaseChanged {
                                to: LabletPhase::Ready,
                                ..
                            }
                        )
                })
                .map(|e| e.event.occurred_at)
        })
        .collect()
}

#[tokio::test]
async fn a_second_week_of_the_same_short_notice_traffic_is_ready_on_time() {
    let w = SimWorld::new(12, learning(true)).await;
    let definition = definition(&w.fleet).await;
    let book_week = |_: ()| async {
        let start = plus_seconds(w.clock.now(), 15 * MINUTE);
        let mut lablets = Vec::new();
        for _ in 0..4 {
            lablets.push(book(&w.fleet, &definition, start).await);
        }
        (start, lablets)
    };
    // Week one: nothing is up, so the short-notice bookings wait for a boot.
    let (first_start, first) = book_week(()).await;
    w.run_for(3 * 3600).await;
    let late = ready_times(&w, &first).await;
    assert!(
        late.iter().all(|t| t.is_some_and(|t| t > first_start)),
        "{late:?}"
    );
    // Before the same hour a week later the fleet is down again.
    w.run_for(WEEK - 3 * 3600 - 40 * MINUTE).await;
    let up = |workers: Vec<ccm_core::worker::Worker>| {
        workers
            .iter()
            .filter(|x| x.status.lifecycle == LifecycleState::Running)
            .count()
    };
    let before = up(w.store.list_workers(&Default::default()).await.unwrap());
    assert_eq!(before, 0, "the fleet idled down between the weeks");
    w.run_for(40 * MINUTE).await;
    // Week two: the warm pool came up ahead, so the same bookings are on time.
    let (second_start, second) = book_week(()).await;
    w.run_for(3600).await;
    let ready = ready_times(&w, &second).await;
    assert!(
        ready.iter().all(|t| t.is_some_and(|t| t <= second_start)),
        "ready {ready:?}, start {second_start}"
    );
}

#[tokio::test]
async fn idle_pause_leaves_running_the_workers_the_learned_pool_expects_to_need() {
    let mut settings = learning(true);
    // Idle pause would stop an idle worker five minutes after it came up.
    settings.idle.timeout_minutes = 5;
    settings.idle.snooze_minutes = 0;
    let w = SimWorld::new(13, settings).await;
    let definition = definition(&w.fleet).await;
    // Last week: three lablets booked for at once, half an hour in.
    w.run_for(30 * MINUTE).await;
    let booked_at = w.clock.now();
    for _ in 0..3 {
        book(&w.fleet, &definition, booked_at).await;
    }
    // This week the pool is expected from a lead before that instant until it:
    // the worker it brings up idles there, and nothing is booked.
    let until = plus_seconds(booked_at, WEEK - MINUTE);
    w.run_for(until.signed_duration_since(w.clock.now()).num_seconds())
        .await;
    let workers = w.store.list_workers(&Default::default()).await.unwrap();
    let warm: Vec<_> = workers
        .iter()
        .filter(|x| x.status.lifecycle == LifecycleState::Running)
        .collect();
    assert_eq!(warm.len(), 1, "{workers:?}");
    let up_since = warm[0].status.transitioned_at.unwrap_or(until);
    assert!(
        until.signed_duration_since(up_since).num_minutes() > 5,
        "up since {up_since}: the test must outlast the idle timeout"
    );
    let events = w.store.read_events(0, usize::MAX).await.unwrap();
    let this_week = plus_seconds(booked_at, WEEK - 3600);
    let idle_pauses = events
        .iter()
        .filter(|e| e.event.occurred_at > this_week)
        .filter(|e| {
            matches!(
                e.event.payload,
                EventPayload::WorkerPaused {
                    reason: ccm_core::worker::PauseReason::IdleTimeout
                }
            )
        })
        .count();
    assert_eq!(idle_pauses, 0, "the warm worker was paused as idle");
}
