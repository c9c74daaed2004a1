//! The fleet engine: use cases on workers and labs, the worker controller, the
//! metrics sweep, lab sync, idle pause and auto-import, working with any adapters
//! behind the ports. Nothing here spawns tasks: a driver (the server, the bindings
//! or a simulation) calls [`Fleet::reconcile_due`] and runs the jobs from
//! [`Fleet::register_jobs`], so tests drive everything with a virtual clock.

mod autoscaler;
mod cml_trust;
mod controller;
mod definitions;
mod drive;
pub mod endpoint;
pub mod idle;
mod idle_pause;
mod import;
mod jobs;
mod lablet_controller;
mod lablets;
mod labs;
pub mod licence;
mod licensing;
mod log_retention;
mod log_watch;
mod monitor;
pub mod persist;
mod scheduler;
pub mod settings;
mod waves;
mod workers;

use std::sync::{Arc, Mutex};

pub use autoscaler::ScalingReport;
pub use import::{ImportMatching, ImportReport, ImportSkip};
pub use labs::LabAction;
pub use log_retention::LOG_RETENTION_JOB;
pub use log_watch::LogCatchUp;
pub use monitor::{RefreshOutcome, SweepReport};
pub use scheduler::ScheduleReport;
pub use settings::{
    AutoImportSettings, EndpointAddress, FleetSettings, LaunchTemplate, Thresholds,
};
pub use settings::{AutoscalerSettings, LabletSettings};
pub use workers::{CreateWorker, DeleteOutcome};

use crate::ids::{LabletId, WorkerId};
use crate::ports::cml::CmlEndpoint;
use crate::ports::{Clock, CloudProvider, CmlClient, KeyValueStore, MetricSeries, Store};
use crate::runtime::lease_gate::{GatedCloud, GatedCml};
use crate::runtime::{Backoff, WorkQueue};
use crate::secret::Secret;
use crate::worker::Worker;

/// Name of the recurrent metrics sweep job.
pub const SWEEP_JOB: &str = "metrics-sweep";
/// Name of the recurrent lab sync job.
pub const LABS_SYNC_JOB: &str = "labs-sync";
/// Name of the recurrent idle check job.
pub const IDLE_JOB: &str = "idle-check";
/// Name of the recurrent lablet scheduling job.
pub const SCHEDULER_JOB: &str = "lablet-scheduler";
/// Name of the recurrent autoscaler job.
pub const AUTOSCALER_JOB: &str = "autoscaler";
/// Name of the recurrent auto-import job.
pub const AUTO_IMPORT_JOB: &str = "auto-import";

/// The adapters the engine works through.
#[derive(Clone)]
pub struct Adapters {
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// EC2 and CloudWatch.
    pub cloud: Arc<dyn CloudProvider>,
    /// CML servers.
    pub cml: Arc<dyn CmlClient>,
    /// Time.
    pub clock: Arc<dyn Clock>,
}

/// The fleet engine.
pub struct Fleet {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) cloud: Arc<dyn CloudProvider>,
    pub(crate) cml: Arc<dyn CmlClient>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) settings: FleetSettings,
    pub(crate) licence_token: Option<Secret>,
    pub(crate) queue: Mutex<WorkQueue<WorkerId>>,
    pub(crate) lablet_queue: Mutex<WorkQueue<LabletId>>,
    pub(crate) key_values: Arc<dyn KeyValueStore>,
    pub(crate) series: Option<Arc<dyn MetricSeries>>,
    pub(crate) log: Mutex<log_watch::LogPosition>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("settings", &self.settings)
            .field("licence_token", &self.licence_token)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// An engine over `adapters`.
    pub fn new(adapters: Adapters, settings: FleetSettings) -> Self {
        Self {
            store: adapters.store,
            // Gated so a step that outlives its lease makes no new call.
            cloud: Arc::new(GatedCloud::new(adapters.cloud)),
            cml: Arc::new(GatedCml::new(adapters.cml)),
            clock: adapters.clock,
            settings,
            licence_token: None,
            queue: Mutex::new(WorkQueue::new(Backoff::default())),
            lablet_queue: Mutex::new(WorkQueue::new(Backoff::default())),
            key_values: Arc::new(crate::store::MemoryKeyValueStore::new()),
            series: None,
            log: Mutex::new(log_watch::LogPosition::default()),
        }
    }

    /// Keeps a per-worker metrics time series in `series` (points older than
    /// `metrics_retention_seconds` are pruned by every sweep).
    pub fn with_metric_series(mut self, series: Arc<dyn MetricSeries>) -> Self {
        self.series = Some(series);
        self
    }

    /// Keeps the autoscaler's cooldowns and last decisions in `kv`, shared by every
    /// process on the store, so a restarted process or a new leader continues them
    /// (the default, an in-memory store, forgets them on restart).
    pub fn with_key_values(mut self, kv: Arc<dyn KeyValueStore>) -> Self {
        self.key_values = kv;
        self
    }

    /// Sets the CML licence token used by licence registration.
    pub fn with_licence_token(mut self, token: Secret) -> Self {
        self.licence_token = Some(token);
        self
    }

    /// The settings in force.
    pub fn settings(&self) -> &FleetSettings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The worker's CML endpoint when ccm may call it; every CML call goes
    /// through here or [`Fleet::endpoint_choice`], so no credentials reach a host
    /// outside the allow-list.
    pub(crate) fn endpoint(&self, worker: &Worker) -> Option<CmlEndpoint> {
        match self.endpoint_choice(worker) {
            endpoint::EndpointChoice::Allowed(ep) => Some(ep),
            endpoint::EndpointChoice::Refused { .. } | endpoint::EndpointChoice::Missing => None,
        }
    }

    /// The worker's CML endpoint, refused, or missing.
    pub(crate) fn endpoint_choice(&self, worker: &Worker) -> endpoint::EndpointChoice {
        endpoint::choose(
            worker,
            self.settings.endpoint_address,
            &self.settings.endpoint_allow,
        )
    }

    /// Queues the worker controller for `id` now.
    pub fn nudge(&self, id: WorkerId) {
        let now = self.clock.now();
        self.with_queue(|q| q.enqueue(id, now));
    }

    pub(crate) fn with_queue<T>(&self, f: impl FnOnce(&mut WorkQueue<WorkerId>) -> T) -> T {
        locked(&self.queue, f)
    }

    /// Queues the lablet controller for `id` at `at`.
    pub fn nudge_lablet_at(&self, id: LabletId, at: crate::time::Timestamp) {
        locked(&self.lablet_queue, |q| q.enqueue(id, at));
    }

    /// Queues the lablet controller for `id` now.
    pub fn nudge_lablet(&self, id: LabletId) {
        self.nudge_lablet_at(id, self.clock.now());
    }
}

/// Runs `f` on the guarded value; a poisoned lock still holds consistent queue
/// state (queues are updated in single steps), so it is used rather than panicking.
pub(crate) fn locked<T, R>(mutex: &Mutex<T>, f: impl FnOnce(&mut T) -> R) -> R {
    match mutex.lock() {
        Ok(mut guard) => f(&mut guard),
        Err(poison) => f(&mut poison.into_inner()),
    }
}
