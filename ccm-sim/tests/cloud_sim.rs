//! Behaviour of the simulated AWS beyond the conformance suite: timing on the
//! virtual clock, call accounting, capacity, throttling and faults.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use ccm_core::ids::{ImageId, InstanceId, Region};
use ccm_core::ports::cloud::{
    CloudError, CloudProvider, DiscoveryFilter, ImageSelector, InstanceState, MetricName,
    MetricsQuery, CML_ENDPOINT_TAG, WORKER_ID_TAG,
};
use ccm_core::ports::cml::CmlClient;
use ccm_core::time::plus_seconds;
use ccm_sim::{Faults, ImageSpec, SimConfig, SimError, Simulation, ThrottleConfig};
use common::{launch, request, running_worker, topology, us_east};

#[tokio::test]
async fn metal_instances_boot_in_twenty_virtual_minutes() {
    let sim = Simulation::new(1);
    let instance = launch(&sim, 1).await;
    assert_eq!(instance.state, InstanceState::Pending);
    assert!(instance.public_ip.is_none());
    assert_eq!(
        instance.tags.get(CML_ENDPOINT_TAG).map(String::as_str),
        Some(format!("sim://{}", instance.instance_id).as_str())
    );
    let cloud = sim.cloud();
    let ids = [instance.instance_id.clone()];
    sim.advance_seconds(20 * 60 - 1).unwrap();
    assert_eq!(
        cloud.describe(&us_east(), &ids).await.unwrap()[0].state,
        InstanceState::Pending
    );
    assert!(cloud
        .status_checks(&us_east(), &ids)
        .await
        .unwrap()
        .is_empty());
    sim.advance_seconds(1).unwrap();
    let running = &cloud.describe(&us_east(), &ids).await.unwrap()[0];
    assert_eq!(running.state, InstanceState::Running);
    assert!(running.public_ip.is_some());
    let status = cloud.status_checks(&us_east(), &ids).await.unwrap();
    assert_eq!(status[0].instance_status, "initializing");
    sim.advance_seconds(300).unwrap();
    let status = cloud.status_checks(&us_east(), &ids).await.unwrap();
    assert_eq!(status[0].instance_status, "ok");

    let stop = cloud.stop(&us_east(), &ids).await.unwrap();
    assert_eq!(
        (stop[0].previous, stop[0].current),
        (InstanceState::Running, InstanceState::Stopping)
    );
    sim.advance_seconds(180).unwrap();
    assert_eq!(
        cloud.describe(&us_east(), &ids).await.unwrap()[0].state,
        InstanceState::Stopped
    );
    let term = cloud.terminate(&us_east(), &ids).await.unwrap();
    assert_eq!(term[0].current, InstanceState::ShuttingDown);
    sim.advance_seconds(119).unwrap();
    assert_eq!(
        cloud.describe(&us_east(), &ids).await.unwrap()[0].state,
        InstanceState::ShuttingDown
    );
    sim.advance_seconds(1).unwrap();
    assert_eq!(
        cloud.describe(&us_east(), &ids).await.unwrap()[0].state,
        InstanceState::Terminated
    );
    // Terminated instances are purged after the retention time.
    sim.advance_seconds(3600).unwrap();
    assert!(cloud.describe(&us_east(), &ids).await.unwrap().is_empty());
    assert!(sim.instances(&us_east()).unwrap().is_empty());
}

#[tokio::test]
async fn delays_are_configurable() {
    let mut config = SimConfig::default();
    config.delays.boot_metal_seconds = 60;
    config.delays.boot_seconds = 5;
    let sim = Simulation::with_config(1, config);
    let metal = launch(&sim, 1).await;
    let mut small = request(2, &us_east());
    small.instance_type = "t3.large".into();
    let small = sim.cloud().launch(&small).await.unwrap();
    sim.advance_seconds(5).unwrap();
    let ids = [metal.instance_id, small.instance_id];
    let states: Vec<_> = sim
        .cloud()
        .describe(&us_east(), &ids)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.state)
        .collect();
    assert_eq!(states, [InstanceState::Pending, InstanceState::Running]);
}

#[tokio::test]
async fn illegal_state_changes_are_refused_atomically() {
    let sim = Simulation::new(1);
    let cloud = sim.cloud();
    let a = launch(&sim, 1).await.instance_id;
    sim.settle().unwrap();
    let b = launch(&sim, 2).await.instance_id; // pending
    let err = cloud
        .stop(&us_east(), &[a.clone(), b.clone()])
        .await
        .unwrap_err();
    assert!(
        matches!(err, CloudError::InvalidRequest { ref code, .. } if code == "IncorrectInstanceState")
    );
    let states: Vec<_> = cloud
        .describe(&us_east(), &[a.clone(), b.clone()])
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.state)
        .collect();
    assert_eq!(
        states,
        [InstanceState::Running, InstanceState::Pending],
        "a refused batch changes nothing"
    );
    let unknown = cloud
        .terminate(
            &us_east(),
            &[a.clone(), InstanceId::new("i-0123456789abcdef0")],
        )
        .await
        .unwrap_err();
    assert!(matches!(
        unknown,
        CloudError::NotFound {
            what: "instance",
            ..
        }
    ));
    let malformed = cloud
        .terminate(&us_east(), &[InstanceId::new("web-1")])
        .await
        .unwrap_err();
    assert!(matches!(malformed, CloudError::InvalidRequest { .. }));
    assert_eq!(
        cloud.describe(&us_east(), &[a]).await.unwrap()[0].state,
        InstanceState::Running
    );
}

#[tokio::test]
async fn idempotent_launch_by_token_and_by_tag() {
    let sim = Simulation::new(1);
    let cloud = sim.cloud();
    let first = launch(&sim, 7).await;
    // Same worker, different region: a different instance (tokens are regional).
    let other_region = cloud
        .launch(&request(7, &Region::new("us-west-2")))
        .await
        .unwrap();
    assert_ne!(first.instance_id, other_region.instance_id);
    // The token survives a removed tag.
    cloud
        .remove_tags(
            &us_east(),
            std::slice::from_ref(&first.instance_id),
            &[WORKER_ID_TAG.into()],
        )
        .await
        .unwrap();
    assert_eq!(launch(&sim, 7).await.instance_id, first.instance_id);
    // Once terminated, a new launch makes a new instance.
    cloud
        .terminate(&us_east(), std::slice::from_ref(&first.instance_id))
        .await
        .unwrap();
    let shutting = launch(&sim, 7).await;
    assert_eq!(
        shutting.instance_id, first.instance_id,
        "shutting-down is still live"
    );
    sim.advance_seconds(120).unwrap();
    let fresh = launch(&sim, 7).await;
    assert_ne!(fresh.instance_id, first.instance_id);
    assert_eq!(sim.cloud_calls().unwrap().get("RunInstances"), 3);
}

#[tokio::test]
async fn a_thousand_worker_sweep_costs_a_handful_of_calls() {
    let sim = Simulation::new(9);
    let cloud = sim.cloud();
    let mut ids = Vec::new();
    for worker in 0..1000 {
        ids.push(launch(&sim, worker).await.instance_id);
    }
    sim.settle().unwrap();
    sim.reset_calls().unwrap();
    assert_eq!(cloud.describe(&us_east(), &ids).await.unwrap().len(), 1000);
    assert_eq!(
        cloud.status_checks(&us_east(), &ids).await.unwrap().len(),
        1000
    );
    let now = sim.now();
    let query = MetricsQuery {
        instance_ids: ids.clone(),
        metrics: MetricName::ALL.to_vec(),
        start: plus_seconds(now, -900),
        end: now,
        period_seconds: 60,
    };
    let samples = cloud.metrics(&us_east(), &query).await.unwrap();
    assert_eq!(samples.len(), 3000);
    assert!(samples.iter().all(|s| s.value.is_some()));
    let calls = sim.cloud_calls().unwrap();
    assert_eq!(calls.get("DescribeInstances"), 1);
    assert_eq!(calls.get("DescribeInstanceStatus"), 10);
    assert_eq!(calls.get("GetMetricData"), 6);
    assert!(calls.total() <= 25, "{calls:?}");
    // Empty batches need no call at all.
    sim.reset_calls().unwrap();
    assert!(cloud.describe(&us_east(), &[]).await.unwrap().is_empty());
    assert_eq!(sim.cloud_calls().unwrap().total(), 0);
}

#[tokio::test]
async fn regional_caps_produce_insufficient_capacity() {
    let sim = Simulation::with_config(1, SimConfig::default().with_region_cap(2));
    let cloud = sim.cloud();
    let a = launch(&sim, 1).await.instance_id;
    launch(&sim, 2).await;
    let err = cloud.launch(&request(3, &us_east())).await.unwrap_err();
    assert!(matches!(err, CloudError::InsufficientCapacity { .. }));
    assert!(err.is_retryable());
    assert_eq!(
        sim.instances(&us_east()).unwrap().len(),
        2,
        "a refused launch leaves nothing"
    );
    // Another region has its own cap.
    cloud
        .launch(&request(3, &Region::new("eu-west-1")))
        .await
        .unwrap();
    // Stopped instances give their capacity back; starting again needs it.
    sim.settle().unwrap();
    cloud
        .stop(&us_east(), std::slice::from_ref(&a))
        .await
        .unwrap();
    assert!(
        cloud.launch(&request(3, &us_east())).await.is_err(),
        "stopping still holds it"
    );
    sim.advance_seconds(180).unwrap();
    cloud.launch(&request(3, &us_east())).await.unwrap();
    let err = cloud
        .start(&us_east(), std::slice::from_ref(&a))
        .await
        .unwrap_err();
    assert!(matches!(err, CloudError::InsufficientCapacity { .. }));
    assert_eq!(sim.active_instances(&us_east()).unwrap(), 2);
}

#[tokio::test]
async fn the_token_bucket_throttles_in_virtual_time() {
    let config = SimConfig {
        throttle: Some(ThrottleConfig {
            burst: 3,
            refill_per_second: 1.0,
        }),
        ..SimConfig::default()
    };
    let sim = Simulation::with_config(1, config);
    let cloud = sim.cloud();
    for _ in 0..3 {
        cloud.find_images(&us_east(), "cml-*").await.unwrap();
    }
    let err = cloud.find_images(&us_east(), "cml-*").await.unwrap_err();
    assert!(
        matches!(err, CloudError::Throttled { ref operation, .. } if operation == "DescribeImages")
    );
    // Regions have separate buckets.
    cloud
        .find_images(&Region::new("us-west-2"), "cml-*")
        .await
        .unwrap();
    sim.advance_seconds(1).unwrap();
    cloud.find_images(&us_east(), "cml-*").await.unwrap();
    // A describe over 2,500 ids needs 3 pages, so 3 tokens.
    sim.advance_seconds(2).unwrap();
    let ids: Vec<InstanceId> = (0..2500)
        .map(|i| InstanceId::new(format!("i-{i:08x}")))
        .collect();
    assert!(cloud.describe(&us_east(), &ids).await.is_err());
    sim.advance_seconds(1).unwrap();
    assert!(cloud.describe(&us_east(), &ids).await.unwrap().is_empty());
}

#[tokio::test]
async fn fault_switches() {
    let sim = Simulation::new(1);
    let cloud = sim.cloud();
    sim.update_faults(|f| f.throttle_all = true).unwrap();
    assert!(matches!(
        cloud.launch(&request(1, &us_east())).await,
        Err(CloudError::Throttled { .. })
    ));
    sim.update_faults(|f| {
        f.throttle_all = false;
        f.capacity_errors = true;
    })
    .unwrap();
    assert!(matches!(
        cloud.launch(&request(1, &us_east())).await,
        Err(CloudError::InsufficientCapacity { .. })
    ));
    let mut faults = Faults::default();
    faults.cloud_error_rates.insert("RunInstances".into(), 1.0);
    sim.set_faults(faults).unwrap();
    assert!(matches!(
        cloud.launch(&request(1, &us_east())).await,
        Err(CloudError::Unavailable { ref operation, .. }) if operation == "RunInstances"
    ));
    assert!(cloud.find_images(&us_east(), "*").await.is_ok());
    sim.set_faults(Faults {
        cloud_error_rate: 0.5,
        ..Faults::default()
    })
    .unwrap();
    let mut failures = 0;
    for _ in 0..200 {
        if cloud.find_images(&us_east(), "*").await.is_err() {
            failures += 1;
        }
    }
    assert!(
        (60..140).contains(&failures),
        "{failures} of 200 failed at rate 0.5"
    );
    sim.set_faults(Faults::default()).unwrap();
    assert!(
        sim.instances(&us_east()).unwrap().is_empty(),
        "failed launches leave nothing"
    );
    let unknown = cloud
        .find_images(&Region::new("mars-1"), "*")
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, CloudError::InvalidRequest { ref code, .. } if code == "InvalidRegion")
    );
}

#[tokio::test(start_paused = true)]
async fn latency_fault_sleeps_on_the_tokio_clock() {
    let sim = Simulation::new(1);
    sim.update_faults(|f| f.latency = Some(std::time::Duration::from_millis(250)))
        .unwrap();
    let before = tokio::time::Instant::now();
    sim.cloud().find_images(&us_east(), "*").await.unwrap();
    assert!(tokio::time::Instant::now() - before >= std::time::Duration::from_millis(250));
}

#[tokio::test]
async fn images_and_discovery() {
    let sim = Simulation::new(1);
    let cloud = sim.cloud();
    let created = plus_seconds(sim.now(), -60);
    let newest = sim
        .add_image(
            &us_east(),
            ImageSpec::new("cml-2.9.2-hotfix", "hotfix", created),
        )
        .unwrap();
    let found = cloud.find_images(&us_east(), "cml-2.9*").await.unwrap();
    assert_eq!(found[0].id, newest);
    assert_eq!(found.len(), 3);
    // AMI ids are regional.
    let west = cloud
        .find_images(&Region::new("us-west-2"), "cml-2.9*")
        .await
        .unwrap();
    assert_eq!(west.len(), 2);
    assert!(west.iter().all(|i| i.id != newest));
    let old = cloud.find_images(&us_east(), "cml-2.8*").await.unwrap()[0]
        .id
        .clone();
    let mut by_id = request(1, &us_east());
    by_id.image = ImageSelector::Id(old.clone());
    let a = cloud.launch(&by_id).await.unwrap();
    let b = launch(&sim, 2).await;
    assert_eq!(b.image_id, newest);
    let filter = DiscoveryFilter {
        image_name_pattern: Some("cml-2.8*".into()),
        ..DiscoveryFilter::default()
    };
    let found = cloud.discover(&us_east(), &filter).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].instance_id, a.instance_id);
    let filter = DiscoveryFilter {
        image_ids: vec![old, newest],
        tags: BTreeMap::from([("team".into(), "lab".into())]),
        ..DiscoveryFilter::default()
    };
    assert_eq!(cloud.discover(&us_east(), &filter).await.unwrap().len(), 2);
    let bad = cloud
        .describe_images(&us_east(), &[ImageId::new("ami-00000000")])
        .await
        .unwrap();
    assert!(bad.is_empty());
}

#[tokio::test]
async fn metrics_follow_the_cml_load() {
    let sim = Simulation::new(5);
    let (instance, ep) = running_worker(&sim, 1).await;
    let cloud = sim.cloud();
    let read = || async {
        let now = sim.now();
        let query = MetricsQuery {
            instance_ids: vec![instance.clone()],
            metrics: MetricName::ALL.to_vec(),
            start: plus_seconds(now, -3600),
            end: now,
            period_seconds: 60,
        };
        let samples = cloud.metrics(&us_east(), &query).await.unwrap();
        samples
            .into_iter()
            .map(|s| s.value.unwrap())
            .collect::<Vec<_>>()
    };
    let idle = read().await;
    assert!(idle[0] < 5.0, "idle CPU {}", idle[0]);
    let cml = sim.cml();
    sim.set_licence_registered(&instance).unwrap();
    let lab = cml.import_lab(&ep, &topology(20), None).await.unwrap().id;
    cml.start_lab(&ep, &lab).await.unwrap();
    sim.advance_seconds(600).unwrap();
    let busy = read().await;
    assert!(busy[0] > idle[0] + 5.0, "CPU {idle:?} → {busy:?}");
    assert!(busy[1] > idle[1], "memory {idle:?} → {busy:?}");
    assert!(busy[2] > idle[2], "disk {idle:?} → {busy:?}");
    // Stopped: no datapoints once the window holds no running period.
    cloud
        .stop(&us_east(), std::slice::from_ref(&instance))
        .await
        .unwrap();
    sim.advance_seconds(900).unwrap();
    let now = sim.now();
    let query = MetricsQuery {
        instance_ids: vec![instance.clone()],
        metrics: vec![MetricName::CpuUtilization],
        start: plus_seconds(now, -300),
        end: now,
        period_seconds: 60,
    };
    assert!(cloud.metrics(&us_east(), &query).await.unwrap()[0]
        .value
        .is_none());
}

#[test]
fn hooks_on_an_external_clock_cannot_advance_time() {
    let clock = std::sync::Arc::new(ccm_core::ports::SystemClock);
    let sim = Simulation::with_clock(1, SimConfig::default(), clock);
    assert_eq!(sim.advance_seconds(5), Err(SimError::NoVirtualClock));
    assert!(sim.virtual_clock().is_none());
}

#[tokio::test]
async fn console_actions_are_not_counted() {
    let sim = Simulation::new(1);
    let (instance, _) = running_worker(&sim, 1).await;
    sim.reset_calls().unwrap();
    sim.stop_externally(&instance).unwrap();
    sim.set_impaired(&instance, true).unwrap();
    assert_eq!(sim.cloud_calls().unwrap().total(), 0);
    let described = sim
        .cloud()
        .describe(&us_east(), std::slice::from_ref(&instance))
        .await
        .unwrap();
    assert_eq!(described[0].state, InstanceState::Stopping);
    assert!(matches!(
        sim.stop_externally(&InstanceId::new("i-0123456789abcdef0")),
        Err(SimError::UnknownInstance(_))
    ));
    sim.terminate_externally(&instance).unwrap();
    assert!(matches!(
        sim.stop_externally(&instance),
        Err(SimError::Cloud(_))
    ));
}
