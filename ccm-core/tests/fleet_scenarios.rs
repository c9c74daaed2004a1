//! Scenario tests of the fleet engine on the simulated AWS and CML, driven on the
//! virtual clock: worker operations, crash-safe launches, the batched sweep, idle
//! pause, lab sync, alerts, licensing and imports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ccm_core::event::EventPayload;
use ccm_core::fleet::{
    CreateWorker, FleetSettings, ImportMatching, LabAction, RefreshOutcome, WhenLabletsBound,
};
use ccm_core::ids::{InstanceId, Region, WorkerId};
use ccm_core::job::JobSchedule;
use ccm_core::lab::LabState;
use ccm_core::ports::cloud::{CloudProvider, ImageSelector, LaunchRequest, WORKER_ID_TAG};
use ccm_core::ports::event_sink::CollectingSink;
use ccm_core::ports::store::WorkerFilter;
use ccm_core::ports::{Clock, Store};
use ccm_core::runtime::EventRelay;
use ccm_core::secret::Secret;
use ccm_core::store::MemoryMetricSeries;
use ccm_core::time::{plus_seconds, seconds_between, Timestamp};
use ccm_core::worker::{
    AlertMetric, CmlServiceState, LicenceState, LifecycleState, PauseReason, Worker,
};
use ccm_core::DomainError;
use ccm_sim::{InjectedLab, SimConfig, SimEngine};

const REGION: &str = "us-east-1";
const TOPOLOGY: &str = "lab:\n  title: t\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

/// The engine on the simulator, with a metric series.
struct Harness(SimEngine);

impl std::ops::Deref for Harness {
    type Target = SimEngine;

    fn deref(&self) -> &SimEngine {
        &self.0
    }
}

impl Harness {
    async fn new(settings: FleetSettings) -> Self {
        Self::with_config(settings, SimConfig::default()).await
    }

    async fn with_config(settings: FleetSettings, config: SimConfig) -> Self {
        let series = Arc::new(MemoryMetricSeries::new());
        Self(
            SimEngine::start_with(7, config, settings, |fleet| {
                fleet.with_metric_series(series)
            })
            .await
            .unwrap(),
        )
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    async fn run_for(&self, seconds: i64) {
        let until = plus_seconds(self.now(), seconds);
        self.fleet
            .run_until(&self.runner, None, &self.clock, until)
            .await
            .unwrap();
    }

    async fn create(&self, name: &str) -> Worker {
        self.fleet.create_worker(create_input(name)).await.unwrap()
    }

    async fn worker(&self, id: WorkerId) -> Worker {
        self.fleet.get_worker(id).await.unwrap()
    }

    async fn instances_of(&self, id: WorkerId) -> Vec<InstanceId> {
        self.sim
            .instances(&Region::new(REGION))
            .unwrap()
            .into_iter()
            .filter(|i| i.tags.get(WORKER_ID_TAG) == Some(&id.to_string()))
            .map(|i| i.instance_id)
            .collect()
    }

    async fn events(&self) -> Vec<ccm_core::event::StoredEvent> {
        self.store.read_events(0, usize::MAX).await.unwrap()
    }
}

/// What an admin sends to create worker `name` in the test region.
fn create_input(name: &str) -> CreateWorker {
    CreateWorker {
        created_by: Some("admin".into()),
        ..CreateWorker::new(name, Region::new(REGION))
    }
}

/// Every worker swept every five minutes, booting or not: the schedule these
/// scenarios were written against.
fn quick_settings() -> FleetSettings {
    FleetSettings {
        monitoring_interval_seconds: 300,
        booting_monitoring_interval_seconds: 300,
        ..FleetSettings::default()
    }
}

/// When the fleet first sees the CML of a worker created now become available.
async fn seen_available_after(settings: FleetSettings) -> (i64, JobSchedule) {
    let h = Harness::new(settings).await;
    // Off the sweeps' beat, as a real create is.
    h.run_for(10).await;
    let created = h.now();
    let w = h.create("w1").await;
    for _ in 0..(60 * 6) {
        h.run_for(10).await;
        if h.worker(w.id).await.status.cml.state == CmlServiceState::Available {
            let job = h.store.get_job("metrics-sweep").await.unwrap().unwrap();
            return (seconds_between(created, h.now()), job.schedule);
        }
    }
    panic!("CML never seen available within an hour");
}

#[tokio::test]
async fn a_booting_worker_is_swept_every_30_seconds_so_its_cml_is_seen_up_at_once() {
    // The simulated metal boot is 20 min and CML's own 5 min: CML answers
    // 1,500 s after the launch, which follows the create within seconds.
    let cml_up = 1500;
    let (fast, schedule) = seen_available_after(FleetSettings {
        monitoring_interval_seconds: 300,
        ..FleetSettings::default()
    })
    .await;
    assert_eq!(schedule, JobSchedule::Every { seconds: 30 });
    assert!(
        (cml_up..=cml_up + 60).contains(&fast),
        "seen after {fast} s with the booting interval"
    );
    let (slow, schedule) = seen_available_after(quick_settings()).await;
    assert_eq!(schedule, JobSchedule::Every { seconds: 300 });
    assert!(
        slow >= fast + 120,
        "a five-minute sweep saw it after {slow} s, the booting one after {fast} s"
    );
}

#[tokio::test]
async fn a_created_worker_is_launched_boots_and_its_cml_becomes_available() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(60).await;
    let after_launch = h.worker(w.id).await;
    assert_eq!(after_launch.status.lifecycle, LifecycleState::Provisioning);
    assert!(after_launch.instance_id.is_some());
    assert!(after_launch
        .ami
        .as_ref()
        .and_then(|a| a.name.clone())
        .is_some());
    h.run_for(40 * 60).await;
    let booted = h.worker(w.id).await;
    assert_eq!(booted.status.lifecycle, LifecycleState::Running);
    assert_eq!(booted.status.cml.state, CmlServiceState::Available);
    assert!(booted
        .status
        .cml
        .version
        .as_deref()
        .unwrap()
        .starts_with("2.9"));
    assert!(booted.status.metrics.cml.value.is_some());
    assert!(booted.status.metrics.ec2.observed_at.is_some());
    assert!(booted.status.next_refresh_at.unwrap() > h.now());
    // A list carries the same schedule as a single read.
    let listed = h
        .fleet
        .list_workers(&WorkerFilter::default())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].status.next_refresh_at,
        booted.status.next_refresh_at
    );
}

#[tokio::test]
async fn a_launch_retried_after_a_crash_does_not_create_a_second_instance() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    // The controller "crashed" after its launch call reached AWS but before it
    // wrote the instance id: replay that launch outside the engine.
    let mut tags = BTreeMap::new();
    tags.insert(WORKER_ID_TAG.to_owned(), w.id.to_string());
    let request = LaunchRequest {
        worker_id: w.id,
        region: Region::new(REGION),
        name: "w1".into(),
        image: h.fleet.settings().launch.image.clone(),
        instance_type: "m5zn.metal".into(),
        subnet_id: None,
        security_group_ids: vec![],
        key_name: None,
        iam_instance_profile: None,
        tags,
        detailed_monitoring: true,
    };
    let first = h.sim.cloud().launch(&request).await.unwrap();
    h.run_for(120).await;
    let instances = h.instances_of(w.id).await;
    assert_eq!(instances, vec![first.instance_id.clone()]);
    assert_eq!(h.worker(w.id).await.instance_id, Some(first.instance_id));
}

#[tokio::test]
async fn start_stop_and_an_external_stop_are_told_apart() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(30 * 60).await;
    h.fleet
        .stop_worker(w.id, WhenLabletsBound::Refuse)
        .await
        .unwrap();
    h.run_for(10 * 60).await;
    let stopped = h.worker(w.id).await;
    assert_eq!(stopped.status.lifecycle, LifecycleState::Stopped);
    assert_eq!(
        stopped.status.activity.last_pause_reason,
        Some(PauseReason::Manual)
    );
    h.fleet.start_worker(w.id).await.unwrap();
    h.run_for(30 * 60).await;
    assert_eq!(
        h.worker(w.id).await.status.lifecycle,
        LifecycleState::Running
    );
    let instance = h.worker(w.id).await.instance_id.unwrap();
    h.sim.stop_externally(&instance).unwrap();
    h.run_for(10 * 60).await;
    let after = h.worker(w.id).await;
    assert_eq!(after.status.activity.pause_count, 2);
    assert_eq!(
        after.status.activity.last_pause_reason,
        Some(PauseReason::External)
    );
}

#[tokio::test]
async fn the_sweep_of_1000_workers_makes_at_most_25_aws_calls() {
    let h = Harness::new(quick_settings()).await;
    let mut ids = Vec::new();
    for n in 0..1000 {
        ids.push(h.create(&format!("w{n:04}")).await.id);
    }
    h.run_for(45 * 60).await;
    let running = h
        .store
        .list_workers(&Default::default())
        .await
        .unwrap()
        .iter()
        .filter(|w| w.status.lifecycle == LifecycleState::Running)
        .count();
    assert_eq!(running, 1000);
    h.sim.reset_calls().unwrap();
    // Every worker is due again after one interval.
    h.clock.advance_seconds(301);
    let report = h.fleet.sweep(None).await.unwrap();
    assert_eq!(report.workers, 1000);
    assert_eq!(report.cml_queried, 1000);
    let calls = h.sim.cloud_calls().unwrap();
    let total = calls.total();
    assert!(total <= 25, "sweep made {total} AWS calls: {calls:?}");
    assert!(
        total >= 3,
        "describe, status and metrics are each needed: {calls:?}"
    );
}

#[tokio::test]
async fn an_idle_worker_is_paused_exactly_once_at_the_right_time_and_not_while_snoozed() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(25 * 60).await;
    let running = h.worker(w.id).await;
    assert_eq!(running.status.lifecycle, LifecycleState::Running);
    let since = running.status.transitioned_at.unwrap();
    // Idle timeout is 60 min from becoming running; the idle check runs every minute.
    let status = h.fleet.idle_status(w.id).await.unwrap();
    assert_eq!(status.pause_at, Some(plus_seconds(since, 3600)));
    h.run_for(3600).await;
    let paused = h.worker(w.id).await;
    assert_eq!(paused.status.activity.pause_count, 1);
    assert_eq!(
        paused.status.activity.last_pause_reason,
        Some(PauseReason::IdleTimeout)
    );
    let stop_requested = h
        .events()
        .await
        .into_iter()
        .filter_map(|e| match e.event.payload {
            EventPayload::WorkerSpecUpdated { spec }
                if spec.stop_reason == Some(PauseReason::IdleTimeout) =>
            {
                Some(e.event.occurred_at)
            }
            _ => None,
        })
        .collect::<Vec<_>>();
    assert_eq!(stop_requested.len(), 1, "paused exactly once");
    let lag = (stop_requested[0] - plus_seconds(since, 3600)).num_seconds();
    assert!((0..=60).contains(&lag), "paused {lag}s after the timeout");

    // Resume: the snooze window (60 min) keeps it running even with no activity.
    h.fleet.start_worker(w.id).await.unwrap();
    h.run_for(30 * 60).await;
    let resumed = h.worker(w.id).await;
    assert_eq!(resumed.status.lifecycle, LifecycleState::Running);
    let snooze_until = resumed.status.activity.snooze_until.unwrap();
    h.run_for((snooze_until - h.now()).num_seconds() - 60).await;
    assert_eq!(
        h.worker(w.id).await.status.activity.pause_count,
        1,
        "not during snooze"
    );
}

#[tokio::test]
async fn user_activity_in_cml_telemetry_postpones_the_pause() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(25 * 60).await;
    let instance = h.worker(w.id).await.instance_id.unwrap();
    for _ in 0..4 {
        h.run_for(25 * 60).await;
        h.sim.record_user_activity(&instance, "student").unwrap();
    }
    let worker = h.worker(w.id).await;
    assert_eq!(worker.status.lifecycle, LifecycleState::Running);
    assert_eq!(worker.status.activity.pause_count, 0);
    assert!(worker.status.activity.last_activity_at.is_some());
    assert!(worker
        .status
        .activity
        .recent
        .iter()
        .any(|a| a.source == "telemetry:user_activity"));
}

#[tokio::test]
async fn a_lab_started_by_someone_else_shows_up_with_its_history() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(30 * 60).await;
    let instance = h.worker(w.id).await.instance_id.unwrap();
    let lab = h
        .sim
        .inject_lab(
            &instance,
            InjectedLab {
                title: "someone's lab".into(),
                owner: "alice".into(),
                topology: TOPOLOGY.into(),
                state: LabState::Stopped,
            },
        )
        .unwrap();
    h.fleet.sync_worker_labs(w.id, None).await.unwrap();
    let labs = h.fleet.list_labs(w.id, false).await.unwrap();
    assert_eq!(labs.len(), 1);
    assert_eq!(labs[0].state, LabState::Stopped);
    assert_eq!(labs[0].owner.as_deref(), Some("alice"));
    assert_eq!(labs[0].node_count, 2);
    // Alice starts it on CML directly; the next scheduled sync records the change.
    ccm_core::ports::CmlClient::start_lab(
        &h.sim.cml().as_user("alice"),
        &h.sim.cml_endpoint(w.id, &instance),
        &lab,
    )
    .await
    .unwrap();
    h.run_for(31 * 60).await;
    let labs = h.fleet.list_labs(w.id, false).await.unwrap();
    assert_eq!(labs[0].state, LabState::Started);
    let actions: Vec<&str> = labs[0].history.iter().map(|o| o.action.as_str()).collect();
    assert_eq!(
        actions,
        vec!["state STOPPED → STARTED", "discovered in state STOPPED"]
    );
    // Deleting through ccm tears it down and marks it gone.
    h.fleet
        .lab_action(
            w.id,
            &lab,
            LabAction::Delete,
            WhenLabletsBound::Refuse,
            Some("ops".into()),
        )
        .await
        .unwrap();
    assert!(h.fleet.list_labs(w.id, false).await.unwrap().is_empty());
    let gone = h.fleet.list_labs(w.id, true).await.unwrap();
    assert!(gone[0].gone);
}

#[tokio::test]
async fn lab_operations_and_import_download_work_through_the_engine() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(30 * 60).await;
    let record = h
        .fleet
        .import_lab(w.id, TOPOLOGY, Some("imported"), Some("ops".into()))
        .await
        .unwrap();
    assert_eq!(record.title, "imported");
    let id = record.cml_lab_id.clone();
    let labs = h
        .fleet
        .lab_action(w.id, &id, LabAction::Start, WhenLabletsBound::Refuse, None)
        .await
        .unwrap();
    assert_eq!(labs[0].state, LabState::Started);
    let err = h
        .fleet
        .lab_action(w.id, &id, LabAction::Wipe, WhenLabletsBound::Refuse, None)
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        "cml_error",
        "wipe of a started lab is refused: {err}"
    );
    h.fleet
        .lab_action(w.id, &id, LabAction::Stop, WhenLabletsBound::Refuse, None)
        .await
        .unwrap();
    let labs = h
        .fleet
        .lab_action(w.id, &id, LabAction::Wipe, WhenLabletsBound::Refuse, None)
        .await
        .unwrap();
    assert_eq!(labs[0].state, LabState::DefinedOnCore);
    let yaml = h.fleet.download_lab(w.id, &id).await.unwrap();
    assert!(yaml.contains("nodes"));
    assert!(h.fleet.import_lab(w.id, "   ", None, None).await.is_err());
}

#[tokio::test]
async fn threshold_alerts_fire_once_per_crossing_and_reach_a_sink() {
    let settings = FleetSettings {
        thresholds: ccm_core::fleet::Thresholds {
            cpu_percent: 101.0,
            memory_percent: 101.0,
            disk_percent: 0.0,
        },
        ..quick_settings()
    };
    let h = Harness::new(settings).await;
    let sink = Arc::new(CollectingSink::default());
    let mut relay = EventRelay::new(h.store.clone(), sink.clone(), 0);
    let w = h.create("w1").await;
    // Several sweeps with disk above 0%: one alert, not one per sweep.
    h.run_for(90 * 60).await;
    relay.pump().await.unwrap();
    let alerts: Vec<_> = sink
        .events()
        .into_iter()
        .filter(|e| matches!(e.event.payload, EventPayload::WorkerAlertRaised { .. }))
        .collect();
    assert_eq!(alerts.len(), 1, "one crossing, one alert");
    assert!(matches!(
        alerts[0].event.payload,
        EventPayload::WorkerAlertRaised {
            metric: AlertMetric::Disk,
            ..
        }
    ));
    assert!(h
        .worker(w.id)
        .await
        .status
        .alerts
        .contains(&AlertMetric::Disk));
}

#[tokio::test]
async fn delete_refuses_to_drop_the_record_when_termination_fails() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(30 * 60).await;
    h.sim
        .update_faults(|f| {
            f.cloud_error_rates.insert("TerminateInstances".into(), 1.0);
        })
        .unwrap();
    let err = h
        .fleet
        .delete_worker(w.id, true, WhenLabletsBound::Refuse, Some("ops".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "cloud_error");
    assert!(
        h.store.get_worker(w.id).await.unwrap().is_some(),
        "record kept"
    );
    h.sim
        .update_faults(|f| f.cloud_error_rates.clear())
        .unwrap();
    let outcome = h
        .fleet
        .delete_worker(w.id, true, WhenLabletsBound::Refuse, Some("ops".into()))
        .await
        .unwrap();
    assert!(outcome.instance_terminated);
    assert!(h.store.get_worker(w.id).await.unwrap().is_none());
    h.clock.advance_seconds(600);
    let states: Vec<ccm_core::ports::cloud::InstanceState> = h
        .sim
        .instances(&Region::new(REGION))
        .unwrap()
        .into_iter()
        .map(|i| i.state)
        .collect();
    assert_eq!(
        states,
        vec![ccm_core::ports::cloud::InstanceState::Terminated]
    );
}

#[tokio::test]
async fn terminate_converges_and_terminated_workers_refuse_start() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(30 * 60).await;
    h.fleet
        .terminate_worker(w.id, Some("ops".into()), WhenLabletsBound::Refuse)
        .await
        .unwrap();
    h.run_for(10 * 60).await;
    let gone = h.worker(w.id).await;
    assert_eq!(gone.status.lifecycle, LifecycleState::Terminated);
    assert_eq!(gone.audit.terminated_by.as_deref(), Some("ops"));
    let err = h.fleet.start_worker(w.id).await.unwrap_err();
    assert_eq!(err.code(), "invalid_transition");
}

#[tokio::test]
async fn import_one_and_import_all_matching_report_skips_with_reasons() {
    let h = Harness::new(quick_settings()).await;
    let cloud = h.sim.cloud();
    let mut launched = Vec::new();
    for n in 0..3 {
        let request = LaunchRequest {
            worker_id: WorkerId::from_u128(1000 + n),
            region: Region::new(REGION),
            name: format!("outside-{n}"),
            image: ccm_core::ports::cloud::ImageSelector::NamePattern("cml-2.9*".into()),
            instance_type: "m5zn.metal".into(),
            subnet_id: None,
            security_group_ids: vec![],
            key_name: None,
            iam_instance_profile: None,
            tags: BTreeMap::new(),
            detailed_monitoring: false,
        };
        launched.push(cloud.launch(&request).await.unwrap().instance_id);
    }
    let one = h
        .fleet
        .import_instance(
            Region::new(REGION),
            launched[0].clone(),
            Some("first".into()),
            None,
        )
        .await
        .unwrap();
    assert_eq!(one.name(), "first");
    assert_eq!(one.status.lifecycle, LifecycleState::Provisioning);
    assert!(one
        .ami
        .as_ref()
        .unwrap()
        .name
        .as_deref()
        .unwrap()
        .starts_with("cml-2.9"));
    let again = h
        .fleet
        .import_instance(Region::new(REGION), launched[0].clone(), None, None)
        .await;
    assert!(again.is_err(), "importing twice is refused");
    cloud
        .terminate(&Region::new(REGION), std::slice::from_ref(&launched[2]))
        .await
        .unwrap();
    let report = h
        .fleet
        .import_matching(ImportMatching {
            region: Region::new(REGION),
            image_id: None,
            image_name_pattern: Some("cml-2.9*".into()),
            tags: BTreeMap::new(),
            by: Some("ops".into()),
        })
        .await
        .unwrap();
    assert_eq!(report.found, 3);
    assert_eq!(report.imported.len(), 1);
    assert_eq!(report.imported[0].instance_id, Some(launched[1].clone()));
    let mut reasons: Vec<String> = report.skipped.iter().map(|s| s.reason.clone()).collect();
    reasons.sort();
    assert!(
        reasons[0].starts_with("already imported as worker"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].starts_with("instance is shutting-down")
            || reasons[1].starts_with("instance is terminated"),
        "{reasons:?}"
    );
    let missing = h
        .fleet
        .import_instance(Region::new(REGION), InstanceId::new("i-nope"), None, None)
        .await
        .unwrap_err();
    assert_eq!(missing.code(), "not_found");
}

#[tokio::test]
async fn licence_registration_is_polled_to_completion_or_failure() {
    let h = Harness::new(quick_settings()).await;
    let good = h.create("good").await;
    let bad = h.create("bad").await;
    h.run_for(30 * 60).await;
    h.fleet
        .register_licence(good.id, Some(Secret::new("valid-token")))
        .await
        .unwrap();
    h.fleet
        .register_licence(bad.id, Some(Secret::new("invalid-token")))
        .await
        .unwrap();
    assert_eq!(
        h.worker(good.id).await.status.licence.state,
        LicenceState::RegistrationPending
    );
    h.run_for(20 * 60).await;
    let good_now = h.worker(good.id).await;
    assert_eq!(good_now.status.licence.state, LicenceState::Registered);
    assert!(good_now.status.licence.node_limit.unwrap() >= 20);
    let bad_now = h.worker(bad.id).await;
    assert_eq!(bad_now.status.licence.state, LicenceState::Invalid);
    assert!(bad_now.status.licence.last_error.is_some());
    let types: Vec<&str> = h
        .events()
        .await
        .iter()
        .map(|e| e.event.type_name())
        .filter(|t| t.starts_with("worker.licence.registration"))
        .collect();
    assert_eq!(
        types.iter().filter(|t| t.ends_with("started.v1")).count(),
        2
    );
    assert_eq!(
        types.iter().filter(|t| t.ends_with("completed.v1")).count(),
        1
    );
    assert_eq!(types.iter().filter(|t| t.ends_with("failed.v1")).count(), 1);
    h.fleet.deregister_licence(good.id).await.unwrap();
    assert_eq!(
        h.worker(good.id).await.status.licence.state,
        LicenceState::Unregistered
    );
}

#[tokio::test]
async fn refresh_now_is_coalesced_near_the_next_sweep() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(30 * 60).await;
    let next = h.worker(w.id).await.status.next_refresh_at.unwrap();
    h.clock.advance_to(plus_seconds(next, -5));
    assert_eq!(
        h.fleet.refresh_now(w.id).await.unwrap(),
        RefreshOutcome::Coalesced { next_at: next }
    );
    h.run_for(60).await;
    let later = h.worker(w.id).await.status.next_refresh_at.unwrap();
    h.clock.advance_to(plus_seconds(later, -200));
    let now = h.now();
    assert_eq!(
        h.fleet.refresh_now(w.id).await.unwrap(),
        RefreshOutcome::Refreshed { at: now }
    );
    assert_eq!(
        h.worker(w.id).await.status.metrics.cml.observed_at,
        Some(now)
    );
}

#[tokio::test]
async fn tags_and_detailed_monitoring_reach_the_instance() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(60).await;
    let mut tags = BTreeMap::new();
    tags.insert("team".to_owned(), "ccna".to_owned());
    h.fleet.set_tags(w.id, tags).await.unwrap();
    let instance = h.worker(w.id).await.instance_id.unwrap();
    let described = h
        .sim
        .cloud()
        .describe(&Region::new(REGION), std::slice::from_ref(&instance))
        .await
        .unwrap();
    assert_eq!(
        described[0].tags.get("team").map(String::as_str),
        Some("ccna")
    );
    h.fleet
        .remove_tags(w.id, vec!["team".into()])
        .await
        .unwrap();
    assert!(!h.worker(w.id).await.tags.contains_key("team"));
    let monitored = h.fleet.enable_detailed_monitoring(w.id).await.unwrap();
    assert!(monitored.status.detailed_monitoring);
}

#[tokio::test]
async fn sweeps_fill_the_metrics_series_within_its_retention() {
    let mut settings = FleetSettings {
        metrics_retention_seconds: 3600,
        ..quick_settings()
    };
    // Keep it running all along: an idle pause would stop the series.
    settings.idle.enabled = false;
    let h = Harness::new(settings).await;
    let w = h.create("w1").await;
    let start = h.now();
    h.run_for(3 * 3600).await;
    let raw = h.fleet.metrics_series(w.id, start, 0).await.unwrap();
    // One point per 5-minute sweep while running, only the last hour kept.
    assert!((11..=13).contains(&raw.len()), "{} points", raw.len());
    assert!(raw.first().unwrap().at >= plus_seconds(h.now(), -3600));
    assert!(raw.windows(2).all(|p| p[0].at < p[1].at));
    assert!(raw
        .iter()
        .all(|p| p.cpu_percent.is_some() && p.running_nodes.is_some()));
    let last_hour = plus_seconds(h.now(), -3599);
    let hourly = h.fleet.metrics_series(w.id, last_hour, 3600).await.unwrap();
    assert_eq!(hourly.len(), 1, "one hour-long bucket");
    assert_eq!(hourly[0].at, last_hour);
    let unknown = h
        .fleet
        .metrics_series(WorkerId::new(), start, 0)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), "not_found");
}

#[tokio::test]
async fn a_per_worker_monitoring_interval_is_bounded_and_the_sweep_follows_it_at_once() {
    let h = Harness::new(quick_settings()).await;
    let w = h.create("w1").await;
    h.run_for(30 * 60).await;
    let sweep = |h: &Harness| {
        let store = h.store.clone();
        async move { store.get_job("metrics-sweep").await.unwrap().unwrap() }
    };
    assert_eq!(
        sweep(&h).await.schedule,
        JobSchedule::Every { seconds: 300 }
    );

    for bad in [0, 59, 86_401] {
        let error = h
            .fleet
            .set_monitoring_interval(w.id, Some(bad))
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                ccm_core::CoreError::Domain(DomainError::Validation { .. })
            ),
            "{error}"
        );
    }
    let before = h.worker(w.id).await;
    assert_eq!(before.spec.monitoring_interval_seconds, None);

    // 60 s: the stored sweep schedule follows without a restart, and the
    // worker is observed about every minute from then on.
    let set = h
        .fleet
        .set_monitoring_interval(w.id, Some(60))
        .await
        .unwrap();
    assert_eq!(set.spec.monitoring_interval_seconds, Some(60));
    let job = sweep(&h).await;
    assert_eq!(job.schedule, JobSchedule::Every { seconds: 60 });
    assert!(job.next_run_at.unwrap() <= plus_seconds(h.now(), 60));
    let mut observed = Vec::new();
    for _ in 0..6 {
        h.run_for(60).await;
        observed.push(h.worker(w.id).await.status.metrics.cml.observed_at);
    }
    observed.dedup();
    assert!(observed.len() >= 5, "observed at {observed:?}");

    // Back to the fleet's interval: the sweep slows down again.
    h.fleet.set_monitoring_interval(w.id, None).await.unwrap();
    assert_eq!(
        sweep(&h).await.schedule,
        JobSchedule::Every { seconds: 300 }
    );
}

#[tokio::test]
async fn a_worker_is_created_from_a_configured_image_by_name_or_refused_naming_them() {
    let mut settings = quick_settings();
    settings.launch.images.insert(
        "cml-2.8".into(),
        ImageSelector::NamePattern("cml-2.8*".into()),
    );
    let h = Harness::new(settings).await;
    let input = |name: &str, image: Option<&str>| CreateWorker {
        image: image.map(str::to_owned),
        ..create_input(name)
    };
    let error = h
        .fleet
        .create_worker(input("w0", Some("cml-3.0")))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ccm_core::CoreError::Domain(DomainError::Validation { field, reason })
            if field == "image" && reason.contains("cml-2.8")),
        "{error}"
    );
    assert!(h
        .fleet
        .list_workers(&Default::default())
        .await
        .unwrap()
        .is_empty());

    let old = h
        .fleet
        .create_worker(input("old", Some("cml-2.8")))
        .await
        .unwrap();
    assert_eq!(old.spec.image.as_deref(), Some("cml-2.8"));
    let new = h.fleet.create_worker(input("new", None)).await.unwrap();
    h.run_for(60).await;
    let ami = |w: &Worker| {
        w.ami
            .as_ref()
            .and_then(|a| a.name.clone())
            .unwrap_or_default()
    };
    assert!(
        ami(&h.worker(old.id).await).starts_with("cml-2.8"),
        "{:?}",
        h.worker(old.id).await.ami
    );
    assert!(
        ami(&h.worker(new.id).await).starts_with("cml-2.9"),
        "{:?}",
        h.worker(new.id).await.ami
    );
}
