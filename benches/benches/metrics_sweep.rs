//! `metrics_sweep`: one status and metrics sweep of 1,000 workers on the simulator
//! with 50 ms of (real, tokio) latency on every port call — ccm's batched sweep
//! (`Fleet::sweep`: describe, status checks and metrics in a few batch calls per
//! region, then CML with `cml_concurrency` (64) workers in flight, six calls each
//! at once) against the predecessor's pattern: one worker at a time, 10 in flight, each doing its own describe, status check
//! and CloudWatch query and then its CML calls one after another. Both run in the
//! same criterion group; the call counts of one sweep of each are printed first.
//!
//! The fleet is booted on the virtual clock with no latency, then the latency is
//! switched on. Under `cargo test --benches` (no `--bench` flag) the fleet is 20
//! workers so the smoke run takes seconds; `CCM_BENCH_SWEEP_WORKERS` overrides
//! the size in both modes.
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::{InstanceId, Region, WorkerId};
use ccm_core::ports::cloud::{CloudProvider, MetricName, MetricsQuery};
use ccm_core::ports::cml::CmlClient;
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::runtime::JobRunner;
use ccm_core::store::MemoryStore;
use ccm_core::time::plus_seconds;
use ccm_sim::{CallCounts, SimCloud, SimCml, SimConfig, Simulation};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use futures_util::stream::{self, StreamExt};

const LATENCY: Duration = Duration::from_millis(50);
/// The predecessor's concurrency: ten workers in flight.
const PER_WORKER_IN_FLIGHT: usize = 10;
const REGION: &str = "us-east-1";

fn fleet_size() -> usize {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    std::env::var("CCM_BENCH_SWEEP_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench_mode { 1_000 } else { 20 })
        .max(1)
}

struct Bench {
    sim: Simulation,
    clock: VirtualClock,
    fleet: Fleet,
    workers: Vec<(WorkerId, InstanceId)>,
}

/// Launches `size` workers through the engine and runs it until every one is
/// running with CML up, on the virtual clock.
async fn setup(size: usize) -> Bench {
    let config = SimConfig::default();
    let clock = VirtualClock::new(config.start);
    let sim = Simulation::with_virtual_clock(0x5eed, config, clock.clone());
    let store = Arc::new(MemoryStore::new());
    let settings = FleetSettings::default();
    let fleet = Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: Arc::new(sim.cloud()),
            cml: Arc::new(sim.cml()),
            clock: Arc::new(clock.clone()),
        },
        settings,
    );
    for n in 0..size {
        fleet
            .create_worker(CreateWorker {
                name: format!("w{n:04}"),
                region: Region::new(REGION),
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: true,
                created_by: None,
                image: None,
            })
            .await
            .unwrap();
    }
    // No jobs: only the worker controller runs, launching and watching the boot.
    let runner = JobRunner::new(store.clone(), Arc::new(clock.clone()));
    let until = plus_seconds(clock.now(), 40 * 60);
    fleet.run_until(&runner, None, &clock, until).await.unwrap();
    let workers: Vec<(WorkerId, InstanceId)> = store
        .list_workers(&Default::default())
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.id, w.instance_id.expect("launched")))
        .collect();
    assert_eq!(workers.len(), size);
    Bench {
        sim,
        clock,
        fleet,
        workers,
    }
}

/// The engine's sweep. Every worker is due again after the monitoring interval, so
/// the virtual clock moves on by it first.
async fn batched_sweep(bench: &Bench) -> usize {
    bench.clock.advance_seconds(i64::from(
        bench.fleet.settings().monitoring_interval_seconds,
    ));
    let report = bench.fleet.sweep(None).await.unwrap();
    assert_eq!(report.workers, bench.workers.len());
    assert_eq!(report.cml_queried, bench.workers.len());
    report.workers
}

/// One worker's observation the way the predecessor made it: each call waits for
/// the one before.
async fn observe_one(
    cloud: &SimCloud,
    cml: &SimCml,
    clock: &VirtualClock,
    worker: WorkerId,
    instance: &InstanceId,
) {
    let region = Region::new(REGION);
    let one = std::slice::from_ref(instance);
    assert_eq!(cloud.describe(&region, one).await.unwrap().len(), 1);
    cloud.status_checks(&region, one).await.unwrap();
    let now = clock.now();
    let query = MetricsQuery {
        instance_ids: one.to_vec(),
        metrics: MetricName::ALL.to_vec(),
        start: plus_seconds(now, -180),
        end: now,
        period_seconds: 60,
    };
    cloud.metrics(&region, &query).await.unwrap();
    let ep = ccm_sim::sim_endpoint(worker, instance);
    assert!(cml.system_information(&ep).await.unwrap().ready);
    cml.system_stats(&ep).await.unwrap();
    cml.system_health(&ep).await.unwrap();
    cml.licensing(&ep).await.unwrap();
    cml.telemetry_events(&ep, None).await.unwrap();
    cml.list_labs(&ep).await.unwrap();
}

async fn per_worker_sweep(bench: &Bench) -> usize {
    let (cloud, cml) = (bench.sim.cloud(), bench.sim.cml());
    let observations = bench
        .workers
        .iter()
        .map(|(worker, instance)| observe_one(&cloud, &cml, &bench.clock, *worker, instance));
    stream::iter(observations)
        .buffer_unordered(PER_WORKER_IN_FLIGHT)
        .count()
        .await
}

fn show(label: &str, cloud: &CallCounts, cml: &CallCounts, took: Duration, workers: usize) {
    let ops: Vec<String> = cloud
        .by_operation()
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "metrics_sweep: {label:<13} {workers} workers: {took:>9.2?}, cloud {} calls ({}), CML {} calls, {} in all",
        cloud.total(),
        ops.join(", "),
        cml.total(),
        cloud.total() + cml.total()
    );
}

/// Runs `sweep` once and returns what it returned, its wall time and its calls.
fn counted(
    sim: &Simulation,
    sweep: impl FnOnce() -> usize,
) -> (usize, Duration, CallCounts, CallCounts) {
    sim.reset_calls().unwrap();
    let started = Instant::now();
    let workers = sweep();
    let took = started.elapsed();
    (
        workers,
        took,
        sim.cloud_calls().unwrap(),
        sim.cml_calls().unwrap(),
    )
}

fn metrics_sweep(c: &mut Criterion) {
    let size = fleet_size();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    let bench = rt.block_on(setup(size));
    println!(
        "metrics_sweep: booted {size} workers on the simulator in {:.1?}",
        started.elapsed()
    );
    bench
        .sim
        .update_faults(|f| f.latency = Some(LATENCY))
        .unwrap();

    // One counted sweep of each pattern.
    let (n, batched_took, cloud, cml) = counted(&bench.sim, || rt.block_on(batched_sweep(&bench)));
    show("batched", &cloud, &cml, batched_took, n);
    let (n, per_took, cloud, cml) = counted(&bench.sim, || rt.block_on(per_worker_sweep(&bench)));
    show("one-at-a-time", &cloud, &cml, per_took, n);
    println!(
        "metrics_sweep: one-at-a-time / batched wall time {:.1}x",
        per_took.as_secs_f64() / batched_took.as_secs_f64().max(1e-9)
    );

    let mut group = c.benchmark_group(format!("metrics_sweep/{size}-workers-50ms"));
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_secs(1));
    group.bench_function(BenchmarkId::new("batched", size), |b| {
        b.iter(|| rt.block_on(batched_sweep(&bench)))
    });
    group.bench_function(
        BenchmarkId::new(
            format!("one_at_a_time_{PER_WORKER_IN_FLIGHT}_in_flight"),
            size,
        ),
        |b| b.iter(|| rt.block_on(per_worker_sweep(&bench))),
    );
    group.finish();
}

criterion_group!(benches, metrics_sweep);
criterion_main!(benches);
