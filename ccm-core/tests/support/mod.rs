//! The simulated world the engine's integration tests run in: a fleet on the
//! simulator (CML licensed at launch) over the in-memory store, its recurrent
//! jobs registered, and a virtual clock the tests move.
#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;

use ccm_core::definition::{NewDefinition, ResourceNeeds};
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::{KeyValueStore, VirtualClock};
use ccm_core::resources::Resources;
use ccm_core::store::MemoryStore;
use ccm_core::version::SemVer;
use ccm_sim::{SimConfig, SimEngine, Simulation};

/// [`SimEngine`] with CML licensed at launch, whose runs cannot fail a test silently.
pub struct SimWorld(SimEngine);

impl Deref for SimWorld {
    type Target = SimEngine;

    fn deref(&self) -> &SimEngine {
        &self.0
    }
}

impl SimWorld {
    pub async fn new(seed: u64, settings: FleetSettings) -> Self {
        let mut config = SimConfig::default();
        config.cml.licensed_at_launch = true;
        Self(SimEngine::start(seed, config, settings).await.unwrap())
    }

    /// Runs the engine and its jobs for `seconds` of virtual time.
    pub async fn run_for(&self, seconds: i64) {
        self.0.run_for(seconds).await.unwrap();
    }

    /// Creates a worker of the default type and image in `us-east-1`, idle
    /// detection off.
    pub async fn worker(&self, name: &str) -> WorkerId {
        self.fleet
            .create_worker(CreateWorker {
                idle_detection_disabled: true,
                ..CreateWorker::new(name, Region::new("us-east-1"))
            })
            .await
            .unwrap()
            .id
    }
}

/// A simulated world (CML licensed at launch) and one store that several
/// engine processes share: each [`SharedWorld::process`] is a new engine over
/// the same store with the key-value store it is given — a restart, a new
/// leader, or (with a fresh key-value store) a process that shares nothing.
pub struct SharedWorld {
    pub sim: Simulation,
    pub clock: VirtualClock,
    pub store: Arc<MemoryStore>,
}

impl SharedWorld {
    pub fn new(seed: u64) -> Self {
        let mut config = SimConfig::default();
        config.cml.licensed_at_launch = true;
        let clock = VirtualClock::new(config.start);
        let sim = Simulation::with_virtual_clock(seed, config, clock.clone());
        Self {
            sim,
            clock,
            store: Arc::new(MemoryStore::new()),
        }
    }

    /// An engine process over the shared store and `kv`.
    pub fn process(&self, settings: FleetSettings, kv: Arc<dyn KeyValueStore>) -> Fleet {
        self.engine_over(self.store.clone(), settings)
            .with_key_values(kv)
    }

    /// An engine on this world's simulator and clock over `store`.
    pub fn engine_over(
        &self,
        store: Arc<dyn ccm_core::ports::Store>,
        settings: FleetSettings,
    ) -> Fleet {
        Fleet::new(
            Adapters {
                store,
                cloud: Arc::new(self.sim.cloud()),
                cml: Arc::new(self.sim.cml()),
                clock: Arc::new(self.clock.clone()),
            },
            settings,
        )
    }
}

/// The definition most engine tests book: `ccna`, one IOSv node, 4 vCPU, 8 GiB,
/// 20 GiB and 2 ports, sessions up to four hours, `warm_pool_depth` idle workers.
pub fn ccna(warm_pool_depth: u32) -> NewDefinition {
    NewDefinition {
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
    }
}

/// A fleet on the simulator (CML licensed at launch) over an in-memory store
/// seen through a [`HookedStore`]: the test's hook runs before every store call
/// the engine makes, to count calls or to land another writer's change.
#[cfg(feature = "test-support")]
pub struct HookedWorld {
    /// The simulator, the clock and the store behind the hook (for the test's
    /// own reads).
    pub world: SharedWorld,
    pub fleet: Fleet,
    pub runner: ccm_core::runtime::JobRunner,
}

#[cfg(feature = "test-support")]
impl HookedWorld {
    pub async fn new(
        seed: u64,
        settings: FleetSettings,
        hook: ccm_core::testing::hooked_store::StoreHook,
    ) -> Self {
        let world = SharedWorld::new(seed);
        let store: Arc<dyn ccm_core::ports::Store> = Arc::new(
            ccm_core::testing::hooked_store::HookedStore::new(world.store.clone(), hook),
        );
        let fleet = world
            .engine_over(store.clone(), settings)
            .with_ids(Arc::new(ccm_core::ports::SeededIds::new(seed)));
        let clock = Arc::new(world.clock.clone());
        let mut runner = ccm_core::runtime::JobRunner::new(store, clock);
        fleet.register_jobs(&mut runner).await.unwrap();
        Self {
            world,
            fleet,
            runner,
        }
    }

    /// Runs the engine and its jobs for `seconds` of virtual time.
    pub async fn run_for(&self, seconds: i64) {
        use ccm_core::ports::Clock;
        let clock = &self.world.clock;
        let until = ccm_core::time::plus_seconds(clock.now(), seconds);
        self.fleet
            .run_until(&self.runner, None, clock, until)
            .await
            .unwrap();
    }
}

/// Books a lablet of `definition` for `owner` from `start`, `minutes` long.
pub async fn book(
    fleet: &Fleet,
    definition: &ccm_core::definition::LabletDefinition,
    owner: &str,
    start: ccm_core::time::Timestamp,
    minutes: i64,
) -> ccm_core::lablet::Lablet {
    let timeslot = ccm_core::lablet::Timeslot {
        start,
        end: ccm_core::time::plus_seconds(start, minutes * 60),
    };
    let booking = ccm_core::lablet::NewLablet {
        owner: owner.into(),
        timeslot,
        reservation_id: None,
        on_demand: false,
    };
    fleet.create_lablet(definition.id, booking).await.unwrap()
}
