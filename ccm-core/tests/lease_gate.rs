//! A leader whose lease has run out by the clock makes no further cloud call
//! from an engine step: the gate refuses it before it reaches the simulator.
//! Calls outside an engine step (an operator's request) are not gated.

use std::sync::Arc;

use ccm_core::ids::Region;
use ccm_core::ports::cloud::CloudError;
use ccm_core::ports::{CloudProvider, VirtualClock};
use ccm_core::runtime::lease_gate::{acting_under, GatedCloud};
use ccm_core::runtime::{LeaderElector, LeaseSettings};
use ccm_core::store::MemoryStore;
use ccm_sim::{SimConfig, Simulation};

const REGION: &str = "us-east-1";

fn elector(store: Arc<MemoryStore>, clock: &VirtualClock, holder: &str) -> Arc<LeaderElector> {
    Arc::new(LeaderElector::new(
        store,
        Arc::new(clock.clone()),
        holder,
        LeaseSettings::default(),
    ))
}

#[tokio::test]
async fn gated_calls_pass_while_the_lease_holds_and_are_refused_after_it_ran_out() {
    let clock = VirtualClock::new(SimConfig::default().start);
    let sim = Simulation::with_virtual_clock(3, SimConfig::default(), clock.clone());
    let store = Arc::new(MemoryStore::new());
    let leader = elector(store, &clock, "a");
    leader.step().await;
    assert!(leader.fence().is_some());
    let cloud = GatedCloud::new(Arc::new(sim.cloud()));
    let region = Region::new(REGION);

    let before = sim.cloud_calls().unwrap().total();
    acting_under(leader.clone(), cloud.find_images(&region, "*"))
        .await
        .unwrap();
    assert_eq!(sim.cloud_calls().unwrap().total(), before + 1);

    clock.advance_seconds(i64::from(LeaseSettings::default().duration_seconds) + 1);
    let refused = acting_under(leader.clone(), cloud.find_images(&region, "*")).await;
    assert!(
        matches!(refused, Err(CloudError::LeaseLost { .. })),
        "{refused:?}"
    );
    assert_eq!(
        sim.cloud_calls().unwrap().total(),
        before + 1,
        "a refused call never reaches the cloud"
    );

    // Outside an engine step the call acts for its caller and is not gated.
    cloud.find_images(&region, "*").await.unwrap();
    assert_eq!(sim.cloud_calls().unwrap().total(), before + 2);
}
