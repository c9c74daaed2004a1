//! `store_batch`: 1,000 worker status updates (each with its
//! `worker.metrics.updated.v1` event), written as one batch commit versus one
//! transaction each — the metrics sweep's two possible shapes — on SQLite (a
//! temporary file) and PostgreSQL (`CCM_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`, in a schema of its own dropped
//! afterwards), in the same run. PostgreSQL is skipped with a message when the
//! server cannot be reached.
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::time::Duration;

use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, Subject};
use ccm_core::ports::store::{ChangeSet, Store};
use ccm_core::testing::store::{at, sample_worker};
use ccm_core::worker::{CloudWatchMetrics, LifecycleState, Worker};
use ccm_store_postgres::{PostgresStore, PostgresStoreOptions};
use ccm_store_sqlite::SqliteStore;
use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use tokio::runtime::Runtime;

const WORKERS: usize = 1_000;

/// The fleet as last written, so every update names the current version.
struct Fleet {
    workers: Vec<Worker>,
    round: u64,
}

impl Fleet {
    fn new() -> Self {
        let workers = (0..WORKERS as u128)
            .map(|i| {
                let mut worker = sample_worker(10_000 + i, &format!("worker-{i:04}"), "us-east-1");
                worker.status.lifecycle = LifecycleState::Running;
                worker
            })
            .collect();
        Self { workers, round: 0 }
    }

    /// The next status update of every worker, with its event.
    fn next_updates(&mut self) -> Vec<(Worker, DomainEvent)> {
        self.round += 1;
        let round = self.round;
        self.workers
            .iter()
            .enumerate()
            .map(|(i, worker)| {
                let mut worker = worker.clone();
                let metrics = CloudWatchMetrics {
                    cpu_percent: Some(((round * 7 + i as u64) % 100) as f64 + 0.5),
                    memory_percent: Some(((round * 3 + i as u64) % 100) as f64 + 0.25),
                    disk_percent: Some(42.0),
                };
                let now = at(i64::try_from(round).unwrap_or(0) * 60);
                worker.status.metrics.cloudwatch.observed(metrics, now);
                let event = DomainEvent::new(
                    Subject {
                        kind: ResourceKind::Worker,
                        id: worker.id.to_string(),
                    },
                    EventPayload::WorkerMetricsUpdated {
                        metrics: Box::new(worker.status.metrics.clone()),
                    },
                    now,
                );
                (worker, event)
            })
            .collect()
    }

    fn stored(&mut self, updates: Vec<(Worker, DomainEvent)>, versions: &[u64]) {
        self.workers = updates
            .into_iter()
            .zip(versions)
            .map(|((mut worker, _), version)| {
                worker.meta.version = *version;
                worker
            })
            .collect();
    }
}

async fn seed<S: Store>(store: &S) -> Fleet {
    let mut fleet = Fleet::new();
    let mut changes = ChangeSet::new();
    for worker in &fleet.workers {
        changes = changes.put_worker(worker.clone());
    }
    let receipt = store.commit(changes).await.expect("seed the fleet");
    for (worker, version) in fleet.workers.iter_mut().zip(receipt.versions) {
        worker.meta.version = version;
    }
    fleet
}

async fn one_batch<S: Store>(store: &S, fleet: &mut Fleet) {
    let updates = fleet.next_updates();
    let mut changes = ChangeSet::new();
    for (worker, event) in &updates {
        changes = changes.put_worker(worker.clone()).events([event.clone()]);
    }
    let receipt = store.commit(changes).await.expect("batch commit");
    fleet.stored(updates, &receipt.versions);
}

async fn row_by_row<S: Store>(store: &S, fleet: &mut Fleet) {
    let updates = fleet.next_updates();
    let mut versions = Vec::with_capacity(updates.len());
    for (worker, event) in &updates {
        let receipt = store
            .commit(
                ChangeSet::new()
                    .put_worker(worker.clone())
                    .events([event.clone()]),
            )
            .await
            .expect("single commit");
        versions.extend(receipt.versions);
    }
    fleet.stored(updates, &versions);
}

fn bench_store<S: Store>(c: &mut Criterion, runtime: &Runtime, backend: &str, store: &S) {
    let mut fleet = runtime.block_on(seed(store));
    let mut group = c.benchmark_group("store_batch");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(WORKERS as u64));
    group.bench_function(BenchmarkId::new(backend, "one_batch_1000"), |b| {
        b.iter(|| runtime.block_on(one_batch(store, &mut fleet)));
    });
    // A thousand transactions take about a second: leave room for ten of them.
    group.measurement_time(Duration::from_secs(12));
    group.bench_function(BenchmarkId::new(backend, "row_by_row_1000"), |b| {
        b.iter(|| runtime.block_on(row_by_row(store, &mut fleet)));
    });
    group.finish();
}

fn store_batch(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}/ccm.db", dir.path().display());
    let sqlite = runtime
        .block_on(SqliteStore::open(&url))
        .expect("open SQLite");
    bench_store(c, &runtime, "sqlite", &sqlite);
    runtime.block_on(sqlite.close());

    let url = std::env::var("CCM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let schema = format!("ccm_bench_{}", uuid::Uuid::new_v4().simple());
    let mut options = PostgresStoreOptions::new(&url);
    options.schema = Some(schema.clone());
    match runtime.block_on(PostgresStore::open_with(options)) {
        Ok(postgres) => {
            bench_store(c, &runtime, "postgres", &postgres);
            runtime.block_on(async {
                postgres.close().await;
                drop_schema(&url, &schema).await;
            });
        }
        Err(error) => eprintln!(
            "store_batch: PostgreSQL benches skipped ({}): {error}",
            ccm_store_postgres::redact_url(&url)
        ),
    }
}

async fn drop_schema(url: &str, schema: &str) {
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .expect("connect to drop the bench schema");
    sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .execute(&pool)
        .await
        .expect("drop the bench schema");
    pool.close().await;
}

criterion_group!(benches, store_batch);
criterion_main!(benches);
