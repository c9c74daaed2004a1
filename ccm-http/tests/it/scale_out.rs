//! Several `ccm serve` processes on one PostgreSQL, with moto as EC2 and a CML
//! simulator over HTTP: a write sent to any process is acted on by the leader
//! within 2 s (the engine follows the event log, not its own API), every
//! process's event stream shows every change. (A leader killed with SIGKILL is
//! covered by `webhook_failover`.)

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccm_aws::testing::MotoServer;
use ccm_core::ports::{CloudProvider, Store};
use ccm_http::auth::{api_keys, Role};
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};
use serde_json::{json, Value};

use crate::processes::{within, CcmProcess, Database};

const TOPOLOGY: &str = "lab:\n  title: scale-out\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

/// What "acted on" must take at most, from the answer to the write.
const ACT_BOUND: Duration = Duration::from_secs(2);
/// The lease of these tests, in seconds (short, so failover is quick).
const LEASE_SECONDS: u64 = 4;

struct Cluster {
    moto: MotoServer,
    cml: CmlHttpServer,
    db: Database,
    processes: Vec<CcmProcess>,
    key: String,
    http: reqwest::Client,
}

impl Cluster {
    async fn start(count: usize) -> Self {
        let moto = MotoServer::start()
            .await
            .expect("moto (run scripts/setup-python)");
        let cml = CmlHttpServer::start(CmlHttpOptions {
            licensed: true,
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
            ("CCM_AWS_ENDPOINT_URL", moto.endpoint()),
            ("CCM_AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("CCM_AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("CCM_LAUNCH_IMAGE_NAME_PATTERN", "cml-2.9*".to_owned()),
            ("CCM_CML_USERNAME", "admin".to_owned()),
            ("CCM_CML_PASSWORD", "admin".to_owned()),
            ("CCM_CML_TLS", "insecure".to_owned()),
            ("CCM_CML_ENDPOINT_ALLOW", "127.0.0.1/32".to_owned()),
            ("CCM_MONITORING_INTERVAL_SECONDS", "2".to_owned()),
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
            cml,
            db,
            processes,
            key,
            http: reqwest::Client::new(),
        }
    }

    async fn call(
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

    async fn get(&self, via: usize, path: &str) -> Value {
        let (status, body) = self.call(via, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path} via {via}: {body}");
        body
    }

    async fn post(&self, via: usize, path: &str, body: Value) -> Value {
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
    fn leader(&self) -> Option<usize> {
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

    async fn wait_leader(&self, bound: Duration) -> usize {
        within(bound, "a process leads", || async { self.leader() }).await
    }

    /// Polls `path` via process `via` until `done` holds, within `bound`.
    async fn until(
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

    async fn running_worker(&self, via: usize, name: &str) -> String {
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

    async fn definition(&self) -> String {
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

    async fn instances_of(&self, worker: &str) -> usize {
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
                    && i.state != "terminated"
            })
            .count()
    }

    async fn finish(mut self) {
        for process in &mut self.processes {
            process.stop().await;
        }
        self.db.drop().await;
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
