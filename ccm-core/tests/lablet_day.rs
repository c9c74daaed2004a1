//! A day in the life of a lablet fleet on the simulator: three definitions, 200
//! lablets in overlapping timeslots, workers starting stopped; with and without
//! crashes of the engine at random points. Every lablet must be ready before its
//! start, nothing may be placed over capacity, and at the end of the day no lab and
//! no running instance may be left.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ccm_core::definition::{LabletDefinition, NewDefinition, ResourceNeeds};
use ccm_core::event::EventPayload;
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::{LabletId, Region, WorkerId};
use ccm_core::lablet::{LabletPhase, NewLablet, Timeslot};
use ccm_core::placement::lower_bound;
use ccm_core::ports::store::{LabletFilter, WorkerFilter};
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::resources::Resources;
use ccm_core::runtime::JobRunner;
use ccm_core::store::MemoryStore;
use ccm_core::time::{plus_seconds, Timestamp};
use ccm_core::version::SemVer;
use ccm_core::worker::LifecycleState;
use ccm_sim::{SimConfig, Simulation};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const REGION: &str = "us-east-1";

fn topology(nodes: usize) -> String {
    let mut yaml = String::from("lab:\n  title: t\nnodes:\n");
    for n in 0..nodes {
        yaml.push_str(&format!(
            "  - id: n{n}\n    label: r{n}\n    node_definition: iosv\n"
        ));
    }
    yaml.push_str("links: []\n");
    yaml
}

struct Day {
    sim: Simulation,
    clock: VirtualClock,
    store: Arc<MemoryStore>,
    start: Timestamp,
    settings: FleetSettings,
}

impl Day {
    fn new(seed: u64) -> Self {
        let mut config = SimConfig::default();
        config.cml.licensed_at_launch = true;
        config.cml.registered_node_limit = 40;
        let start = config.start;
        let clock = VirtualClock::new(start);
        let sim = Simulation::with_virtual_clock(seed, config, clock.clone());
        let mut settings = FleetSettings::default();
        settings.autoscaler.enabled = true;
        settings.autoscaler.max_workers_per_region = 30;
        // New workers come up as the simulated AMI does: registered, 40 nodes, CML 2.9.1.
        let profile = &mut settings.autoscaler.new_worker_profile;
        profile.licence = Some(ccm_core::worker::LicenceKind::Personal);
        profile.node_limit = Some(40);
        profile.cml_version = Some(SemVer::new(2, 9, 1));
        Self {
            sim,
            clock,
            store: Arc::new(MemoryStore::new()),
            start,
            settings,
        }
    }

    /// A fresh engine over the same store and world: what a restart after a crash sees.
    async fn engine(&self) -> (Arc<Fleet>, JobRunner) {
        let fleet = Arc::new(Fleet::new(
            Adapters {
                store: self.store.clone(),
                cloud: Arc::new(self.sim.cloud()),
                cml: Arc::new(self.sim.cml()),
                clock: Arc::new(self.clock.clone()),
            },
            self.settings.clone(),
        ));
        let mut runner = JobRunner::new(self.store.clone(), Arc::new(self.clock.clone()));
        fleet.register_jobs(&mut runner).await.unwrap();
        fleet.take_over().await.unwrap();
        (fleet, runner)
    }

    async fn definitions(&self, fleet: &Fleet) -> Vec<LabletDefinition> {
        let mut out = Vec::new();
        for (name, cpus, mem, nodes, ports, max) in [
            ("ccna", 4, 8, 4, 2, 180),
            ("ccnp-enterprise", 8, 24, 8, 4, 240),
            ("devnet-basics", 2, 4, 2, 1, 120),
        ] {
            out.push(
                fleet
                    .create_definition(NewDefinition {
                        name: name.into(),
                        version: SemVer::new(1, 0, 0),
                        topology_yaml: topology(nodes),
                        needs: ResourceNeeds {
                            resources: Resources::new(cpus, mem, 20),
                            nodes: 0,
                            ports,
                        },
                        licence_affinity: None,
                        min_cml_version: None,
                        max_duration_minutes: max,
                        warm_pool_depth: 0,
                    })
                    .await
                    .unwrap(),
            );
        }
        out
    }

    /// Ten workers that exist but are stopped when the day starts.
    async fn stopped_workers(&self, fleet: &Fleet, runner: &JobRunner) -> Vec<WorkerId> {
        let mut ids = Vec::new();
        for n in 0..10 {
            let w = fleet
                .create_worker(CreateWorker {
                    name: format!("w{n:02}"),
                    region: Region::new(REGION),
                    instance_type: None,
                    labels: BTreeMap::new(),
                    tags: BTreeMap::new(),
                    idle_detection_disabled: false,
                    created_by: None,
                })
                .await
                .unwrap();
            ids.push(w.id);
        }
        fleet
            .run_until(
                runner,
                None,
                &self.clock,
                plus_seconds(self.clock.now(), 30 * 60),
            )
            .await
            .unwrap();
        for id in &ids {
            fleet.stop_worker(*id).await.unwrap();
        }
        fleet
            .run_until(
                runner,
                None,
                &self.clock,
                plus_seconds(self.clock.now(), 15 * 60),
            )
            .await
            .unwrap();
        for id in &ids {
            assert_eq!(
                fleet.get_worker(*id).await.unwrap().status.lifecycle,
                LifecycleState::Stopped
            );
        }
        ids
    }

    /// 200 lablets over the business day: classes on the hour plus ad-hoc ones.
    async fn book(
        &self,
        fleet: &Fleet,
        definitions: &[LabletDefinition],
        seed: u64,
    ) -> Vec<LabletId> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let day_start = plus_seconds(self.start, 2 * 3600);
        let mut ids = Vec::new();
        while ids.len() < 200 {
            let definition = &definitions[rng.gen_range(0..definitions.len())];
            let hour = rng.gen_range(0..9i64);
            let minute = if rng.gen_bool(0.7) {
                0
            } else {
                rng.gen_range(0..4i64) * 15
            };
            let start = plus_seconds(day_start, hour * 3600 + minute * 60);
            let minutes = i64::from(rng.gen_range(60..=definition.max_duration_minutes));
            let end = plus_seconds(start, minutes * 60);
            let lablet = fleet
                .create_lablet(
                    definition.id,
                    NewLablet {
                        owner: format!("student{}", ids.len()),
                        timeslot: Timeslot { start, end },
                        reservation_id: None,
                    },
                )
                .await
                .unwrap();
            ids.push(lablet.id);
        }
        ids
    }
}

struct Outcome {
    worker_hours: f64,
    lower_bound_hours: f64,
}

async fn check_day(day: &Day, definitions: &[LabletDefinition], booked: &[LabletId]) -> Outcome {
    let events = day.store.read_events(0, usize::MAX).await.unwrap();
    // Every lablet was ready before its start (the phase history says when).
    let mut ready_at: BTreeMap<String, Timestamp> = BTreeMap::new();
    for e in &events {
        if let EventPayload::LabletPhaseChanged {
            to: LabletPhase::Ready,
            ..
        } = e.event.payload
        {
            ready_at
                .entry(e.event.subject.id.clone())
                .or_insert(e.event.occurred_at);
        }
    }
    let lablets = day
        .store
        .list_lablets(&LabletFilter::default())
        .await
        .unwrap();
    assert_eq!(lablets.len(), booked.len());
    for lablet in &lablets {
        let ready = ready_at.get(&lablet.id.to_string()).unwrap_or_else(|| {
            panic!(
                "lablet {} never ready; phase {:?}, error {:?}",
                lablet.id, lablet.status.phase, lablet.status.last_error
            )
        });
        assert!(
            *ready <= lablet.spec.timeslot.start,
            "lablet {} ready {} after its start",
            lablet.id,
            (*ready - lablet.spec.timeslot.start).num_seconds()
        );
        assert_eq!(
            lablet.status.phase,
            LabletPhase::Terminated,
            "lablet {}",
            lablet.id
        );
        assert!(lablet.meta.finalizers.is_empty());
    }
    // Nothing was ever placed over capacity: replay every allocation in order.
    let mut held: BTreeMap<String, BTreeMap<String, Resources>> = BTreeMap::new();
    let workers = day
        .store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await
        .unwrap();
    let declared: BTreeMap<String, Resources> = workers
        .iter()
        .map(|w| (w.id.to_string(), w.status.capacity.declared))
        .collect();
    for e in &events {
        match &e.event.payload {
            EventPayload::WorkerCapacityAllocated { lablet, allocation } => {
                let on = held.entry(e.event.subject.id.clone()).or_default();
                on.insert(lablet.to_string(), allocation.resources);
                let total = on.values().fold(Resources::ZERO, |a, r| a + *r);
                assert!(
                    total.fits_within(&declared[&e.event.subject.id]),
                    "over-committed a worker"
                );
            }
            EventPayload::WorkerCapacityReleased { lablet } => {
                held.entry(e.event.subject.id.clone())
                    .or_default()
                    .remove(&lablet.to_string());
            }
            _ => {}
        }
    }
    // No lab and no running instance is left; each worker has at most one instance.
    let mut per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for instance in day.sim.instances(&Region::new(REGION)).unwrap() {
        assert_ne!(
            instance.state, "running",
            "instance {} still running",
            instance.instance_id
        );
        assert!(
            day.sim.labs(&instance.instance_id).unwrap().is_empty(),
            "lab left on {}",
            instance.instance_id
        );
        if let Some(worker) = instance.tags.get(ccm_core::ports::cloud::WORKER_ID_TAG) {
            if instance.state != "terminated" {
                *per_worker.entry(worker.clone()).or_default() += 1;
            }
        }
    }
    assert!(
        per_worker.values().all(|n| *n == 1),
        "a worker has two instances: {per_worker:?}"
    );
    for w in &workers {
        assert!(
            w.status.capacity.allocations.is_empty(),
            "capacity still held on {}",
            w.name()
        );
        assert_ne!(
            w.status.lifecycle,
            LifecycleState::Running,
            "{} still running",
            w.name()
        );
    }
    // Worker-hours from the lifecycle history against the packing lower bound.
    let mut running_since: BTreeMap<String, Timestamp> = BTreeMap::new();
    let mut seconds = 0i64;
    for e in &events {
        if let EventPayload::WorkerStatusUpdated { from, to, .. } = &e.event.payload {
            let id = e.event.subject.id.clone();
            if to.bills_compute() && !from.bills_compute() {
                running_since.insert(id, e.event.occurred_at);
            } else if !to.bills_compute() && from.bills_compute() {
                if let Some(since) = running_since.remove(&id) {
                    seconds += (e.event.occurred_at - since).num_seconds();
                }
            }
        }
    }
    let by_def: BTreeMap<_, _> = definitions.iter().map(|d| (d.id, d.needs)).collect();
    let mut demand_seconds = Resources::ZERO;
    for l in &lablets {
        let secs = l.spec.timeslot.duration_seconds();
        let needs = by_def[&l.spec.definition_id].resources;
        demand_seconds += Resources {
            cpu_millis: needs.cpu_millis * secs as u64,
            memory_mib: needs.memory_mib * secs as u64,
            storage_gib: needs.storage_gib * secs as u64,
        };
    }
    let capacity = workers[0].status.capacity.declared;
    // Resource-seconds over one worker's capacity: worker-seconds no packing can beat.
    let demand = ResourceNeeds {
        resources: demand_seconds,
        nodes: 0,
        ports: 0,
    };
    let per_worker = ResourceNeeds {
        resources: capacity,
        nodes: u32::MAX,
        ports: u32::MAX,
    };
    let bound = lower_bound(std::iter::once(&demand), &per_worker).unwrap_or(0) as f64;
    Outcome {
        worker_hours: seconds as f64 / 3600.0,
        lower_bound_hours: bound / 3600.0,
    }
}

async fn run_day(seed: u64, crash_points: &BTreeSet<i64>) -> Outcome {
    let day = Day::new(seed);
    let (mut fleet, mut runner) = day.engine().await;
    let definitions = day.definitions(&fleet).await;
    day.stopped_workers(&fleet, &runner).await;
    let booked = day.book(&fleet, &definitions, seed).await;
    let end = plus_seconds(day.start, 26 * 3600);
    let mut minute = 0i64;
    while day.clock.now() < end {
        let until = plus_seconds(day.clock.now(), 10 * 60);
        fleet
            .run_until(&runner, None, &day.clock, until)
            .await
            .unwrap();
        minute += 10;
        if crash_points.contains(&minute) {
            // Drop the engine with its in-memory queues and start over from the store.
            drop(fleet);
            drop(runner);
            (fleet, runner) = day.engine().await;
        }
    }
    check_day(&day, &definitions, &booked).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_200_lablets_is_served_on_time_and_cleaned_up() {
    let outcome = run_day(11, &BTreeSet::new()).await;
    println!(
        "worker-hours used: {:.1}, lower bound {:.1} (ratio {:.2})",
        outcome.worker_hours,
        outcome.lower_bound_hours,
        outcome.worker_hours / outcome.lower_bound_hours.max(1e-9)
    );
    assert!(outcome.worker_hours >= outcome.lower_bound_hours);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_day_survives_crashes_at_random_points() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let crashes: BTreeSet<i64> = (0..12).map(|_| rng.gen_range(1..150i64) * 10).collect();
    let outcome = run_day(11, &crashes).await;
    println!(
        "with {} crashes: worker-hours {:.1}, lower bound {:.1}",
        crashes.len(),
        outcome.worker_hours,
        outcome.lower_bound_hours
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_days_with_other_crashes_are_on_time_too() {
    for seed in [1u64, 2, 3, 4] {
        let mut rng = ChaCha8Rng::seed_from_u64(seed * 7);
        let crashes: BTreeSet<i64> = (0..12).map(|_| rng.gen_range(1..150i64) * 10).collect();
        let o = run_day(seed, &crashes).await;
        println!(
            "seed {seed}: {:.1} / {:.1}",
            o.worker_hours, o.lower_bound_hours
        );
    }
}
