//! [`Simulation`]: the handle that owns one world, its clock and its switches, and
//! hands out the port views ([`SimCloud`], [`SimCml`]) that share it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccm_core::ports::clock::{Clock, VirtualClock};
use ccm_core::time::Timestamp;

use crate::calls::CallCounts;
use crate::cloud::SimCloud;
use crate::cml::SimCml;
use crate::config::SimConfig;
use crate::error::SimError;
use crate::faults::Faults;
use crate::saved::WorldFile;
use crate::world::{Shared, World};

/// One simulated AWS account with a CML server on every instance. Cheap to clone;
/// clones share the world.
#[derive(Clone, Debug)]
pub struct Simulation {
    pub(crate) shared: Arc<Shared>,
}

/// Where a kept world ([`Simulation::kept_in`]) came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorldOrigin {
    /// There was no file: a fresh world, written at once.
    Created,
    /// Read back from the file.
    Restored {
        /// Instances it holds (terminated ones not yet purged included).
        instances: usize,
    },
}

impl Simulation {
    /// A default world on its own virtual clock, ids drawn from `seed`.
    pub fn new(seed: u64) -> Self {
        Self::with_config(seed, SimConfig::default())
    }

    /// A world built from `config` on its own virtual clock, standing at `config.start`.
    pub fn with_config(seed: u64, config: SimConfig) -> Self {
        let clock = VirtualClock::new(config.start);
        Self::with_virtual_clock(seed, config, clock)
    }

    /// A world on a virtual clock shared with the caller (e.g. the engine under test).
    pub fn with_virtual_clock(seed: u64, config: SimConfig, clock: VirtualClock) -> Self {
        let now = clock.now();
        let world = World::new(seed, config, now);
        let shared = Shared::new(world, Arc::new(clock.clone()), Some(clock), None);
        Self {
            shared: Arc::new(shared),
        }
    }

    /// A world on any clock, e.g. [`ccm_core::ports::SystemClock`] for a simulator
    /// that runs in real time. [`Simulation::advance_seconds`] is then unavailable.
    pub fn with_clock(seed: u64, config: SimConfig, clock: Arc<dyn Clock>) -> Self {
        let world = World::new(seed, config, clock.now());
        Self {
            shared: Arc::new(Shared::new(world, clock, None, None)),
        }
    }

    /// A world on `clock` kept in the file at `path` across runs: read back when
    /// the file exists (and put under `config`: regions it adds are created, caps
    /// follow it), otherwise built from `seed` and `config` and written at once.
    /// [`Simulation::save`] writes it again. A file that cannot be read, is
    /// damaged or has another format is [`SimError::WorldFile`], never replaced.
    pub fn kept_in(
        path: impl Into<PathBuf>,
        seed: u64,
        config: SimConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<(Self, WorldOrigin), SimError> {
        let file = WorldFile::new(path.into());
        let now = clock.now();
        let (world, origin) = match file.load(config.clone(), now)? {
            Some(world) => {
                let instances = world.instance_regions.len();
                (world, WorldOrigin::Restored { instances })
            }
            None => (World::new(seed, config, now), WorldOrigin::Created),
        };
        let simulation = Self {
            shared: Arc::new(Shared::new(world, clock, None, Some(file))),
        };
        if origin == WorldOrigin::Created {
            simulation.save()?;
        }
        Ok((simulation, origin))
    }

    /// The file the world is kept in ([`Simulation::kept_in`]), if any.
    pub fn world_file(&self) -> Option<&Path> {
        self.shared.file.as_ref().map(WorldFile::path)
    }

    /// Writes the world to its file when it changed since the last save (`Ok(true)`
    /// when it wrote); does nothing for a world kept in memory only. Blocking file
    /// I/O: async callers run it on a blocking thread.
    pub fn save(&self) -> Result<bool, SimError> {
        match &self.shared.file {
            Some(file) => file.save(&self.shared),
            None => Ok(false),
        }
    }

    /// The simulated AWS.
    pub fn cloud(&self) -> SimCloud {
        SimCloud::new(self.shared.clone())
    }

    /// The simulated CML servers, acting as user `admin`.
    pub fn cml(&self) -> SimCml {
        SimCml::new(self.shared.clone())
    }

    /// The clock the world runs on.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.shared.clock.clone()
    }

    /// The virtual clock, when the world runs on one.
    pub fn virtual_clock(&self) -> Option<&VirtualClock> {
        self.shared.virtual_clock.as_ref()
    }

    /// Now, on the world's clock.
    pub fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// Moves virtual time forward.
    pub fn advance_seconds(&self, seconds: i64) -> Result<(), SimError> {
        let clock = self.virtual_clock().ok_or(SimError::NoVirtualClock)?;
        clock.advance_seconds(seconds);
        Ok(())
    }

    /// Moves virtual time forward far enough for every transition started now to
    /// finish ([`SimConfig::settle_seconds`]).
    pub fn settle(&self) -> Result<(), SimError> {
        let seconds = self.shared.lock()?.config.settle_seconds();
        self.advance_seconds(seconds)
    }

    /// The configuration in force.
    pub fn config(&self) -> Result<SimConfig, SimError> {
        Ok(self.shared.lock()?.config.clone())
    }

    /// The fault switches in force.
    pub fn faults(&self) -> Result<Faults, SimError> {
        Ok(self.shared.lock()?.faults.clone())
    }

    /// Replaces the fault switches.
    pub fn set_faults(&self, faults: Faults) -> Result<(), SimError> {
        self.shared.lock()?.faults = faults;
        Ok(())
    }

    /// Changes some fault switches: `sim.update_faults(|f| f.throttle_all = true)`.
    pub fn update_faults(&self, change: impl FnOnce(&mut Faults)) -> Result<(), SimError> {
        change(&mut self.shared.lock()?.faults);
        Ok(())
    }

    /// AWS API calls made so far, by operation (`RunInstances`, `DescribeInstances`,
    /// `GetMetricData`…), counted per page the real API would need.
    pub fn cloud_calls(&self) -> Result<CallCounts, SimError> {
        Ok(self.shared.lock()?.cloud_calls.clone())
    }

    /// CML API calls made so far, by `CmlClient` method name.
    pub fn cml_calls(&self) -> Result<CallCounts, SimError> {
        Ok(self.shared.lock()?.cml_calls.clone())
    }

    /// Sets both call counters back to zero.
    pub fn reset_calls(&self) -> Result<(), SimError> {
        let mut world = self.shared.lock()?;
        world.cloud_calls.clear();
        world.cml_calls.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::ids::{InstanceId, Region, WorkerId};
    use ccm_core::ports::cloud::{CloudError, CloudProvider};
    use ccm_core::ports::cml::{CmlClient, CmlError};

    #[tokio::test]
    async fn a_poisoned_world_is_an_error_not_a_panic() {
        let sim = Simulation::new(1);
        let shared = sim.shared.clone();
        let crashed = std::thread::spawn(move || {
            let _guard = shared.lock().unwrap();
            panic!("a thread dies holding the world");
        })
        .join();
        assert!(crashed.is_err());
        assert_eq!(sim.faults().unwrap_err(), SimError::Poisoned);
        let err = sim
            .cloud()
            .find_images(&Region::new("us-east-1"), "*")
            .await
            .unwrap_err();
        assert!(matches!(err, CloudError::Unavailable { .. }), "{err:?}");
        let ep = sim.cml_endpoint(WorkerId::from_u128(1), &InstanceId::new("i-1"));
        let err = sim.cml().system_information(&ep).await.unwrap_err();
        assert!(
            matches!(err, CmlError::Server { status: 500, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn views_debug_without_dumping_the_world() {
        let sim = Simulation::new(1);
        let text = format!("{:?}", sim.cloud());
        assert!(text.contains("SimWorld") && text.len() < 300, "{text}");
    }
}
