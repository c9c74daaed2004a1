//! `log_growth`: how much the metrics sweep adds to the event log per day for
//! 1,000 running workers at the default sweep interval (300 s), against the
//! baseline of the previous behaviour in the same run: one
//! `worker.metrics.updated.v1` event (the worker's whole metrics) per worker
//! observed per sweep. The baseline events are built from the very records each
//! sweep wrote, so both figures come from the same observations.
//!
//! Rows are events; bytes are their JSON as the stores keep it (the `body`
//! column; SQLite and PostgreSQL add their row and index overhead on top). The
//! fleet is booted on the simulator's virtual clock, then `SWEEPS` sweeps run one
//! interval apart and are scaled to a day. Under `cargo test --benches` the fleet
//! is 20 workers; `CCM_BENCH_SWEEP_WORKERS` overrides the size.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, StoredEvent, Subject};
use ccm_core::fleet::{Adapters, CreateWorker, Fleet, FleetSettings};
use ccm_core::ids::Region;
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::runtime::JobRunner;
use ccm_core::store::{MemoryMetricSeries, MemoryStore};
use ccm_core::time::plus_seconds;
use ccm_sim::{SimConfig, Simulation};

/// Sweeps measured (two hours at the default interval), after one unmeasured
/// sweep: the boot ran no jobs, so the first sweep is each worker's first
/// observation (CML state, licence, telemetry), not a steady one.
const SWEEPS: u64 = 24;

fn fleet_size() -> usize {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    std::env::var("CCM_BENCH_SWEEP_WORKERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if bench_mode { 1_000 } else { 20 })
        .max(1)
}

/// Rows and JSON bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Growth {
    rows: u64,
    bytes: u64,
}

impl Growth {
    fn add(&mut self, stored: &StoredEvent) {
        self.rows += 1;
        self.bytes += serde_json::to_vec(stored).unwrap().len() as u64;
    }

    fn per_day(self, sweeps: u64, interval_seconds: u64) -> Growth {
        let per_day = 86_400 / interval_seconds;
        Growth {
            rows: self.rows * per_day / sweeps,
            bytes: self.bytes * per_day / sweeps,
        }
    }
}

async fn boot(size: usize, clock: &VirtualClock) -> (Simulation, Arc<MemoryStore>, Fleet) {
    let sim = Simulation::with_virtual_clock(0x5eed, SimConfig::default(), clock.clone());
    let store = Arc::new(MemoryStore::new());
    let fleet = Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: Arc::new(sim.cloud()),
            cml: Arc::new(sim.cml()),
            clock: Arc::new(clock.clone()),
        },
        FleetSettings::default(),
    )
    .with_metric_series(Arc::new(MemoryMetricSeries::new()));
    for n in 0..size {
        fleet
            .create_worker(CreateWorker {
                name: format!("w{n:04}"),
                region: Region::new("us-east-1"),
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
    // No jobs: the worker controller launches and watches the boot.
    let runner = JobRunner::new(store.clone(), Arc::new(clock.clone()));
    let until = plus_seconds(clock.now(), 40 * 60);
    fleet.run_until(&runner, None, clock, until).await.unwrap();
    (sim, store, fleet)
}

/// What the previous sweep appended for `worker` on top: its whole metrics.
fn metrics_event(
    worker: &ccm_core::worker::Worker,
    sequence: u64,
    now: ccm_core::time::Timestamp,
) -> StoredEvent {
    StoredEvent {
        sequence,
        event: DomainEvent::new(
            Subject {
                kind: ResourceKind::Worker,
                id: worker.id.to_string(),
            },
            EventPayload::WorkerMetricsUpdated {
                metrics: Box::new(worker.status.metrics.clone()),
            },
            now,
        ),
    }
}

async fn measure(size: usize) -> (Growth, Growth, u64) {
    let clock = VirtualClock::new(SimConfig::default().start);
    let started = Instant::now();
    let (_sim, store, fleet) = boot(size, &clock).await;
    println!(
        "log_growth: booted {size} workers on the simulator in {:.1?}",
        started.elapsed()
    );
    let interval = u64::from(fleet.settings().monitoring_interval_seconds);
    clock.advance_seconds(i64::try_from(interval).unwrap());
    let first = fleet.sweep(None).await.unwrap();
    println!(
        "log_growth: the first sweep (first observations) logged {} events",
        first.events
    );
    let (mut after, mut before) = (Growth::default(), Growth::default());
    let mut types: BTreeMap<&'static str, u64> = BTreeMap::new();
    for _ in 0..SWEEPS {
        clock.advance_seconds(i64::try_from(interval).unwrap());
        let from = store.last_sequence().await.unwrap();
        let report = fleet.sweep(None).await.unwrap();
        assert_eq!(report.workers, size);
        let now = clock.now();
        for stored in store.read_events(from, usize::MAX).await.unwrap() {
            after.add(&stored);
            before.add(&stored);
            *types.entry(stored.event.type_name()).or_default() += 1;
        }
        let observed = store
            .list_workers(&Default::default())
            .await
            .unwrap()
            .into_iter()
            .filter(|w| w.status.metrics.cml.observed_at == Some(now));
        for (n, worker) in observed.enumerate() {
            before.add(&metrics_event(&worker, from + 1 + n as u64, now));
        }
    }
    println!("log_growth: events the measured sweeps logged, by type: {types:?}");
    (before, after, interval)
}

fn main() {
    let size = fleet_size();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (before, after, interval) = rt.block_on(measure(size));
    let (before_day, after_day) = (
        before.per_day(SWEEPS, interval),
        after.per_day(SWEEPS, interval),
    );
    println!(
        "log_growth: {size} workers, sweep every {interval} s, {SWEEPS} sweeps measured, per day:"
    );
    for (label, g) in [
        ("before (a metrics event per worker per sweep)", before_day),
        ("after (state changes and crossings only)", after_day),
    ] {
        println!(
            "log_growth:   {label:<48} {:>12} rows {:>15} bytes ({:.1} MB)",
            g.rows,
            g.bytes,
            g.bytes as f64 / 1e6
        );
    }
    if before.rows > 0 {
        println!(
            "log_growth:   sample bytes per event {:.0}; the sweep's rows go down by {} per day",
            before.bytes.saturating_sub(after.bytes) as f64
                / before.rows.saturating_sub(after.rows).max(1) as f64,
            before_day.rows - after_day.rows
        );
    }
    assert!(
        after.rows < before.rows / 10 + 1,
        "the sweep should no longer log one event per worker"
    );
}
