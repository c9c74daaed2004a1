//! The idle check at fleet scale on the simulator: one count of the lablets
//! holding workers for the whole fleet, pauses committed in batches, a worker
//! with a lablet left alone, and a batch that meets another writer's change
//! falling back to one pause per worker without pausing anyone twice.
#![cfg(feature = "test-support")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ccm_core::event::EventPayload;
use ccm_core::fleet::idle::{idle_status, IdleVerdict};
use ccm_core::fleet::{CreateWorker, FleetSettings};
use ccm_core::ids::{Region, WorkerId};
use ccm_core::lablet::LabletPhase;
use ccm_core::ports::store::ChangeSet;
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::time::{plus_seconds, Timestamp};
use ccm_core::worker::{DesiredStatus, PauseReason};

mod support;
use support::HookedWorld;

const WORKERS: usize = 150;

#[tokio::test]
async fn idle_workers_are_paused_once_each_from_one_count_even_when_a_batch_conflicts() {
    let calls: Arc<Mutex<BTreeMap<&'static str, usize>>> = Arc::default();
    // At the first count, another writer changes a worker that is due (so
    // the batch holding it conflicts), once: the worker and the instant.
    let struck: Arc<Mutex<Option<(WorkerId, Timestamp)>>> = Arc::default();
    let holder: Arc<Mutex<Option<WorkerId>>> = Arc::default();
    let armed = Arc::new(AtomicBool::new(false));
    let engine_clock: Arc<OnceLock<VirtualClock>> = Arc::default();
    let hook = {
        let (calls, struck, holder, armed, clock) = (
            calls.clone(),
            struck.clone(),
            holder.clone(),
            armed.clone(),
            engine_clock.clone(),
        );
        Box::new(move |method: &'static str, store: Arc<dyn Store>| {
            *calls.lock().unwrap().entry(method).or_insert(0) += 1;
            let strike = method == "count_lablets_by_worker" && armed.swap(false, Ordering::SeqCst);
            let (struck, holder) = (struck.clone(), *holder.lock().unwrap());
            let now = clock.get().map(|c| c.now());
            Box::pin(async move {
                let (true, Some(now)) = (strike, now) else {
                    return;
                };
                let workers = store.list_workers(&Default::default()).await.unwrap();
                let mut due = workers.into_iter().filter(|w| {
                    Some(w.id) != holder
                        && w.spec.desired_status == DesiredStatus::Running
                        && matches!(idle_status(w, 0, now).verdict, IdleVerdict::PauseNow { .. })
                });
                let mut worker = due.next().expect("a due worker at the first count");
                *struck.lock().unwrap() = Some((worker.id, now));
                let mut tags = worker.tags.clone();
                tags.insert("touched".into(), "by another writer".into());
                let events = worker.replace_tags(tags, now).unwrap();
                let changes = ChangeSet::new().put_worker(worker).events(events);
                store.commit(changes).await.unwrap();
            }) as futures_util::future::BoxFuture<'static, ()>
        })
    };
    let settings = FleetSettings {
        monitoring_interval_seconds: 300,
        booting_monitoring_interval_seconds: 300,
        ..FleetSettings::default()
    };
    let world = HookedWorld::new(5, settings, hook).await;
    let (fleet, clock) = (&world.fleet, &world.world.clock);
    engine_clock.set(clock.clone()).unwrap();

    let mut ids = Vec::new();
    for n in 0..WORKERS {
        let input = CreateWorker::new(format!("w{n:03}"), Region::new("us-east-1"));
        ids.push(fleet.create_worker(input).await.unwrap().id);
    }
    world.run_for(30 * 60).await;
    // One lablet holds a worker past the others' idle timeout.
    let definition = fleet.create_definition(support::ccna(0)).await.unwrap();
    let start = plus_seconds(clock.now(), 20 * 60);
    let lablet = support::book(fleet, &definition, "student", start, 3 * 60).await;
    world.run_for(25 * 60).await;
    let held = fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(held.status.phase, LabletPhase::Running);
    let holding = held.status.worker_id.unwrap();
    *holder.lock().unwrap() = Some(holding);
    armed.store(true, Ordering::SeqCst);
    calls.lock().unwrap().clear();

    // Past every idle worker's timeout (an hour from running).
    world.run_for(60 * 60).await;
    let (touched, strike_at) = struck.lock().unwrap().expect("the other writer struck");
    let tagged = fleet.get_worker(touched).await.unwrap();
    assert_eq!(
        tagged.tags.get("touched").map(String::as_str),
        Some("by another writer")
    );
    let events = world.world.store.read_events(0, usize::MAX).await.unwrap();
    let mut pauses: BTreeMap<WorkerId, Vec<Timestamp>> = BTreeMap::new();
    for event in &events {
        if let EventPayload::WorkerSpecUpdated { spec } = &event.event.payload {
            if spec.stop_reason == Some(PauseReason::IdleTimeout) {
                let id = event.event.subject.id.parse().unwrap();
                pauses.entry(id).or_default().push(event.event.occurred_at);
            }
        }
    }
    assert_eq!(
        pauses.get(&touched),
        Some(&vec![strike_at]),
        "the worker another writer changed is paused in the same check, on a fresh read"
    );
    for id in &ids {
        let worker = fleet.get_worker(*id).await.unwrap();
        if *id == holding {
            assert_eq!(worker.spec.desired_status, DesiredStatus::Running);
            assert_eq!(pauses.get(id), None, "the worker in use was paused");
        } else {
            assert_eq!(
                worker.spec.desired_status,
                DesiredStatus::Stopped,
                "{}",
                worker.name()
            );
            let times = pauses.get(id).map_or(0, Vec::len);
            assert_eq!(times, 1, "{} paused once", worker.name());
        }
    }
    let calls = calls.lock().unwrap();
    let counts = calls.get("count_lablets_by_worker").copied().unwrap_or(0);
    assert!(counts >= 1, "{calls:?}");
    // One count per worker per check would be thousands over this hour: the
    // fleet is counted once a check, and only the batch that met the other
    // writer counts its workers one by one.
    assert!(counts < WORKERS, "{counts} counts: {calls:?}");
    assert_eq!(calls.get("list_lablets_page"), None, "{calls:?}");
}
