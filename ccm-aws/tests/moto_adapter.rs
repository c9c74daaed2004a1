//! `AwsCloud` against moto: the behaviours the conformance suite does not pin down
//! (call counts, batching, pagination, crash-retried launches, metrics values).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use ccm_aws::testing::{NEWEST_CML_IMAGE, OLDER_CML_IMAGE};
use ccm_aws::AwsConfig;
use ccm_core::ids::{ImageId, InstanceId, Region, WorkerId};
use ccm_core::ports::cloud::{
    CloudError, CloudProvider, DiscoveryFilter, ImageSelector, InstanceState, MetricName,
    MetricsQuery, WORKER_ID_TAG,
};
use ccm_core::time::plus_seconds;
use ccm_core::worker::LifecycleState;
use common::{launch_many, pattern, put_metrics, region, request, Moto};

fn worker_filter(worker: WorkerId, include_terminated: bool) -> DiscoveryFilter {
    DiscoveryFilter {
        tags: BTreeMap::from([(WORKER_ID_TAG.to_owned(), worker.to_string())]),
        include_terminated,
        ..DiscoveryFilter::default()
    }
}

#[tokio::test]
async fn launching_a_worker_twice_makes_one_instance() {
    let moto = Moto::start().await;
    let worker = WorkerId::new();
    let req = request(worker, "twice", pattern("cml-2.9*"));
    let first = moto.cloud.launch(&req).await.unwrap();
    let second = moto.cloud.launch(&req).await.unwrap();
    assert_eq!(first.instance_id, second.instance_id);
    assert_eq!(moto.cloud.call_counts()["RunInstances"], 1);
    // The launch request itself carried the tags.
    assert_eq!(first.tags.get(WORKER_ID_TAG), Some(&worker.to_string()));
    assert_eq!(first.tags.get("Name").map(String::as_str), Some("twice"));
    assert_eq!(first.tags.get("ccm:test").map(String::as_str), Some("moto"));
    let all = moto
        .cloud
        .discover(&region(), &worker_filter(worker, true))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
}

#[tokio::test]
async fn a_launch_retried_after_a_crash_finds_the_instance_it_made() {
    let moto = Moto::start().await;
    let worker = WorkerId::new();
    let req = request(worker, "crashy", pattern("cml-2.9*"));
    // The process made the RunInstances call, then died before storing the id.
    let made = {
        let doomed = moto.another_provider();
        let made = doomed.launch(&req).await.unwrap();
        assert_eq!(doomed.call_counts()["RunInstances"], 1);
        made.instance_id
    };
    // The restarted process runs the same launch again.
    let restarted = moto.another_provider();
    let again = restarted.launch(&req).await.unwrap();
    assert_eq!(again.instance_id, made);
    assert_eq!(restarted.call_counts().get("RunInstances"), None);
    let all = restarted
        .discover(&region(), &worker_filter(worker, true))
        .await
        .unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
}

#[tokio::test]
async fn a_worker_whose_instance_died_gets_a_new_one() {
    let moto = Moto::start().await;
    let worker = WorkerId::new();
    let req = request(worker, "phoenix", pattern("cml-2.9*"));
    let first = moto.cloud.launch(&req).await.unwrap();
    moto.cloud
        .terminate(&region(), std::slice::from_ref(&first.instance_id))
        .await
        .unwrap();
    let second = moto.cloud.launch(&req).await.unwrap();
    assert_ne!(second.instance_id, first.instance_id);
    assert!(matches!(second.state.as_str(), "pending" | "running"));
    let live = moto
        .cloud
        .discover(&region(), &worker_filter(worker, false))
        .await
        .unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].instance_id, second.instance_id);
}

#[tokio::test]
async fn images_by_name_are_newest_first_and_launches_use_the_newest() {
    let moto = Moto::start().await;
    let images = moto.cloud.find_images(&region(), "cml-*").await.unwrap();
    let names: Vec<&str> = images.iter().filter_map(|i| i.name.as_deref()).collect();
    assert_eq!(
        names,
        [
            "cml-2.9.1-2025-06-01",
            "cml-2.9.0-2025-03-01",
            "cml-2.8.1-2024-11-15"
        ]
    );
    assert_eq!(images[0].id.as_str(), NEWEST_CML_IMAGE);
    assert_eq!(
        images[0].description.as_deref(),
        Some("Cisco Modeling Labs 2.9.1 worker")
    );
    assert_eq!(
        images[0].created_at,
        Some("2025-06-01T10:00:00Z".parse().unwrap())
    );
    let only_28 = moto.cloud.find_images(&region(), "cml-2.8*").await.unwrap();
    assert_eq!(only_28.len(), 1);

    let by_pattern = moto
        .cloud
        .launch(&request(WorkerId::new(), "newest", pattern("cml-2.9*")))
        .await
        .unwrap();
    assert_eq!(by_pattern.image_id.as_str(), NEWEST_CML_IMAGE);
    let by_id = moto
        .cloud
        .launch(&request(
            WorkerId::new(),
            "pinned",
            ImageSelector::Id(ImageId::new(OLDER_CML_IMAGE)),
        ))
        .await
        .unwrap();
    assert_eq!(by_id.image_id.as_str(), OLDER_CML_IMAGE);

    // An image registered now is newer than the catalogue's.
    let ec2 = moto.cloud.ec2_client(&region()).await.unwrap();
    let registered = ec2
        .register_image()
        .name("cml-2.9.2-fresh")
        .description("just built")
        .root_device_name("/dev/sda1")
        .send()
        .await
        .unwrap();
    let fresh = registered.image_id().unwrap().to_owned();
    let images = moto.cloud.find_images(&region(), "cml-2.9*").await.unwrap();
    assert_eq!(images[0].id.as_str(), fresh, "{images:?}");
    let launched = moto
        .cloud
        .launch(&request(WorkerId::new(), "fresh", pattern("cml-2.9*")))
        .await
        .unwrap();
    assert_eq!(launched.image_id.as_str(), fresh);

    let details = moto
        .cloud
        .describe_images(
            &region(),
            &[
                ImageId::new(OLDER_CML_IMAGE),
                ImageId::new("ami-0000000000000dead"),
                ImageId::new(&fresh),
            ],
        )
        .await
        .unwrap();
    let ids: Vec<&str> = details.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, [fresh.as_str(), OLDER_CML_IMAGE]);
    assert_eq!(details[1].name.as_deref(), Some("cml-2.9.0-2025-03-01"));
}

#[tokio::test]
async fn start_stop_terminate_many_instances_per_call() {
    let moto = Moto::start().await;
    let ids = launch_many(&moto.cloud, 3, "states").await;
    moto.cloud.reset_call_counts();
    let states = |changes: &[ccm_core::ports::cloud::StateChange]| -> BTreeSet<(InstanceState, InstanceState)> {
        changes
            .iter()
            .map(|c| (c.previous, c.current))
            .collect()
    };

    let stop = moto.cloud.stop(&region(), &ids).await.unwrap();
    assert_eq!(stop.len(), 3);
    assert_eq!(
        states(&stop),
        BTreeSet::from([(InstanceState::Running, InstanceState::Stopping)])
    );
    let described = moto.cloud.describe(&region(), &ids).await.unwrap();
    assert!(
        described.iter().all(|i| i.state == InstanceState::Stopped),
        "{described:?}"
    );

    let start = moto.cloud.start(&region(), &ids).await.unwrap();
    assert_eq!(start.len(), 3);
    assert!(start.iter().all(|c| c.previous == InstanceState::Stopped
        && matches!(c.current, InstanceState::Pending | InstanceState::Running)));

    let terminate = moto.cloud.terminate(&region(), &ids).await.unwrap();
    assert_eq!(terminate.len(), 3);
    for change in &terminate {
        assert_eq!(change.current, InstanceState::ShuttingDown);
        assert_eq!(
            LifecycleState::from_instance(change.current),
            LifecycleState::ShuttingDown
        );
        assert_eq!(
            LifecycleState::from_instance(change.previous),
            LifecycleState::Running
        );
    }
    let described = moto.cloud.describe(&region(), &ids).await.unwrap();
    assert!(described
        .iter()
        .all(|i| i.state == InstanceState::Terminated));
    assert!(described
        .iter()
        .all(|i| LifecycleState::from_instance(i.state) == LifecycleState::Terminated));

    let calls = moto.cloud.call_counts();
    for op in ["StopInstances", "StartInstances", "TerminateInstances"] {
        assert_eq!(calls[op], 1, "{op}: {calls:?}");
    }
}

#[tokio::test]
async fn state_changes_are_split_into_batches() {
    let moto = Moto::start_with(|c| AwsConfig {
        max_ids_per_call: 2,
        ..c
    })
    .await;
    let ids = launch_many(&moto.cloud, 5, "batches").await;
    moto.cloud.reset_call_counts();
    let stopped = moto.cloud.stop(&region(), &ids).await.unwrap();
    assert_eq!(stopped.len(), 5);
    assert_eq!(moto.cloud.call_counts()["StopInstances"], 3);
    moto.cloud
        .set_tags(&region(), &ids, &BTreeMap::from([("k".into(), "v".into())]))
        .await
        .unwrap();
    assert_eq!(moto.cloud.call_counts()["CreateTags"], 3);
}

#[tokio::test]
async fn status_checks_cover_running_instances_and_skip_unknown_ids() {
    let moto = Moto::start().await;
    let ids = launch_many(&moto.cloud, 3, "status").await;
    moto.cloud
        .stop(&region(), std::slice::from_ref(&ids[2]))
        .await
        .unwrap();
    moto.cloud.reset_call_counts();

    let checks = moto
        .cloud
        .status_checks(&region(), &ids[..2])
        .await
        .unwrap();
    assert_eq!(checks.len(), 2);
    assert!(checks
        .iter()
        .all(|c| c.instance_status == "ok" && c.system_status == "ok"));
    assert_eq!(moto.cloud.call_counts()["DescribeInstanceStatus"], 1);

    // 3 real ids among 147 unknown ones: two chunks of 100 and 50 ids. EC2 refuses
    // a chunk holding an unknown id, so each refused chunk is narrowed through one
    // DescribeInstances and asked again (only when ids remain).
    let mut mixed: Vec<InstanceId> = ids.clone();
    mixed.extend((0..147).map(|i| InstanceId::new(format!("i-{:017x}", 0xdead_0000u64 + i))));
    moto.cloud.reset_call_counts();
    let checks = moto.cloud.status_checks(&region(), &mixed).await.unwrap();
    let reported: BTreeSet<&str> = checks.iter().map(|c| c.instance_id.as_str()).collect();
    assert_eq!(
        reported,
        BTreeSet::from([ids[0].as_str(), ids[1].as_str()]),
        "the stopped instance is left out"
    );
    let calls = moto.cloud.call_counts();
    assert_eq!(calls["DescribeInstanceStatus"], 3, "{calls:?}");
    assert_eq!(calls["DescribeInstances"], 2, "{calls:?}");

    let none = moto
        .cloud
        .status_checks(&region(), &[InstanceId::new("i-0000000000000dead")])
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn discovery_filters_by_tags_ami_id_and_ami_name() {
    let moto = Moto::start().await;
    let run = WorkerId::new().to_string();
    let mut blue = request(WorkerId::new(), "blue", pattern("cml-2.9*"));
    blue.tags.insert("team".into(), "blue".into());
    blue.tags.insert("run".into(), run.clone());
    let mut red = request(
        WorkerId::new(),
        "red",
        ImageSelector::Id(ImageId::new("ami-0c3a10000000a2800")),
    );
    red.tags.insert("team".into(), "red".into());
    red.tags.insert("run".into(), run.clone());
    let blue = moto.cloud.launch(&blue).await.unwrap();
    let red = moto.cloud.launch(&red).await.unwrap();
    let ids_of = |found: Vec<ccm_core::ports::cloud::Instance>| -> BTreeSet<String> {
        found.into_iter().map(|i| i.instance_id.0).collect()
    };
    let run_tag = BTreeMap::from([("run".to_owned(), run.clone())]);
    let discover = |filter: DiscoveryFilter| {
        let cloud = &moto.cloud;
        async move { cloud.discover(&region(), &filter).await.unwrap() }
    };

    let both = discover(DiscoveryFilter {
        tags: run_tag.clone(),
        ..DiscoveryFilter::default()
    })
    .await;
    assert_eq!(
        ids_of(both),
        BTreeSet::from([blue.instance_id.0.clone(), red.instance_id.0.clone()])
    );
    let team_blue = discover(DiscoveryFilter {
        tags: BTreeMap::from([
            ("run".to_owned(), run.clone()),
            ("team".to_owned(), "blue".to_owned()),
        ]),
        ..DiscoveryFilter::default()
    })
    .await;
    assert_eq!(
        ids_of(team_blue),
        BTreeSet::from([blue.instance_id.0.clone()])
    );
    let by_ami = discover(DiscoveryFilter {
        tags: run_tag.clone(),
        image_ids: vec![ImageId::new("ami-0c3a10000000a2800")],
        ..DiscoveryFilter::default()
    })
    .await;
    assert_eq!(ids_of(by_ami), BTreeSet::from([red.instance_id.0.clone()]));
    let by_name = discover(DiscoveryFilter {
        tags: run_tag.clone(),
        image_name_pattern: Some("cml-2.9*".into()),
        ..DiscoveryFilter::default()
    })
    .await;
    assert_eq!(
        ids_of(by_name),
        BTreeSet::from([blue.instance_id.0.clone()])
    );
    let no_image = discover(DiscoveryFilter {
        tags: run_tag.clone(),
        image_name_pattern: Some("nothing-like-this-*".into()),
        ..DiscoveryFilter::default()
    })
    .await;
    assert!(no_image.is_empty());
    let id_and_name_disagree = discover(DiscoveryFilter {
        tags: run_tag.clone(),
        image_ids: vec![ImageId::new("ami-0c3a10000000a2800")],
        image_name_pattern: Some("cml-2.9*".into()),
        ..DiscoveryFilter::default()
    })
    .await;
    assert!(id_and_name_disagree.is_empty());

    moto.cloud
        .terminate(&region(), std::slice::from_ref(&red.instance_id))
        .await
        .unwrap();
    let live = discover(DiscoveryFilter {
        tags: run_tag.clone(),
        ..DiscoveryFilter::default()
    })
    .await;
    assert_eq!(ids_of(live), BTreeSet::from([blue.instance_id.0.clone()]));
    let with_dead = discover(DiscoveryFilter {
        tags: run_tag,
        include_terminated: true,
        ..DiscoveryFilter::default()
    })
    .await;
    assert_eq!(with_dead.len(), 2);
}

#[tokio::test]
async fn tags_can_be_set_and_removed_and_monitoring_enabled() {
    let moto = Moto::start().await;
    let ids = launch_many(&moto.cloud, 2, "tags").await;
    moto.cloud
        .set_tags(
            &region(),
            &ids,
            &BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
        )
        .await
        .unwrap();
    moto.cloud
        .remove_tags(&region(), &ids, &["a".to_owned()])
        .await
        .unwrap();
    moto.cloud
        .enable_detailed_monitoring(&region(), &ids)
        .await
        .unwrap();
    for instance in moto.cloud.describe(&region(), &ids).await.unwrap() {
        assert!(!instance.tags.contains_key("a"));
        assert_eq!(instance.tags.get("b").map(String::as_str), Some("2"));
        assert!(instance.detailed_monitoring);
    }
    let calls = moto.cloud.call_counts();
    assert_eq!(
        (
            calls["CreateTags"],
            calls["DeleteTags"],
            calls["MonitorInstances"]
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn metrics_return_the_latest_values_put_into_cloudwatch() {
    let moto = Moto::start().await;
    let ids = launch_many(&moto.cloud, 2, "metrics").await;
    let now = chrono::Utc::now();
    let earlier = plus_seconds(now, -240);
    let later = plus_seconds(now, -60);
    put_metrics(&moto.cloud, &ids, earlier, |_, _| 99.0).await;
    put_metrics(&moto.cloud, &ids, later, |i, m| match m {
        MetricName::CpuUtilization => 10.0 + i as f64,
        MetricName::MemUsedPercent => 40.0 + i as f64,
        MetricName::DiskUsedPercent => 70.0 + i as f64,
    })
    .await;
    let unknown = InstanceId::new("i-0000000000000dead");
    let mut instance_ids = ids.clone();
    instance_ids.push(unknown.clone());
    moto.cloud.reset_call_counts();
    let samples = moto
        .cloud
        .metrics(
            &region(),
            &MetricsQuery {
                instance_ids,
                metrics: MetricName::ALL.to_vec(),
                start: plus_seconds(now, -600),
                end: plus_seconds(now, 60),
                period_seconds: 60,
            },
        )
        .await
        .unwrap();
    assert_eq!(samples.len(), 9);
    assert_eq!(moto.cloud.call_counts()["GetMetricData"], 1);
    for (i, id) in ids.iter().enumerate() {
        let value = |metric| {
            samples
                .iter()
                .find(|s| &s.instance_id == id && s.metric == metric)
                .and_then(|s| s.value)
        };
        assert_eq!(value(MetricName::CpuUtilization), Some(10.0 + i as f64));
        assert_eq!(value(MetricName::MemUsedPercent), Some(40.0 + i as f64));
        assert_eq!(value(MetricName::DiskUsedPercent), Some(70.0 + i as f64));
    }
    assert!(samples
        .iter()
        .filter(|s| s.instance_id == unknown)
        .all(|s| s.value.is_none() && s.at.is_none()));
    let sample = samples.iter().find(|s| s.value.is_some()).unwrap();
    let at = sample.at.unwrap();
    assert!(at > earlier && at <= later, "latest datapoint time {at}");

    let bad_window = moto
        .cloud
        .metrics(
            &region(),
            &MetricsQuery {
                instance_ids: ids.clone(),
                metrics: MetricName::ALL.to_vec(),
                start: now,
                end: now,
                period_seconds: 60,
            },
        )
        .await;
    assert!(matches!(bad_window, Err(CloudError::InvalidRequest { .. })));
}

#[tokio::test]
async fn metrics_send_at_most_500_queries_per_call() {
    let moto = Moto::start().await;
    // CloudWatch does not care whether the instances exist: 200 ids × 3 metrics.
    let ids: Vec<InstanceId> = (0..200)
        .map(|i| InstanceId::new(format!("i-{:017x}", 0x5000_0000u64 + i)))
        .collect();
    let now = chrono::Utc::now();
    put_metrics(&moto.cloud, &ids, plus_seconds(now, -30), |i, _| {
        (i % 100) as f64
    })
    .await;
    let samples = moto
        .cloud
        .metrics(
            &region(),
            &MetricsQuery {
                instance_ids: ids.clone(),
                metrics: MetricName::ALL.to_vec(),
                start: plus_seconds(now, -300),
                end: plus_seconds(now, 60),
                period_seconds: 300,
            },
        )
        .await
        .unwrap();
    assert_eq!(samples.len(), 600);
    assert_eq!(moto.cloud.call_counts()["GetMetricData"], 2);
    for (i, id) in ids.iter().enumerate() {
        for metric in MetricName::ALL {
            let sample = samples
                .iter()
                .find(|s| &s.instance_id == id && s.metric == metric)
                .unwrap();
            assert_eq!(sample.value, Some((i % 100) as f64), "{id} {metric:?}");
        }
    }
}

#[tokio::test]
async fn describe_and_discover_read_every_page() {
    let moto = Moto::start_with(|c| AwsConfig {
        page_size: 5,
        max_filter_values: 5,
        ..c
    })
    .await;
    let ids = launch_many(&moto.cloud, 12, "paged").await;

    // Tag filter: 12 matches, pages of 5 → 3 calls.
    moto.cloud.reset_call_counts();
    let found = moto
        .cloud
        .discover(
            &region(),
            &DiscoveryFilter {
                tags: BTreeMap::from([("ccm:test".to_owned(), "moto".to_owned())]),
                ..DiscoveryFilter::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 12);
    assert_eq!(moto.cloud.call_counts()["DescribeInstances"], 3);

    // 12 ids, 5 per filter: 3 filtered calls (each one page).
    moto.cloud.reset_call_counts();
    let mut with_dupes = ids.clone();
    with_dupes.push(ids[0].clone());
    let described = moto.cloud.describe(&region(), &with_dupes).await.unwrap();
    let got: BTreeSet<&str> = described.iter().map(|i| i.instance_id.as_str()).collect();
    let want: BTreeSet<&str> = ids.iter().map(InstanceId::as_str).collect();
    assert_eq!(got, want);
    assert_eq!(described.len(), 12);
    assert_eq!(moto.cloud.call_counts()["DescribeInstances"], 3);
}

#[tokio::test]
async fn unknown_instance_ids_are_left_out_or_not_found() {
    let moto = Moto::start().await;
    let known = launch_many(&moto.cloud, 1, "known").await;
    let unknown = vec![InstanceId::new("i-0000000000000dead")];
    let malformed = vec![InstanceId::new("not-an-instance")];

    let mut mixed = known.clone();
    mixed.extend(unknown.clone());
    mixed.extend(malformed.clone());
    let found = moto.cloud.describe(&region(), &mixed).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].instance_id, known[0]);

    for ids in [&unknown, &malformed] {
        for result in [
            moto.cloud.start(&region(), ids).await.map(|_| ()),
            moto.cloud.stop(&region(), ids).await.map(|_| ()),
            moto.cloud.terminate(&region(), ids).await.map(|_| ()),
            moto.cloud
                .set_tags(&region(), ids, &BTreeMap::from([("a".into(), "b".into())]))
                .await,
            moto.cloud.enable_detailed_monitoring(&region(), ids).await,
        ] {
            match result {
                Err(CloudError::NotFound { what, id }) => {
                    assert_eq!(what, "instance");
                    assert_eq!(id, ids[0].as_str());
                }
                other => panic!("expected NotFound for {ids:?}, got {other:?}"),
            }
        }
    }
    // Nothing was retried: a missing id is not a transient failure.
    assert!(moto.cloud.retry_counts().is_empty());
}

#[tokio::test]
async fn a_bad_ami_fails_the_launch_and_launches_nothing() {
    let moto = Moto::start().await;
    let worker = WorkerId::new();
    let by_id = moto
        .cloud
        .launch(&request(
            worker,
            "bad",
            ImageSelector::Id(ImageId::new("ami-0000000000000dead")),
        ))
        .await;
    assert_eq!(
        by_id,
        Err(CloudError::NotFound {
            what: "image",
            id: "ami-0000000000000dead".into()
        })
    );
    assert_eq!(moto.cloud.call_counts()["RunInstances"], 1);

    let by_pattern = moto
        .cloud
        .launch(&request(worker, "bad", pattern("no-such-image-*")))
        .await;
    assert_eq!(
        by_pattern,
        Err(CloudError::NotFound {
            what: "image",
            id: "no-such-image-*".into()
        })
    );
    // No RunInstances for a pattern that matches nothing.
    assert_eq!(moto.cloud.call_counts()["RunInstances"], 1);
    let left = moto
        .cloud
        .discover(&region(), &worker_filter(worker, true))
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn one_provider_serves_several_regions() {
    let moto = Moto::start().await;
    let eu = Region::new("eu-west-1");
    let mut req = request(WorkerId::new(), "eu", pattern("cml-2.9*"));
    req.region = eu.clone();
    let in_eu = moto.cloud.launch(&req).await.unwrap();
    assert_eq!(in_eu.region, eu);
    let ids = std::slice::from_ref(&in_eu.instance_id);
    assert_eq!(moto.cloud.describe(&eu, ids).await.unwrap().len(), 1);
    assert!(moto
        .cloud
        .describe(&region(), ids)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(moto.cloud.region_names(), ["eu-west-1", "us-east-1"]);
}

/// An operator's CML image is often shared from another account: by name it is
/// found only once that account is among `image_owners` (the default, `self`,
/// keeps strangers' public images out of a pattern search).
#[tokio::test]
async fn an_image_shared_from_another_account_is_found_once_its_owner_is_configured() {
    let own_only = Moto::start().await;
    let found = own_only
        .cloud
        .find_images(&region(), "partner-cml-*")
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");

    let with_partner = Moto::start_with(|config| AwsConfig {
        image_owners: vec!["self".into(), "210987654321".into()],
        ..config
    })
    .await;
    let found = with_partner
        .cloud
        .find_images(&region(), "partner-cml-*")
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["ami-0c3a10000000b2920"]);
    // The account's own images are still found.
    let own = with_partner
        .cloud
        .find_images(&region(), "cml-2.9*")
        .await
        .unwrap();
    assert_eq!(own[0].id.as_str(), NEWEST_CML_IMAGE);
}
