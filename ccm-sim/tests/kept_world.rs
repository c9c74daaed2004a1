//! A world kept in a file (`Simulation::kept_in`): saved and read back with its
//! instances, labs, purge queue and random streams; an instance booting at the save
//! finishes booting on the clock after the restore; a missing file is a fresh world
//! written at once; a damaged file or one of another format is an error naming the
//! file and is left alone; saves write only when the world changed.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccm_core::ids::{Region, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::ports::clock::{Clock, VirtualClock};
use ccm_core::ports::cloud::{CloudProvider, InstanceState};
use ccm_core::ports::cml::CmlClient;
use ccm_sim::{RegionConfig, SimConfig, SimError, Simulation, WorldOrigin, WORLD_FORMAT};
use common::{request, topology, us_east};

/// A directory of its own under the system's temporary directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ccm-sim-kept-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("data").join("ccm.db.sim-world.json")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn kept(path: &Path, seed: u64, clock: &VirtualClock) -> (Simulation, WorldOrigin) {
    Simulation::kept_in(path, seed, SimConfig::default(), Arc::new(clock.clone())).unwrap()
}

#[tokio::test]
async fn a_restored_world_carries_on_where_the_saved_one_stood() {
    let scratch = Scratch::new();
    let clock = VirtualClock::new(SimConfig::default().start);
    let (sim, origin) = kept(&scratch.file(), 5, &clock);
    assert_eq!(origin, WorldOrigin::Created);
    assert_eq!(sim.world_file(), Some(scratch.file().as_path()));
    let cloud = sim.cloud();

    // A running worker with a started lab, one booting, one terminated.
    let running = cloud.launch(&request(1, &us_east())).await.unwrap();
    clock.advance_seconds(sim.config().unwrap().settle_seconds());
    let ep = sim.cml_endpoint(WorkerId::from_u128(1), &running.instance_id);
    let lab = sim
        .cml()
        .import_lab(&ep, &topology(2), Some("kept"))
        .await
        .unwrap()
        .id;
    sim.cml().start_lab(&ep, &lab).await.unwrap();
    let gone = cloud.launch(&request(3, &us_east())).await.unwrap();
    cloud
        .terminate(&us_east(), std::slice::from_ref(&gone.instance_id))
        .await
        .unwrap();
    let booting = cloud.launch(&request(2, &us_east())).await.unwrap();
    assert_eq!(booting.state, InstanceState::Pending);
    assert!(
        sim.save().unwrap(),
        "the world changed since it was created"
    );
    assert!(!sim.save().unwrap(), "nothing changed since the last save");

    // Another seed: what is restored must not depend on it.
    let (restored, origin) = kept(&scratch.file(), 99, &clock);
    assert_eq!(origin, WorldOrigin::Restored { instances: 3 });
    let ids = |sim: &Simulation| -> Vec<(String, InstanceState)> {
        sim.instances(&us_east())
            .unwrap()
            .into_iter()
            .map(|i| (i.instance_id.to_string(), i.state))
            .collect()
    };
    assert_eq!(ids(&restored), ids(&sim));
    let labs = restored.labs(&running.instance_id).unwrap();
    assert_eq!(labs.len(), 1);
    assert_eq!(labs[0].id, lab);
    assert_eq!(labs[0].state, LabState::Started);
    assert_eq!(
        restored.cml().download_lab(&ep, &lab).await.unwrap(),
        sim.cml().download_lab(&ep, &lab).await.unwrap()
    );
    assert!(!restored.cml().check_if_converged(&ep, &lab).await.unwrap());

    // The booting instance finishes on the clock, in both worlds alike.
    clock.advance_seconds(sim.config().unwrap().delays.boot_metal_seconds);
    let state_of = |sim: &Simulation| {
        sim.instances(&us_east())
            .unwrap()
            .into_iter()
            .find(|i| i.instance_id == booting.instance_id)
            .map(|i| i.state)
    };
    assert_eq!(state_of(&restored), Some(InstanceState::Running));
    assert_eq!(state_of(&restored), state_of(&sim));
    assert!(
        restored.cml().check_if_converged(&ep, &lab).await.unwrap(),
        "the lab's nodes finished booting on the clock"
    );

    // The random streams resume: the next launch gets the id the original draws.
    let next_original = sim.cloud().launch(&request(4, &us_east())).await.unwrap();
    let next_restored = restored
        .cloud()
        .launch(&request(4, &us_east()))
        .await
        .unwrap();
    assert_eq!(next_restored.instance_id, next_original.instance_id);
    assert_eq!(next_restored.private_ip, next_original.private_ip);

    // The terminated instance is still purged on time after the restore.
    clock.advance_seconds(sim.config().unwrap().delays.terminated_retention_seconds);
    assert!(ids(&restored)
        .iter()
        .all(|(id, _)| *id != gone.instance_id.to_string()));
}

#[tokio::test]
async fn regions_added_to_the_configuration_join_a_restored_world() {
    let scratch = Scratch::new();
    let clock = VirtualClock::new(SimConfig::default().start);
    let one_region = SimConfig {
        regions: vec![RegionConfig::new("us-east-1")],
        ..SimConfig::default()
    };
    let (sim, _) = Simulation::kept_in(
        scratch.file(),
        1,
        one_region.clone(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let kept = sim.cloud().launch(&request(1, &us_east())).await.unwrap();
    sim.save().unwrap();

    let two_regions = SimConfig {
        regions: vec![
            RegionConfig::new("us-east-1").with_cap(5),
            RegionConfig::new("eu-west-1"),
        ],
        ..one_region
    };
    let (restored, _) =
        Simulation::kept_in(scratch.file(), 1, two_regions, Arc::new(clock.clone())).unwrap();
    let images = restored
        .cloud()
        .find_images(&Region::new("eu-west-1"), "cml-2.9*")
        .await
        .unwrap();
    assert!(!images.is_empty(), "the new region has the image catalog");
    assert_eq!(
        restored.instances(&us_east()).unwrap()[0].instance_id,
        kept.instance_id
    );
    assert_eq!(restored.config().unwrap().regions[0].instance_cap, Some(5));
}

#[test]
fn a_missing_file_is_a_fresh_world_written_at_once() {
    let scratch = Scratch::new();
    let clock = VirtualClock::new(SimConfig::default().start);
    assert!(!scratch.file().exists());
    let (_, origin) = kept(&scratch.file(), 1, &clock);
    assert_eq!(origin, WorldOrigin::Created);
    let text = std::fs::read_to_string(scratch.file()).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["format"], WORLD_FORMAT);
    assert!(json["world"]["regions"]["us-east-1"].is_object(), "{text}");
}

#[test]
fn damaged_or_foreign_files_are_refused_by_name_and_left_alone() {
    let scratch = Scratch::new();
    let clock: Arc<dyn Clock> = Arc::new(VirtualClock::new(SimConfig::default().start));
    std::fs::create_dir_all(scratch.file().parent().unwrap()).unwrap();
    for (content, says) in [
        ("{\"format\": 1, \"world\": {\"regions\": ", "is damaged"),
        ("not json at all", "is not a saved simulated world"),
        ("{\"world\": {}}", "has no `format` field"),
        (
            "{\"format\": 99, \"world\": {}}",
            "was written in format 99, and this build reads format 1",
        ),
    ] {
        std::fs::write(scratch.file(), content).unwrap();
        let error = Simulation::kept_in(scratch.file(), 1, SimConfig::default(), clock.clone())
            .unwrap_err();
        let SimError::WorldFile { path, problem } = &error else {
            panic!("{error:?}");
        };
        assert_eq!(path, &scratch.file().display().to_string());
        assert!(problem.contains(says), "{problem}");
        assert!(error.to_string().contains(path.as_str()), "{error}");
        assert_eq!(std::fs::read_to_string(scratch.file()).unwrap(), content);
    }
}

#[test]
fn a_world_kept_in_memory_saves_nothing() {
    let sim = Simulation::new(1);
    assert_eq!(sim.world_file(), None);
    assert!(!sim.save().unwrap());
}
