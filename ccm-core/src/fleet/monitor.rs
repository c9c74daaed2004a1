//! The fleet-wide metrics sweep: EC2 state and status checks and CloudWatch metrics
//! in a few batched calls per region, then CML (information, stats, health,
//! licensing, telemetry) for every running worker with bounded concurrency, and
//! one batch write of everything observed. Each source keeps its own timestamp and
//! error, so one failing source never hides the others.
//!
//! Samples are not events: each worker record carries its latest metrics (what
//! the API shows) and the metric series keeps their history, while the event log
//! only gets what changed meaningfully — lifecycle, network, CML state, licence,
//! telemetry activity and threshold crossings (`worker.alert.*`). A sweep of a
//! quiet fleet appends nothing to the log.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};

use super::catalog_sync::{CatalogAnswer, CatalogRead, CatalogReads};
use super::context::Context;
use super::licensing::apply_licensing;
use super::persist::CONFLICT_RETRIES;
use super::waves::is_coming;
use super::SWEEP_JOB;
use crate::error::CoreError;
use crate::event::DomainEvent;
use crate::ids::{InstanceId, Region, WorkerId};
use crate::job::JobRecord;
use crate::ports::cloud::{Instance, InstanceStatusCheck, MetricName, MetricSample, MetricsQuery};
use crate::ports::cml::{
    CmlError, Licensing, SystemHealth, SystemInformation, SystemStats, TelemetryEvent,
};
use crate::ports::metric_series::MetricPoint;
use crate::ports::store::{ChangeSet, Fence, StoreError, WorkerFilter};
use crate::time::{plus_seconds, Timestamp};
use crate::worker::{
    ActivityEvent, AlertMetric, CloudWatchMetrics, CmlService, CmlServiceState, CmlStats,
    Ec2StatusChecks, LifecycleState, Worker,
};

/// Seconds of slack when deciding whether a worker is due, so a sweep that starts
/// a moment early does not skip it for a whole interval.
const DUE_SLACK_SECONDS: i64 = 10;

/// Asked to run, and its CML not available yet: starting, or not answering.
/// A CML that answers with errors is not booting, and keeps its own interval.
pub(crate) fn is_booting(worker: &Worker) -> bool {
    is_coming(worker)
        && matches!(
            worker.status.cml.state,
            CmlServiceState::Unavailable | CmlServiceState::Starting
        )
}

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepReport {
    /// Workers observed.
    pub workers: usize,
    /// Workers whose CML was queried.
    pub cml_queried: usize,
    /// Sources that failed (worker, source, error).
    pub failures: Vec<(WorkerId, String, String)>,
    /// Events written.
    pub events: usize,
}

/// What a refresh-now request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RefreshOutcome {
    /// The worker was observed now.
    Refreshed {
        /// When.
        at: Timestamp,
    },
    /// The next sweep is due within the coalescing window; it will cover this worker.
    Coalesced {
        /// When the sweep runs.
        next_at: Timestamp,
    },
}

#[derive(Default)]
struct CloudFacts {
    instances: BTreeMap<InstanceId, Instance>,
    checks: BTreeMap<InstanceId, InstanceStatusCheck>,
    metrics: BTreeMap<InstanceId, CloudWatchMetrics>,
    describe_error: Option<String>,
    checks_error: Option<String>,
    metrics_error: Option<String>,
}

struct CmlFacts {
    information: Result<SystemInformation, CmlError>,
    stats: Option<Result<SystemStats, CmlError>>,
    health: Option<Result<SystemHealth, CmlError>>,
    licensing: Option<Result<Licensing, CmlError>>,
    telemetry: Option<Result<Vec<TelemetryEvent>, CmlError>>,
    labs: Option<usize>,
    /// Node and image definitions, when the catalog was due.
    catalog: Option<CatalogAnswer>,
    /// The certificate the client trusts now (pinned at first contact).
    fingerprint: Option<String>,
}

impl CmlFacts {
    /// Facts of a CML that answered nothing beyond `information` (an error): the
    /// other calls are not made.
    fn unreachable(information: Result<SystemInformation, CmlError>) -> Self {
        Self {
            information,
            stats: None,
            health: None,
            licensing: None,
            telemetry: None,
            labs: None,
            catalog: None,
            fingerprint: None,
        }
    }
}

/// The metrics sweep and the per-worker metric series.
#[derive(Clone)]
pub(crate) struct Monitor {
    ctx: Arc<Context>,
    catalogs: CatalogReads,
}

impl Monitor {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self {
            ctx,
            catalogs: CatalogReads::default(),
        }
    }

    /// Interval in seconds at which `worker` is swept: its own (or the
    /// fleet's), shortened to the booting interval while it boots.
    fn monitoring_interval(&self, worker: &Worker) -> u32 {
        let settings = &self.ctx.settings;
        let own = worker
            .spec
            .monitoring_interval_seconds
            .unwrap_or(settings.monitoring_interval_seconds);
        let interval = if is_booting(worker) {
            own.min(settings.booting_monitoring_interval_seconds)
        } else {
            own
        };
        interval.max(1)
    }

    fn last_observed(worker: &Worker) -> Option<Timestamp> {
        let m = &worker.status.metrics;
        [
            m.ec2.observed_at,
            m.cloudwatch.observed_at,
            m.cml.observed_at,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    fn is_due(&self, worker: &Worker, now: Timestamp) -> bool {
        match Self::last_observed(worker) {
            None => true,
            Some(at) => {
                let next = plus_seconds(at, i64::from(self.monitoring_interval(worker)));
                next <= plus_seconds(now, DUE_SLACK_SECONDS)
            }
        }
    }

    /// `worker` with `next_refresh_at` filled from the sweep job's schedule.
    pub(crate) async fn with_next_refresh(&self, mut worker: Worker) -> Result<Worker, CoreError> {
        let sweep = self.ctx.store.get_job(SWEEP_JOB).await?;
        worker.status.next_refresh_at = self.next_refresh_for(&worker, sweep.as_ref());
        Ok(worker)
    }

    /// `workers` with `next_refresh_at` filled in, reading the sweep job once.
    pub(crate) async fn with_next_refreshes(
        &self,
        mut workers: Vec<Worker>,
    ) -> Result<Vec<Worker>, CoreError> {
        let sweep = self.ctx.store.get_job(SWEEP_JOB).await?;
        for worker in &mut workers {
            worker.status.next_refresh_at = self.next_refresh_for(worker, sweep.as_ref());
        }
        Ok(workers)
    }

    /// The next refresh shown to users: the later of the sweep job's next run and
    /// the worker's own interval since it was last observed.
    fn next_refresh_for(&self, worker: &Worker, sweep: Option<&JobRecord>) -> Option<Timestamp> {
        if worker.status.lifecycle == LifecycleState::Terminated {
            return None;
        }
        let job_next = sweep.filter(|j| !j.paused).and_then(|j| j.next_run_at)?;
        let own = Self::last_observed(worker)
            .map(|at| plus_seconds(at, i64::from(self.monitoring_interval(worker))));
        Some(own.map_or(job_next, |own| own.max(job_next)))
    }

    /// Sweeps every worker that is due.
    pub(crate) async fn sweep(&self, fence: Option<&Fence>) -> Result<SweepReport, CoreError> {
        let now = self.ctx.now();
        let listed = self
            .ctx
            .store
            .list_workers(&WorkerFilter::default())
            .await?;
        self.catalogs.keep_only(listed.iter().map(|w| w.id));
        let workers: Vec<Worker> = listed
            .into_iter()
            .filter(|w| w.instance_id.is_some() && self.is_due(w, now))
            .collect();
        self.sweep_workers(workers, fence, CatalogRead::WhenDue)
            .await
    }

    /// Observes one worker now, unless the next sweep is due within the
    /// coalescing window (then the request is merged into it).
    pub(crate) async fn refresh_now(&self, id: WorkerId) -> Result<RefreshOutcome, CoreError> {
        let worker = self.with_next_refresh(self.ctx.worker(id).await?).await?;
        let now = self.ctx.now();
        let window = plus_seconds(now, crate::runtime::JobRunner::DEFAULT_COALESCE_SECONDS);
        if let Some(next_at) = worker.status.next_refresh_at.filter(|at| *at <= window) {
            return Ok(RefreshOutcome::Coalesced { next_at });
        }
        self.sweep_workers(vec![worker], None, CatalogRead::Always)
            .await?;
        self.ctx.nudge_worker(id);
        Ok(RefreshOutcome::Refreshed { at: now })
    }

    async fn cloud_facts(&self, region: &Region, workers: &[&Worker]) -> CloudFacts {
        let ids: Vec<InstanceId> = workers
            .iter()
            .filter_map(|w| w.instance_id.clone())
            .collect();
        let mut facts = CloudFacts::default();
        match self.ctx.cloud.describe(region, &ids).await {
            Ok(found) => {
                facts.instances = found
                    .into_iter()
                    .map(|i| (i.instance_id.clone(), i))
                    .collect();
            }
            Err(error) => facts.describe_error = Some(error.to_string()),
        }
        let running: Vec<InstanceId> = facts
            .instances
            .values()
            .filter(|i| LifecycleState::from_instance(i.state) == LifecycleState::Running)
            .map(|i| i.instance_id.clone())
            .collect();
        if running.is_empty() {
            return facts;
        }
        let now = self.ctx.now();
        let period = if self.ctx.settings.launch.detailed_monitoring {
            60
        } else {
            300
        };
        let query = MetricsQuery {
            instance_ids: running.clone(),
            metrics: MetricName::ALL.to_vec(),
            start: plus_seconds(now, -3 * i64::from(period)),
            end: now,
            period_seconds: period,
        };
        // Independent reads of the same instances: one round trip, not two.
        let (checks, samples) = tokio::join!(
            self.ctx.cloud.status_checks(region, &running),
            self.ctx.cloud.metrics(region, &query),
        );
        match checks {
            Ok(checks) => {
                facts.checks = checks
                    .into_iter()
                    .map(|c| (c.instance_id.clone(), c))
                    .collect();
            }
            Err(error) => facts.checks_error = Some(error.to_string()),
        }
        match samples {
            Ok(samples) => facts.metrics = cloudwatch_by_instance(samples),
            Err(error) => facts.metrics_error = Some(error.to_string()),
        }
        facts
    }

    async fn cml_facts(&self, worker: &Worker, read_catalog: bool) -> Option<CmlFacts> {
        let ep = match self.ctx.endpoint_choice(worker) {
            super::endpoint::EndpointChoice::Allowed(ep) => ep,
            super::endpoint::EndpointChoice::Missing => return None,
            // Recorded on the worker like an unreachable CML (status and event),
            // without a single call to the host.
            super::endpoint::EndpointChoice::Refused { endpoint, reason } => {
                tracing::warn!(worker = %worker.id, %reason, "CML endpoint refused");
                return Some(CmlFacts::unreachable(Err(CmlError::EndpointRefused {
                    endpoint,
                    reason,
                })));
            }
        };
        // All calls in one round trip: a sweep's time is its CML phase. On a
        // host that does not answer they fail together, and only the first
        // error is recorded.
        let after = worker.status.activity.telemetry_high_water;
        let catalog = async {
            if read_catalog {
                Some(CatalogReads::read(self.ctx.cml.as_ref(), &ep).await)
            } else {
                None
            }
        };
        let (information, stats, health, licensing, telemetry, labs, catalog) = tokio::join!(
            self.ctx.cml.system_information(&ep),
            self.ctx.cml.system_stats(&ep),
            self.ctx.cml.system_health(&ep),
            self.ctx.cml.licensing(&ep),
            self.ctx.cml.telemetry_events(&ep, after),
            self.ctx.cml.list_labs(&ep),
            catalog,
        );
        if information.is_err() {
            return Some(CmlFacts::unreachable(information));
        }
        Some(CmlFacts {
            information,
            stats: Some(stats),
            health: Some(health),
            licensing: Some(licensing),
            telemetry: Some(telemetry),
            labs: labs.ok().map(|l| l.len()),
            catalog,
            fingerprint: self.ctx.cml.certificate_fingerprint(&ep),
        })
    }

    /// Observes the given workers and writes the results in one batch.
    async fn sweep_workers(
        &self,
        workers: Vec<Worker>,
        fence: Option<&Fence>,
        catalog_read: CatalogRead,
    ) -> Result<SweepReport, CoreError> {
        let mut by_region: BTreeMap<Region, Vec<&Worker>> = BTreeMap::new();
        for worker in &workers {
            by_region
                .entry(worker.region.clone())
                .or_default()
                .push(worker);
        }
        let mut cloud = CloudFacts::default();
        let mut region_errors: BTreeMap<Region, CloudFacts> = BTreeMap::new();
        // Regions are independent: all of them in one round trip.
        let per_region =
            futures_util::future::join_all(by_region.iter().map(|(region, members)| async move {
                (region, self.cloud_facts(region, members).await)
            }))
            .await;
        for (region, facts) in per_region {
            cloud.instances.extend(facts.instances);
            cloud.checks.extend(facts.checks);
            cloud.metrics.extend(facts.metrics);
            region_errors.insert(
                region.clone(),
                CloudFacts {
                    describe_error: facts.describe_error,
                    checks_error: facts.checks_error,
                    metrics_error: facts.metrics_error,
                    ..CloudFacts::default()
                },
            );
        }
        let running: Vec<Worker> = workers
            .iter()
            .filter(|w| {
                w.instance_id
                    .as_ref()
                    .and_then(|i| cloud.instances.get(i))
                    .is_some_and(|i| {
                        LifecycleState::from_instance(i.state) == LifecycleState::Running
                    })
            })
            .cloned()
            .collect();
        let cml_queried = running.len();
        let now = self.ctx.now();
        let queries = running.into_iter().map(|w| async move {
            let read_catalog = self.catalogs.due(&w, now, catalog_read);
            let facts = self.cml_facts(&w, read_catalog).await;
            (w.id, facts)
        });
        let answers: Vec<(WorkerId, Option<CmlFacts>)> = stream::iter(queries)
            .buffer_unordered(self.ctx.settings.cml_concurrency.max(1))
            .collect()
            .await;
        let cml: BTreeMap<WorkerId, CmlFacts> = answers
            .into_iter()
            .filter_map(|(id, facts)| facts.map(|f| (id, f)))
            .collect();

        let mut report = SweepReport {
            workers: workers.len(),
            cml_queried,
            ..SweepReport::default()
        };
        let ids: Vec<WorkerId> = workers.iter().map(|w| w.id).collect();
        for _ in 0..CONFLICT_RETRIES {
            let now = self.ctx.now();
            let mut changes = ChangeSet::new();
            changes.fence = fence.cloned();
            let mut failures = Vec::new();
            for mut worker in self.current(&ids).await? {
                let id = worker.id;
                let before = worker.clone();
                let errors = region_errors.get(&worker.region);
                let events = self.apply_facts(
                    &mut worker,
                    &cloud,
                    errors,
                    cml.get(&id),
                    now,
                    &mut failures,
                )?;
                // New samples alone change the record without an event.
                if !events.is_empty() || worker != before {
                    changes = changes.put_worker(worker).events(events);
                }
            }
            let events = changes.events.len();
            let points = series_points(&changes, now);
            match self.ctx.commit(changes).await {
                Ok(_) => {
                    report.failures = failures;
                    report.events = events;
                    self.record_series(&points, now).await;
                    return Ok(report);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(
            StoreError::Unavailable("metrics sweep kept conflicting with other writers".into())
                .into(),
        )
    }

    /// The stored records of `ids` as they are now (a sweep writes on top of
    /// what changed while it observed): one list of the live workers, and a
    /// read each only for those terminated meanwhile (the list leaves out the
    /// terminated ones, which pile up over a fleet's life).
    async fn current(&self, ids: &[WorkerId]) -> Result<Vec<Worker>, CoreError> {
        let mut missing: BTreeSet<WorkerId> = ids.iter().copied().collect();
        let mut current: Vec<Worker> = if ids.len() > 1 {
            self.ctx
                .store
                .list_workers(&WorkerFilter::default())
                .await?
                .into_iter()
                .filter(|w| missing.remove(&w.id))
                .collect()
        } else {
            Vec::new()
        };
        for id in missing {
            current.extend(self.ctx.store.get_worker(id).await?);
        }
        Ok(current)
    }

    fn apply_facts(
        &self,
        worker: &mut Worker,
        cloud: &CloudFacts,
        errors: Option<&CloudFacts>,
        cml: Option<&CmlFacts>,
        now: Timestamp,
        failures: &mut Vec<(WorkerId, String, String)>,
    ) -> Result<Vec<DomainEvent>, CoreError> {
        let mut events = Vec::new();
        let worker_id = worker.id;
        let mut fail = |source: &str, error: &str| {
            failures.push((worker_id, source.to_owned(), error.to_owned()));
        };
        let instance = worker
            .instance_id
            .as_ref()
            .and_then(|i| cloud.instances.get(i));
        let describe_error = errors.and_then(|e| e.describe_error.clone());
        if let Some(instance) = instance {
            events.extend(worker.observe_network(super::controller::network_of(instance), now)?);
            let state = LifecycleState::from_instance(instance.state);
            use crate::state_machine::StateMachine;
            if worker.status.lifecycle.check_transition(state).is_ok() {
                events.extend(worker.observe_lifecycle(state, Some(instance.state), None, now)?);
            }
        } else if describe_error.is_none() && worker.instance_id.is_some() {
            // EC2 forgets terminated instances after a while.
            use crate::state_machine::StateMachine;
            if worker
                .status
                .lifecycle
                .check_transition(LifecycleState::Terminated)
                .is_ok()
            {
                events.extend(worker.observe_lifecycle(
                    LifecycleState::Terminated,
                    None,
                    Some("instance no longer exists".into()),
                    now,
                )?);
            }
        }

        let mut metrics = worker.status.metrics.clone();
        let running = worker.status.lifecycle == LifecycleState::Running;
        if let Some(error) = &describe_error {
            metrics.ec2.failed(error.clone());
            fail("ec2", error);
        } else if running {
            let instance_id = worker.instance_id.clone();
            match instance_id.as_ref().and_then(|i| cloud.checks.get(i)) {
                Some(check) => metrics.ec2.observed(
                    Ec2StatusChecks {
                        instance_status: check.instance_status.clone(),
                        system_status: check.system_status.clone(),
                    },
                    now,
                ),
                None => match errors.and_then(|e| e.checks_error.clone()) {
                    Some(error) => {
                        metrics.ec2.failed(error.clone());
                        fail("ec2_status", &error);
                    }
                    None => metrics.ec2.observed(
                        Ec2StatusChecks {
                            instance_status: "initializing".into(),
                            system_status: "initializing".into(),
                        },
                        now,
                    ),
                },
            }
            match instance_id.as_ref().and_then(|i| cloud.metrics.get(i)) {
                Some(values) => metrics.cloudwatch.observed(values.clone(), now),
                None => {
                    if let Some(error) = errors.and_then(|e| e.metrics_error.clone()) {
                        metrics.cloudwatch.failed(error.clone());
                        fail("cloudwatch", &error);
                    }
                }
            }
        }

        let mut cml_service = worker.status.cml.clone();
        if let Some(facts) = cml {
            self.apply_cml_facts(
                worker,
                facts,
                &mut metrics,
                &mut cml_service,
                now,
                &mut events,
                &mut fail,
            )?;
        } else if !running {
            cml_service.state = CmlServiceState::Unavailable;
            cml_service.ready = false;
        }
        events.extend(worker.observe_cml(cml_service, now)?);
        // Kept on the record, not logged (see the module documentation): replaying
        // a worker's events rebuilds everything but its latest samples.
        worker.status.metrics = metrics;

        let thresholds = self.ctx.settings.thresholds;
        let values = [
            (
                AlertMetric::Cpu,
                worker.status.metrics.cpu_percent(),
                thresholds.cpu_percent,
            ),
            (
                AlertMetric::Memory,
                worker.status.metrics.memory_percent(),
                thresholds.memory_percent,
            ),
            (
                AlertMetric::Disk,
                worker.status.metrics.disk_percent(),
                thresholds.disk_percent,
            ),
        ];
        for (metric, value, threshold) in values {
            events.extend(worker.evaluate_alert(metric, value, threshold, now)?);
        }
        Ok(events)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_cml_facts(
        &self,
        worker: &mut Worker,
        facts: &CmlFacts,
        metrics: &mut crate::worker::WorkerMetrics,
        service: &mut CmlService,
        now: Timestamp,
        events: &mut Vec<DomainEvent>,
        fail: &mut impl FnMut(&str, &str),
    ) -> Result<(), CoreError> {
        match &facts.information {
            Ok(info) => {
                service.state = if info.ready {
                    CmlServiceState::Available
                } else {
                    CmlServiceState::Starting
                };
                service.version = Some(info.version.clone());
                service.ready = info.ready;
                service.last_error = None;
                if service.certificate.pinned_sha256.is_none() {
                    service
                        .certificate
                        .pinned_sha256
                        .clone_from(&facts.fingerprint);
                }
            }
            Err(error) => {
                if let CmlError::CertificateChanged {
                    expected,
                    presented,
                    ..
                } = error
                {
                    events.extend(worker.observe_cml_certificate_change(
                        expected.clone(),
                        presented.clone(),
                        now,
                    )?);
                    // `service` is written back whole after this; keep the change.
                    service.certificate = worker.status.cml.certificate.clone();
                }
                service.state = if error.means_starting() {
                    CmlServiceState::Starting
                } else {
                    CmlServiceState::Error
                };
                service.ready = false;
                service.last_error = Some(error.to_string());
                metrics.cml.failed(error.to_string());
                fail("cml", &error.to_string());
                return Ok(());
            }
        }
        if let Some(health) = &facts.health {
            match health {
                Ok(h) => service.healthy = Some(h.valid),
                Err(error) => fail("cml_health", &error.to_string()),
            }
        }
        if let Some(stats) = &facts.stats {
            match stats {
                Ok(s) => {
                    let info = facts.information.as_ref().ok();
                    metrics.cml.observed(cml_stats(s, info, facts.labs), now);
                }
                Err(error) => {
                    metrics.cml.failed(error.to_string());
                    fail("cml_stats", &error.to_string());
                }
            }
        }
        if let Some(answer) = &facts.catalog {
            let (synced, error) =
                self.catalogs
                    .apply(worker, answer, service.ready, service.version.clone(), now)?;
            events.extend(synced);
            if let Some(error) = error {
                fail("cml_catalog", &error);
            }
        }
        if let Some(licensing) = &facts.licensing {
            match licensing {
                Ok(l) => events.extend(apply_licensing(&self.ctx.settings, worker, l, now)?),
                Err(error) => fail("cml_licensing", &error.to_string()),
            }
        }
        if let Some(telemetry) = &facts.telemetry {
            match telemetry {
                Ok(list) => {
                    if let Some(high_water) = list.iter().map(|e| e.timestamp).max() {
                        let activity: Vec<ActivityEvent> = list
                            .iter()
                            .filter(|e| e.is_user_activity())
                            .map(|e| ActivityEvent {
                                at: e.timestamp,
                                source: format!("telemetry:{}", e.category),
                                detail: String::new(),
                            })
                            .collect();
                        events.extend(worker.record_telemetry(high_water, activity, now)?);
                    }
                }
                Err(error) => fail("cml_telemetry", &error.to_string()),
            }
        }
        Ok(())
    }
}

/// One point per worker of the batch whose CML or CloudWatch numbers were observed
/// at `now`.
fn series_points(changes: &ChangeSet, now: Timestamp) -> Vec<MetricPoint> {
    changes
        .writes
        .iter()
        .filter_map(|write| match write {
            crate::ports::store::Write::PutWorker(w) => Some(w),
            _ => None,
        })
        .filter(|w| {
            let m = &w.status.metrics;
            m.cml.observed_at == Some(now) || m.cloudwatch.observed_at == Some(now)
        })
        .map(|w| {
            let m = &w.status.metrics;
            MetricPoint {
                worker_id: w.id,
                at: now,
                cpu_percent: m.cpu_percent(),
                memory_percent: m.memory_percent(),
                disk_percent: m.disk_percent(),
                running_nodes: m.cml.value.as_ref().and_then(|c| c.running_nodes),
            }
        })
        .collect()
}

impl Monitor {
    /// Appends the sweep's points and compacts the series (averages old points,
    /// deletes past the retention). The series is a chart aid: failures are
    /// logged, never fail the sweep.
    async fn record_series(&self, points: &[MetricPoint], now: Timestamp) {
        let Some(series) = &self.ctx.series else {
            return;
        };
        if let Err(error) = series.append(points).await {
            tracing::warn!(%error, "could not append metric points");
        }
        let retention = self.ctx.settings.metric_retention();
        if let Err(error) = series.compact(now, &retention).await {
            tracing::warn!(%error, "could not compact metric points");
        }
    }

    /// A worker's metric series since `since` (up to now), averaged per `step_seconds`.
    pub(crate) async fn metrics_series(
        &self,
        worker: WorkerId,
        since: Timestamp,
        step_seconds: u32,
    ) -> Result<Vec<MetricPoint>, CoreError> {
        self.ctx.worker(worker).await?;
        let Some(series) = &self.ctx.series else {
            return Ok(Vec::new());
        };
        let until = plus_seconds(self.ctx.now(), 1);
        Ok(series.read(worker, since, until, step_seconds).await?)
    }
}

fn percent(used: Option<u64>, total: Option<u64>) -> Option<f64> {
    match (used, total) {
        (Some(u), Some(t)) if t > 0 => Some(u as f64 * 100.0 / t as f64),
        _ => None,
    }
}

fn cml_stats(
    stats: &SystemStats,
    info: Option<&SystemInformation>,
    labs: Option<usize>,
) -> CmlStats {
    CmlStats {
        cpu_percent: stats.cpu_percent,
        memory_percent: percent(stats.memory_used_bytes, stats.memory_total_bytes),
        disk_percent: percent(stats.disk_used_bytes, stats.disk_total_bytes),
        allocated_cpus: Some(stats.allocated_cpus),
        allocated_memory_kib: Some(stats.allocated_memory_kib),
        running_nodes: Some(stats.running_nodes),
        total_nodes: Some(stats.total_nodes),
        labs_count: labs.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        version: info.map(|i| i.version.clone()),
        ready: info.map(|i| i.ready),
    }
}

fn cloudwatch_by_instance(samples: Vec<MetricSample>) -> BTreeMap<InstanceId, CloudWatchMetrics> {
    let mut out: BTreeMap<InstanceId, CloudWatchMetrics> = BTreeMap::new();
    for sample in samples {
        let entry = out.entry(sample.instance_id).or_default();
        match sample.metric {
            MetricName::CpuUtilization => entry.cpu_percent = sample.value,
            MetricName::MemUsedPercent => entry.memory_percent = sample.value,
            MetricName::DiskUsedPercent => entry.disk_percent = sample.value,
        }
    }
    out
}
