//! The one shared world behind every view: regions, instances, CML servers, fault
//! switches, call counters and randomness, all under one lock so the cloud and CML
//! views always agree (CML availability follows the instance it runs on).
//!
//! The world serialises (see [`crate::saved`]) without its configuration, fault
//! switches and call counters: those belong to the process running it, the rest is
//! the simulated cloud itself.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use ccm_core::ids::{ImageId, InstanceId, Region};
use ccm_core::ports::clock::{Clock, VirtualClock};
use ccm_core::ports::cloud::Image;
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::calls::CallCounts;
use crate::cloud::region::RegionState;
use crate::cloud::throttle::TokenBucket;
use crate::cml::server::CmlServer;
use crate::config::{ImageSpec, SimConfig};
use crate::error::SimError;
use crate::faults::Faults;
use crate::rng::SimRng;
use crate::saved::WorldFile;

/// Everything simulated.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct World {
    #[serde(skip)]
    pub(crate) config: SimConfig,
    pub(crate) rng: SimRng,
    #[serde(skip)]
    pub(crate) faults: Faults,
    pub(crate) regions: BTreeMap<Region, RegionState>,
    /// Which region each instance lives in.
    pub(crate) instance_regions: BTreeMap<InstanceId, Region>,
    /// The CML server of each instance.
    pub(crate) servers: BTreeMap<InstanceId, CmlServer>,
    /// Terminated instances to forget, by the instant they vanish.
    pub(crate) purge_queue: BTreeSet<(Timestamp, InstanceId)>,
    pub(crate) next_instance_seq: u64,
    #[serde(skip)]
    pub(crate) cloud_calls: CallCounts,
    #[serde(skip)]
    pub(crate) cml_calls: CallCounts,
}

impl World {
    /// A world built from `config`, its random ids drawn from `seed`.
    pub(crate) fn new(seed: u64, config: SimConfig, now: Timestamp) -> Self {
        let mut world = Self {
            config: SimConfig::default(),
            rng: SimRng::new(seed),
            faults: Faults::default(),
            regions: BTreeMap::new(),
            instance_regions: BTreeMap::new(),
            servers: BTreeMap::new(),
            purge_queue: BTreeSet::new(),
            next_instance_seq: 0,
            cloud_calls: CallCounts::default(),
            cml_calls: CallCounts::default(),
        };
        world.configure(config, now);
        world
    }

    /// Puts the world under `config`: regions it names and the world lacks are
    /// created with the image catalog, and the caps of the others follow it.
    /// Regions the world has and `config` no longer names keep their instances (a
    /// restored world must not lose what runs there).
    pub(crate) fn configure(&mut self, config: SimConfig, now: Timestamp) {
        for region in &config.regions {
            if let Some(state) = self.regions.get_mut(&region.name) {
                state.config = region.clone();
                continue;
            }
            let bucket = config.throttle.map(|t| TokenBucket::new(t, now));
            let mut state = RegionState::new(region.clone(), bucket);
            for spec in &config.images {
                state.images.add(new_image(&mut self.rng, &state, spec));
            }
            self.regions.insert(region.name.clone(), state);
        }
        self.config = config;
    }

    /// Registers an AMI in a region.
    pub(crate) fn add_image(
        &mut self,
        region: &Region,
        spec: &ImageSpec,
    ) -> Result<ImageId, SimError> {
        let state = self
            .regions
            .get_mut(region)
            .ok_or_else(|| SimError::UnknownRegion(region.to_string()))?;
        let image = new_image(&mut self.rng, state, spec);
        let id = image.id.clone();
        state.images.add(image);
        Ok(id)
    }

    /// Forgets instances terminated longer ago than the retention.
    pub(crate) fn purge(&mut self, now: Timestamp) {
        while let Some(first) = self.purge_queue.first() {
            if first.0 > now {
                break;
            }
            let Some((_, id)) = self.purge_queue.pop_first() else {
                break;
            };
            if let Some(region) = self.instance_regions.remove(&id) {
                if let Some(state) = self.regions.get_mut(&region) {
                    state.instances.remove(&id);
                    state.client_tokens.retain(|_, v| *v != id);
                }
            }
            self.servers.remove(&id);
        }
    }
}

fn new_image(rng: &mut SimRng, region: &RegionState, spec: &ImageSpec) -> Image {
    let id = loop {
        let id = ImageId::new(format!("ami-{}", rng.hex(17)));
        if !region.images.contains(&id) {
            break id;
        }
    };
    Image {
        id,
        name: Some(spec.name.clone()),
        description: Some(spec.description.clone()),
        created_at: Some(spec.created_at),
    }
}

/// The world, its lock and its clock, shared by every view.
pub(crate) struct Shared {
    world: Mutex<World>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) virtual_clock: Option<VirtualClock>,
    /// Where the world is kept between runs, when it is.
    pub(crate) file: Option<WorldFile>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The world may hold thousands of instances: keep views' Debug output short.
        f.debug_struct("SimWorld")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(
        world: World,
        clock: Arc<dyn Clock>,
        virtual_clock: Option<VirtualClock>,
        file: Option<WorldFile>,
    ) -> Self {
        Self {
            world: Mutex::new(world),
            clock,
            virtual_clock,
            file,
        }
    }

    /// The world, or [`SimError::Poisoned`] if a panicking thread held it.
    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, World>, SimError> {
        self.world.lock().map_err(|_| SimError::Poisoned)
    }

    /// Locks the world and reads the clock under the lock (so operations apply in
    /// time order even across threads), forgetting instances whose time is up.
    pub(crate) fn lock_at(&self) -> Result<(MutexGuard<'_, World>, Timestamp), SimError> {
        let mut world = self.lock()?;
        let now = self.clock.now();
        world.purge(now);
        Ok((world, now))
    }

    /// Sleeps for the configured latency fault, outside the lock.
    pub(crate) async fn latency(&self) {
        let latency = self.lock().ok().and_then(|w| w.faults.latency);
        if let Some(latency) = latency {
            tokio::time::sleep(latency).await;
        }
    }
}
