//! The simulated world the engine's integration tests run in: a fleet on the
//! simulator (CML licensed at launch) over the in-memory store, its recurrent
//! jobs registered, and a virtual clock the tests move.
#![allow(dead_code)]

use std::ops::Deref;

use ccm_core::fleet::{CreateWorker, FleetSettings};
use ccm_core::ids::{Region, WorkerId};
use ccm_sim::{SimConfig, SimEngine};

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
