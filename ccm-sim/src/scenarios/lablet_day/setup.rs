//! The day's world and what is in the store before the day starts: three
//! definitions, ten workers launched and stopped, and the bookings.

use std::collections::BTreeMap;

use ccm_core::definition::{LabletDefinition, NewDefinition, ResourceNeeds};
use ccm_core::fleet::{CreateWorker, Fleet, FleetSettings, WhenLabletsBound};
use ccm_core::ids::{LabletId, Region, WorkerId};
use ccm_core::lablet::{NewLablet, Timeslot};
use ccm_core::ports::{Clock, VirtualClock};
use ccm_core::resources::Resources;
use ccm_core::runtime::JobRunner;
use ccm_core::time::{plus_seconds, Timestamp};
use ccm_core::version::SemVer;
use ccm_core::worker::{LicenceKind, LifecycleState};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::DayError;
use crate::{SimConfig, Simulation};

/// The one region of the day.
pub(super) const REGION: &str = "us-east-1";
/// Workers that exist, stopped, when the day starts.
const STOPPED_WORKERS: usize = 10;

/// What outlives every crash: the simulated cloud and CML on their clock.
pub(super) struct World {
    pub(super) sim: Simulation,
    pub(super) clock: VirtualClock,
    pub(super) start: Timestamp,
    pub(super) settings: FleetSettings,
    pub(super) seed: u64,
}

impl World {
    pub(super) fn new(seed: u64) -> Self {
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
        profile.licence = Some(LicenceKind::Personal);
        profile.node_limit = Some(40);
        profile.cml_version = Some(SemVer::new(2, 9, 1));
        Self {
            sim,
            clock,
            start,
            settings,
            seed,
        }
    }

    pub(super) fn region(&self) -> Region {
        Region::new(REGION)
    }

    /// EC2 and CML calls the simulator has served so far.
    pub(super) fn sim_calls(&self) -> Result<u64, DayError> {
        Ok(self.sim.cloud_calls()?.total() + self.sim.cml_calls()?.total())
    }
}

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

/// Three course definitions of different sizes.
pub(super) async fn definitions(fleet: &Fleet) -> Result<Vec<LabletDefinition>, DayError> {
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
                .await?,
        );
    }
    Ok(out)
}

/// Workers that exist but are stopped when the day starts.
pub(super) async fn stopped_workers(
    world: &World,
    fleet: &Fleet,
    runner: &JobRunner,
) -> Result<Vec<WorkerId>, DayError> {
    let mut ids = Vec::new();
    for n in 0..STOPPED_WORKERS {
        let worker = fleet
            .create_worker(CreateWorker {
                name: format!("w{n:02}"),
                region: world.region(),
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: false,
                created_by: None,
                image: None,
            })
            .await?;
        ids.push(worker.id);
    }
    let clock = &world.clock;
    fleet
        .run_until(runner, None, clock, plus_seconds(clock.now(), 30 * 60))
        .await?;
    for id in &ids {
        fleet.stop_worker(*id, WhenLabletsBound::Refuse).await?;
    }
    fleet
        .run_until(runner, None, clock, plus_seconds(clock.now(), 15 * 60))
        .await?;
    for id in &ids {
        let lifecycle = fleet.get_worker(*id).await?.status.lifecycle;
        if lifecycle != LifecycleState::Stopped {
            return Err(DayError::Setup(format!(
                "worker {id} is {lifecycle:?} 15 minutes after its stop, not Stopped"
            )));
        }
    }
    Ok(ids)
}

/// The lablets booked.
pub(super) struct Bookings {
    pub(super) ids: Vec<LabletId>,
    /// When the last of them ends.
    pub(super) last_end: Timestamp,
}

/// `count` lablets over the business day: classes on the hour plus ad-hoc ones,
/// starting from the second to the eleventh hour of the simulation.
pub(super) async fn book(
    world: &World,
    fleet: &Fleet,
    definitions: &[LabletDefinition],
    seed: u64,
    count: usize,
) -> Result<Bookings, DayError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let day_start = plus_seconds(world.start, 2 * 3600);
    let mut ids = Vec::with_capacity(count);
    let mut last_end = world.clock.now();
    while ids.len() < count {
        let Some(definition) = definitions.get(rng.gen_range(0..definitions.len().max(1))) else {
            return Err(DayError::Setup("no definition to book".into()));
        };
        let hour = rng.gen_range(0..9i64);
        let minute = if rng.gen_bool(0.7) {
            0
        } else {
            rng.gen_range(0..4i64) * 15
        };
        let start = plus_seconds(day_start, hour * 3600 + minute * 60);
        let minutes = i64::from(rng.gen_range(60..=definition.max_duration_minutes.max(60)));
        let end = plus_seconds(start, minutes * 60);
        let lablet = fleet
            .create_lablet(
                definition.id,
                NewLablet {
                    owner: format!("student{}", ids.len()),
                    timeslot: Timeslot { start, end },
                    reservation_id: None,
                    on_demand: false,
                },
            )
            .await?;
        ids.push(lablet.id);
        last_end = last_end.max(end);
    }
    Ok(Bookings { ids, last_end })
}
