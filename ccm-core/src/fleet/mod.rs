//! The fleet engine: use cases on workers, labs, definitions and lablets, the
//! worker and lablet controllers, the metrics sweep, lab sync, idle pause, the
//! scheduler, the autoscaler and auto-import, working with any adapters behind
//! the ports. Nothing here spawns tasks: a driver (the server, the bindings or a
//! simulation) calls [`Fleet::step`] and runs the jobs from
//! [`Fleet::register_jobs`], so tests drive everything with a virtual clock.
//!
//! Each concern is a type of its own holding the shared context (ports,
//! settings, the controllers' queues); [`Fleet`] assembles them and is the facade
//! the server, the bindings and the simulations call.

mod autoscaler;
mod catalog_sync;
mod context;
mod controller;
mod cost;
mod definitions;
mod drive;
pub mod endpoint;
mod forecast;
pub mod idle;
mod idle_pause;
mod import;
mod lablet_controller;
mod lablets;
mod labs;
mod lead_time;
mod licensing;
mod lifetimes;
mod log_retention;
mod log_watch;
mod monitor;
mod on_demand;
pub mod persist;
mod preview;
mod recurrent_jobs;
mod scheduler;
pub mod settings;
mod step_phase;
mod use_cases;
mod warm_pool;
mod waves;
mod workers;

use std::sync::Arc;

pub use autoscaler::ScalingReport;
pub use cost::{CostGroup, CostReport, CostWindow};
pub use forecast::{
    CapacityForecast, ForecastStep, FORECAST_STEP_MINUTES, MAX_FORECAST_HOURS, MAX_FORECAST_LABLETS,
};
pub use import::{ImportMatching, ImportReport, ImportSkip};
pub use lablets::OnDemandLablet;
pub use labs::LabAction;
pub use lead_time::{LeadEstimate, LeadTime, LEAD_LEARNING_JOB, LEAD_TIME_NAMESPACE};
pub use log_retention::LOG_RETENTION_JOB;
pub use monitor::{RefreshOutcome, SweepReport};
pub use preview::{PlacementPreview, MAX_PREVIEW_LABLETS};
pub use settings::{
    AutoImportSettings, EndpointAddress, FleetSettings, LaunchTemplate, Thresholds,
};
pub use settings::{AutoscalerSettings, LabletSettings};
pub use step_phase::{StepObserver, StepPhase, Unobserved};
pub use warm_pool::MAX_WARM_POOL_HISTORY_WEEKS;
pub use workers::{CreateWorker, DeleteOutcome, WhenLabletsBound};

use crate::runtime::group_commit::GroupCommit;
use autoscaler::Autoscaler;
use context::Context;
use controller::WorkerController;
use definitions::Definitions;
use idle_pause::IdlePause;
use import::Imports;
use lablet_controller::LabletController;
use lablets::Lablets;
use labs::Labs;
use lead_time::LeadTimes;
use licensing::Licences;
use log_retention::LogRetention;
use log_watch::LogWatch;
use monitor::Monitor;
use on_demand::ReadyEstimates;
use scheduler::Scheduler;
use workers::Workers;

use crate::ports::{
    Clock, CloudProvider, CmlClient, IdSource, KeyValueStore, MetricSeries, RandomIds, Store,
};
use crate::runtime::lease_gate::{GatedCloud, GatedCml};
use crate::runtime::{Backoff, Controller};
use crate::secret::Secret;

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

/// The fleet engine: the parts below, assembled over one shared context.
pub struct Fleet {
    context: Arc<Context>,
    workers: Workers,
    imports: Imports,
    licences: Licences,
    monitor: Monitor,
    idle_pause: IdlePause,
    labs: Labs,
    definitions: Definitions,
    lablets: Lablets,
    worker_controller: WorkerController,
    lablet_controller: LabletController,
    scheduler: Scheduler,
    autoscaler: Autoscaler,
    log_watch: LogWatch,
    log_retention: LogRetention,
    lead_times: LeadTimes,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("settings", &self.context.settings)
            .field("licence_token", &self.context.licence_token)
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// An engine over `adapters`.
    pub fn new(adapters: Adapters, settings: FleetSettings) -> Self {
        let concurrency = settings.cml_concurrency;
        let clock = adapters.clock;
        Self::assemble(Context {
            commits: Arc::new(GroupCommit::new(adapters.store.clone())),
            store: adapters.store,
            // Gated so a step that outlives its lease makes no new call.
            cloud: Arc::new(GatedCloud::new(adapters.cloud)),
            cml: Arc::new(GatedCml::new(adapters.cml)),
            worker_queue: Arc::new(Controller::new(
                "worker",
                clock.clone(),
                Backoff::default(),
                concurrency,
            )),
            lablet_queue: Arc::new(Controller::new(
                "lablet",
                clock.clone(),
                Backoff::default(),
                concurrency,
            )),
            clock,
            ids: Arc::new(RandomIds),
            settings,
            key_values: Arc::new(crate::store::MemoryKeyValueStore::new()),
            series: None,
            licence_token: None,
            worker_turns: Default::default(),
        })
    }

    fn assemble(context: Context) -> Self {
        let ctx = Arc::new(context);
        let monitor = Monitor::new(ctx.clone());
        let workers = Workers::new(ctx.clone(), monitor.clone());
        let licences = Licences::new(ctx.clone());
        let definitions = Definitions::new(ctx.clone());
        let lead_times = LeadTimes::new(ctx.clone());
        let scheduler = Scheduler::new(ctx.clone(), definitions.clone(), lead_times.clone());
        let worker_controller = WorkerController::new(ctx.clone(), licences.clone());
        let estimates = ReadyEstimates::new(ctx.clone(), lead_times.clone());
        let lablet_controller =
            LabletController::new(ctx.clone(), definitions.clone(), estimates.clone());
        Self {
            imports: Imports::new(ctx.clone()),
            idle_pause: IdlePause::new(ctx.clone()),
            labs: Labs::new(ctx.clone()),
            lablets: Lablets::new(ctx.clone(), definitions.clone(), estimates),
            autoscaler: Autoscaler::new(ctx.clone(), scheduler.clone(), workers.clone()),
            log_watch: LogWatch::new(
                ctx.clone(),
                worker_controller.clone(),
                lablet_controller.clone(),
            ),
            log_retention: LogRetention::new(ctx.clone()),
            lead_times,
            context: ctx,
            workers,
            licences,
            monitor,
            definitions,
            worker_controller,
            lablet_controller,
            scheduler,
        }
    }

    /// The same engine with `change` made to its context. The builders below call
    /// it before the engine runs; the controllers' queues carry over.
    fn rebuilt(self, change: impl FnOnce(&mut Context)) -> Self {
        let mut context = Context::clone(&self.context);
        change(&mut context);
        Self::assemble(context)
    }

    /// Keeps a per-worker metrics time series in `series` (points older than
    /// `metrics_retention_seconds` are pruned by every sweep).
    pub fn with_metric_series(self, series: Arc<dyn MetricSeries>) -> Self {
        self.rebuilt(|c| c.series = Some(series))
    }

    /// Keeps the autoscaler's cooldowns and last decisions in `kv`, shared by every
    /// process on the store, so a restarted process or a new leader continues them
    /// (the default, an in-memory store, forgets them on restart).
    pub fn with_key_values(self, kv: Arc<dyn KeyValueStore>) -> Self {
        self.rebuilt(|c| c.key_values = kv)
    }

    /// Draws new identifiers (of workers, lablets, definitions, labs and events)
    /// from `ids` instead of at random: a simulation passes a seeded source so
    /// that its seed determines everything it writes.
    pub fn with_ids(self, ids: Arc<dyn IdSource>) -> Self {
        self.rebuilt(|c| c.ids = ids)
    }

    /// Sets the CML licence token used by licence registration.
    pub fn with_licence_token(self, token: Secret) -> Self {
        self.rebuilt(|c| c.licence_token = Some(token))
    }

    /// The settings in force.
    pub fn settings(&self) -> &FleetSettings {
        &self.context.settings
    }

    /// Whether a CML licence token is configured (the token itself stays here).
    pub fn has_licence_token(&self) -> bool {
        self.context.licence_token.is_some()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.context.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.context.clock
    }

    /// The source of new identifiers.
    pub fn ids(&self) -> &Arc<dyn IdSource> {
        &self.context.ids
    }
}
