//! The learned lead time on a simulated world: boots and lab imports the engine
//! ran are learned from the event log, the scheduler then works with the learned
//! lead, and what was learned outlives the process (a new engine over the same
//! store and key-value store answers the same lead and counts no event twice).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::Arc;

use ccm_core::definition::{NewDefinition, ResourceNeeds};
use ccm_core::fleet::{CreateWorker, FleetSettings};
use ccm_core::ids::Region;
use ccm_core::lablet::{NewLablet, Timeslot};
use ccm_core::ports::{Clock, KeyValueStore};
use ccm_core::resources::Resources;
use ccm_core::runtime::JobRunner;
use ccm_core::store::MemoryKeyValueStore;
use ccm_core::time::plus_seconds;
use ccm_core::version::SemVer;
use support::SharedWorld;

const BOOTS: usize = 3;

fn settings() -> FleetSettings {
    let mut settings = FleetSettings::default();
    settings.autoscaler.regions = vec![Region::new("eu-west-1")];
    settings.lablets.lead_time_min_samples = BOOTS as u32;
    settings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boots_and_imports_are_learned_used_and_kept_across_processes() {
    let w = SharedWorld::new(11);
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
    let first = w.process(settings(), kv.clone());
    let mut runner = JobRunner::new(w.store.clone(), Arc::new(w.clock.clone()));
    first.register_jobs(&mut runner).await.unwrap();
    let configured = first.lead_time().await.unwrap();
    assert_eq!(configured.seconds, 35 * 60);
    assert!(configured.estimates.iter().all(|e| !e.learned));

    for n in 0..BOOTS {
        first
            .create_worker(CreateWorker {
                idle_detection_disabled: true,
                ..CreateWorker::new(format!("w{n}"), Region::new("eu-west-1"))
            })
            .await
            .unwrap();
    }
    let definition = first
        .create_definition(NewDefinition {
            name: "small".into(),
            version: SemVer::new(1, 0, 0),
            topology_yaml: "nodes:\n  - id: n0\n    node_definition: iosv\n".into(),
            needs: ResourceNeeds {
                resources: Resources::new(2, 4, 10),
                nodes: 0,
                ports: 1,
            },
            licence_affinity: None,
            min_cml_version: None,
            max_duration_minutes: 240,
            warm_pool_depth: 0,
        })
        .await
        .unwrap();
    let start = plus_seconds(w.clock.now(), 3600);
    for _ in 0..BOOTS {
        first
            .create_lablet(
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
            .await
            .unwrap();
    }
    // Past the lablets' start: workers booted, labs imported, the job ran.
    first
        .run_until(&runner, None, &w.clock, plus_seconds(start, 600))
        .await
        .unwrap();
    let learned = first.lead_time().await.unwrap();
    let estimate = &learned.estimates[0];
    assert!(estimate.learned, "{learned:?}");
    assert_eq!(estimate.boot_samples, BOOTS);
    assert!(estimate.import_samples >= BOOTS, "{estimate:?}");
    // A metal boot (20 min) and CML (5 min), seen by a poll; the labs' nodes
    // (2 min). The lead adds the pass interval and the margin.
    let boot = estimate.boot_seconds.unwrap();
    assert!((25 * 60..=32 * 60).contains(&boot), "boot {boot} s");
    let import = estimate.import_seconds.unwrap();
    assert!((60..=5 * 60).contains(&import), "import {import} s");
    assert_eq!(learned.seconds, boot + import + 60 + 180);
    assert!(learned.seconds < configured.seconds);

    // Another process over the same store and key-value store: the same lead,
    // and learning again reads on from the stored cursor (no boot counted twice).
    let second = w.process(settings(), kv.clone());
    assert_eq!(second.lead_time().await.unwrap(), learned);
    second.learn_lead_times().await.unwrap();
    assert_eq!(second.lead_time().await.unwrap(), learned);

    // A process with a key-value store of its own starts from the configured
    // lead: the history is in the shared store, not in the engine's memory.
    let alone = w.process(settings(), Arc::new(MemoryKeyValueStore::new()));
    assert_eq!(alone.lead_time().await.unwrap().seconds, 35 * 60);
}
