//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use ccm_core::ids::{InstanceId, Region, WorkerId};
use ccm_core::ports::cloud::{CloudProvider, ImageSelector, Instance, LaunchRequest};
use ccm_core::ports::cml::CmlEndpoint;
use ccm_sim::Simulation;

pub fn us_east() -> Region {
    Region::new("us-east-1")
}

pub fn request(worker: u128, region: &Region) -> LaunchRequest {
    LaunchRequest {
        worker_id: WorkerId::from_u128(worker),
        region: region.clone(),
        name: format!("worker-{worker}"),
        image: ImageSelector::NamePattern("cml-2.9*".into()),
        instance_type: "m5zn.metal".into(),
        subnet_id: None,
        security_group_ids: vec![],
        key_name: None,
        iam_instance_profile: None,
        tags: BTreeMap::from([("team".to_owned(), "lab".to_owned())]),
        detailed_monitoring: true,
    }
}

pub async fn launch(sim: &Simulation, worker: u128) -> Instance {
    sim.cloud()
        .launch(&request(worker, &us_east()))
        .await
        .unwrap()
}

/// Launches and waits until the instance runs and its CML answers.
pub async fn running_worker(sim: &Simulation, worker: u128) -> (InstanceId, CmlEndpoint) {
    let instance = launch(sim, worker).await;
    sim.settle().unwrap();
    let ep = sim.cml_endpoint(WorkerId::from_u128(worker), &instance.instance_id);
    (instance.instance_id, ep)
}

pub fn topology(nodes: u32) -> String {
    ccm_core::testing::cml::topology_yaml("t", nodes)
}
