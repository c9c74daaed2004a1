//! No input may exhaust the server: topology alias bombs and oversized topologies
//! (refused fast, memory flat, against a listening `ccm serve`), made-up HTTP
//! methods (bounded `/metrics`), half-open connections (closed after the
//! header-read timeout, within the connection cap), and the event stream (streams
//! per caller, revocation ends a stream, a filtered resume scans in bounded steps).

use crate::common;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request};
use ccm_core::ports::Clock;
use ccm_http::auth::{api_keys, Role};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WAIT: Duration = Duration::from_secs(15);

/// A `ccm serve` child process on a SQLite file, with an admin and a manager key.
struct Process {
    child: tokio::process::Child,
    base: String,
    admin: String,
    manager: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Process {
    async fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/ccm.db", dir.path().display());
        let store = ccm_store_sqlite::SqliteStore::open(&db).await.unwrap();
        let now = chrono::Utc::now();
        let (_, admin) = api_keys::create_key(&store, "sec-admin", Role::Admin, now)
            .await
            .unwrap();
        let (_, manager) = api_keys::create_key(&store, "sec-manager", Role::Manager, now)
            .await
            .unwrap();
        drop(store);
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let mut command = tokio::process::Command::from(common::ccm_binary());
        command
            .arg("serve")
            .env("CCM_DATABASE_URL", &db)
            .env("CCM_LISTEN", format!("127.0.0.1:{port}"))
            .env("CCM_SIM_SEED_DEMO", "false")
            .env("CCM_ADMIN_LOGIN_LINK", "false")
            .env("CCM_LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        // No idle pooled connections: they would hold slots of the connection cap.
        let http = reqwest::Client::builder()
            .timeout(WAIT)
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(Instant::now() < deadline, "ccm serve did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Self {
            child,
            base,
            admin,
            manager,
            http,
            _dir: dir,
        }
    }

    fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// `(VmRSS, VmHWM)` of the server process, in KiB.
    fn memory_kib(&self) -> (u64, u64) {
        let pid = self.child.id().unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap()
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Sends a request; status, body text and the time taken.
    async fn send(&self, request: reqwest::RequestBuilder) -> (u16, String, Duration) {
        let started = Instant::now();
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, text, started.elapsed())
    }
}

/// A ~100 KB billion-laughs topology: a 1,000-item anchor under levels of 100
/// aliases each; fully expanded it is astronomically large.
fn alias_bomb() -> String {
    let items = vec!["lol"; 1000].join(", ");
    let mut text = format!("a0: &a0 [{items}]\n");
    let mut level = 1;
    while text.len() < 100 * 1024 {
        let refs = vec![format!("*a{}", level - 1); 100].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        level += 1;
    }
    text.push_str("nodes:\n  - id: n0\n    node_definition: iosv\n");
    text
}

fn definition(topology: &str) -> Value {
    json!({
        "name": "bomb", "version": "1.0.0", "topology_yaml": topology,
        "needs": {"resources": {"cpu_millis": 1000, "memory_mib": 1024, "storage_gib": 1}, "nodes": 0, "ports": 1},
        "licence_affinity": null, "min_cml_version": null,
        "max_duration_minutes": 60, "warm_pool_depth": 0
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_bombs_and_oversized_topologies_are_refused_fast_with_flat_memory() {
    let p = Process::start(&[]).await;
    let bomb = alias_bomb();
    let worker = uuid::Uuid::new_v4();
    // Warm up both routes so the baseline includes their one-time allocations.
    let good = "nodes:\n  - id: n0\n    node_definition: iosv\n";
    let _ = p
        .send(
            p.http
                .post(format!("{}/api/v1/definitions", p.base))
                .bearer_auth(&p.admin)
                .json(&definition(good)),
        )
        .await;
    let (before_rss, _) = p.memory_kib();

    let (status, body, took) = p
        .send(
            p.http
                .post(format!("{}/api/v1/definitions", p.base))
                .bearer_auth(&p.admin)
                .json(&definition(&bomb)),
        )
        .await;
    println!(
        "alias bomb ({} bytes) on POST /definitions: {status} in {took:?}",
        bomb.len()
    );
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("limits.topology_max_alias_expansion"),
        "{body}"
    );
    // A debug build on two busy cores; unbounded expansion takes minutes.
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let (status, body, took) = p
        .send(
            p.http
                .post(format!("{}/api/v1/workers/{worker}/labs", p.base))
                .bearer_auth(&p.manager)
                .body(bomb.clone()),
        )
        .await;
    println!("alias bomb on POST /workers/{{id}}/labs: {status} in {took:?}");
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("limits.topology_max_alias_expansion"),
        "{body}"
    );
    // A debug build on two busy cores; unbounded expansion takes minutes.
    assert!(took < Duration::from_secs(3), "took {took:?}");

    let (_, peak) = p.memory_kib();
    println!("memory: {before_rss} KiB before, peak {peak} KiB");
    assert!(
        peak < before_rss + 50 * 1024,
        "the bombs grew the process from {before_rss} KiB to a peak of {peak} KiB"
    );

    // One byte over the default 1 MiB: refused by size, naming the setting.
    let oversized = format!("{good}#{}\n", "x".repeat(1024 * 1024 - good.len() - 1));
    assert_eq!(oversized.len(), 1024 * 1024 + 1);
    let (status, body, took) = p
        .send(
            p.http
                .post(format!("{}/api/v1/workers/{worker}/labs", p.base))
                .bearer_auth(&p.manager)
                .body(oversized.clone()),
        )
        .await;
    println!("oversized topology on POST /workers/{{id}}/labs: {status} in {took:?}");
    assert_eq!(status, 413, "{body}");
    assert!(
        body.contains(
            "topology is 1048577 bytes; the limit is 1048576 (limits.topology_max_bytes)"
        ),
        "{body}"
    );
    let (status, body, _) = p
        .send(
            p.http
                .post(format!("{}/api/v1/definitions", p.base))
                .bearer_auth(&p.admin)
                .json(&definition(&oversized)),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("limits.topology_max_bytes"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_do_not_grow_the_metrics() {
    let p = Process::start(&[]).await;
    let metrics = || async {
        let (status, text, _) = p
            .send(
                p.http
                    .get(format!("{}/metrics", p.base))
                    .bearer_auth(&p.admin),
            )
            .await;
        assert_eq!(status, 200);
        text
    };
    let send_odd = |method: String, path: &'static str| {
        let request = p.http.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{}{path}", p.base),
        );
        async move {
            let _ = request.send().await.unwrap();
        }
    };
    // Every label combination these requests can make exists after this warm-up.
    send_odd("FOO".into(), "/healthz").await;
    send_odd("FOO".into(), "/no/such/route").await;
    let before = metrics().await;
    for i in 1..=500 {
        send_odd(format!("BAR{i}"), "/healthz").await;
        send_odd(format!("BAR{i}"), "/no/such/route").await;
    }
    let after = metrics().await;
    assert!(!after.contains("FOO") && !after.contains("BAR"), "{after}");
    assert!(after.contains("method=\"other\""), "{after}");
    println!(
        "/metrics: {} bytes before, {} after",
        before.len(),
        after.len()
    );
    assert!(
        after.len() < before.len() + 8 * 1024,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
}

/// Opens a connection and sends half a request; the server must close it.
async fn half_open(addr: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    stream
}

/// True when the peer closed the connection (EOF or reset) within `wait`.
async fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buffer = Vec::new();
    tokio::time::timeout(wait, stream.read_to_end(&mut buffer))
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed_and_the_cap_holds() {
    let p = Process::start(&[
        ("CCM_HEADER_READ_TIMEOUT_SECONDS", "5"),
        ("CCM_MAX_CONNECTIONS", "3"),
        ("CCM_SSE_HEARTBEAT_SECONDS", "2"),
        ("CCM_REQUEST_TIMEOUT_SECONDS", "5"),
        ("CCM_IDLE_TIMEOUT_SECONDS", "10"),
    ])
    .await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(half_open(p.addr()).await);
    }
    // A fourth client waits: all three connections are taken.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = format!("{}/healthz", p.base);
    let waiting = tokio::spawn(async move { http.get(url).send().await.map(|r| r.status()) });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !waiting.is_finished(),
        "a request was served beyond server.max_connections"
    );
    // The server closes each half-open connection after the header-read timeout…
    let started = Instant::now();
    for stream in &mut held {
        assert!(
            closed_by_server(stream, Duration::from_secs(30)).await,
            "a half-open connection was left open"
        );
    }
    println!("half-open connections closed after {:?}", started.elapsed());
    // …and the waiting client is served once slots free up.
    let status = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the waiting request is answered")
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
}

/// The stream's request with `key`.
fn stream_request(key: &str, query: &str) -> Request<Body> {
    Request::builder()
        .uri(format!("/api/v1/events/stream{query}"))
        .header("authorization", format!("Bearer {key}"))
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn one_key_holds_at_most_eight_streams() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::User).await;
    let other = ts.key(Role::User).await;
    let mut open = Vec::new();
    for _ in 0..8 {
        let response = ts.send(stream_request(&key, "")).await;
        assert_eq!(response.status(), 200);
        open.push(response);
    }
    // Bounded: a stream wrongly granted would never end its body.
    let (status, body) = tokio::time::timeout(
        WAIT,
        ts.call(Method::GET, "/api/v1/events/stream", Some(&key), None),
    )
    .await
    .expect("the ninth stream is refused, not opened");
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], "too_many_streams");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server.sse_streams_per_principal"),
        "{body}"
    );
    // Another key is counted on its own, and a closed stream frees its slot.
    assert_eq!(ts.send(stream_request(&other, "")).await.status(), 200);
    open.pop();
    assert_eq!(ts.send(stream_request(&key, "")).await.status(), 200);
}

#[tokio::test]
async fn revoking_a_key_ends_its_open_stream() {
    let ts = common::server(common::Options {
        heartbeat: Duration::from_secs(1),
        ..common::Options::default()
    })
    .await;
    let (record, key) =
        api_keys::create_key(ts.store.as_ref(), "streamer", Role::User, ts.clock.now())
            .await
            .unwrap();
    let mut stream = common::open_stream(&ts, &key, "", None).await;
    assert_eq!(stream.next_within(WAIT).await.unwrap().event, "snapshot");
    ts.store
        .revoke_api_key(record.id, ts.clock.now())
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        let event = stream
            .next_within(WAIT)
            .await
            .expect("the stream sends credential_expired before it ends");
        if event.event == "credential_expired" {
            assert!(event.json()["reason"].as_str().unwrap().contains("revoked"));
            break;
        }
        assert_eq!(event.event, "heartbeat", "{event:?}");
        assert!(started.elapsed() < WAIT, "the stream outlived its key");
    }
    assert_eq!(stream.next_within(WAIT).await, None, "the stream ended");
}

#[tokio::test]
async fn a_filtered_resume_from_zero_scans_in_bounded_steps() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::User).await;
    for _ in 0..12 {
        common::commit_fleet_events(&ts, 1000).await;
    }
    let mut stream = common::open_stream(&ts, &key, "?type=no.such.type", Some(0)).await;
    assert_eq!(stream.next_within(WAIT).await.unwrap().event, "snapshot");
    // Nothing matches: the stream reports how far it got instead of reading the
    // whole log before sending anything (the heartbeat is 30 s away).
    let step = ccm_http::sse::SCAN_LIMIT as u64;
    let progress = stream.next_within(WAIT).await.unwrap();
    assert_eq!(progress.event, "progress", "{progress:?}");
    assert_eq!(progress.id, Some(step.to_string()));
    assert_eq!(progress.json()["scanned_to"], step);
    let next = stream.next_within(WAIT).await.unwrap();
    assert_eq!(next.id, Some((2 * step).to_string()));
}
