//! Lablet lifecycle edge cases on the simulator: failures retried and ending in
//! `failed` with capacity released, a lost worker leading to a new placement,
//! cancellation, an idempotent import after a crash, and the warm pool.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ccm_core::definition::{LabletDefinition, NewDefinition, ResourceNeeds};
use ccm_core::event::{EventPayload, ScalingAction};
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::{Region, WorkerId};
use ccm_core::lablet::{Lablet, LabletPhase, NewLablet, Timeslot};
use ccm_core::ports::{Clock, CmlClient, Store, VirtualClock};
use ccm_core::resources::Resources;
use ccm_core::runtime::JobRunner;
use ccm_core::store::MemoryStore;
use ccm_core::time::plus_seconds;
use ccm_core::version::SemVer;
use ccm_core::worker::LifecycleState;
use ccm_sim::{SimConfig, Simulation};

struct World {
    sim: Simulation,
    clock: VirtualClock,
    store: Arc<MemoryStore>,
    fleet: Arc<Fleet>,
    runner: JobRunner,
}

async fn world(settings: FleetSettings) -> World {
    let mut config = SimConfig::default();
    config.cml.licensed_at_launch = true;
    let clock = VirtualClock::new(config.start);
    let sim = Simulation::with_virtual_clock(3, config, clock.clone());
    let store = Arc::new(MemoryStore::new());
    let fleet = Arc::new(Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: Arc::new(sim.cloud()),
            cml: Arc::new(sim.cml()),
            clock: Arc::new(clock.clone()),
        },
        settings,
    ));
    let mut runner = JobRunner::new(store.clone(), Arc::new(clock.clone()));
    fleet.register_jobs(&mut runner).await.unwrap();
    World {
        sim,
        clock,
        store,
        fleet,
        runner,
    }
}

impl World {
    async fn run_for(&self, seconds: i64) {
        let until = plus_seconds(self.clock.now(), seconds);
        self.fleet
            .run_until(&self.runner, None, &self.clock, until)
            .await
            .unwrap();
    }

    async fn worker(&self, name: &str) -> WorkerId {
        self.fleet
            .create_worker(CreateWorker {
                name: name.into(),
                region: Region::new("us-east-1"),
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: true,
                created_by: None,
            })
            .await
            .unwrap()
            .id
    }

    async fn definition(&self, warm_pool_depth: u32) -> LabletDefinition {
        self.fleet
            .create_definition(NewDefinition {
                name: "ccna".into(),
                version: SemVer::new(1, 0, 0),
                topology_yaml: "nodes:\n  - id: n0\n    node_definition: iosv\n".into(),
                needs: ResourceNeeds {
                    resources: Resources::new(4, 8, 20),
                    nodes: 0,
                    ports: 2,
                },
                licence_affinity: None,
                min_cml_version: None,
                max_duration_minutes: 240,
                warm_pool_depth,
            })
            .await
            .unwrap()
    }

    async fn book(&self, definition: &LabletDefinition, in_minutes: i64) -> Lablet {
        let start = plus_seconds(self.clock.now(), in_minutes * 60);
        self.fleet
            .create_lablet(
                definition.id,
                NewLablet {
                    owner: "student".into(),
                    timeslot: Timeslot {
                        start,
                        end: plus_seconds(start, 3600),
                    },
                    reservation_id: None,
                },
            )
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_unreachable_cml_fails_the_lablet_after_the_retry_limit_and_releases_capacity() {
    let w = world(FleetSettings::default()).await;
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    // Imports are refused on this CML from now on.
    w.sim
        .update_faults(|f| {
            f.cml_error_rates.insert("import_lab".into(), 1.0);
        })
        .unwrap();
    let lablet = w.book(&definition, 20).await;
    w.run_for(40 * 60).await;
    let failed = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(failed.status.phase, LabletPhase::Failed);
    let reason = &failed.status.history[0].reason;
    assert!(
        reason
            .as_deref()
            .unwrap()
            .contains("gave up after 5 attempts"),
        "{reason:?}"
    );
    let attempts = w
        .store
        .read_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.event.payload, EventPayload::LabletAttemptFailed { .. }))
        .count();
    assert_eq!(attempts, 5);
    let held = w.fleet.get_worker(worker).await.unwrap();
    assert!(
        held.status.capacity.allocations.is_empty(),
        "capacity released"
    );
    assert!(
        failed.meta.finalizers.is_empty(),
        "nothing left to tear down"
    );
}

#[tokio::test]
async fn a_lablet_whose_worker_is_lost_is_placed_again_on_another() {
    let w = world(FleetSettings::default()).await;
    let first = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let second = w.worker("w2").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    let lablet = w.book(&definition, 60).await;
    w.run_for(30 * 60).await;
    let bound = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(bound.status.phase, LabletPhase::Ready);
    let lost = bound.status.worker_id.unwrap();
    let survivor = if lost == first { second } else { first };
    let instance = w.fleet.get_worker(lost).await.unwrap().instance_id.unwrap();
    w.sim.terminate_externally(&instance).unwrap();
    w.run_for(20 * 60).await;
    let moved = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(moved.status.worker_id, Some(survivor));
    assert!(matches!(
        moved.status.phase,
        LabletPhase::Ready | LabletPhase::Running
    ));
    let gone = w.fleet.get_worker(lost).await.unwrap();
    assert_eq!(gone.status.lifecycle, LifecycleState::Terminated);
    assert!(gone.status.capacity.allocations.is_empty());
}

#[tokio::test]
async fn a_cancelled_lablet_tears_its_lab_down_and_a_retried_import_finds_the_lab() {
    let w = world(FleetSettings::default()).await;
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;
    let definition = w.definition(0).await;
    let lablet = w.book(&definition, 10).await;
    let instance = w
        .fleet
        .get_worker(worker)
        .await
        .unwrap()
        .instance_id
        .unwrap();
    // A crash after the import reached CML but before its id was stored: the lab
    // exists under the lablet's title and must be found, not imported again.
    let ep = w.sim.cml_endpoint(worker, &instance);
    w.sim
        .cml()
        .import_lab(
            &ep,
            &definition.topology_yaml,
            Some(&format!("ccm-lablet-{}", lablet.id)),
        )
        .await
        .unwrap();
    w.run_for(5 * 60).await;
    let ready = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(ready.status.phase, LabletPhase::Ready);
    assert_eq!(w.sim.labs(&instance).unwrap().len(), 1, "imported once");
    w.fleet
        .cancel_lablet(lablet.id, Some("ops".into()))
        .await
        .unwrap();
    w.run_for(60).await;
    let done = w.fleet.get_lablet(lablet.id).await.unwrap();
    assert_eq!(done.status.phase, LabletPhase::Terminated);
    assert!(w.sim.labs(&instance).unwrap().is_empty(), "lab torn down");
    assert!(w
        .fleet
        .get_worker(worker)
        .await
        .unwrap()
        .status
        .capacity
        .allocations
        .is_empty());
    // Deleting the finished lablet removes its record.
    w.fleet.delete_lablet(lablet.id, None).await.unwrap();
    w.run_for(60).await;
    assert!(w.store.get_lablet(lablet.id).await.unwrap().is_none());
}

#[tokio::test]
async fn the_autoscaler_keeps_the_warm_pool_and_says_why() {
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    let w = world(settings).await;
    w.definition(2).await;
    w.run_for(40 * 60).await;
    let running = w
        .store
        .list_workers(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.status.lifecycle == LifecycleState::Running)
        .count();
    assert_eq!(running, 2, "warm pool depth 2");
    let decisions: Vec<(ScalingAction, String)> = w
        .store
        .read_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.payload {
            EventPayload::FleetScalingDecided { action, reason, .. } => Some((action, reason)),
            _ => None,
        })
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0].0, ScalingAction::Launch);
    assert!(decisions[0].1.contains("warm pool"), "{}", decisions[0].1);
    // An hour later the pool is still there: scale-down keeps the warm pool.
    w.run_for(3600).await;
    let still = w
        .store
        .list_workers(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .filter(|x| x.status.lifecycle == LifecycleState::Running)
        .count();
    assert_eq!(still, 2);
}
