//! Alert webhooks: a real HTTP receiver gets each threshold alert once per
//! crossing with its sequence as `Idempotency-Key`; failing receivers are retried
//! a bounded number of times and then hold their cursor, refusals are not
//! retried, and one dead receiver does not stop the others. (Several processes
//! and restarts: `webhook_failover.rs`.)

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use ccm_core::fleet::{CreateWorker, FleetSettings, Thresholds};
use ccm_core::ids::Region;
use ccm_core::ports::kv::Expect;
use ccm_core::ports::{Clock, EventSink, KeyValueStore};
use ccm_core::runtime::relay::{stored_cursor, LeaderRelay, RELAY_NAMESPACE};
use ccm_core::runtime::{EventRelay, LeaderElector, LeaseSettings};
use ccm_core::store::MemoryKeyValueStore;
use ccm_core::time::plus_seconds;
use ccm_http::webhook::{is_alert, WebhookSettings, WebhookSink};
use serde_json::Value;

/// What a receiver got: the `idempotency-key` header and the JSON body.
type Deliveries = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A receiver that answers the first `fail_first` POSTs with `failure`.
#[derive(Clone)]
struct Receiver {
    bodies: Deliveries,
    attempts: Arc<Mutex<u32>>,
    fail_first: u32,
    failure: StatusCode,
}

async fn receive(State(r): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    let attempt = {
        let mut n = r.attempts.lock().unwrap();
        *n += 1;
        *n
    };
    if attempt <= r.fail_first {
        return r.failure;
    }
    let sequence = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(
        headers
            .get("x-ccm-event-sequence")
            .and_then(|v| v.to_str().ok()),
        sequence.as_deref(),
        "both headers carry the sequence"
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/cloudevents+json; charset=utf-8"),
        "a structured-mode CloudEvent"
    );
    r.bodies
        .lock()
        .unwrap()
        .push((sequence, serde_json::from_str(&body).unwrap()));
    StatusCode::NO_CONTENT
}

async fn start_receiver(fail_first: u32, failure: StatusCode) -> (String, Receiver) {
    let receiver = Receiver {
        bodies: Arc::default(),
        attempts: Arc::default(),
        fail_first,
        failure,
    };
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, receiver)
}

fn sink(urls: Vec<String>, attempts: u32) -> Arc<WebhookSink> {
    Arc::new(
        WebhookSink::new(WebhookSettings {
            urls,
            timeout: Duration::from_secs(2),
            attempts,
            first_retry_delay: Duration::from_millis(10),
        })
        .unwrap(),
    )
}

/// A fleet on the simulator whose disk threshold (0%) every running worker crosses.
async fn fleet_with_one_alerting_worker() -> common::TestServer {
    let settings = FleetSettings {
        thresholds: Thresholds {
            cpu_percent: 101.0,
            memory_percent: 101.0,
            disk_percent: 0.0,
        },
        monitoring_interval_seconds: 60,
        ..FleetSettings::default()
    };
    let ts = common::server(common::Options {
        settings,
        ..common::Options::default()
    })
    .await;
    let state = ts.server.state();
    state
        .fleet
        .create_worker(CreateWorker {
            name: "w1".into(),
            region: Region::new("us-east-1"),
            instance_type: None,
            labels: BTreeMap::new(),
            tags: BTreeMap::new(),
            idle_detection_disabled: false,
            created_by: Some("test".into()),
            image: None,
        })
        .await
        .unwrap();
    let until = plus_seconds(ts.clock.now(), 90 * 60);
    state
        .fleet
        .run_until(&state.jobs, None, &ts.clock, until)
        .await
        .unwrap();
    ts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_alert_reaches_the_webhook_once_per_crossing_after_retries() {
    let ts = fleet_with_one_alerting_worker().await;
    let (url, receiver) = start_receiver(2, StatusCode::SERVICE_UNAVAILABLE).await;
    let webhooks = sink(vec![url], 4);
    let receiver_sink = Arc::new(webhooks.receivers().remove(0));
    let mut relay = EventRelay::new(ts.store.clone(), receiver_sink, 0);
    relay.pump().await.unwrap();

    let bodies = receiver.bodies.lock().unwrap().clone();
    assert_eq!(
        bodies.len(),
        1,
        "ninety minutes of sweeps above the threshold are one crossing: {bodies:?}"
    );
    let (sequence, body) = &bodies[0];
    assert_eq!(body["type"], "worker.alert.raised.v1");
    assert_eq!(body["data"]["metric"], "disk");
    // CloudEvents 1.0, structured: the required attributes, `id` the sequence.
    assert_eq!(body["specversion"], "1.0");
    assert_eq!(body["source"], "urn:ccm:events");
    assert_eq!(body["datacontenttype"], "application/json");
    assert!(body["time"].as_str().unwrap().ends_with('Z'), "{body}");
    assert!(
        body["subject"].as_str().unwrap().starts_with("worker/"),
        "{body}"
    );
    assert_eq!(
        sequence.as_deref(),
        Some(body["sequence"].to_string().as_str())
    );
    assert_eq!(sequence.as_deref(), body["id"].as_str());
    assert_eq!(*receiver.attempts.lock().unwrap(), 3, "two 503s, then OK");
    assert_eq!((webhooks.delivered(), webhooks.failed()), (1, 0));

    // Nothing new happened: pumping again sends nothing.
    relay.pump().await.unwrap();
    assert_eq!(receiver.bodies.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_not_retried_and_a_dead_receiver_does_not_stop_the_others() {
    let ts = fleet_with_one_alerting_worker().await;
    let (refusing_url, refusing) = start_receiver(u32::MAX, StatusCode::BAD_REQUEST).await;
    let (good_url, good) = start_receiver(0, StatusCode::OK).await;
    let webhooks = sink(vec![refusing_url, dead_url(), good_url], 3);
    let events = ts.store.read_events(0, 10_000).await.unwrap();
    let outcomes: Vec<bool> =
        futures_util::future::join_all(webhooks.receivers().iter().map(|r| r.publish(&events)))
            .await
            .iter()
            .map(Result::is_ok)
            .collect();

    assert_eq!(
        outcomes,
        vec![true, false, true],
        "a refusal is final (the event is passed), a dead receiver fails the delivery"
    );
    assert_eq!(*refusing.attempts.lock().unwrap(), 1, "a 400 is final");
    assert_eq!(good.bodies.lock().unwrap().len(), 1);
    assert_eq!(webhooks.delivered(), 1);
    assert_eq!(webhooks.refused(), 1);
    assert_eq!(
        webhooks.failed(),
        1,
        "the dead receiver, after its 3 attempts"
    );
    let mut metrics = String::new();
    webhooks.render_metrics(&mut metrics);
    assert!(metrics.contains("ccm_webhook_deliveries_total{outcome=\"failed\"} 1"));
    assert!(metrics.contains("ccm_webhook_deliveries_total{outcome=\"refused\"} 1"));
}

/// A URL nothing listens on once the probe listener is dropped.
fn dead_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/hook", listener.local_addr().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_url_has_its_own_cursor_and_a_dead_one_holds_only_its_own() {
    let ts = fleet_with_one_alerting_worker().await;
    let (good_url, good) = start_receiver(0, StatusCode::OK).await;
    let webhooks = sink(vec![dead_url(), good_url.clone()], 2);
    let kv: Arc<dyn KeyValueStore> = Arc::new(MemoryKeyValueStore::new());
    let elector = Arc::new(LeaderElector::new(
        ts.store.clone(),
        Arc::new(ts.clock.clone()),
        "relay-test",
        LeaseSettings::default(),
    ));
    elector.step().await;
    let now = ts.clock.now();
    let mut relays: Vec<LeaderRelay> = Vec::new();
    for receiver in webhooks.receivers() {
        // From the start of the log (the alert happened before the relay's first start).
        kv.put(
            RELAY_NAMESPACE,
            receiver.cursor_key(),
            r#"{"sequence": 0, "updated_at": "2026-01-01T00:00:00Z"}"#,
            Expect::Absent,
            None,
            now,
        )
        .await
        .unwrap();
        relays.push(
            LeaderRelay::new(
                ts.store.clone(),
                kv.clone(),
                elector.clone(),
                Arc::new(ts.clock.clone()),
                receiver.cursor_key().to_owned(),
                Arc::new(receiver),
            )
            .only(is_alert),
        );
    }
    let keys: Vec<String> = relays.iter().map(|r| r.name().to_owned()).collect();
    assert_ne!(keys[0], keys[1]);
    assert!(keys.iter().all(|k| k.starts_with("webhook-")), "{keys:?}");
    assert_eq!(keys[1], ccm_http::webhook::cursor_key(&good_url));

    assert!(relays[0].pump().await.is_err(), "the dead receiver fails");
    assert_eq!(relays[1].pump().await.unwrap(), 1);
    let bodies = good.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let alert_sequence = bodies[0].1["sequence"].as_u64().unwrap();
    let cursor = |key: String| {
        let kv = kv.clone();
        async move {
            stored_cursor(kv.as_ref(), &key, now)
                .await
                .unwrap()
                .unwrap()
                .0
                .sequence
        }
    };
    assert_eq!(cursor(keys[0].clone()).await, 0, "held before the alert");
    assert_eq!(
        cursor(keys[1].clone()).await,
        ts.store.last_sequence().await.unwrap(),
        "past the alert ({alert_sequence}) and the rest of the log"
    );
}

#[test]
fn the_debug_form_hides_the_urls() {
    let webhooks = sink(vec!["https://hooks.example/T0/secret-token".into()], 1);
    let debug = format!("{webhooks:?}");
    assert!(!debug.contains("secret-token"), "{debug}");
}
