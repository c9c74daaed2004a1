//! The autoscaler's pacing outlives the process: after a scale-up, a new engine
//! over the same store and key-value store (a restart, or a new leader) still
//! keeps the cooldown, while one with an empty key-value store would not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use ccm_core::definition::NewDefinition;
use ccm_core::fleet::{Fleet, FleetSettings};
use ccm_core::ports::{KeyValueStore, Store};
use ccm_core::store::MemoryKeyValueStore;
use support::SharedWorld;

const COOLDOWN_SECONDS: u32 = 600;

struct World(SharedWorld);

impl std::ops::Deref for World {
    type Target = SharedWorld;

    fn deref(&self) -> &SharedWorld {
        &self.0
    }
}

fn world() -> World {
    World(SharedWorld::new(5))
}

impl World {
    /// An engine process over the shared store and `kv`.
    fn process(&self, kv: Arc<dyn KeyValueStore>) -> Fleet {
        let mut settings = FleetSettings::default();
        settings.autoscaler.enabled = true;
        settings.autoscaler.scale_up_cooldown_seconds = COOLDOWN_SECONDS;
        self.0.process(settings, kv)
    }

    /// Asks for `warm` idle workers (the warm pool of a new definition).
    async fn want_warm_workers(&self, fleet: &Fleet, name: &str, warm: u32) {
        fleet
            .create_definition(NewDefinition {
                name: name.into(),
                ..support::ccna(warm)
            })
            .await
            .unwrap();
    }

    async fn workers(&self) -> usize {
        self.store
            .list_workers(&Default::default())
            .await
            .unwrap()
            .len()
    }
}

#[tokio::test]
async fn a_restarted_engine_keeps_the_scale_up_cooldown_of_the_last_one() {
    let w = world();
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
    let first = w.process(kv.clone());
    w.want_warm_workers(&first, "one", 1).await;
    let report = first.autoscale(None).await.unwrap();
    assert_eq!(report.launched.len(), 1, "{report:?}");
    drop(first);

    // Restart: a new engine over the same store and key-value store. More
    // capacity is wanted, but the cooldown from the first engine's scale-up holds.
    let w_clock_step = i64::from(COOLDOWN_SECONDS) / 2;
    // Without the stored pacing the restarted engine would launch two at once.
    w.clock.advance_seconds(w_clock_step);
    let restarted = w.process(kv.clone());
    w.want_warm_workers(&restarted, "three", 3).await;
    let report = restarted.autoscale(None).await.unwrap();
    assert!(report.launched.is_empty(), "cooldown forgotten: {report:?}");
    assert_eq!(w.workers().await, 1);

    // Once the cooldown has passed, the same demand scales up: the cooldown was
    // what held it. The launch counter continues too (worker names stay unique).
    w.clock
        .advance_seconds(i64::from(COOLDOWN_SECONDS) - w_clock_step + 1);
    let report = restarted.autoscale(None).await.unwrap();
    assert_eq!(report.launched.len(), 2, "{report:?}");
    assert_eq!(w.workers().await, 3);
    let state = kv
        .get("autoscaler", "state", ccm_core::ports::Clock::now(&w.clock))
        .await
        .unwrap()
        .unwrap();
    let state: serde_json::Value = serde_json::from_str(&state.value).unwrap();
    assert_eq!(state["launched"], 3, "{state}");
}

#[tokio::test]
async fn the_pacing_is_one_record_in_the_autoscaler_namespace() {
    let w = world();
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
    let fleet = w.process(kv.clone());
    w.want_warm_workers(&fleet, "one", 1).await;
    fleet.autoscale(None).await.unwrap();
    let records = kv
        .list("autoscaler", ccm_core::ports::Clock::now(&w.clock), 10)
        .await
        .unwrap();
    assert_eq!(records.len(), 1);
    let value: serde_json::Value = serde_json::from_str(&records[0].value).unwrap();
    assert!(value["last_scale_up"].is_string(), "{value}");
    assert_eq!(value["launched"], 1);
}
