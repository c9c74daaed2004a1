//! Labs made by hand on a worker's CML take capacity that placement must not hand
//! out again: the lab sync reads what each lab's nodes take, records it per lab,
//! and sums the labs no lablet owns on the worker, where placement subtracts it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ccm_core::event::EventPayload;
use ccm_core::fleet::{FleetSettings, LabAction, WhenLabletsBound};
use ccm_core::placement::WorkerCandidate;
use ccm_core::ports::Store;
use ccm_core::resources::Resources;
use support::SimWorld;

/// Two NX-OSv switches: 2 vCPUs and 8 GiB each in the simulator's catalog.
const BY_HAND: &str = "lab:\n  title: by-hand\nnodes:\n  - id: n0\n    node_definition: nxosv9000\n  - id: n1\n    node_definition: nxosv9000\nlinks: []\n";

#[tokio::test]
async fn a_hand_made_lab_takes_its_share_of_the_worker_until_it_is_deleted() {
    let w = SimWorld::new(11, FleetSettings::default()).await;
    let fleet = &w.fleet;
    let worker = w.worker("shared").await;
    w.run_for(30 * 60).await;
    let before = fleet.get_worker(worker).await.unwrap();
    assert_eq!(before.status.capacity.unmanaged.labs, 0);
    let free_before = WorkerCandidate::from_worker(&before).free;

    let lab = fleet
        .import_lab(worker, BY_HAND, Some("by-hand"), Some("alice".into()))
        .await
        .unwrap();
    fleet
        .lab_action(
            worker,
            &lab.cml_lab_id,
            LabAction::Start,
            WhenLabletsBound::Refuse,
            None,
        )
        .await
        .unwrap();
    w.run_for(10 * 60).await;

    let labs = fleet.list_labs(worker, false).await.unwrap();
    // Its discovery was logged as what CML reported, not as the record.
    let discovered: Vec<(String, u32)> = w
        .store
        .read_events(0, usize::MAX)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.payload {
            EventPayload::LabDiscoveredV2 {
                title, node_count, ..
            } => Some((title, node_count)),
            _ => None,
        })
        .collect();
    assert_eq!(discovered, vec![("by-hand".to_owned(), 2)]);
    let usage = labs[0].usage.expect("usage read");
    assert_eq!(
        (usage.cpus, usage.memory_mib, usage.running_nodes),
        (4, 16_384, 2)
    );
    assert!(usage.disk_gib > 0);
    let shared = fleet.get_worker(worker).await.unwrap();
    let unmanaged = shared.status.capacity.unmanaged;
    assert_eq!((unmanaged.labs, unmanaged.nodes), (1, 2));
    assert_eq!(
        unmanaged.resources,
        Resources {
            cpu_millis: 4000,
            memory_mib: 16_384,
            storage_gib: usage.disk_gib
        }
    );
    let candidate = WorkerCandidate::from_worker(&shared);
    assert_eq!(
        candidate.free,
        free_before.saturating_sub(&unmanaged.resources)
    );
    assert_eq!(
        candidate.free_nodes,
        WorkerCandidate::from_worker(&before).free_nodes - 2,
        "its running nodes take node slots"
    );

    fleet
        .lab_action(
            worker,
            &lab.cml_lab_id,
            LabAction::Delete,
            WhenLabletsBound::Refuse,
            None,
        )
        .await
        .unwrap();
    w.run_for(5 * 60).await;
    let freed = fleet.get_worker(worker).await.unwrap();
    assert_eq!(freed.status.capacity.unmanaged, Default::default());
    assert_eq!(WorkerCandidate::from_worker(&freed).free, free_before);
}
