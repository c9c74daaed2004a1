//! The smoke path of the fleet engine on real adapters: EC2 and CloudWatch from
//! moto through `ccm-aws`, CML from the HTTP simulator through `ccm-cml`, state in
//! SQLite. A worker is created, launched, observed, used for a lab and stopped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ccm_aws::testing::MotoServer;
use ccm_cml::{CmlClientConfig, HttpCmlClient};
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings, LabAction};
use ccm_core::ids::Region;
use ccm_core::lab::LabState;
use ccm_core::ports::SystemClock;
use ccm_core::secret::Secret;
use ccm_core::worker::{CmlServiceState, EndpointAllowList, LifecycleState};
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};
use ccm_store_sqlite::SqliteStore;

const TOPOLOGY: &str =
    "lab:\n  title: smoke\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_on_moto_with_cml_over_http_goes_through_its_life() {
    let moto = MotoServer::start()
        .await
        .expect("moto (run scripts/setup-python)");
    let cml = CmlHttpServer::start(CmlHttpOptions {
        licensed: true,
        ..CmlHttpOptions::default()
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("ccm-smoke-{}", uuid_like()));
    let store = Arc::new(
        SqliteStore::open(&format!("sqlite://{}/ccm.db", dir.display()))
            .await
            .unwrap(),
    );
    let client = HttpCmlClient::new(CmlClientConfig::new("admin", Secret::new("admin"))).unwrap();
    let mut settings = FleetSettings::default();
    settings.launch.image = ccm_core::ports::cloud::ImageSelector::NamePattern("cml-2.9*".into());
    // The HTTP simulator listens on loopback, which is no instance's address.
    settings.endpoint_allow = EndpointAllowList::parse(&["127.0.0.1/32"]).unwrap();
    let fleet = Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: Arc::new(moto.cloud().unwrap()),
            cml: Arc::new(client),
            clock: Arc::new(SystemClock),
        },
        settings,
    );

    let worker = fleet
        .create_worker(CreateWorker {
            name: "smoke".into(),
            region: Region::new("us-east-1"),
            instance_type: None,
            labels: BTreeMap::new(),
            tags: BTreeMap::new(),
            idle_detection_disabled: true,
            created_by: Some("smoke".into()),
            image: None,
        })
        .await
        .unwrap();
    // The instance's CML is the HTTP simulator, as an admin would set it.
    fleet
        .set_cml_endpoint(worker.id, Some(cml.base_url().to_owned()))
        .await
        .unwrap();
    // Launch, then let moto report it running and sweep it.
    for _ in 0..3 {
        fleet.reconcile_worker(worker.id, None).await.unwrap();
    }
    let report = fleet.refresh_now(worker.id).await.unwrap();
    assert!(matches!(
        report,
        ccm_core::fleet::RefreshOutcome::Refreshed { .. }
    ));
    let seen = fleet.get_worker(worker.id).await.unwrap();
    assert_eq!(seen.status.lifecycle, LifecycleState::Running);
    assert!(seen
        .ami
        .as_ref()
        .unwrap()
        .name
        .as_deref()
        .unwrap()
        .starts_with("cml-2.9"));
    assert_eq!(
        seen.status.cml.state,
        CmlServiceState::Available,
        "{:?}",
        seen.status.cml
    );
    assert!(seen.status.metrics.ec2.observed_at.is_some());
    assert!(seen.status.metrics.cml.value.is_some());

    // A lab through the engine, over HTTP.
    let lab = fleet
        .import_lab(worker.id, TOPOLOGY, Some("smoke"), Some("smoke".into()))
        .await
        .unwrap();
    assert_eq!(lab.node_count, 2);
    let labs = fleet
        .lab_action(
            worker.id,
            &lab.cml_lab_id,
            LabAction::Start,
            ccm_core::fleet::WhenLabletsBound::Refuse,
            None,
        )
        .await
        .unwrap();
    assert_eq!(labs[0].state, LabState::Started);
    let yaml = fleet
        .download_lab(worker.id, &lab.cml_lab_id)
        .await
        .unwrap();
    assert!(yaml.contains("nodes"));
    fleet
        .lab_action(
            worker.id,
            &lab.cml_lab_id,
            LabAction::Delete,
            ccm_core::fleet::WhenLabletsBound::Refuse,
            None,
        )
        .await
        .unwrap();
    assert!(fleet.list_labs(worker.id, false).await.unwrap().is_empty());

    // Stop through the controller; moto stops the instance.
    fleet
        .stop_worker(worker.id, ccm_core::fleet::WhenLabletsBound::Refuse)
        .await
        .unwrap();
    for _ in 0..3 {
        fleet.reconcile_worker(worker.id, None).await.unwrap();
    }
    let stopped = fleet.get_worker(worker.id).await.unwrap();
    assert!(
        matches!(
            stopped.status.lifecycle,
            LifecycleState::Stopping | LifecycleState::Stopped
        ),
        "{:?}",
        stopped.status.lifecycle
    );
    cml.shutdown().await.unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

fn uuid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}
