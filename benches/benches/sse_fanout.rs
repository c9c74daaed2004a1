//! `sse_fanout`: latency from an event's commit to its delivery to every one of
//! 1,000 Server-Sent-Events subscribers of a listening `ccm` server (memory store,
//! simulated cloud), beside two ceilings: an in-process fan-out (a tokio broadcast
//! channel handing the same event to 1,000 receiver tasks: no sockets), and a bare
//! axum SSE handler writing a broadcast frame to the same number of connections of
//! the same subscriber process (the sockets, without ccm: no store, no auth, no
//! filter).
//!
//! The subscribers run in a second process (this executable again, as in
//! `http_api`), so the server's process holds only its own end of each
//! connection: 10,000 subscribers fit in the machine's 20,000 open files
//! (`CCM_BENCH_SSE_SUBSCRIBERS=10000 cargo bench -p ccm-benches --bench sse_fanout`).
//! That process stamps each delivery with the wall clock as it reads it.
//!
//! One iteration commits one event (a tag change) and waits until every
//! subscriber has it; criterion times that (the slowest subscriber). Every single
//! delivery is also recorded, and p50/p99 per design are printed at the end.
//! `cargo test --benches` runs it once with 50 subscribers.
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ccm_assembly::config::Config;
use ccm_core::fleet::CreateWorker;
use ccm_core::ids::{Region, WorkerId};
use ccm_core::secret::Secret;
use ccm_http::auth::{api_keys, Role};
use ccm_http::server::Server;
use criterion::{criterion_group, Criterion};
use futures_util::StreamExt;
use tokio::runtime::Runtime;
use tokio::sync::{broadcast, mpsc};

const EVENT_TYPE: &str = "worker.tags.updated.v1";
/// Set in the subscriber process: `<url> <api key> <subscribers>`.
const SUBSCRIBER_VAR: &str = "CCM_BENCH_SSE_SUBSCRIBER_PROCESS";

/// Full runs use 1,000 subscribers (`CCM_BENCH_SSE_SUBSCRIBERS` sets another
/// number); criterion's test mode (`--bench` absent) 50.
fn subscribers() -> usize {
    if std::env::args().any(|a| a == "--bench") {
        std::env::var("CCM_BENCH_SSE_SUBSCRIBERS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000)
    } else {
        50
    }
}

/// Deliveries `(sequence, when)` from every subscriber.
type Receipts = mpsc::UnboundedReceiver<(u64, SystemTime)>;

/// Collects latencies per design for the summary.
#[derive(Default)]
struct Latencies(Mutex<BTreeMap<&'static str, Vec<Duration>>>);

impl Latencies {
    fn add(&self, design: &'static str, latencies: Vec<Duration>) {
        self.0
            .lock()
            .unwrap()
            .entry(design)
            .or_default()
            .extend(latencies);
    }

    fn print(&self) {
        for (design, values) in self.0.lock().unwrap().iter_mut() {
            values.sort();
            let at = |q: f64| values[((values.len() - 1) as f64 * q) as usize];
            println!(
                "sse_fanout {design}: {} deliveries, p50 {:?}, p99 {:?}, max {:?}",
                values.len(),
                at(0.5),
                at(0.99),
                at(1.0)
            );
        }
    }
}

/// Waits until `n` receipts of `sequence` arrived; their latencies from `start`.
async fn await_all(
    receipts: &mut Receipts,
    sequence: u64,
    n: usize,
    start: SystemTime,
) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(n);
    while latencies.len() < n {
        let (seq, at) = tokio::time::timeout(Duration::from_secs(30), receipts.recv())
            .await
            .expect("every subscriber gets the event within 30 s")
            .expect("subscribers alive");
        if seq == sequence {
            latencies.push(at.duration_since(start).unwrap_or_default());
        }
    }
    latencies
}

/// The subscriber process: opens the streams, prints `ready` once each has
/// its snapshot, then `<sequence> <unix microseconds>` for every delivery.
fn subscriber_process(spec: &str) {
    let mut parts = spec.split_whitespace();
    let (url, key, n) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().parse::<usize>().unwrap(),
    );
    let runtime = Runtime::new().unwrap();
    runtime.block_on(async move {
        let (tx, mut deliveries) = mpsc::unbounded_channel::<(u64, SystemTime)>();
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        for _ in 0..n {
            let response = client.get(&url).bearer_auth(&key).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let (tx, ready_tx) = (tx.clone(), ready_tx.clone());
            tokio::spawn(async move {
                let mut body = response.bytes_stream();
                let mut buffer = String::new();
                let mut announced = false;
                while let Some(Ok(chunk)) = body.next().await {
                    let at = SystemTime::now();
                    buffer.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buffer.find("\n\n") {
                        let block: String = buffer.drain(..end + 2).collect();
                        let is_snapshot = block
                            .lines()
                            .any(|l| l.strip_prefix("event:").map(str::trim) == Some("snapshot"));
                        if is_snapshot && !announced {
                            announced = true;
                            let _ = ready_tx.send(());
                        }
                        if let Some(id) = block.lines().find_map(|l| l.strip_prefix("id:")) {
                            if let Ok(seq) = id.trim().parse::<u64>() {
                                let _ = tx.send((seq, at));
                            }
                        }
                    }
                }
            });
        }
        for _ in 0..n {
            ready.recv().await.unwrap();
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "ready").unwrap();
        out.flush().unwrap();
        while let Some((seq, at)) = deliveries.recv().await {
            let micros = at
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_micros();
            writeln!(out, "{seq} {micros}").unwrap();
            if deliveries.is_empty() {
                out.flush().unwrap();
            }
        }
    });
}

/// Starts the subscriber process on `url` and waits until all `n` streams are
/// open; returns it and its deliveries.
async fn spawn_subscribers(url: &str, key: &str, n: usize) -> (Child, Receipts) {
    let mut subscribers = Command::new(std::env::current_exe().unwrap())
        .env(SUBSCRIBER_VAR, format!("{url} {key} {n}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(subscribers.stdout.take().unwrap()).lines();
    let receipts = tokio::task::spawn_blocking(move || {
        let first = lines
            .next()
            .expect("the subscriber process answers")
            .unwrap();
        assert_eq!(first, "ready");
        let (tx, receipts) = mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut fields = line.split_whitespace();
                let (Some(seq), Some(micros)) = (fields.next(), fields.next()) else {
                    continue;
                };
                let at = UNIX_EPOCH + Duration::from_micros(micros.parse().unwrap());
                if tx.send((seq.parse().unwrap(), at)).is_err() {
                    return;
                }
            }
        });
        receipts
    })
    .await
    .unwrap();
    (subscribers, receipts)
}

struct CcmSetup {
    server: Server,
    worker: WorkerId,
    receipts: Receipts,
    round: u64,
    subscribers: Child,
}

async fn ccm_setup(n: usize) -> CcmSetup {
    let mut config = Config::default();
    config.database.url = Secret::new("memory");
    config.cloud.sim.seed_demo = false;
    config.server.body_limit_bytes = 1 << 20;
    // Every subscriber is the same API key: lift the per-caller stream cap and
    // leave room beside the streams for the bench's own requests.
    config.server.sse_streams_per_principal = n;
    config.server.max_connections = n + 64;
    let (server, _) = ccm_http::server::build(&config).await.unwrap();
    let (_, key) = api_keys::create_key(
        server.state().store.as_ref(),
        "bench",
        Role::Admin,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let worker = server
        .state()
        .fleet
        .create_worker(CreateWorker {
            name: "fanout".into(),
            region: Region::new("us-east-1"),
            instance_type: None,
            labels: BTreeMap::new(),
            tags: BTreeMap::new(),
            idle_detection_disabled: true,
            created_by: None,
            image: None,
        })
        .await
        .unwrap()
        .id;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/api/v1/events/stream?type={EVENT_TYPE}",
        listener.local_addr().unwrap()
    );
    tokio::spawn(server.clone().run(listener));

    let (subscribers, receipts) = spawn_subscribers(&url, &key, n).await;
    CcmSetup {
        server,
        worker,
        receipts,
        round: 0,
        subscribers,
    }
}

/// One round on ccm: commit a tag change, wait for all subscribers.
async fn ccm_round(s: &mut CcmSetup, n: usize) -> Vec<Duration> {
    s.round += 1;
    let start = SystemTime::now();
    s.server
        .state()
        .fleet
        .set_tags(
            s.worker,
            BTreeMap::from([("round".to_owned(), s.round.to_string())]),
        )
        .await
        .unwrap();
    let sequence = s.server.state().store.last_sequence().await.unwrap();
    await_all(&mut s.receipts, sequence, n, start).await
}

/// The bare axum SSE handler: a `snapshot` event, then every broadcast frame.
struct BareSseSetup {
    sender: broadcast::Sender<u64>,
    receipts: Receipts,
    sequence: u64,
    subscribers: Child,
    stop: tokio::sync::oneshot::Sender<()>,
}

async fn bare_sse_setup(n: usize) -> BareSseSetup {
    use axum::response::sse::{Event, Sse};

    let (sender, _) = broadcast::channel::<u64>(1024);
    let frames = sender.clone();
    let app = axum::Router::new().route(
        "/stream",
        axum::routing::get(move || {
            let receiver = frames.subscribe();
            async move {
                let snapshot = futures_util::stream::once(async {
                    Ok::<_, std::convert::Infallible>(Event::default().event("snapshot").data("{}"))
                });
                let frames = futures_util::stream::unfold(receiver, |mut receiver| async move {
                    let sequence = receiver.recv().await.ok()?;
                    let frame = Event::default()
                        .id(sequence.to_string())
                        .event(EVENT_TYPE)
                        .data(format!(
                            "{{\"sequence\":{sequence},\"type\":\"{EVENT_TYPE}\"}}"
                        ));
                    Some((Ok(frame), receiver))
                });
                Sse::new(snapshot.chain(frames))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/stream", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let (subscribers, receipts) = spawn_subscribers(&url, "unused", n).await;
    BareSseSetup {
        sender,
        receipts,
        sequence: 0,
        subscribers,
        stop,
    }
}

async fn bare_sse_round(s: &mut BareSseSetup, n: usize) -> Vec<Duration> {
    s.sequence += 1;
    let start = SystemTime::now();
    s.sender.send(s.sequence).unwrap();
    await_all(&mut s.receipts, s.sequence, n, start).await
}

struct BroadcastSetup {
    sender: broadcast::Sender<(u64, Arc<String>)>,
    receipts: Receipts,
    sequence: u64,
}

fn broadcast_setup(n: usize) -> BroadcastSetup {
    let (sender, _) = broadcast::channel::<(u64, Arc<String>)>(1024);
    let (tx, receipts) = mpsc::unbounded_channel();
    for _ in 0..n {
        let mut rx = sender.subscribe();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Ok((seq, data)) = rx.recv().await {
                // Touch the bytes as a writer would.
                std::hint::black_box(data.len());
                let _ = tx.send((seq, SystemTime::now()));
            }
        });
    }
    BroadcastSetup {
        sender,
        receipts,
        sequence: 0,
    }
}

async fn broadcast_round(s: &mut BroadcastSetup, n: usize) -> Vec<Duration> {
    s.sequence += 1;
    let start = SystemTime::now();
    let payload = Arc::new(format!(
        "{{\"sequence\":{},\"type\":\"{EVENT_TYPE}\"}}",
        s.sequence
    ));
    s.sender.send((s.sequence, payload)).unwrap();
    await_all(&mut s.receipts, s.sequence, n, start).await
}

/// One way of fanning an event out, measured the same way as the others.
trait Design {
    /// Its name in the summary.
    const NAME: &'static str;
    /// One round: send one event, wait until all `n` subscribers have it.
    async fn round(&mut self, n: usize) -> Vec<Duration>;
}

impl Design for CcmSetup {
    const NAME: &'static str = "ccm SSE";
    async fn round(&mut self, n: usize) -> Vec<Duration> {
        ccm_round(self, n).await
    }
}

impl Design for BroadcastSetup {
    const NAME: &'static str = "in-process broadcast (ceiling)";
    async fn round(&mut self, n: usize) -> Vec<Duration> {
        broadcast_round(self, n).await
    }
}

impl Design for BareSseSetup {
    const NAME: &'static str = "bare axum SSE, same sockets (ceiling)";
    async fn round(&mut self, n: usize) -> Vec<Duration> {
        bare_sse_round(self, n).await
    }
}

/// Criterion times the slowest subscriber of each round; every delivery goes to
/// `latencies` for the percentiles.
fn bench_design<D: Design>(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    runtime: &Runtime,
    latencies: &Latencies,
    design: &mut D,
    n: usize,
) {
    group.bench_function(id, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let round = runtime.block_on(design.round(n));
                total += round.iter().max().copied().unwrap_or_default();
                latencies.add(D::NAME, round);
            }
            total
        })
    });
}

fn sse_fanout(c: &mut Criterion) {
    let n = subscribers();
    let runtime = Runtime::new().unwrap();
    let latencies = Latencies::default();
    let mut group = c.benchmark_group(format!("sse_fanout/{n}_subscribers"));
    group.sample_size(20);

    let mut ccm = runtime.block_on(ccm_setup(n));
    let id = "ccm_sse_commit_to_last_delivery";
    bench_design(&mut group, id, &runtime, &latencies, &mut ccm, n);
    let mut ceiling = runtime.block_on(async { broadcast_setup(n) });
    let id = "ceiling_in_process_broadcast";
    bench_design(&mut group, id, &runtime, &latencies, &mut ceiling, n);
    let mut bare = runtime.block_on(bare_sse_setup(n));
    let id = "ceiling_bare_axum_sse";
    bench_design(&mut group, id, &runtime, &latencies, &mut bare, n);
    group.finish();
    latencies.print();
    let _ = bare.stop.send(());
    let _ = bare.subscribers.kill();
    let _ = bare.subscribers.wait();
    let _ = ccm.server.shutdown_handle().send(true);
    let _ = ccm.subscribers.kill();
    let _ = ccm.subscribers.wait();
}

criterion_group!(benches, sse_fanout);

fn main() {
    if let Ok(spec) = std::env::var(SUBSCRIBER_VAR) {
        subscriber_process(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
