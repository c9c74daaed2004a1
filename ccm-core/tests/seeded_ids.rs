//! A simulation is determined by its seed: two runs of one seed write the same
//! records and the same event log, identifiers included, because the engine
//! draws ids from its `IdSource` port (seeded on the simulator) and times from
//! its clock port (virtual).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use ccm_core::fleet::FleetSettings;
use ccm_core::ports::store::WorkerFilter;
use ccm_core::ports::Store;
use support::SimWorld;

/// The event log and the workers after creating three workers and running
/// two hours, as JSON.
async fn day(seed: u64) -> (serde_json::Value, serde_json::Value) {
    let world = SimWorld::new(seed, FleetSettings::default()).await;
    for name in ["w1", "w2", "w3"] {
        world.worker(name).await;
    }
    world.run_for(2 * 3600).await;
    let log = world.store.read_events(0, 100_000).await.unwrap();
    assert!(log.len() > 10, "the run wrote events: {}", log.len());
    let workers = world
        .store
        .list_workers(&WorkerFilter::default())
        .await
        .unwrap();
    (
        serde_json::to_value(log).unwrap(),
        serde_json::to_value(workers).unwrap(),
    )
}

#[tokio::test]
async fn one_seed_writes_one_log_ids_included() {
    let (log, workers) = day(21).await;
    let (log_again, workers_again) = day(21).await;
    assert_eq!(workers, workers_again, "the same seed made other workers");
    assert_eq!(log, log_again, "the same seed wrote another log");

    let (other_log, other_workers) = day(22).await;
    let ids = |workers: &serde_json::Value| -> Vec<String> {
        workers
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&workers).len(), 3);
    assert!(
        ids(&workers)
            .iter()
            .all(|id| !ids(&other_workers).contains(id)),
        "another seed, other ids"
    );
    assert_ne!(log, other_log);
}
