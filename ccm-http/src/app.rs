//! Turning a [`Config`] into a running engine: the store, the cloud and CML
//! adapters (simulated or real), the fleet settings, the job runner and leader
//! election.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ccm_core::fleet::{Adapters, Fleet, FleetSettings, Thresholds};
use ccm_core::ids::{ImageId, Region};
use ccm_core::placement::{InstanceType, PriceTable};
use ccm_core::ports::cloud::ImageSelector;
use ccm_core::ports::{Clock, CloudProvider, CmlClient, ScaledClock, Store, SystemClock};
use ccm_core::ports::{KeyValueStore, MetricSeries};
use ccm_core::runtime::{JobRunner, LeaseSettings};
use ccm_core::store::{MemoryKeyValueStore, MemoryMetricSeries, MemoryStore};
use ccm_sim::{RegionConfig, SimConfig, Simulation, WorldOrigin};

use crate::config::{CloudKind, CmlTls, Config};
use crate::error::Error;
use crate::state::CallCounter;

/// The price table in force: the configured one or the built-in bare-metal table.
pub fn price_table(config: &Config) -> PriceTable {
    match &config.cloud.instance_types {
        Some(types) => PriceTable {
            types: types
                .iter()
                .map(|t| {
                    InstanceType::new(
                        t.name.clone(),
                        t.vcpus,
                        t.memory_gib,
                        t.storage_gib,
                        t.node_slots,
                        t.hourly_usd,
                    )
                })
                .collect(),
        },
        None => PriceTable::default(),
    }
}

/// Lease timing in force.
pub fn lease_settings(config: &Config) -> LeaseSettings {
    let defaults = LeaseSettings::default();
    LeaseSettings {
        duration_seconds: config
            .engine
            .lease_seconds
            .unwrap_or(defaults.duration_seconds),
        renew_seconds: config
            .engine
            .lease_renew_seconds
            .unwrap_or(defaults.renew_seconds),
        ..defaults
    }
}

/// The engine's settings: the configured values over the provider's defaults
/// (short intervals on the simulator, so a newcomer sees the fleet move).
pub fn fleet_settings(config: &Config) -> FleetSettings {
    let mut s = FleetSettings::default();
    let e = &config.engine;
    let sim = config.cloud.provider == CloudKind::Sim;
    if sim {
        s.monitoring_interval_seconds = 15;
        s.labs_sync_interval_seconds = 60;
        s.idle_check_interval_seconds = 30;
        s.licence_poll_seconds = 5;
        s.lablets.scheduler_interval_seconds = 15;
        s.lablets.convergence_poll_seconds = 10;
        s.idle.timeout_minutes = 30;
        s.idle.snooze_minutes = 10;
    }
    if sim && config.cloud.sim.seed_demo {
        // The demo shows the engine deciding on its own (a simulated fleet costs
        // nothing): workers started for lablets coming up, spare ones drained and
        // stopped within minutes. `engine.autoscaler` below still wins.
        s.autoscaler.enabled = true;
        s.autoscaler.interval_seconds = 15;
        s.autoscaler.scale_up_cooldown_seconds = 30;
        s.autoscaler.scale_down_cooldown_seconds = 60;
        s.autoscaler.drain_grace_seconds = 120;
    }
    let launch = &config.cloud.launch;
    s.launch.image = match &launch.image_id {
        Some(id) => ImageSelector::Id(ImageId::new(id.clone())),
        None => ImageSelector::NamePattern(launch.image_name_pattern.clone()),
    };
    s.launch.images = launch
        .images
        .iter()
        .map(|(name, image)| (name.clone(), image_selector(image)))
        .collect();
    s.launch.instance_type = launch.instance_type.clone();
    s.launch.subnet_id = launch.subnet_id.clone();
    s.launch.security_group_ids = launch.security_group_ids.clone();
    s.launch.key_name = launch.key_name.clone();
    s.launch.iam_instance_profile = launch.iam_instance_profile.clone();
    s.launch.detailed_monitoring = launch.detailed_monitoring;
    s.launch.default_tags = launch.tags.clone();
    s.instance_types = price_table(config);
    s.endpoint_address = config.cml.endpoint_address;
    // `config::check` refuses a bad entry before this runs; should one slip
    // through, the empty list (each instance's own addresses only) fails closed.
    s.endpoint_allow = ccm_core::worker::EndpointAllowList::parse(&config.cml.endpoint_allow)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "cml.endpoint_allow ignored");
            ccm_core::worker::EndpointAllowList::default()
        });
    if let Some(v) = e.monitoring_interval_seconds {
        s.monitoring_interval_seconds = v;
    }
    if let Some(v) = e.cml_concurrency {
        s.cml_concurrency = usize::try_from(v).unwrap_or(usize::MAX);
    }
    if let Some(v) = e.labs_sync_interval_seconds {
        s.labs_sync_interval_seconds = v;
    }
    if let Some(v) = e.resync_seconds {
        s.resync_seconds = v;
    }
    if let Some(v) = e.idle_check_interval_seconds {
        s.idle_check_interval_seconds = v;
    }
    if let Some(v) = e.idle_detection {
        s.idle.enabled = v;
    }
    if let Some(v) = e.idle_timeout_minutes {
        s.idle.timeout_minutes = v;
    }
    let t = Thresholds::default();
    s.thresholds = Thresholds {
        cpu_percent: e.cpu_alert_percent.unwrap_or(t.cpu_percent),
        memory_percent: e.memory_alert_percent.unwrap_or(t.memory_percent),
        disk_percent: e.disk_alert_percent.unwrap_or(t.disk_percent),
    };
    if let Some(on) = e.autoscaler {
        s.autoscaler.enabled = on;
    }
    let retention = e.metric_retention();
    s.metrics_raw_seconds = retention.raw_seconds;
    s.metrics_step_seconds = retention.step_seconds;
    s.metrics_retention_seconds = retention.keep_seconds;
    if let Some(days) = e.event_retention_days {
        s.event_retention_days = days;
    }
    if let Some(max) = e.event_retention_max {
        s.event_retention_max = max;
    }
    s.autoscaler.regions = config.cloud.regions.iter().map(Region::new).collect();
    apply_pacing(config, &mut s);
    s.topology_limits = config.limits.topology();
    s
}

/// A configured image: an AMI id (`ami-…`) or else an AMI name pattern.
pub fn image_selector(image: &str) -> ImageSelector {
    if image.starts_with("ami-") && !image.contains('*') {
        ImageSelector::Id(ImageId::new(image))
    } else {
        ImageSelector::NamePattern(image.to_owned())
    }
}

/// The autoscaler's bounds, auto-import, idle snooze and the lablets' timing
/// and placement, where the configuration sets them (`config::check` bounds them).
fn apply_pacing(config: &Config, s: &mut FleetSettings) {
    let e = &config.engine;
    let set = |target: &mut u32, value: Option<u32>| {
        if let Some(v) = value {
            *target = v;
        }
    };
    set(&mut s.idle.snooze_minutes, e.idle_snooze_minutes);
    let a = &mut s.autoscaler;
    set(
        &mut a.max_workers_per_region,
        e.autoscaler_max_workers_per_region,
    );
    set(&mut a.min_running_workers, e.autoscaler_min_running_workers);
    set(
        &mut a.scale_up_cooldown_seconds,
        e.autoscaler_scale_up_cooldown_seconds,
    );
    set(
        &mut a.scale_down_cooldown_seconds,
        e.autoscaler_scale_down_cooldown_seconds,
    );
    set(&mut a.drain_grace_seconds, e.autoscaler_drain_grace_seconds);
    let i = &mut s.auto_import;
    if let Some(on) = e.auto_import {
        i.enabled = on;
    }
    i.regions = e
        .auto_import_regions
        .as_ref()
        .unwrap_or(&config.cloud.regions)
        .iter()
        .map(Region::new)
        .collect();
    if let Some(pattern) = &e.auto_import_image_name_pattern {
        i.image_name_pattern = pattern.clone();
    }
    set(&mut i.interval_seconds, e.auto_import_interval_seconds);
    let l = &config.lablets;
    set(&mut s.lablets.lead_time_seconds, l.lead_time_seconds);
    set(&mut s.lablets.start_grace_seconds, l.start_grace_seconds);
    if let Some(policy) = l.placement_policy {
        s.lablets.policy = policy;
    }
}

/// Which store was opened, for the start-up message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// SQLite at this location.
    Sqlite(String),
    /// PostgreSQL (URL without password).
    Postgres(String),
    /// In memory.
    Memory,
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Sqlite(location) => write!(f, "SQLite at {location}"),
            StoreKind::Postgres(url) => write!(f, "PostgreSQL at {url}"),
            StoreKind::Memory => f.write_str("in memory (lost on exit)"),
        }
    }
}

/// The configured store, seen through each port it serves.
#[derive(Clone)]
pub struct OpenedStore {
    /// Resources, events, leases, API keys.
    pub store: Arc<dyn Store>,
    /// Sessions, pending logins, cursors, cooldowns.
    pub kv: Arc<dyn KeyValueStore>,
    /// The per-worker metrics time series.
    pub series: Arc<dyn MetricSeries>,
    /// Which store, for the start-up message.
    pub kind: StoreKind,
}

impl std::fmt::Debug for OpenedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedStore")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl OpenedStore {
    /// Where a simulated world is kept beside this store: `<file>.sim-world.json`
    /// next to a SQLite database file, so the simulated instances live exactly as
    /// long as the workers stored about them (and, like the file, belong to the
    /// one process holding it). None for an in-memory store, whose workers end
    /// with the process anyway, and for PostgreSQL, which several processes
    /// share while each runs a simulated cloud of its own.
    pub fn sim_world_file(&self) -> Option<PathBuf> {
        let StoreKind::Sqlite(location) = &self.kind else {
            return None;
        };
        // An in-memory SQLite database has a name but no file.
        let database = Path::new(location);
        if !database.is_file() {
            return None;
        }
        let mut name = database.as_os_str().to_owned();
        name.push(".sim-world.json");
        Some(PathBuf::from(name))
    }

    /// An in-memory store for every port (lost on exit).
    pub fn memory() -> Self {
        Self {
            store: Arc::new(MemoryStore::new()),
            kv: Arc::new(MemoryKeyValueStore::new()),
            series: Arc::new(MemoryMetricSeries::new()),
            kind: StoreKind::Memory,
        }
    }
}

/// Opens the configured store for a long-running process (`ccm serve`): a SQLite
/// file is locked to this process.
pub async fn open_store(config: &Config) -> Result<OpenedStore, Error> {
    open_store_as(config, StoreUse::Server).await
}

/// Opens the configured store for a one-shot command (`ccm api-key create`),
/// which may run while a server uses the same SQLite file.
pub async fn open_store_for_command(config: &Config) -> Result<OpenedStore, Error> {
    open_store_as(config, StoreUse::Command).await
}

/// Who opens the store: only a server takes a SQLite file for itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StoreUse {
    Server,
    Command,
}

async fn open_store_as(config: &Config, how: StoreUse) -> Result<OpenedStore, Error> {
    let url = config.database.url.expose().trim();
    if url == "memory" {
        return Ok(OpenedStore::memory());
    }
    if url.starts_with("sqlite:") {
        let mut options = ccm_store_sqlite::SqliteStoreOptions::new(url);
        if how == StoreUse::Command {
            options = options.beside_a_server();
        }
        let store = Arc::new(ccm_store_sqlite::SqliteStore::open_with(options).await?);
        let location = store.location().to_owned();
        return Ok(OpenedStore {
            store: store.clone(),
            kv: store.clone(),
            series: store,
            kind: StoreKind::Sqlite(location),
        });
    }
    let store = Arc::new(ccm_store_postgres::PostgresStore::open(url).await?);
    Ok(OpenedStore {
        store: store.clone(),
        kv: store.clone(),
        series: store,
        kind: StoreKind::Postgres(ccm_store_postgres::redact_url(url)),
    })
}

/// The cloud, CML and clock the engine works through.
pub struct CloudParts {
    /// EC2 / CloudWatch.
    pub cloud: Arc<dyn CloudProvider>,
    /// CML servers.
    pub cml: Arc<dyn CmlClient>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Call counts, when the provider keeps them.
    pub calls: Option<CallCounter>,
    /// The simulation, when simulated.
    pub sim: Option<Simulation>,
}

impl std::fmt::Debug for CloudParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudParts")
            .field("simulated", &self.sim.is_some())
            .finish_non_exhaustive()
    }
}

/// The simulator's configuration for `config`: its regions, short delays, and
/// instances whose CML is licensed at launch (so demo labs run more than 5 nodes).
pub fn sim_config(config: &Config) -> SimConfig {
    let mut sim = SimConfig {
        regions: config
            .cloud
            .regions
            .iter()
            .map(|r| RegionConfig::new(r))
            .collect(),
        ..SimConfig::default()
    };
    let s = &config.cloud.sim;
    sim.delays.boot_metal_seconds = s.boot_seconds;
    sim.delays.boot_seconds = s.boot_seconds.min(sim.delays.boot_seconds);
    sim.delays.stop_seconds = s.stop_seconds;
    sim.delays.terminate_seconds = s.terminate_seconds;
    sim.delays.status_init_seconds = s.status_init_seconds;
    sim.cml.boot_seconds = s.cml_boot_seconds;
    sim.cml.node_boot_seconds = s.node_boot_seconds;
    sim.cml.registration_seconds = sim.cml.registration_seconds.min(15);
    sim.cml.licensed_at_launch = s.licensed_at_launch;
    sim
}

/// Builds the configured cloud and CML adapters on the real clock (run faster
/// for a simulated fleet with `cloud.sim.time_scale`).
pub fn cloud_parts(config: &Config) -> Result<CloudParts, Error> {
    cloud_parts_on(config, serve_clock(config))
}

/// The clock of a served engine: the wall clock, or for a simulated fleet with
/// `cloud.sim.time_scale` above 1 the wall clock run that much faster from
/// `cloud.sim.clock_origin` (default: now).
pub fn serve_clock(config: &Config) -> Arc<dyn Clock> {
    let sim = &config.cloud.sim;
    if config.cloud.provider == CloudKind::Sim && sim.time_scale > 1.0 {
        let now = chrono::Utc::now();
        Arc::new(ScaledClock::new(
            sim.clock_origin.unwrap_or(now),
            sim.time_scale,
            now,
        ))
    } else {
        Arc::new(SystemClock)
    }
}

/// `ccm serve`'s cloud: [`cloud_parts`], except that a simulated world is kept in
/// `world_file` across runs ([`OpenedStore::sim_world_file`]) when one is given;
/// then also where the world came from.
pub fn serve_cloud_parts(
    config: &Config,
    world_file: Option<PathBuf>,
) -> Result<(CloudParts, Option<WorldOrigin>), Error> {
    let path = match (config.cloud.provider, world_file) {
        (CloudKind::Sim, Some(path)) => path,
        _ => return Ok((cloud_parts(config)?, None)),
    };
    let clock = serve_clock(config);
    let (sim, origin) = Simulation::kept_in(
        &path,
        config.cloud.sim.seed,
        sim_config(config),
        clock.clone(),
    )
    .map_err(|error| Error::Adapter {
        adapter: "simulated cloud",
        message: format!(
            "{error}. To start the simulated fleet afresh, stop ccm and delete this file \
             together with the database beside it (the whole ccm-data/ directory by default); \
             deleting only the file turns every worker in the database terminated"
        ),
    })?;
    Ok((simulated_parts(sim, clock), Some(origin)))
}

/// Builds the configured cloud and CML adapters on `clock` (a virtual clock lets
/// an embedding program drive a simulated fleet through a day in seconds).
pub fn cloud_parts_on(config: &Config, clock: Arc<dyn Clock>) -> Result<CloudParts, Error> {
    match config.cloud.provider {
        CloudKind::Sim => {
            let sim =
                Simulation::with_clock(config.cloud.sim.seed, sim_config(config), clock.clone());
            Ok(simulated_parts(sim, clock))
        }
        CloudKind::Aws => {
            let aws = crate::config::aws::adapter_config(config);
            let cloud = Arc::new(ccm_aws::AwsCloud::new(aws).map_err(|e| Error::Adapter {
                adapter: "aws",
                message: e.to_string(),
            })?);
            let cml = cml_client(config, clock.clone())?;
            let counter = cloud.clone();
            let calls: CallCounter = Arc::new(move || counter.call_counts());
            Ok(CloudParts {
                cloud,
                cml: Arc::new(cml),
                clock,
                calls: Some(calls),
                sim: None,
            })
        }
    }
}

/// The CML client the engine uses for real workers, from `[cml]`: the fleet's
/// credentials and TLS mode (`ccm doctor` calls workers through the same client).
pub fn cml_client(config: &Config, clock: Arc<dyn Clock>) -> Result<ccm_cml::HttpCmlClient, Error> {
    let c = &config.cml;
    let password = c.password.clone().ok_or_else(|| Error::Adapter {
        adapter: "cml",
        message: "cml.password is required".into(),
    })?;
    let tls = match c.tls {
        CmlTls::Tofu => ccm_cml::TlsMode::TrustOnFirstUse,
        CmlTls::Insecure => ccm_cml::TlsMode::Insecure,
        CmlTls::Verify => ccm_cml::TlsMode::Verify,
        CmlTls::Ca => {
            let path = c.ca_file.clone().unwrap_or_default();
            let pem = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                what: format!("reading cml.ca_file {}", path.display()),
                source,
            })?;
            ccm_cml::TlsMode::CustomCa(pem)
        }
    };
    let cml_config = ccm_cml::CmlClientConfig::new(c.username.clone(), password).with_tls(tls);
    ccm_cml::HttpCmlClient::with_clock(cml_config, clock).map_err(|e| Error::Adapter {
        adapter: "cml",
        message: e.to_string(),
    })
}

/// The ports of `sim`, with its call counts.
fn simulated_parts(sim: Simulation, clock: Arc<dyn Clock>) -> CloudParts {
    let counter = sim.clone();
    let calls: CallCounter = Arc::new(move || {
        counter
            .cloud_calls()
            .map(|c| c.by_operation().clone())
            .unwrap_or_default()
    });
    CloudParts {
        cloud: Arc::new(sim.cloud()),
        cml: Arc::new(sim.cml()),
        clock,
        calls: Some(calls),
        sim: Some(sim),
    }
}

/// The engine with its job runner (jobs registered).
pub struct Engine {
    /// The fleet engine.
    pub fleet: Arc<Fleet>,
    /// Its job runner.
    pub jobs: Arc<JobRunner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Builds the engine over a store and cloud parts, and registers its jobs.
pub async fn build_engine(
    store: Arc<dyn Store>,
    series: Arc<dyn MetricSeries>,
    kv: Arc<dyn KeyValueStore>,
    parts: &CloudParts,
    settings: FleetSettings,
    licence_token: Option<ccm_core::secret::Secret>,
) -> Result<Engine, Error> {
    let mut fleet = Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: parts.cloud.clone(),
            cml: parts.cml.clone(),
            clock: parts.clock.clone(),
        },
        settings,
    );
    if let Some(token) = licence_token {
        fleet = fleet.with_licence_token(token);
    }
    fleet = fleet.with_metric_series(series).with_key_values(kv);
    let fleet = Arc::new(fleet);
    let mut jobs = JobRunner::new(store, parts.clock.clone());
    fleet.register_jobs(&mut jobs).await?;
    Ok(Engine {
        fleet,
        jobs: Arc::new(jobs),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_demo_runs_the_autoscaler_and_nothing_else_does_unless_asked() {
        let demo = fleet_settings(&Config::default());
        assert!(demo.autoscaler.enabled);
        assert!(demo.autoscaler.drain_grace_seconds <= 120);

        let mut no_demo = Config::default();
        no_demo.cloud.sim.seed_demo = false;
        assert!(!fleet_settings(&no_demo).autoscaler.enabled);

        let mut aws = Config::default();
        aws.cloud.provider = CloudKind::Aws;
        let aws_settings = fleet_settings(&aws);
        assert!(!aws_settings.autoscaler.enabled);
        assert_eq!(
            aws_settings.autoscaler.drain_grace_seconds,
            FleetSettings::default().autoscaler.drain_grace_seconds
        );

        let mut demo_off = Config::default();
        demo_off.engine.autoscaler = Some(false);
        assert!(!fleet_settings(&demo_off).autoscaler.enabled);
    }

    #[tokio::test]
    async fn the_simulated_world_is_kept_beside_a_sqlite_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let database = dir.path().join("ccm.db");
        let mut config = Config::default();
        config.database.url =
            ccm_core::secret::Secret::new(format!("sqlite://{}", database.display()));
        let on_file = open_store(&config).await.unwrap();
        assert_eq!(
            on_file.sim_world_file(),
            Some(dir.path().join("ccm.db.sim-world.json"))
        );

        config.database.url = ccm_core::secret::Secret::new("sqlite::memory:");
        assert_eq!(open_store(&config).await.unwrap().sim_world_file(), None);
        assert_eq!(OpenedStore::memory().sim_world_file(), None);
    }
}
