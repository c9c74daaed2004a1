//! `server_load`: the whole server under a realistic load, as an operator would
//! run it. `ccm serve` processes of this build (two on one PostgreSQL database,
//! then one on a SQLite file) run a simulated fleet on a clock `scale` times
//! faster than the wall (`cloud.sim.time_scale`); through the API the bench
//! creates the workers and books the lablets of a simulated day, opens SSE
//! clients on every process, and sends an open-loop mix of API requests at a
//! fixed rate while the day runs. It reports API latency per route group, event
//! delivery latency, engine step durations, CPU and RSS per process, and
//! PostgreSQL connections in use.
//!
//! Full run (`cargo bench -p ccm-benches --bench server_load`, or
//! `scripts/load-test`): 2,000 workers, 20,000 lablets over 24 simulated hours
//! at 240 times (six minutes), 500 SSE clients, 50 requests/s. Under
//! `cargo test --benches` a small fleet for a simulated hour checks that the
//! whole setup works and nothing answers 5xx. Each figure can be changed:
//! `CCM_LOAD_WORKERS`, `CCM_LOAD_LABLETS`, `CCM_LOAD_SSE`, `CCM_LOAD_RATE`,
//! `CCM_LOAD_SCALE`, `CCM_LOAD_HOURS`, `CCM_LOAD_STORES` (`postgres,sqlite`).
//!
//! The simulated cloud lives in the process that leads (each process keeps a
//! world of its own and only the leader's engine calls it), so the load sends
//! no request that calls the cloud directly (tags, monitoring) to the others.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod cluster;
mod histogram;
mod report;
mod sampler;
mod scrape;
mod seed;
mod streams;
mod traffic;

use std::str::FromStr;
use std::time::{Duration, Instant};

use cluster::{Cluster, StoreKind};

struct Plan {
    full: bool,
    workers: usize,
    lablets: usize,
    sse: usize,
    rate: f64,
    scale: f64,
    hours: f64,
    stores: Vec<StoreKind>,
}

fn setting<T: FromStr>(name: &str, full: T, quick: T, is_full: bool) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if is_full { full } else { quick })
}

fn plan() -> Plan {
    let full = std::env::args().any(|a| a == "--bench");
    let stores = std::env::var("CCM_LOAD_STORES")
        .unwrap_or_else(|_| "postgres,sqlite".to_owned())
        .split(',')
        .filter_map(|s| match s.trim() {
            "postgres" => Some(StoreKind::Postgres),
            "sqlite" => Some(StoreKind::Sqlite),
            _ => None,
        })
        .collect();
    Plan {
        full,
        workers: setting("CCM_LOAD_WORKERS", 2_000, 6, full),
        lablets: setting("CCM_LOAD_LABLETS", 20_000, 40, full),
        sse: setting("CCM_LOAD_SSE", 500, 6, full),
        rate: setting("CCM_LOAD_RATE", 50.0, 20.0, full),
        scale: setting("CCM_LOAD_SCALE", 240.0, 360.0, full),
        hours: setting("CCM_LOAD_HOURS", 24.0, 1.0, full),
        stores,
    }
}

/// What a run's checks look at.
struct Outcome {
    server_errors: u64,
    unanswered: u64,
    groups: usize,
    refused_bookings: usize,
    stream_refusals: u64,
    deliveries: u64,
    leader_steps: u64,
    leaders: usize,
    pg_connections_seen: bool,
}

async fn run(kind: StoreKind, plan: &Plan) -> Outcome {
    let count = match kind {
        StoreKind::Postgres => 2,
        StoreKind::Sqlite => 1,
    };
    let mut cluster = Cluster::start(kind, count, plan.scale, plan.sse).await;
    let api = api::Api::new(&cluster.key);
    let seeded = seed::seed(&cluster, &api, plan.workers, plan.lablets, plan.hours).await;
    let streams = streams::Streams::open(&cluster, plan.sse).await;
    let mut pids: Vec<(String, u32)> = cluster
        .processes
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("ccm serve #{}", i + 1), p.pid))
        .collect();
    pids.push((
        "the bench (load and SSE clients)".to_owned(),
        std::process::id(),
    ));
    let sampler = sampler::Sampler::start(pids, cluster.database.as_ref().map(|(n, _)| n.clone()));
    let mut before = Vec::new();
    for p in &cluster.processes {
        before.push(scrape::scrape(&api, &p.base).await);
    }
    let duration = Duration::from_secs_f64(plan.hours * 3_600.0 / plan.scale);
    let began = Instant::now();
    let traffic = traffic::run(&cluster, &api, &seeded, plan.rate, duration, plan.hours).await;
    let seconds = began.elapsed().as_secs_f64();
    let samples = sampler.finish().await;
    let stream_stats = streams.close().await;
    let mut after = Vec::new();
    for p in &cluster.processes {
        after.push(scrape::scrape(&api, &p.base).await);
    }
    cluster.assert_running();

    let leader = after.iter().position(|s| s.leader).unwrap_or(0);
    let steps = scrape::steps(&before[leader], &after[leader]);
    println!(
        "\n### {} — {} process{}\n\n{} workers, {} lablets booked over {} simulated hours ({} refused: {:?}), \
         {} SSE clients, {} requests/s for {:.0} s ({} simulated hours at {}×).\n\
         Setup: {} workers created in {:.1} s ({:.0}/s), lablets booked in {:.1} s ({:.0}/s).\n",
        kind.label(),
        count,
        if count == 1 { "" } else { "es" },
        seeded.workers.len(),
        seeded.lablets.len(),
        plan.hours,
        seeded.refused.values().sum::<usize>(),
        seeded.refused,
        plan.sse,
        plan.rate,
        seconds,
        plan.hours,
        plan.scale,
        seeded.workers.len(),
        seeded.workers_seconds,
        seeded.workers.len() as f64 / seeded.workers_seconds.max(1e-9),
        seeded.lablets_seconds,
        plan.lablets as f64 / seeded.lablets_seconds.max(1e-9),
    );
    println!("{}", report::traffic(&traffic, seconds));
    println!("{}", report::streams(&stream_stats, plan.sse, seconds));
    println!("{}", report::engine(&steps));
    println!("{}", report::resources(&samples));
    println!("{}", report::states(&after[leader]));
    for process in &cluster.processes {
        println!("{}", process.log_summary());
    }

    let statuses = || traffic.values().flat_map(|g| g.statuses.iter());
    let outcome = Outcome {
        server_errors: statuses().filter(|(s, _)| **s >= 500).map(|(_, n)| n).sum(),
        unanswered: statuses().filter(|(s, _)| **s == 0).map(|(_, n)| n).sum(),
        groups: traffic.len(),
        refused_bookings: seeded.refused.values().sum(),
        stream_refusals: stream_stats.refused,
        deliveries: stream_stats.deliveries,
        leader_steps: steps.count,
        leaders: after.iter().filter(|s| s.leader).count(),
        pg_connections_seen: samples.pg_connections.iter().any(|n| *n > 0),
    };
    cluster.stop().await;
    outcome
}

fn main() {
    let plan = plan();
    histogram::check_quantiles();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    for kind in plan.stores.clone() {
        let outcome = runtime.block_on(run(kind, &plan));
        if plan.full {
            continue;
        }
        // The quick run checks that the whole setup works end to end.
        let store = kind.label();
        assert_eq!(outcome.server_errors, 0, "{store}: 5xx answers");
        assert_eq!(outcome.unanswered, 0, "{store}: requests without an answer");
        assert_eq!(outcome.groups, 7, "{store}: every route group was sent");
        assert_eq!(outcome.refused_bookings, 0, "{store}: bookings refused");
        assert_eq!(outcome.stream_refusals, 0, "{store}: SSE clients refused");
        assert!(outcome.deliveries > 0, "{store}: no event delivered");
        assert!(outcome.leader_steps > 0, "{store}: the engine did not step");
        assert_eq!(outcome.leaders, 1, "{store}: exactly one process leads");
        if kind == StoreKind::Postgres {
            assert!(
                outcome.pg_connections_seen,
                "PostgreSQL connections were sampled"
            );
        }
    }
}
