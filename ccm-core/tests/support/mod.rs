//! The simulated world the engine's integration tests run in: a fleet on the
//! simulator (CML licensed at launch) over the in-memory store, its recurrent
//! jobs registered, and a virtual clock the tests move.
#![allow(dead_code)]

use std::sync::Arc;

use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::{Clock, VirtualClock};
use ccm_core::runtime::JobRunner;
use ccm_core::store::MemoryStore;
use ccm_core::time::plus_seconds;
use ccm_sim::{SimConfig, Simulation};

pub struct SimWorld {
    pub sim: Simulation,
    pub clock: VirtualClock,
    pub store: Arc<MemoryStore>,
    pub fleet: Arc<Fleet>,
    pub runner: JobRunner,
}

impl SimWorld {
    pub async fn new(seed: u64, settings: FleetSettings) -> Self {
        let mut config = SimConfig::default();
        config.cml.licensed_at_launch = true;
        let clock = VirtualClock::new(config.start);
        let sim = Simulation::with_virtual_clock(seed, config, clock.clone());
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
        Self {
            sim,
            clock,
            store,
            fleet,
            runner,
        }
    }

    /// Runs the engine and its jobs for `seconds` of virtual time.
    pub async fn run_for(&self, seconds: i64) {
        let until = plus_seconds(self.clock.now(), seconds);
        self.fleet
            .run_until(&self.runner, None, &self.clock, until)
            .await
            .unwrap();
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
