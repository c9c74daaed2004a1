//! Alert webhooks across processes and restarts: two real `ccm serve` processes
//! on one PostgreSQL and one real HTTP receiver. Only the leader relays, so each
//! alert arrives once, with its sequence as `Idempotency-Key`; a leader killed
//! with SIGKILL is followed by the other process, which continues from the cursor
//! in the key-value store; and an alert committed while every process is down is
//! delivered once they are back. Raw deliveries are counted, so a duplicate
//! fails the test rather than being hidden by deduplication.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, Subject};
use ccm_core::ports::store::ChangeSet;
use ccm_core::ports::Store;
use ccm_core::runtime::relay::stored_cursor;
use ccm_core::worker::AlertMetric;
use ccm_http::auth::{api_keys, Role};
use ccm_http::webhook::{cursor_key, is_alert};
use ccm_store_postgres::PostgresStore;
use serde_json::{json, Value};

use crate::processes::{within, CcmProcess, Database};

/// The lease of these tests, in seconds (short, so a takeover is quick).
const LEASE_SECONDS: u64 = 4;
/// Bound on any one wait (deliveries, takeovers); generous for loaded machines.
const WAIT: Duration = Duration::from_secs(60);

/// One POST the receiver got: its `Idempotency-Key` and the body's sequence and type.
#[derive(Clone, Debug)]
struct Delivery {
    key: Option<String>,
    sequence: Option<u64>,
    event_type: String,
}

type Deliveries = Arc<Mutex<Vec<Delivery>>>;

async fn receive(State(got): State<Deliveries>, headers: HeaderMap, body: String) -> StatusCode {
    let body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    got.lock().unwrap().push(Delivery {
        key: headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        sequence: body["sequence"].as_u64(),
        event_type: body["type"].as_str().unwrap_or_default().to_owned(),
    });
    StatusCode::NO_CONTENT
}

/// The receiver's URL and what it got.
async fn start_receiver() -> (String, Deliveries) {
    let got: Deliveries = Arc::default();
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

/// Two processes, their database, the receiver.
struct Deployment {
    db: Database,
    store: PostgresStore,
    processes: Vec<CcmProcess>,
    admin: String,
    hook_url: String,
    got: Deliveries,
    http: reqwest::Client,
    _config: tempfile::TempDir,
}

impl Deployment {
    async fn start() -> Self {
        let (hook_url, got) = start_receiver().await;
        let db = Database::fresh().await;
        let store = db.store().await;
        let (_, admin) =
            api_keys::create_key(&store, "webhook-failover", Role::Admin, chrono::Utc::now())
                .await
                .unwrap();
        // The simulator's delays are real time: short, so a worker's CML reports
        // its disk within seconds and crosses the 0 % threshold.
        let config = tempfile::tempdir().unwrap();
        let path = config.path().join("ccm.toml");
        std::fs::write(
            &path,
            "[cloud.sim]\nboot_seconds = 1\ncml_boot_seconds = 1\nstatus_init_seconds = 1\nseed_demo = false\n",
        )
        .unwrap();
        let env = vec![
            ("CCM_DATABASE_URL", db.url.clone()),
            ("CCM_CLOUD", "sim".to_owned()),
            ("CCM_CLOUD_REGIONS", "us-east-1".to_owned()),
            ("CCM_ADMIN_LOGIN_LINK", "false".to_owned()),
            ("CCM_DISK_ALERT_PERCENT", "0".to_owned()),
            ("CCM_MONITORING_INTERVAL_SECONDS", "1".to_owned()),
            ("CCM_LEASE_SECONDS", LEASE_SECONDS.to_string()),
            ("CCM_LEASE_RENEW_SECONDS", "1".to_owned()),
            ("CCM_ALERT_WEBHOOK_URLS", hook_url.clone()),
            ("CCM_ALERT_WEBHOOK_TIMEOUT_SECONDS", "5".to_owned()),
        ];
        let config_path = path.display().to_string();
        let mut processes = Vec::new();
        for _ in 0..2 {
            processes.push(CcmProcess::start(&env, &["--config", &config_path]).await);
        }
        Self {
            db,
            store,
            processes,
            admin,
            hook_url,
            got,
            http: reqwest::Client::new(),
            _config: config,
        }
    }

    /// Whether process `i` says it leads (`None` when it does not answer).
    async fn leads(&self, i: usize) -> Option<bool> {
        self.processes[i].pid()?;
        let response = self
            .http
            .get(format!(
                "{}/api/v1/system/leadership",
                self.processes[i].base()
            ))
            .bearer_auth(&self.admin)
            .send()
            .await
            .ok()?;
        let body: Value = response.json().await.ok()?;
        body["leading"].as_bool()
    }

    /// The process that leads, once exactly one running process does.
    async fn leader(&self) -> usize {
        within(WAIT, "exactly one process leads", || async {
            let mut leaders = Vec::new();
            for i in 0..self.processes.len() {
                if self.leads(i).await == Some(true) {
                    leaders.push(i);
                }
            }
            (leaders.len() == 1).then(|| leaders[0])
        })
        .await
    }

    /// The webhook relay's stored cursor.
    async fn cursor(&self) -> Option<u64> {
        stored_cursor(&self.store, &cursor_key(&self.hook_url), chrono::Utc::now())
            .await
            .unwrap()
            .map(|(c, _)| c.sequence)
    }

    /// Commits an alert for a worker no process knows, as the monitor would.
    async fn commit_alert(&self) -> u64 {
        let event = DomainEvent::new(
            Subject {
                kind: ResourceKind::Worker,
                id: uuid::Uuid::new_v4().to_string(),
            },
            EventPayload::WorkerAlertRaised {
                metric: AlertMetric::Disk,
                value: 97.0,
                threshold: 90.0,
            },
            chrono::Utc::now(),
        );
        let committed = self
            .store
            .commit(ChangeSet::new().events([event]))
            .await
            .unwrap();
        committed.sequences[0]
    }

    /// Sequences of the alert events in the log after `after`.
    async fn alerts_after(&self, after: u64) -> Vec<u64> {
        self.store
            .read_events(after, 100_000)
            .await
            .unwrap()
            .into_iter()
            .filter(is_alert)
            .map(|e| e.sequence)
            .collect()
    }

    /// Raw deliveries per idempotency key (checking each key is its body's sequence).
    fn received(&self) -> BTreeMap<u64, usize> {
        let mut counts = BTreeMap::new();
        for d in self.got.lock().unwrap().iter() {
            let key: u64 = d
                .key
                .as_deref()
                .and_then(|k| k.parse().ok())
                .unwrap_or_else(|| panic!("delivery without a numeric Idempotency-Key: {d:?}"));
            assert_eq!(Some(key), d.sequence, "key and body sequence differ: {d:?}");
            assert!(d.event_type.starts_with("worker.alert."), "{d:?}");
            *counts.entry(key).or_insert(0) += 1;
        }
        counts
    }

    /// Waits until every alert in `expected` was received.
    async fn until_received(&self, expected: &[u64], what: &str) {
        within(WAIT, what, || async {
            let got = self.received();
            expected.iter().all(|s| got.contains_key(s)).then_some(())
        })
        .await;
    }

    /// Waits until the stored cursor reaches `sequence` (the delivery is recorded,
    /// so the relay is not between a delivery and its cursor write).
    async fn until_cursor(&self, sequence: u64, what: &str) {
        within(WAIT, what, || async {
            self.cursor().await.filter(|c| *c >= sequence)
        })
        .await;
    }

    /// Raw deliveries and repeats so far (a repeat: a key received again).
    fn report(&self) -> (usize, usize) {
        let counts = self.received();
        let raw: usize = counts.values().sum();
        (raw, raw - counts.len())
    }

    async fn stop_all(&mut self) {
        for p in &mut self.processes {
            p.stop().await;
        }
    }

    fn outputs(&self) -> String {
        self.processes
            .iter()
            .enumerate()
            .map(|(i, p)| format!("--- process {i} ---\n{}", p.output()))
            .collect()
    }

    async fn finish(mut self) {
        self.stop_all().await;
        self.store.close().await;
        self.db.drop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_arrives_once_and_a_killed_leaders_follower_continues_from_the_cursor() {
    let mut d = Deployment::start().await;
    let first = d.leader().await;
    let other = 1 - first;
    // The first leader starts the relay at the log tail (nothing stored before).
    d.until_cursor(0, "the leader stores the relay's first cursor")
        .await;
    let start = d.cursor().await.unwrap();

    // An alert raised by the engine: a worker whose disk crosses 0 %.
    // Sent to the follower: any process takes writes, the leader acts on them.
    let status = d
        .http
        .post(format!("{}/api/v1/workers", d.processes[other].base()))
        .bearer_auth(&d.admin)
        .json(&json!({"name": "alerting"}))
        .send()
        .await
        .unwrap()
        .status();
    assert!(status.is_success(), "create a worker: {status}");
    let engine_alert = within(WAIT, "the engine raises a disk alert", || async {
        d.alerts_after(start).await.first().copied()
    })
    .await;
    // And a few committed directly, as any process's monitor would.
    for _ in 0..3 {
        d.commit_alert().await;
    }
    let before_kill = d.alerts_after(start).await;
    assert!(before_kill.contains(&engine_alert) && before_kill.len() >= 4);
    d.until_received(&before_kill, "the leader delivers the alerts")
        .await;
    d.until_cursor(*before_kill.last().unwrap(), "the leader records them")
        .await;
    assert_eq!(
        d.report().1,
        0,
        "a follower delivered too: {:?}",
        d.received()
    );

    // SIGKILL the leader; alerts committed meanwhile wait in the log.
    d.processes[first].kill().await;
    let mut while_down = Vec::new();
    for _ in 0..3 {
        while_down.push(d.commit_alert().await);
    }
    let took_over = d.leader().await;
    assert_eq!(took_over, other);
    d.until_received(&while_down, "the follower delivers after the takeover")
        .await;
    for _ in 0..2 {
        while_down.push(d.commit_alert().await);
    }
    d.until_received(&while_down, "the new leader delivers new alerts")
        .await;
    let expected = d.alerts_after(start).await;
    d.until_received(&expected, "every alert").await;
    d.until_cursor(*expected.last().unwrap(), "the new leader records them")
        .await;
    d.stop_all().await;
    // What the log holds once nothing runs: the engine may have raised more.
    let in_log = d.alerts_after(start).await;
    let (raw, repeats) = d.report();
    let received: Vec<u64> = d.received().keys().copied().collect();
    let outputs = d.outputs();
    d.finish().await;

    eprintln!(
        "webhook failover: {raw} raw deliveries of {} alerts, {repeats} repeats",
        received.len()
    );
    assert_eq!(repeats, 0, "the takeover repeated alerts:\n{outputs}");
    assert!(
        expected.iter().all(|s| received.contains(s))
            && received.iter().all(|s| in_log.contains(s)),
        "every alert of the log, nothing else: expected {expected:?}, received {received:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_committed_while_every_process_is_down_arrives_after_the_restart() {
    let mut d = Deployment::start().await;
    d.leader().await;
    d.until_cursor(0, "the leader stores the relay's first cursor")
        .await;
    let before = d.commit_alert().await;
    d.until_received(&[before], "an alert while running").await;
    d.until_cursor(before, "its delivery is recorded").await;

    d.stop_all().await;
    let while_down = d.commit_alert().await;
    assert_eq!(d.cursor().await, Some(before), "nobody relays while down");
    for p in &mut d.processes {
        p.start_again().await;
    }
    d.leader().await;
    d.until_received(&[while_down], "the alert from the downtime")
        .await;
    d.until_cursor(while_down, "its delivery is recorded").await;
    let (raw, repeats) = d.report();
    let received = d.received();
    let outputs = d.outputs();
    d.finish().await;

    eprintln!("webhook restart: {raw} raw deliveries, {repeats} repeats");
    assert_eq!(
        received,
        BTreeMap::from([(before, 1), (while_down, 1)]),
        "each alert exactly once across a clean restart:\n{outputs}"
    );
}
