//! `http_api`: `GET /api/v1/workers?limit=1000` on a `ccm` router holding 1,000
//! workers (memory store, API-key auth, JSON), under load from a second process,
//! beside the ceiling: a bare axum handler answering the same bytes.
//!
//! The load comes from this bench's own executable started again as a load
//! generator (`CCM_BENCH_LOADGEN=<url> <key> <requests> <connections>`): it sends
//! the requests over keep-alive connections and prints the elapsed time and the
//! latency percentiles, so the server's process does not share its runtime with
//! the client's. Criterion records time per request (1 / throughput); p50/p99
//! are printed per design. `cargo test --benches` runs it once, with 100 workers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::get;
use axum::Router;
use ccm_assembly::config::Config;
use ccm_core::fleet::CreateWorker;
use ccm_core::ids::Region;
use ccm_core::secret::Secret;
use ccm_http::auth::{api_keys, Role};
use criterion::Criterion;
use tokio::runtime::Runtime;

const LOADGEN_VAR: &str = "CCM_BENCH_LOADGEN";
const CONNECTIONS: usize = 32;

fn full_run() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The load generator: `url key requests connections` → `elapsed_ns p50_ns p99_ns`.
fn load_generator(spec: &str) {
    let parts: Vec<&str> = spec.split_whitespace().collect();
    let (url, key) = (parts[0].to_owned(), parts[1].to_owned());
    let requests: usize = parts[2].parse().unwrap();
    let connections: usize = parts[3].parse().unwrap();
    let runtime = Runtime::new().unwrap();
    let (elapsed, mut latencies) = runtime.block_on(async move {
        let client = reqwest::Client::new();
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (client, url, key, next) = (client.clone(), url.clone(), key.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                    let t = Instant::now();
                    let response = client.get(&url).bearer_auth(&key).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let body = response.bytes().await.unwrap();
                    std::hint::black_box(body.len());
                    latencies.push(t.elapsed());
                }
                latencies
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.unwrap());
        }
        (started.elapsed(), all)
    });
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_nanos();
    println!("{} {} {}", elapsed.as_nanos(), at(0.5), at(0.99));
}

/// Runs the load generator process; elapsed and (p50, p99).
fn load(url: &str, key: &str, requests: usize) -> (Duration, (u128, u128)) {
    let exe = std::env::current_exe().unwrap();
    let output = std::process::Command::new(exe)
        .env(LOADGEN_VAR, format!("{url} {key} {requests} {CONNECTIONS}"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "load generator: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    let numbers: Vec<u128> = line
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    (
        Duration::from_nanos(numbers[0] as u64),
        (numbers[1], numbers[2]),
    )
}

/// `(p50, p99)` nanoseconds of each sample, per design.
type Percentiles = BTreeMap<&'static str, Vec<(u128, u128)>>;

struct Servers {
    ccm_url: String,
    bare_url: String,
    key: String,
    body_bytes: usize,
}

async fn servers(workers: usize) -> Servers {
    let mut config = Config::default();
    config.database.url = Secret::new("memory");
    config.cloud.sim.seed_demo = false;
    let (server, _) = ccm_http::server::build(&config).await.unwrap();
    let state = server.state();
    for i in 0..workers {
        state
            .fleet
            .create_worker(CreateWorker {
                name: format!("worker-{i:04}"),
                region: Region::new(if i % 2 == 0 { "us-east-1" } else { "us-west-2" }),
                instance_type: None,
                labels: BTreeMap::from([("pool".to_owned(), format!("p{}", i % 10))]),
                tags: BTreeMap::new(),
                idle_detection_disabled: false,
                created_by: Some("bench".into()),
                image: None,
            })
            .await
            .unwrap();
    }
    let (_, key) = api_keys::create_key(
        state.store.as_ref(),
        "bench",
        Role::User,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    // The router alone: no engine driver, so nothing but the requests uses the CPU.
    let ccm = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ccm_url = format!(
        "http://{}/api/v1/workers?limit=1000",
        ccm.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(ccm, server.router()).await });

    let body = reqwest::Client::new()
        .get(&ccm_url)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let page: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), workers);
    let body_bytes = body.len();
    let bare_body = Bytes::from(body.to_vec());
    let bare = Router::new().route(
        "/api/v1/workers",
        get(move || {
            let body = bare_body.clone();
            async move { ([("content-type", "application/json")], body) }
        }),
    );
    let bare_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bare_url = format!(
        "http://{}/api/v1/workers?limit=1000",
        bare_listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(bare_listener, bare).await });
    Servers {
        ccm_url,
        bare_url,
        key,
        body_bytes,
    }
}

fn http_api(c: &mut Criterion) {
    let workers = if full_run() { 1000 } else { 100 };
    let runtime = Runtime::new().unwrap();
    let s = runtime.block_on(servers(workers));
    let percentiles: Arc<Mutex<Percentiles>> = Arc::default();
    let mut group = c.benchmark_group(format!("http_api/get_workers_{workers}"));
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(1));
    for (design, url) in [
        ("ccm", &s.ccm_url),
        ("ceiling_bare_axum_same_bytes", &s.bare_url),
    ] {
        let percentiles = percentiles.clone();
        group.bench_function(design, |b| {
            b.iter_custom(|iters| {
                let (elapsed, p) = load(url, &s.key, iters as usize);
                percentiles
                    .lock()
                    .unwrap()
                    .entry(design)
                    .or_default()
                    .push(p);
                elapsed
            })
        });
    }
    group.finish();
    println!("http_api: response body {} bytes", s.body_bytes);
    for (design, samples) in percentiles.lock().unwrap().iter() {
        let worst = samples
            .iter()
            .max_by_key(|p| p.1)
            .copied()
            .unwrap_or_default();
        let mut p50s: Vec<u128> = samples.iter().map(|p| p.0).collect();
        p50s.sort();
        println!(
            "http_api {design}: median p50 {:.2} ms, worst p99 {:.2} ms ({CONNECTIONS} connections)",
            p50s[p50s.len() / 2] as f64 / 1e6,
            worst.1 as f64 / 1e6
        );
    }
}

fn main() {
    if let Ok(spec) = std::env::var(LOADGEN_VAR) {
        load_generator(&spec);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    http_api(&mut criterion);
    criterion.final_summary();
}
