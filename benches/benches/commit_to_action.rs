//! `commit_to_action`: latency from a write's commit to the engine's first action
//! on it — the first cloud call for the worker (`RunInstances`, i.e. the cloud
//! port's `launch`) — on one PostgreSQL database shared by two processes' views:
//!
//! - **leader**: the write is committed by the process that leads, through its
//!   pool, followed by the API's in-process nudge; the real engine driver
//!   (`ccm_http::driver::Driver`, as `ccm serve` runs it: woken by nudges and by
//!   the store's LISTEN/NOTIFY watch, each `Fleet::step` following the event log)
//!   acts on it;
//! - **follower**: the write is committed through a second pool (another
//!   process's view, which only commits); the leader learns of it from the log;
//! - **baseline**, the in-process nudge as it was before the engine followed the
//!   log: the same leader engine, the same pool, the same writes and nudge, but
//!   driven by the loop `ccm-http/src/driver.rs` ran before commit 3bbdffb — woken
//!   at once by the nudge (no minimum gap) and never by a commit, so the log is
//!   never the trigger (its step is today's `Fleet::step`, which still reads the
//!   log: one query per step).
//!
//! A write creates a worker (the controller's next move is the launch). Writes
//! are sequential: each waits for its first action, then a seeded random pause
//! of 0–100 ms, so writes land at every phase of the driver's cycle
//! (`CCM_BENCH_PAUSE_FLOOR_MS` raises the floor of that pause). The three
//! series are interleaved in blocks (baseline, then leader and follower
//! alternating), switching drivers between blocks, so all three see the same
//! growing fleet and database. The cloud is `ccm-sim` on the real clock with no
//! API latency, wrapped to timestamp each worker's first launch, so what is
//! measured is the engine's reaction. The engine runs the production job
//! intervals (a metrics sweep every 300 s), not the simulator's accelerated ones.
//!
//! A plain `main` rather than criterion's sampler: the series must hold exactly
//! the requested number of writes and be interleaved, which criterion's
//! one-design-after-another sampling cannot do (as in `log_growth`). Full runs
//! (`--bench`) make 1,000 writes per series, test mode (`cargo test --benches`) 20;
//! `CCM_BENCH_WRITES` overrides. PostgreSQL comes from `CCM_TEST_POSTGRES_URL`
//! (default `postgres://postgres@127.0.0.1:5432/test`); a fresh database is
//! created and dropped; the bench is skipped with a message when the server
//! cannot be reached. Both modes assert the target: p99 ≤ 2 s for a
//! write through either process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use ccm_assembly::cloud::cloud_parts;
use ccm_assembly::config::{CloudKind, Config};
use ccm_assembly::engine::holder_name;
use ccm_assembly::settings::{fleet_settings, lease_settings};
use ccm_assembly::store::open_store;
use ccm_benches::fleet::SplitMix64;
use ccm_core::fleet::CreateWorker;
use ccm_core::ids::{ImageId, InstanceId, Region, WorkerId};
use ccm_core::ports::cloud::{
    CloudError, CloudProvider, DiscoveryFilter, Image, Instance, InstanceStatusCheck,
    LaunchRequest, MetricSample, MetricsQuery, StateChange,
};
use ccm_core::runtime::lease_gate::acting_under;
use ccm_core::secret::Secret;
use ccm_core::time::plus_seconds;
use ccm_http::driver::Driver;
use ccm_http::server::http_options;
use ccm_http::server::{Assembly, Server};
use ccm_http::state::AppState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The target for any write through any process.
const TARGET_P99: Duration = Duration::from_secs(2);
/// Longest wait for one write's first action before the bench gives up.
const ACTION_TIMEOUT: Duration = Duration::from_secs(30);
/// Writes per series between two driver switches.
const BLOCK: usize = 25;
/// Spread of the pause between two writes (above its floor).
const PAUSE_SPREAD_MS: u64 = 100;
/// Quiet time after a driver takes the lease, before a block's first write.
const SETTLE: Duration = Duration::from_millis(300);
/// The pre-log driver's constants (`ccm-http/src/driver.rs` before 3bbdffb).
const OLD_MIN_GAP: Duration = Duration::from_millis(100);
const OLD_MAX_SLEEP_SECONDS: i64 = 30;
const OLD_RETRY_SECONDS: i64 = 5;

/// Shortest pause between two writes: 0 unless `CCM_BENCH_PAUSE_FLOOR_MS` says
/// otherwise (a floor past the driver's wake-ups after a launch shows writes
/// that find the engine idle).
fn pause_floor_ms() -> u64 {
    std::env::var("CCM_BENCH_PAUSE_FLOOR_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn writes_per_series() -> usize {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    std::env::var("CCM_BENCH_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench_mode { 1_000 } else { 20 })
        .max(1)
}

// ---------------------------------------------------------------------------
// The recording cloud.

/// The engine's cloud, recording when each worker's instance was first asked for.
struct FirstLaunches {
    inner: Arc<dyn CloudProvider>,
    first: Mutex<HashMap<WorkerId, Instant>>,
    recorded: watch::Sender<u64>,
}

impl FirstLaunches {
    fn new(inner: Arc<dyn CloudProvider>) -> Self {
        Self {
            inner,
            first: Mutex::new(HashMap::new()),
            recorded: watch::channel(0).0,
        }
    }

    fn record(&self, worker: WorkerId) {
        let now = Instant::now();
        let fresh = {
            let mut first = self.first.lock().unwrap();
            match first.entry(worker) {
                std::collections::hash_map::Entry::Occupied(_) => false,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(now);
                    true
                }
            }
        };
        if fresh {
            self.recorded.send_modify(|n| *n += 1);
        }
    }

    /// When the first launch for `worker` was made, waiting for it.
    async fn wait_for(&self, worker: WorkerId) -> Instant {
        // Subscribed before looking, so a launch recorded in between still wakes us.
        let mut changes = self.recorded.subscribe();
        let wait = async {
            loop {
                if let Some(at) = self.first.lock().unwrap().get(&worker) {
                    return *at;
                }
                changes.changed().await.unwrap();
            }
        };
        tokio::time::timeout(ACTION_TIMEOUT, wait)
            .await
            .unwrap_or_else(|_| panic!("worker {worker} not launched within {ACTION_TIMEOUT:?}"))
    }
}

#[async_trait]
impl CloudProvider for FirstLaunches {
    async fn launch(&self, request: &LaunchRequest) -> Result<Instance, CloudError> {
        self.record(request.worker_id);
        self.inner.launch(request).await
    }

    async fn start(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.inner.start(region, ids).await
    }

    async fn stop(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.inner.stop(region, ids).await
    }

    async fn terminate(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.inner.terminate(region, ids).await
    }

    async fn describe(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<Instance>, CloudError> {
        self.inner.describe(region, ids).await
    }

    async fn status_checks(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<InstanceStatusCheck>, CloudError> {
        self.inner.status_checks(region, ids).await
    }

    async fn metrics(
        &self,
        region: &Region,
        query: &MetricsQuery,
    ) -> Result<Vec<MetricSample>, CloudError> {
        self.inner.metrics(region, query).await
    }

    async fn find_images(
        &self,
        region: &Region,
        name_pattern: &str,
    ) -> Result<Vec<Image>, CloudError> {
        self.inner.find_images(region, name_pattern).await
    }

    async fn describe_images(
        &self,
        region: &Region,
        ids: &[ImageId],
    ) -> Result<Vec<Image>, CloudError> {
        self.inner.describe_images(region, ids).await
    }

    async fn discover(
        &self,
        region: &Region,
        filter: &DiscoveryFilter,
    ) -> Result<Vec<Instance>, CloudError> {
        self.inner.discover(region, filter).await
    }

    async fn set_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        self.inner.set_tags(region, ids, tags).await
    }

    async fn remove_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        keys: &[String],
    ) -> Result<(), CloudError> {
        self.inner.remove_tags(region, ids, keys).await
    }

    async fn enable_detailed_monitoring(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<(), CloudError> {
        self.inner.enable_detailed_monitoring(region, ids).await
    }
}

// ---------------------------------------------------------------------------
// The database.

fn server_url() -> String {
    std::env::var("CCM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn admin_pool() -> Result<sqlx::PgPool, sqlx::Error> {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&server_url())
        .await
}

/// A database of its own on the server, dropped by [`drop_database`].
struct Database {
    name: String,
    url: String,
}

async fn create_database() -> Result<Database, sqlx::Error> {
    let name = format!("ccm_bench_{}", uuid::Uuid::new_v4().simple());
    let pool = admin_pool().await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await?;
    pool.close().await;
    let base = server_url();
    let url = match base.rfind('/') {
        Some(slash) if base[..slash].ends_with(|c: char| c != '/') => {
            format!("{}/{name}", &base[..slash])
        }
        _ => format!("{base}/{name}"),
    };
    Ok(Database { name, url })
}

async fn drop_database(database: Database) {
    let pool = admin_pool()
        .await
        .expect("connect to drop the bench database");
    sqlx::query(&format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        database.name
    ))
    .execute(&pool)
    .await
    .expect("drop the bench database");
    pool.close().await;
}

// ---------------------------------------------------------------------------
// The processes.

/// `ccm serve`'s configuration on `url` with the simulated cloud and no demo.
fn config(url: &str) -> Config {
    let mut config = Config::default();
    config.database.url = Secret::new(url);
    config.cloud.provider = CloudKind::Sim;
    config.cloud.sim.seed_demo = false;
    config
}

/// The engine settings of a real deployment: `fleet_settings` accelerates the
/// jobs (a sweep every 15 s) when the cloud is simulated, which would measure
/// the simulator's demo pace rather than production's.
fn production_settings(config: &Config) -> ccm_core::fleet::FleetSettings {
    let mut as_deployed = config.clone();
    as_deployed.cloud.provider = CloudKind::Aws;
    fleet_settings(&as_deployed)
}

/// One process's server, assembled as `ccm serve` assembles it (own pool on
/// the shared database, own simulated cloud), its cloud passed through `wrap`.
async fn process(
    config: &Config,
    wrap: impl FnOnce(Arc<dyn CloudProvider>) -> Arc<dyn CloudProvider>,
) -> Server {
    let opened = open_store(config).await.expect("open the store");
    let mut parts = cloud_parts(config).expect("simulated cloud");
    parts.cloud = wrap(parts.cloud);
    Server::assemble(Assembly {
        store: opened.store,
        kv: opened.kv,
        series: opened.series,
        parts,
        settings: production_settings(config),
        licence_token: None,
        options: http_options(config),
        oidc: None,
        lease: lease_settings(config),
        holder: holder_name(),
        session_ttl: Duration::from_secs(config.auth.session_ttl_seconds),
        max_sessions: config.auth.max_sessions,
        shutdown_grace: Duration::from_secs(config.server.shutdown_grace_seconds),
        public_url: config.public_url(),
    })
    .await
    .expect("assemble the server")
}

// ---------------------------------------------------------------------------
// The two drivers.

/// Which loop drives the leader's engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Drive {
    /// `ccm_http::driver::Driver`, today's.
    FollowingTheLog,
    /// The loop before the engine followed the log.
    NudgeOnly,
}

/// A driver running until stopped.
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    async fn start(state: &AppState, drive: Drive) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = match drive {
            Drive::FollowingTheLog => {
                let driver = Driver {
                    fleet: state.fleet.clone(),
                    jobs: state.jobs.clone(),
                    elector: state.elector.clone(),
                    nudge: state.nudge.clone(),
                    metrics: state.metrics.clone(),
                };
                tokio::spawn(driver.run(stopped))
            }
            Drive::NudgeOnly => tokio::spawn(nudge_only_driver(state.clone(), stopped)),
        };
        let mut leadership = state.elector.subscribe();
        tokio::time::timeout(ACTION_TIMEOUT, leadership.wait_for(Option::is_some))
            .await
            .expect("the leader takes the lease")
            .expect("elector alive");
        tokio::time::sleep(SETTLE).await;
        Self { stop, task }
    }

    /// Stops the loop; it resigns the lease on its way out.
    async fn stop(self) {
        let _ = self.stop.send(true);
        self.task.await.expect("driver task");
    }
}

/// The driver loop before the engine followed the log (`ccm-http/src/driver.rs`
/// at 3bbdffb^), with the lease kept by its own task as today: woken at once by
/// a nudge, or at the next due time after a minimum gap, and never by a commit.
/// Its step is today's `Fleet::step` (the engine's only public step), which also
/// reads the log past its cursor; by then the nudge has queued the worker, so
/// the read costs one query per step but never triggers anything.
async fn nudge_only_driver(state: AppState, mut stop: watch::Receiver<bool>) {
    let (stop_lease, lease_stopped) = watch::channel(false);
    let elector = state.elector.clone();
    let lease = tokio::spawn(async move { elector.run(lease_stopped).await });
    let clock = state.fleet.clock().clone();
    let mut leadership = state.elector.subscribe();
    while !*stop.borrow() {
        let next_due = match state.elector.fence() {
            Some(fence) => {
                let step = state.fleet.step(&state.jobs, Some(&fence));
                match acting_under(state.elector.clone(), step).await {
                    Ok(next) => next,
                    Err(error) => {
                        eprintln!("commit_to_action: baseline step failed: {error}");
                        Some(plus_seconds(clock.now(), OLD_RETRY_SECONDS))
                    }
                }
            }
            None => None,
        };
        let now = clock.now();
        let wake = next_due
            .unwrap_or_else(|| plus_seconds(now, OLD_MAX_SLEEP_SECONDS))
            .min(plus_seconds(now, OLD_MAX_SLEEP_SECONDS));
        tokio::select! {
            () = async { tokio::time::sleep(OLD_MIN_GAP).await; clock.sleep_until(wake).await } => {}
            () = state.nudge.notified() => {}
            _ = leadership.changed() => {}
            _ = stop.changed() => {}
        }
    }
    let _ = stop_lease.send(true);
    lease.await.expect("lease task");
}

// ---------------------------------------------------------------------------
// The writes.

/// Where a write goes and what drives the leader meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Series {
    Leader,
    Follower,
    Baseline,
}

impl Series {
    fn label(self) -> &'static str {
        match self {
            Series::Leader => "leader (commit + in-process nudge + log follow)",
            Series::Follower => "follower (commit only; leader follows the log)",
            Series::Baseline => "baseline (in-process nudge, no log: pre-3bbdffb driver)",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Series::Leader => "lead",
            Series::Follower => "follow",
            Series::Baseline => "base",
        }
    }
}

struct Bench {
    leader: Server,
    follower: Server,
    launches: Arc<FirstLaunches>,
    region: Region,
    pause: SplitMix64,
    pause_floor_ms: u64,
    latencies: BTreeMap<Series, Vec<Duration>>,
}

impl Bench {
    /// One write of `series`, timed from its commit's return to its first action.
    async fn write(&mut self, series: Series, n: usize) {
        let via = match series {
            Series::Leader | Series::Baseline => &self.leader,
            Series::Follower => &self.follower,
        };
        let worker = via
            .state()
            .fleet
            .create_worker(CreateWorker {
                name: format!("{}-{n:04}", series.prefix()),
                region: self.region.clone(),
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: true,
                created_by: None,
                image: None,
            })
            .await
            .expect("create a worker");
        let committed = Instant::now();
        // What the API's middleware does after a successful write.
        via.state().nudge.notify_one();
        let acted = self.launches.wait_for(worker.id).await;
        self.latencies
            .entry(series)
            .or_default()
            .push(acted.saturating_duration_since(committed));
        let pause = self.pause_floor_ms + self.pause.below(PAUSE_SPREAD_MS + 1);
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }

    /// `count` writes per series, in blocks under alternating drivers.
    async fn run(&mut self, count: usize) {
        let mut done = 0;
        while done < count {
            let block = BLOCK.min(count - done);
            let baseline = Running::start(self.leader.state(), Drive::NudgeOnly).await;
            for n in done..done + block {
                self.write(Series::Baseline, n).await;
            }
            baseline.stop().await;
            let today = Running::start(self.leader.state(), Drive::FollowingTheLog).await;
            for n in done..done + block {
                self.write(Series::Leader, n).await;
                self.write(Series::Follower, n).await;
            }
            today.stop().await;
            done += block;
        }
    }
}

/// p50, p99 and max of a sorted series.
struct Summary {
    count: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
}

impl Summary {
    fn of(values: &mut [Duration]) -> Self {
        values.sort();
        let at = |q: f64| values[((values.len() - 1) as f64 * q) as usize];
        Self {
            count: values.len(),
            p50: at(0.5),
            p99: at(0.99),
            max: at(1.0),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let count = writes_per_series();
    let pause_floor_ms = pause_floor_ms();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let database = match runtime.block_on(create_database()) {
        Ok(database) => database,
        Err(error) => {
            eprintln!(
                "commit_to_action: skipped, no PostgreSQL at {} ({error})",
                ccm_store_postgres::redact_url(&server_url())
            );
            return;
        }
    };
    let started = Instant::now();
    let mut summaries = runtime.block_on(async {
        let config = config(&database.url);
        let mut launches = None;
        let leader = process(&config, |cloud| {
            let recording = Arc::new(FirstLaunches::new(cloud));
            launches = Some(recording.clone());
            recording
        })
        .await;
        // The follower's own cloud is never called: it does not lead.
        let follower = process(&config, |cloud| cloud).await;
        let region = Region::new(config.cloud.regions.first().expect("a region"));
        let mut bench = Bench {
            leader,
            follower,
            launches: launches.expect("the leader's cloud"),
            region,
            pause: SplitMix64(0xc0ff_ee16),
            pause_floor_ms,
            latencies: BTreeMap::new(),
        };
        bench.run(count).await;
        bench
            .latencies
            .iter_mut()
            .map(|(series, values)| (*series, Summary::of(values)))
            .collect::<BTreeMap<_, _>>()
    });
    runtime.block_on(drop_database(database));
    println!(
        "commit_to_action: {count} writes per series (sequential, {pause_floor_ms}–{} ms apart, \
         interleaved in blocks of {BLOCK}) in {:.1?}",
        pause_floor_ms + PAUSE_SPREAD_MS,
        started.elapsed()
    );
    for (series, s) in &summaries {
        println!(
            "commit_to_action: {:<58} n {:>5}  p50 {:>9}  p99 {:>9}  max {:>9}",
            series.label(),
            s.count,
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
    }
    let baseline = summaries.remove(&Series::Baseline).expect("baseline");
    for series in [Series::Follower, Series::Leader] {
        let s = &summaries[&series];
        println!(
            "commit_to_action: {} / baseline: p50 {:.2}×, p99 {:.2}×",
            series.prefix(),
            s.p50.as_secs_f64() / baseline.p50.as_secs_f64().max(1e-9),
            s.p99.as_secs_f64() / baseline.p99.as_secs_f64().max(1e-9)
        );
    }
    for series in [Series::Leader, Series::Follower] {
        let p99 = summaries[&series].p99;
        assert!(
            p99 <= TARGET_P99,
            "{}: p99 {} is over the target {}",
            series.label(),
            ms(p99),
            ms(TARGET_P99)
        );
    }
}
