//! [`SimEngine`]: ccm's fleet engine on a simulated world — the in-memory store,
//! the world's cloud and CML, its virtual clock, the recurrent jobs registered —
//! as the simulated week, the examples and the engine's scenario tests all
//! assemble it.

use std::sync::Arc;

use ccm_core::fleet::{Adapters, Fleet, FleetSettings};
use ccm_core::ports::{Clock, SeededIds, VirtualClock};
use ccm_core::runtime::JobRunner;
use ccm_core::store::MemoryStore;
use ccm_core::time::{plus_seconds, Timestamp};
use ccm_core::CoreError;

use crate::{SimConfig, Simulation};

/// A fleet engine on a simulated world, driven on the world's virtual clock.
pub struct SimEngine {
    /// The world (its hooks and fault switches).
    pub sim: Simulation,
    /// The virtual clock the world and the engine share.
    pub clock: VirtualClock,
    /// The engine's store.
    pub store: Arc<MemoryStore>,
    /// The engine.
    pub fleet: Arc<Fleet>,
    /// Its recurrent jobs.
    pub runner: JobRunner,
}

impl std::fmt::Debug for SimEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimEngine")
            .field("now", &self.clock.now())
            .finish_non_exhaustive()
    }
}

impl SimEngine {
    /// The engine on a world of `seed` and `config`, its clock at `config.start`.
    pub async fn start(
        seed: u64,
        config: SimConfig,
        settings: FleetSettings,
    ) -> Result<Self, CoreError> {
        Self::start_with(seed, config, settings, |fleet| fleet).await
    }

    /// As [`SimEngine::start`], with `extend` adding to the engine before it
    /// starts (a metric series, a licence token…).
    pub async fn start_with(
        seed: u64,
        config: SimConfig,
        settings: FleetSettings,
        extend: impl FnOnce(Fleet) -> Fleet,
    ) -> Result<Self, CoreError> {
        let clock = VirtualClock::new(config.start);
        let sim = Simulation::with_virtual_clock(seed, config, clock.clone());
        let store = Arc::new(MemoryStore::new());
        // Ids from the seed too, so the seed determines everything written.
        let fleet = Arc::new(extend(
            Fleet::new(
                Adapters {
                    store: store.clone(),
                    cloud: Arc::new(sim.cloud()),
                    cml: Arc::new(sim.cml()),
                    clock: Arc::new(clock.clone()),
                },
                settings,
            )
            .with_ids(Arc::new(SeededIds::new(seed))),
        ));
        let mut runner = JobRunner::new(store.clone(), Arc::new(clock.clone()));
        fleet.register_jobs(&mut runner).await?;
        Ok(Self {
            sim,
            clock,
            store,
            fleet,
            runner,
        })
    }

    /// Runs the engine and its jobs until `until` on the virtual clock.
    pub async fn run_until(&self, until: Timestamp) -> Result<(), CoreError> {
        self.fleet
            .run_until(&self.runner, None, &self.clock, until)
            .await
    }

    /// Runs the engine and its jobs for `seconds` of virtual time.
    pub async fn run_for(&self, seconds: i64) -> Result<(), CoreError> {
        self.run_until(plus_seconds(self.clock.now(), seconds))
            .await
    }
}
