//! The event log does not grow forever: the metrics sweep logs state changes and
//! threshold crossings but not samples, and the `log-retention` job compacts the
//! log by age and size while every worker stays rebuildable from its events.
//! On the simulated AWS and CML, driven on the virtual clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ccm_core::event::{EventPayload, ResourceKind, StoredEvent};
use ccm_core::fleet::{
    CreateWorker, FleetSettings, Thresholds, WhenLabletsBound, LOG_RETENTION_JOB,
};
use ccm_core::job::JobOutcome;
use ccm_core::ports::{Clock, Store};
use ccm_core::replay::EventSourced;
use ccm_core::store::MemoryMetricSeries;
use ccm_core::time::plus_seconds;
use ccm_core::worker::{LifecycleState, Worker};
use ccm_sim::{SimConfig, SimEngine};

/// The engine on the simulator, with a metric series.
struct Engine(SimEngine);

impl std::ops::Deref for Engine {
    type Target = SimEngine;

    fn deref(&self) -> &SimEngine {
        &self.0
    }
}

async fn engine(settings: FleetSettings) -> Engine {
    let series = Arc::new(MemoryMetricSeries::new());
    Engine(
        SimEngine::start_with(11, SimConfig::default(), settings, |fleet| {
            fleet.with_metric_series(series)
        })
        .await
        .unwrap(),
    )
}

impl Engine {
    async fn create(&self, name: &str) -> Worker {
        self.fleet
            .create_worker(CreateWorker {
                name: name.into(),
                region: ccm_core::ids::Region::new("us-east-1"),
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: true,
                created_by: Some("admin".into()),
                image: None,
            })
            .await
            .unwrap()
    }

    async fn run_for(&self, seconds: i64) {
        let until = plus_seconds(self.clock.now(), seconds);
        self.fleet
            .run_until(&self.runner, None, &self.clock, until)
            .await
            .unwrap();
    }

    async fn events(&self) -> Vec<StoredEvent> {
        self.store.read_events(0, usize::MAX).await.unwrap()
    }
}

fn is_sample(event: &StoredEvent) -> bool {
    matches!(
        event.event.payload,
        EventPayload::WorkerMetricsUpdated { .. }
    )
}

#[tokio::test]
async fn a_steady_fleet_is_swept_without_logging_samples_but_crossings_are_logged() {
    // Disk above 0 %: every worker crosses once.
    let settings = FleetSettings {
        thresholds: Thresholds {
            cpu_percent: 101.0,
            memory_percent: 101.0,
            disk_percent: 0.0,
        },
        ..FleetSettings::default()
    };
    let e = engine(settings).await;
    let workers = [e.create("w1").await, e.create("w2").await];
    e.run_for(45 * 60).await;
    let log = e.events().await;
    let raised = log
        .iter()
        .filter(|s| matches!(s.event.payload, EventPayload::WorkerAlertRaised { .. }))
        .count();
    assert_eq!(raised, workers.len(), "one crossing per worker is logged");

    let interval = i64::from(e.fleet.settings().monitoring_interval_seconds);
    let start = e.clock.now();
    for _ in 0..3 {
        e.clock.advance_seconds(interval);
        let report = e.fleet.sweep(None).await.unwrap();
        assert_eq!(report.workers, workers.len());
        assert_eq!(report.cml_queried, workers.len());
        assert_eq!(report.events, 0, "a steady sweep logs nothing: {report:?}");
    }
    let log = e.events().await;
    assert!(!log.iter().any(is_sample), "no sample in the log");
    for w in &workers {
        let record = e.fleet.get_worker(w.id).await.unwrap();
        assert_eq!(record.status.lifecycle, LifecycleState::Running);
        let metrics = &record.status.metrics;
        assert_eq!(
            metrics.cml.observed_at,
            Some(e.clock.now()),
            "fresh on the record"
        );
        assert!(metrics.disk_percent().is_some());
        let series = e
            .fleet
            .metrics_series(w.id, plus_seconds(start, 1), 0)
            .await
            .unwrap();
        assert_eq!(series.len(), 3, "one point per sweep in the series");
    }
}

/// Rebuilds every stored worker from the log; only the latest samples (kept on
/// the record, not logged) and the store's version differ.
async fn assert_workers_rebuild(e: &Engine) {
    let log = e.events().await;
    let workers = e
        .store
        .list_workers(&ccm_core::ports::store::WorkerFilter {
            include_terminated: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!workers.is_empty());
    for record in workers {
        let id = record.id.to_string();
        let mut rebuilt = Worker::from_events(
            log.iter()
                .filter(|s| {
                    s.event.subject.kind == ResourceKind::Worker && s.event.subject.id == id
                })
                .map(|s| &s.event),
        )
        .unwrap_or_else(|error| panic!("worker {id} does not rebuild: {error}"));
        rebuilt.meta.version = record.meta.version;
        rebuilt.status.metrics = record.status.metrics.clone();
        assert_eq!(rebuilt, record, "worker {id}");
    }
}

#[tokio::test]
async fn the_retention_job_bounds_the_log_and_workers_still_rebuild() {
    let settings = FleetSettings {
        event_retention_days: 1,
        event_retention_max: 10,
        ..FleetSettings::default()
    };
    let e = engine(settings).await;
    let kept = [e.create("w1").await, e.create("w2").await];
    let gone = e.create("gone").await;
    e.run_for(45 * 60).await;
    e.fleet
        .delete_worker(
            gone.id,
            true,
            WhenLabletsBound::Refuse,
            Some("admin".into()),
        )
        .await
        .unwrap();
    for w in &kept {
        e.fleet.set_draining(w.id, true).await.unwrap();
    }
    let last_before = e.store.last_sequence().await.unwrap();
    assert!(
        last_before > 10,
        "the fixture needs a longer log: {last_before}"
    );
    // Past the job's interval: it has run.
    e.run_for(20 * 60).await;
    let job = e
        .runner
        .list()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.name == LOG_RETENTION_JOB)
        .expect("the job is registered");
    assert_eq!(job.last_outcome, Some(JobOutcome::Succeeded));
    let first = e.store.first_sequence().await.unwrap();
    assert!(first > 1, "the log was compacted");

    let report = e.fleet.retain_event_log().await.unwrap();
    let last = e.store.last_sequence().await.unwrap();
    assert_eq!(
        report.first_sequence,
        e.store.first_sequence().await.unwrap()
    );
    assert!(
        last + 1 - report.first_sequence <= 10,
        "{report:?}, last {last}"
    );
    assert!(last >= last_before, "sequences never go back");
    assert_workers_rebuild(&e).await;
    let log = e.events().await;
    assert!(
        !log.iter().any(
            |s| s.event.subject.id == gone.id.to_string() && s.sequence < report.first_sequence
        ),
        "nothing of the deleted worker is kept before the cut"
    );

    // By age: a day later, everything older than a day leaves too.
    e.run_for(26 * 3600).await;
    let report = e.fleet.retain_event_log().await.unwrap();
    let day_ago = plus_seconds(e.clock.now(), -86_400);
    let log = e.events().await;
    assert!(log
        .iter()
        .filter(|s| s.sequence >= report.first_sequence)
        .all(|s| s.event.occurred_at >= day_ago));
    assert_workers_rebuild(&e).await;
}
