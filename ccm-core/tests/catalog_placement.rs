//! Placement by node and image definitions on the simulator: the sweep reads each
//! worker's catalog from its CML once (not at every sweep), a lablet goes only to a
//! worker whose CML offers every definition its topology uses, and the autoscaler
//! buys no worker for a lablet no new worker could run, saying why instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ccm_core::definition::{LabletDefinition, NewDefinition, ResourceNeeds};
use ccm_core::event::{EventPayload, ScalingAction};
use ccm_core::fleet::{Fleet, FleetSettings};
use ccm_core::lablet::{NewLablet, Timeslot};
use ccm_core::ports::{Clock, Store};
use ccm_core::resources::Resources;
use ccm_core::time::plus_seconds;
use ccm_core::version::SemVer;
use support::SimWorld;

async fn definition(fleet: &Fleet, name: &str, node_definition: &str) -> LabletDefinition {
    let topology = format!(
        "nodes:\n  - id: n0\n    node_definition: iosv\n  - id: n1\n    node_definition: {node_definition}\n"
    );
    fleet
        .create_definition(NewDefinition {
            name: name.into(),
            version: SemVer::new(1, 0, 0),
            topology_yaml: topology,
            needs: ResourceNeeds {
                resources: Resources::new(4, 8, 20),
                nodes: 0,
                ports: 1,
            },
            licence_affinity: None,
            min_cml_version: None,
            max_duration_minutes: 240,
            warm_pool_depth: 0,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_lablet_goes_only_where_cml_offers_its_definitions_and_none_is_bought_for_it() {
    let mut settings = FleetSettings::default();
    settings.autoscaler.enabled = true;
    let w = SimWorld::new(5, settings).await;
    let (fleet, store, clock) = (&w.fleet, &w.store, &w.clock);
    let worker = w.worker("w1").await;
    w.run_for(30 * 60).await;

    let synced = fleet.get_worker(worker).await.unwrap();
    let catalog = synced.status.catalog.as_deref().expect("catalog read");
    assert!(catalog.node_definitions.contains("iosv"), "{catalog:?}");
    assert!(catalog.image_definitions.contains_key("iosv-default"));

    let offered = definition(fleet, "ccna", "alpine").await;
    let lacking = definition(fleet, "asa-lab", "asav-not-installed").await;
    assert!(lacking
        .requires
        .node_definitions
        .contains("asav-not-installed"));
    let book = |definition: &LabletDefinition| {
        let start = plus_seconds(clock.now(), 20 * 60);
        fleet.create_lablet(
            definition.id,
            NewLablet {
                owner: "student".into(),
                timeslot: Timeslot {
                    start,
                    end: plus_seconds(start, 3600),
                },
                reservation_id: None,
                on_demand: false,
            },
        )
    };
    let fits = book(&offered).await.unwrap();
    let stranded = book(&lacking).await.unwrap();
    w.run_for(40 * 60).await;

    let fits = fleet.get_lablet(fits.id).await.unwrap();
    assert_eq!(fits.status.worker_id, Some(worker));
    let stranded = fleet.get_lablet(stranded.id).await.unwrap();
    assert_eq!(stranded.status.worker_id, None, "{:?}", stranded.status);
    let workers = store.list_workers(&Default::default()).await.unwrap();
    assert_eq!(
        workers.len(),
        1,
        "no worker is launched for the stranded lablet"
    );

    let events = store.read_events(0, usize::MAX).await.unwrap();
    let blocked: Vec<String> = events
        .iter()
        .filter_map(|e| match &e.event.payload {
            EventPayload::FleetScalingDecided {
                action: ScalingAction::Blocked,
                reason,
                ..
            } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert!(
        blocked.iter().any(|r| r.contains("asav-not-installed")),
        "{blocked:?}"
    );
    let syncs = events
        .iter()
        .filter(|e| matches!(e.event.payload, EventPayload::WorkerCatalogSynced { .. }))
        .count();
    assert_eq!(syncs, 1, "a catalog read again unchanged writes nothing");
}
