//! Two ccm engines on one PostgreSQL database over a simulated fleet: only the
//! lease holder acts, a deposed leader's writes are rejected, the follower takes
//! over within the lease duration when the leader dies, and nothing is done twice.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use ccm_core::definition::{NewDefinition, ResourceNeeds};
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::Region;
use ccm_core::lablet::{LabletPhase, NewLablet, Timeslot};
use ccm_core::ports::cloud::WORKER_ID_TAG;
use ccm_core::ports::store::{ChangeSet, LabletFilter, StoreError};
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::resources::Resources;
use ccm_core::runtime::{JobRunner, LeaderElector, LeaseSettings};
use ccm_core::time::plus_seconds;
use ccm_core::version::SemVer;
use ccm_sim::{SimConfig, Simulation};
use common::PgFactory;

struct Engine {
    name: &'static str,
    fleet: Arc<Fleet>,
    runner: JobRunner,
    elector: LeaderElector,
    store: Arc<ccm_store_postgres::PostgresStore>,
    leading: bool,
}

async fn engine(
    name: &'static str,
    factory: &PgFactory,
    sim: &Simulation,
    clock: &VirtualClock,
) -> Engine {
    let store = Arc::new(
        ccm_store_postgres::PostgresStore::open_with(factory.options())
            .await
            .unwrap(),
    );
    let clock_port: Arc<dyn Clock> = Arc::new(clock.clone());
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    let fleet = Arc::new(Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: Arc::new(sim.cloud()),
            cml: Arc::new(sim.cml()),
            clock: clock_port.clone(),
        },
        settings,
    ));
    let mut runner = JobRunner::new(store.clone(), clock_port.clone());
    fleet.register_jobs(&mut runner).await.unwrap();
    let elector = LeaderElector::new(store.clone(), clock_port, name, LeaseSettings::default());
    Engine {
        name,
        fleet,
        runner,
        elector,
        store,
        leading: false,
    }
}

impl Engine {
    /// One tick: an election step, then the engine's work if (and only if) it leads.
    /// Returns true when it acted.
    async fn tick(&mut self) -> bool {
        self.elector.step().await;
        let Some(fence) = self.elector.fence() else {
            self.leading = false;
            return false;
        };
        if !self.leading {
            // A new leader knows nothing in memory: queue everything open.
            self.fleet.take_over().await.unwrap();
            self.leading = true;
        }
        self.fleet.step(&self.runner, Some(&fence)).await.unwrap();
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_leader_acts_and_the_follower_takes_over_when_it_dies() {
    let factory = PgFactory::new().await;
    let mut config = SimConfig::default();
    config.cml.licensed_at_launch = true;
    let clock = VirtualClock::new(config.start);
    let sim = Simulation::with_virtual_clock(5, config, clock.clone());
    let mut a = engine("a", &factory, &sim, &clock).await;
    let mut b = engine("b", &factory, &sim, &clock).await;

    // Any process serves the API: B records the workers and books lablets.
    for n in 0..3 {
        b.fleet
            .create_worker(CreateWorker {
                name: format!("w{n}"),
                region: Region::new("us-east-1"),
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: true,
                created_by: None,
                image: None,
            })
            .await
            .unwrap();
    }
    let definition = b
        .fleet
        .create_definition(NewDefinition {
            name: "ccna".into(),
            version: SemVer::new(1, 0, 0),
            topology_yaml: "nodes:\n  - id: n0\n    node_definition: iosv\n  - id: n1\n    node_definition: iosv\n".into(),
            needs: ResourceNeeds {
                resources: Resources::new(4, 8, 20),
                nodes: 0,
                ports: 1,
            },
            licence_affinity: None,
            min_cml_version: None,
            max_duration_minutes: 120,
            warm_pool_depth: 0,
        })
        .await
        .unwrap();
    let start = plus_seconds(clock.now(), 90 * 60);
    for n in 0..6 {
        b.fleet
            .create_lablet(
                definition.id,
                NewLablet {
                    owner: format!("student{n}"),
                    timeslot: Timeslot {
                        start,
                        end: plus_seconds(start, 3600),
                    },
                    reservation_id: None,
                    on_demand: false,
                },
            )
            .await
            .unwrap();
    }

    // 30 virtual minutes in 5-second ticks: exactly one acts at every tick.
    let mut acted_by_a = 0;
    for _ in 0..360 {
        let (x, y) = (a.tick().await, b.tick().await);
        assert!(!(x && y), "both engines acted in the same tick");
        assert!(x || y, "nobody acted while both were alive");
        acted_by_a += usize::from(x);
        clock.advance_seconds(5);
    }
    assert!(acted_by_a > 300, "the first to step should lead throughout");
    let deposed = a.elector.fence().unwrap();

    // The leader dies: it stops stepping. B must take over within the lease duration.
    let died_at = clock.now();
    let took_over = loop {
        clock.advance_seconds(1);
        if b.tick().await {
            break clock.now();
        }
        assert!((clock.now() - died_at).num_seconds() <= 20, "no takeover");
    };
    let waited = (took_over - died_at).num_seconds();
    assert!(waited <= 15 + 2, "takeover after {waited}s, lease is 15s");
    // A deposed leader that wakes up stops acting on its own and cannot write.
    assert_eq!(a.elector.fence(), None, "A must notice its grant ran out");
    let stale = a
        .store
        .commit(ChangeSet::new().fenced(deposed))
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Fenced { .. }), "{stale}");
    drop(a);

    // B runs the rest of the day alone.
    for _ in 0..(4 * 3600 / 10) {
        b.tick().await;
        clock.advance_seconds(10);
    }
    let lablets = b
        .store
        .list_lablets(&LabletFilter::default())
        .await
        .unwrap();
    assert_eq!(lablets.len(), 6);
    assert!(lablets
        .iter()
        .all(|l| l.status.phase == LabletPhase::Terminated));
    // Nothing done twice: one instance per worker, one lab import per lablet.
    let mut instances: BTreeMap<String, usize> = BTreeMap::new();
    for i in sim.instances(&Region::new("us-east-1")).unwrap() {
        if let Some(w) = i.tags.get(WORKER_ID_TAG) {
            *instances.entry(w.clone()).or_default() += 1;
        }
    }
    assert_eq!(instances.len(), 3);
    assert!(instances.values().all(|n| *n == 1), "{instances:?}");
    assert_eq!(sim.cml_calls().unwrap().get("import_lab"), 6);
    println!(
        "engine {} took over {waited}s after the leader died",
        b.name
    );
    b.store.close().await;
    factory.drop_schema().await;
}
