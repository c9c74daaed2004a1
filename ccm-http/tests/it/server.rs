//! The running server: the engine driver acts on API requests and on due time
//! (virtual clock), only one of two servers on one store leads, and a stop ends
//! SSE streams with a `shutdown` event, finishes, and resigns the lease.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use ccm_core::ports::Store;
use ccm_core::store::MemoryStore;
use ccm_core::time::epoch;
use ccm_http::auth::Role;
use serde_json::{json, Value};

async fn start(
    ts: &common::TestServer,
) -> (String, tokio::task::JoinHandle<Result<(), ccm_http::Error>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = ts.server.clone();
    let task = tokio::spawn(server.run(listener));
    (url, task)
}

/// Polls `check` until it returns a value, advancing virtual time by `step`
/// seconds between looks; fails after `looks` looks.
async fn eventually<T, F, Fut>(ts: &common::TestServer, step: i64, looks: usize, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    for _ in 0..looks {
        if let Some(value) = check().await {
            return value;
        }
        ts.clock.advance_seconds(step);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("condition not reached after {looks} looks");
}

async fn get(http: &reqwest::Client, url: &str, key: &str) -> Value {
    http.get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_driver_runs_the_engine_and_a_stop_is_graceful() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::Admin).await;
    let (url, task) = start(&ts).await;
    let http = reqwest::Client::new();

    let ready = get(&http, &format!("{url}/readyz"), &key).await;
    assert_eq!(ready["status"], "ready");
    let leading = eventually(&ts, 1, 200, || async {
        let r = get(&http, &format!("{url}/api/v1/system/leadership"), &key).await;
        (r["leading"] == true).then_some(r)
    })
    .await;
    assert!(leading["fence_token"].as_u64().unwrap() >= 1);

    let created: Value = http
        .post(format!("{url}/api/v1/workers"))
        .bearer_auth(&key)
        .json(&json!({"name": "driven"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    // The nudge makes the controller launch without any time passing.
    let launched = eventually(&ts, 0, 200, || async {
        let w = get(&http, &format!("{url}/api/v1/workers/{id}"), &key).await;
        w["instance_id"].is_string().then_some(w)
    })
    .await;
    assert!(launched["instance_id"].as_str().unwrap().starts_with("i-"));
    // Due time moves it on: the instance boots and CML comes up.
    eventually(&ts, 30, 400, || async {
        let w = get(&http, &format!("{url}/api/v1/workers/{id}"), &key).await;
        (w["status"]["lifecycle"] == "running" && w["status"]["cml"]["state"] == "available")
            .then_some(())
    })
    .await;

    // An open stream gets the shutdown event; the server stops and resigns.
    let mut stream = http
        .get(format!("{url}/api/v1/events/stream"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let first = stream.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: snapshot"));
    ts.server.shutdown_handle().send(true).unwrap();
    let mut rest = String::new();
    while let Ok(Some(chunk)) = tokio::time::timeout(Duration::from_secs(10), stream.chunk())
        .await
        .unwrap()
    {
        rest.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(rest.contains("event: shutdown"), "{rest}");
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let lease = ts
        .store
        .get_lease("ccm-controllers")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.expires_at, epoch(), "the lease was released");
    assert!(
        http.get(format!("{url}/healthz")).send().await.is_err(),
        "no longer listening"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_store_have_one_leader() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let a = common::server(common::Options {
        store: Some(store.clone()),
        holder: "a".into(),
        ..common::Options::default()
    })
    .await;
    let b = common::server(common::Options {
        store: Some(store.clone()),
        holder: "b".into(),
        ..common::Options::default()
    })
    .await;
    let key = a.key(Role::Admin).await;
    let (url_a, task_a) = start(&a).await;
    let (url_b, task_b) = start(&b).await;
    let http = reqwest::Client::new();
    let (ra, rb) = eventually(&a, 0, 200, || async {
        let ra = get(&http, &format!("{url_a}/api/v1/system/leadership"), &key).await;
        let rb = get(&http, &format!("{url_b}/api/v1/system/leadership"), &key).await;
        let leaders = [&ra, &rb].iter().filter(|r| r["leading"] == true).count();
        (leaders == 1).then_some((ra, rb))
    })
    .await;
    assert_ne!(ra["leading"], rb["leading"]);
    // Both read the same lease record: the leader's.
    let leader = if ra["leading"] == true { &ra } else { &rb };
    assert_eq!(ra["lease"]["holder"], leader["holder"]);
    assert_eq!(rb["lease"]["holder"], leader["holder"]);
    for ts in [&a, &b] {
        ts.server.shutdown_handle().send(true).unwrap();
    }
    task_a.await.unwrap().unwrap();
    task_b.await.unwrap().unwrap();
}
