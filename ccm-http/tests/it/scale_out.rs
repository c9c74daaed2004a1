//! Several `ccm serve` processes on one PostgreSQL, with moto as EC2 (behind a
//! proxy that notes when each call arrived) and a CML simulator over HTTP: a
//! write sent to any process is acted on by the leader within 2 s (the engine
//! follows the event log, not its own API), every process's event stream shows
//! every change, and a leader killed with SIGKILL in the middle of a sweep hands
//! the engine over within the lease plus 2 s without a second instance for a
//! worker, a second lab for a lablet or a lost lablet.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ccm_aws::testing::MotoServer;
use ccm_core::ports::{CloudProvider, Store};
use ccm_http::auth::{api_keys, Role};
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};
use ccm_sim::CmlConfig;
use serde_json::{json, Value};

use crate::processes::{within, CcmProcess, Database};

const TOPOLOGY: &str = "lab:\n  title: scale-out\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

/// What "acted on" must take at most, from the answer to the write.
const ACT_BOUND: Duration = Duration::from_secs(2);
/// The lease of these tests, in seconds (short, so failover is quick).
pub const LEASE_SECONDS: u64 = 4;
/// Seconds between two metrics sweeps.
pub const SWEEP_SECONDS: u64 = 2;

/// One call that reached moto through the [`AwsRecorder`].
#[derive(Clone, Debug)]
pub struct AwsCall {
    /// The query protocol's `Action` (`RunInstances`, `GetMetricData`…).
    pub action: String,
    /// When it arrived at the proxy.
    pub received_at: SystemTime,
}

/// A proxy in front of moto that notes every call with its arrival time, so a
/// test can count the EC2 and CloudWatch calls made after a given instant.
pub struct AwsRecorder {
    endpoint: String,
    calls: Arc<Mutex<Vec<AwsCall>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct AwsRecorderState {
    upstream: String,
    calls: Arc<Mutex<Vec<AwsCall>>>,
    client: reqwest::Client,
}

impl AwsRecorder {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = AwsRecorderState {
            upstream,
            calls: calls.clone(),
            client: reqwest::Client::new(),
        };
        let app = axum::Router::new()
            .fallback(forward_to_moto)
            .with_state(state);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            endpoint,
            calls,
            task,
        }
    }

    /// The URL ccm is given as its AWS endpoint.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Calls that arrived at or after `instant`.
    pub fn calls_since(&self, instant: SystemTime) -> Vec<AwsCall> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.received_at >= instant)
            .cloned()
            .collect()
    }
}

impl Drop for AwsRecorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `Action` of an AWS query-protocol body (`Action=DescribeInstances&…`).
fn query_action(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .unwrap_or("(no action)")
        .to_owned()
}

async fn forward_to_moto(
    axum::extract::State(state): axum::extract::State<AwsRecorderState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    let received_at = SystemTime::now();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    state.calls.lock().unwrap().push(AwsCall {
        action: query_action(&body),
        received_at,
    });
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    let mut headers = parts.headers;
    headers.remove(axum::http::header::HOST);
    let answer = state
        .client
        .request(parts.method, format!("{}{path}", state.upstream))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let mut response = axum::response::Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if name != axum::http::header::TRANSFER_ENCODING {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap();
    response.body(axum::body::Body::from(bytes)).unwrap()
}

/// `ccm serve` processes on one PostgreSQL database, with moto behind an
/// [`AwsRecorder`] as their AWS and one CML simulator (recording its exchanges)
/// as every worker's CML.
pub struct Cluster {
    moto: MotoServer,
    /// moto as the processes reach it.
    pub aws: AwsRecorder,
    pub cml: CmlHttpServer,
    pub db: Database,
    pub processes: Vec<CcmProcess>,
    key: String,
    http: reqwest::Client,
}

impl Cluster {
    pub async fn start(count: usize) -> Self {
        let moto = MotoServer::start()
            .await
            .expect("moto (run scripts/setup-python)");
        let aws = AwsRecorder::start(moto.endpoint()).await;
        let cml = CmlHttpServer::start(CmlHttpOptions {
            licensed: true,
            record_exchanges: true,
            // Nodes boot at once: the simulator runs on the real clock, and
            // CML's two minutes would only slow the tests down.
            cml: CmlConfig {
                node_boot_seconds: 0,
                ..CmlConfig::default()
            },
            ..CmlHttpOptions::default()
        })
        .await
        .unwrap();
        let db = Database::fresh().await;
        let store = db.store().await;
        let (_, key) = api_keys::create_key(&store, "scale-out", Role::Admin, chrono::Utc::now())
            .await
            .unwrap();
        let env = vec![
            ("CCM_DATABASE_URL", db.url.clone()),
            ("CCM_CLOUD", "aws".to_owned()),
            ("CCM_CLOUD_REGIONS", "us-east-1".to_owned()),
            ("CCM_AWS_ENDPOINT_URL", aws.endpoint()),
            ("CCM_AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("CCM_AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("CCM_LAUNCH_IMAGE_NAME_PATTERN", "cml-2.9*".to_owned()),
            ("CCM_CML_USERNAME", "admin".to_owned()),
            ("CCM_CML_PASSWORD", "admin".to_owned()),
            ("CCM_CML_TLS", "insecure".to_owned()),
            ("CCM_CML_ENDPOINT_ALLOW", "127.0.0.1/32".to_owned()),
            ("CCM_MONITORING_INTERVAL_SECONDS", SWEEP_SECONDS.to_string()),
            ("CCM_LABS_SYNC_INTERVAL_SECONDS", "5".to_owned()),
            ("CCM_LEASE_SECONDS", LEASE_SECONDS.to_string()),
            ("CCM_LEASE_RENEW_SECONDS", "1".to_owned()),
        ];
        let mut processes = Vec::new();
        for _ in 0..count {
            processes.push(CcmProcess::start(&env, &[]).await);
        }
        Self {
            moto,
            aws,
            cml,
            db,
            processes,
            key,
            http: reqwest::Client::new(),
        }
    }

    pub async fn call(
        &self,
        via: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.processes[via].base()))
            .bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, via: usize, path: &str) -> Value {
        let (status, body) = self.call(via, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path} via {via}: {body}");
        body
    }

    pub async fn post(&self, via: usize, path: &str, body: Value) -> Value {
        let (status, answer) = self
            .call(via, reqwest::Method::POST, path, Some(body))
            .await;
        assert!(
            (200..300).contains(&status),
            "POST {path} via {via}: {status} {answer}"
        );
        answer
    }

    /// The process that announced leadership last, if any still runs.
    pub fn leader(&self) -> Option<usize> {
        self.processes.iter().position(|p| {
            let out = p.output();
            let leads = match (
                out.rfind("leading: running controllers"),
                out.rfind("not leading any more"),
            ) {
                (Some(lead), Some(left)) => lead > left,
                (Some(_), None) => true,
                (None, _) => false,
            };
            p.pid().is_some() && leads
        })
    }

    pub async fn wait_leader(&self, bound: Duration) -> usize {
        within(bound, "a process leads", || async { self.leader() }).await
    }

    /// Polls `path` via process `via` until `done` holds, within `bound`.
    pub async fn until(
        &self,
        via: usize,
        path: &str,
        bound: Duration,
        what: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        within(bound, what, || async {
            let body = self.get(via, path).await;
            done(&body).then_some(body)
        })
        .await
    }

    pub async fn running_worker(&self, via: usize, name: &str) -> String {
        let worker = self
            .post(via, "/api/v1/workers", json!({"name": name}))
            .await;
        let id = worker["id"].as_str().unwrap().to_owned();
        let (status, body) = self
            .call(
                via,
                reqwest::Method::PUT,
                &format!("/api/v1/workers/{id}/cml-endpoint"),
                Some(json!({"url": self.cml.base_url()})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        self.until(
            via,
            &format!("/api/v1/workers/{id}"),
            Duration::from_secs(90),
            "the worker runs with CML available",
            |w| w["status"]["lifecycle"] == "running" && w["status"]["cml"]["state"] == "available",
        )
        .await;
        id
    }

    pub async fn definition(&self) -> String {
        let definition = self
            .post(
                0,
                "/api/v1/definitions",
                json!({
                    "name": "scale-out", "version": "1.0.0", "topology_yaml": TOPOLOGY,
                    "needs": {"resources": {"cpu_millis": 1000, "memory_mib": 1024, "storage_gib": 1}, "nodes": 0, "ports": 2},
                    "licence_affinity": null, "min_cml_version": null,
                    "max_duration_minutes": 120, "warm_pool_depth": 0
                }),
            )
            .await;
        definition["id"].as_str().unwrap().to_owned()
    }

    pub async fn instances_of(&self, worker: &str) -> usize {
        let described = self
            .moto
            .cloud()
            .unwrap()
            .discover(
                &ccm_core::ids::Region::new("us-east-1"),
                &ccm_core::ports::cloud::DiscoveryFilter::default(),
            )
            .await
            .unwrap();
        described
            .iter()
            .filter(|i| {
                i.tags
                    .get(ccm_core::ports::cloud::WORKER_ID_TAG)
                    .map(String::as_str)
                    == Some(worker)
                    && i.state != ccm_core::ports::cloud::InstanceState::Terminated
            })
            .count()
    }

    /// Waits until the leader's engine step is held in the middle of a metrics
    /// sweep: CML answers after `hold` from now on, and the sweep's first CML
    /// call (after its EC2 and CloudWatch calls) is waiting for its answer.
    pub async fn hold_a_sweep(&self, hold: Duration) -> ccm_sim::http::InFlight {
        self.cml.set_latency(Some(hold));
        within(
            Duration::from_secs(SWEEP_SECONDS * 10),
            "a sweep waits on CML",
            || async {
                self.cml
                    .in_flight()
                    .into_iter()
                    .find(|r| r.path.ends_with("/system_information"))
            },
        )
        .await
    }

    pub async fn finish(mut self) {
        for process in &mut self.processes {
            process.stop().await;
        }
        self.db.drop().await;
    }
}

/// Lines of each process's output printed when a test fails.
const OUTPUT_TAIL_LINES: usize = 300;

impl Drop for Cluster {
    /// A failed test shows what the processes were doing (their request logs
    /// left out).
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for (index, process) in self.processes.iter().enumerate() {
            let output = process.output();
            let lines: Vec<&str> = output
                .lines()
                .filter(|l| !l.contains(r#""message":"request""#))
                .collect();
            let tail = &lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..];
            eprintln!("----- process {index} -----\n{}", tail.join("\n"));
        }
    }
}

/// Sequences seen on one process's event stream.
fn watch_stream(base: String, key: String) -> Arc<Mutex<BTreeSet<u64>>> {
    let seen = Arc::new(Mutex::new(BTreeSet::new()));
    let sink = seen.clone();
    tokio::spawn(async move {
        let mut response = reqwest::Client::new()
            .get(format!("{base}/api/v1/events/stream"))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let mut pending = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            pending.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = pending.find('\n') {
                let line: String = pending.drain(..=end).collect();
                if let Some(id) = line.trim_end().strip_prefix("id:") {
                    if let Ok(sequence) = id.trim().parse::<u64>() {
                        sink.lock().unwrap().insert(sequence);
                    }
                }
            }
        }
    });
    seen
}

fn phase(lablet: &Value) -> &str {
    lablet["status"]["phase"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_sent_to_any_of_three_processes_are_acted_on_within_two_seconds() {
    let cluster = Cluster::start(3).await;
    cluster.wait_leader(Duration::from_secs(20)).await;
    let streams: Vec<_> = cluster
        .processes
        .iter()
        .map(|p| watch_stream(p.base(), cluster.key.clone()))
        .collect();
    let first_sequence = cluster.db.store().await.last_sequence().await.unwrap();

    // A worker with CML, for the lablets.
    let host = cluster.running_worker(0, "host").await;
    let definition = cluster.definition().await;
    let mut latencies = Vec::new();

    for via in 0..3 {
        // Create: acted on when the instance is launched.
        let created = cluster
            .post(via, "/api/v1/workers", json!({"name": format!("w{via}")}))
            .await;
        let answered = Instant::now();
        let id = created["id"].as_str().unwrap().to_owned();
        cluster
            .until(
                via,
                &format!("/api/v1/workers/{id}"),
                ACT_BOUND,
                &format!("create via process {via} launches an instance"),
                |w| w["instance_id"].is_string(),
            )
            .await;
        latencies.push(("create", via, answered.elapsed()));
        cluster
            .until(
                via,
                &format!("/api/v1/workers/{id}"),
                Duration::from_secs(60),
                "the worker runs",
                |w| w["status"]["lifecycle"] == "running",
            )
            .await;

        // Stop: acted on when StopInstances was sent.
        cluster
            .post(via, &format!("/api/v1/workers/{id}/stop"), json!({}))
            .await;
        let answered = Instant::now();
        cluster
            .until(
                via,
                &format!("/api/v1/workers/{id}"),
                ACT_BOUND,
                &format!("stop via process {via} stops the instance"),
                |w| {
                    matches!(
                        w["status"]["lifecycle"].as_str(),
                        Some("stopping" | "stopped")
                    )
                },
            )
            .await;
        latencies.push(("stop", via, answered.elapsed()));

        // Booking: acted on when the scheduler placed it.
        let now = chrono::Utc::now();
        let lablet = cluster
            .post(
                via,
                "/api/v1/lablets",
                json!({"definition_id": definition, "timeslot": {
                    "start": now + chrono::Duration::minutes(5),
                    "end": now + chrono::Duration::minutes(65)}}),
            )
            .await;
        let answered = Instant::now();
        let lablet_id = lablet["id"].as_str().unwrap().to_owned();
        cluster
            .until(
                via,
                &format!("/api/v1/lablets/{lablet_id}"),
                ACT_BOUND,
                &format!("a booking via process {via} is placed"),
                |l| phase(l) != "pending",
            )
            .await;
        latencies.push(("book", via, answered.elapsed()));

        // Cancel: acted on when the lablet leaves its placed phases.
        cluster
            .post(
                via,
                &format!("/api/v1/lablets/{lablet_id}/cancel"),
                json!({}),
            )
            .await;
        let answered = Instant::now();
        cluster
            .until(
                via,
                &format!("/api/v1/lablets/{lablet_id}"),
                ACT_BOUND,
                &format!("a cancel via process {via} is acted on"),
                |l| matches!(phase(l), "stopping" | "stopped" | "terminated"),
            )
            .await;
        latencies.push(("cancel", via, answered.elapsed()));
    }
    eprintln!("commit-to-action latencies: {latencies:?}");
    assert!(!host.is_empty());

    // Every stream shows every change.
    let last = cluster.db.store().await.last_sequence().await.unwrap();
    for (index, stream) in streams.iter().enumerate() {
        within(
            Duration::from_secs(10),
            "each stream catches up",
            || async {
                let seen = stream.lock().unwrap().clone();
                ((first_sequence + 1..=last).all(|s| seen.contains(&s))).then_some(())
            },
        )
        .await;
        eprintln!("stream {index}: all of {first_sequence}..={last}");
    }
    cluster.finish().await;
}

/// The leader is killed while its sweep waits on CML, just after a booking that
/// starts now and a new worker: it cannot have acted on either, so the next
/// leader must. Within the lease plus 2 s another process leads, and it places
/// the booking within [`ACT_BOUND`] of taking over — the scheduler looks at once,
/// though the booking's event came before the new leader's first look at the
/// log. Then the lablet becomes ready with exactly one lab, and every worker
/// (one launched by the old leader, one by the new) has exactly one instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_mid_sweep_hands_the_engine_over_without_duplicates_or_lost_lablets() {
    let mut cluster = Cluster::start(3).await;
    let leader = cluster.wait_leader(Duration::from_secs(20)).await;
    let survivor = (leader + 1) % 3;
    let host = cluster.running_worker(survivor, "host").await;
    let definition = cluster.definition().await;
    let early = cluster
        .post(survivor, "/api/v1/workers", json!({"name": "early"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    cluster
        .until(
            survivor,
            &format!("/api/v1/workers/{early}"),
            Duration::from_secs(20),
            "the old leader launches the early worker",
            |w| w["instance_id"].is_string(),
        )
        .await;

    // Held long enough that the old leader dies waiting.
    let held = cluster.hold_a_sweep(Duration::from_secs(60)).await;
    let now = chrono::Utc::now();
    let lablet = cluster
        .post(
            survivor,
            "/api/v1/lablets",
            json!({"definition_id": definition, "timeslot": {
                "start": now, "end": now + chrono::Duration::minutes(60)}}),
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let late = cluster
        .post(survivor, "/api/v1/workers", json!({"name": "late"}))
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        cluster.cml.in_flight().contains(&held),
        "the sweep still waits when the leader is killed"
    );
    cluster.processes[leader].kill().await;
    let killed = Instant::now();
    cluster.cml.set_latency(None);

    let next = within(
        Duration::from_secs(LEASE_SECONDS + 2),
        "another process leads within the lease plus 2 s",
        || async { cluster.leader() },
    )
    .await;
    let took_over = killed.elapsed();
    assert_ne!(next, leader);
    cluster
        .until(
            survivor,
            &format!("/api/v1/lablets/{lablet}"),
            ACT_BOUND,
            "the new leader places the booking made just before the kill",
            |l| phase(l) != "pending",
        )
        .await;
    let placed = killed.elapsed();
    cluster
        .until(
            survivor,
            &format!("/api/v1/lablets/{lablet}"),
            Duration::from_secs(60),
            "the lablet becomes ready",
            |l| matches!(phase(l), "ready" | "running"),
        )
        .await;
    let ready = killed.elapsed();
    for worker in [&early, &late] {
        cluster
            .until(
                survivor,
                &format!("/api/v1/workers/{worker}"),
                Duration::from_secs(60),
                "the worker runs",
                |w| w["status"]["lifecycle"] == "running",
            )
            .await;
    }
    eprintln!(
        "after the kill: led again {took_over:?}, booking placed {placed:?}, lablet ready {ready:?}"
    );

    for worker in [&host, &early, &late] {
        assert_eq!(
            cluster.instances_of(worker).await,
            1,
            "one instance for {worker}"
        );
    }
    let imports = cluster
        .cml
        .exchanges()
        .iter()
        .filter(|e| e.template.as_deref() == Some("/import") && e.status < 300)
        .count();
    assert_eq!(imports, 1, "one lab imported for the one lablet");

    // The cost and the forecast are read from the shared store: the new leader
    // and a process that never led answer alike, and the billed time of the
    // workers the killed leader ran is still there.
    let other = (0..3).find(|p| *p != leader && *p != next).unwrap_or(next);
    for via in [next, other] {
        let cost = cluster.get(via, "/api/v1/cost").await;
        assert_eq!(cost["billing_workers"], 3, "via {via}: {cost}");
        assert!(
            cost["today"]["worker_hours"].as_f64().unwrap() > 0.0,
            "{cost}"
        );
        let forecast = cluster
            .get(via, "/api/v1/capacity/forecast?hours=2&step_minutes=15")
            .await;
        assert_eq!(forecast["steps"][0]["lablets"], 1, "via {via}: {forecast}");
        assert_eq!(forecast["workers_now"], 3, "{forecast}");
    }
    cluster.finish().await;
}
