//! The probes and the admins' leadership view: `/livez`, `/healthz` and `/readyz`
//! answer without credentials and say nothing but a status; `/readyz` is 503
//! while the store is blocked or gone (a real `ccm serve` on PostgreSQL, asked
//! over HTTP and through `ccm probe`); `/api/v1/system/leadership` is for admins
//! and shows the lease and each relay's lag.

use crate::common;
use crate::processes::{within, CcmProcess, Database};

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, Request};
use ccm_core::ports::kv::Expect;
use ccm_core::ports::Clock;
use ccm_http::api::system::{READY_WITHIN, RELAY_CURSOR_NAMESPACE};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use sqlx::Connection;

const HOLDER: &str = "probe-holder-7f3a";

/// Status, `cache-control` and body text of an anonymous `GET path`.
async fn anonymous(ts: &common::TestServer, path: &str) -> (u16, String, String) {
    let response = ts
        .send(Request::get(path).body(Body::empty()).unwrap())
        .await;
    let status = response.status().as_u16();
    let cache = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, cache, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn probes_answer_without_credentials_with_a_status_only() {
    let ts = common::server(common::Options {
        holder: HOLDER.into(),
        ..common::Options::default()
    })
    .await;
    for (path, expected) in [
        ("/livez", json!({"status": "ok"})),
        ("/healthz", json!({"status": "ok"})),
        ("/readyz", json!({"status": "ready"})),
    ] {
        let (status, cache, text) = anonymous(&ts, path).await;
        assert_eq!(status, 200, "{path}: {text}");
        assert_eq!(cache, "no-store", "{path}");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body, expected, "{path} says nothing but its status");
        for secret in [HOLDER, env!("CARGO_PKG_VERSION"), "127.0.0.1", "lease"] {
            assert!(!text.contains(secret), "{path} reveals `{secret}`: {text}");
        }
    }
}

#[tokio::test]
async fn leadership_is_for_admins_and_shows_the_lease_and_each_relay_s_lag() {
    let ts = common::server(common::Options {
        holder: HOLDER.into(),
        ..common::Options::default()
    })
    .await;
    let path = "/api/v1/system/leadership";
    let admin = ts.admin_only(path).await;

    // Before any election: not leading, no lease stored, no cursor.
    let (status, before) = ts.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(status, 200, "{before}");
    assert_eq!(before["holder"], HOLDER);
    assert_eq!(before["leading"], false);
    assert_eq!(before["fence_token"], Value::Null);
    assert_eq!(before["lease"], Value::Null);
    assert_eq!(before["relays"], json!([]));

    // This process takes the lease; the log gets an event; two relays record
    // cursors, one of them unreadable.
    let state = ts.server.state();
    state.elector.step().await;
    let (status, created) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(&admin),
            Some(json!({"name": "probed"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let last = state.store.last_sequence().await.unwrap();
    assert!(last >= 1, "the creation is in the log");
    let now = ts.clock.now();
    let cursor = json!({"sequence": 0, "updated_at": "2026-01-02T03:04:05Z"}).to_string();
    for (sink, value) in [("webhooks", cursor.as_str()), ("broken", "sk_not_json")] {
        state
            .kv
            .put(RELAY_CURSOR_NAMESPACE, sink, value, Expect::Any, None, now)
            .await
            .unwrap();
    }

    let (status, view) = ts.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["holder"], HOLDER);
    assert_eq!(view["leading"], true);
    let lease = &view["lease"];
    assert_eq!(lease["holder"], HOLDER, "{view}");
    assert_eq!(lease["name"], state.elector.settings().name);
    assert!(lease["token"].as_u64().unwrap() >= 1);
    assert_eq!(view["fence_token"], lease["token"]);
    assert_eq!(lease["live"], true);
    assert!(lease["expires_at"].is_string());
    assert_eq!(view["log"]["last_sequence"], last);
    assert_eq!(
        view["relays"],
        json!([
            {"sink": "broken", "sequence": null, "updated_at": null, "lag": null,
             "error": "unreadable cursor"},
            {"sink": "webhooks", "sequence": 0, "updated_at": "2026-01-02T03:04:05Z",
             "lag": last},
        ])
    );
    assert!(
        !view.to_string().contains("sk_not_json"),
        "an unreadable cursor's value is not shown"
    );
}

/// Runs `ccm probe --url base probe`: exit code and standard error.
async fn ccm_probe(base: &str, probe: &str) -> (Option<i32>, String) {
    let output = tokio::process::Command::from(common::ccm_binary())
        .args(["probe", "--url", base, "--timeout", "10", probe])
        .output()
        .await
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn status_of(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_the_store_is_blocked_or_gone_and_livez_stays_up() {
    let db = Database::fresh().await;
    let mut ccm = CcmProcess::start(&[("CCM_DATABASE_URL", db.url.clone())], &[]).await;
    let base = ccm.base();
    let http = reqwest::Client::new();
    let not_ready = json!({"status": "not_ready", "reason": "store"});

    assert_eq!(
        status_of(&http, &format!("{base}/readyz")).await,
        (200, json!({"status": "ready"}))
    );
    assert_eq!(ccm_probe(&base, "readyz").await.0, Some(0));
    assert_eq!(ccm_probe(&base, "livez").await.0, Some(0));

    // A transaction holding the log's counter makes the store hang: /readyz gives
    // up after its bound instead of hanging with it.
    let mut blocker = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let mut blocking = blocker.begin().await.unwrap();
    sqlx::query("LOCK TABLE event_counter IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocking)
        .await
        .unwrap();
    let asked = Instant::now();
    let (status, body) = status_of(&http, &format!("{base}/readyz")).await;
    let took = asked.elapsed();
    assert_eq!((status, &body), (503, &not_ready));
    assert!(
        took >= READY_WITHIN && took < READY_WITHIN + Duration::from_secs(8),
        "answered after {took:?}"
    );
    assert_eq!(
        status_of(&http, &format!("{base}/livez")).await,
        (200, json!({"status": "ok"})),
        "liveness does not wait on the store"
    );
    let (code, stderr) = ccm_probe(&base, "readyz").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
    assert_eq!(ccm_probe(&base, "livez").await.0, Some(0));

    blocking.rollback().await.unwrap();
    blocker.close().await.unwrap();
    within(Duration::from_secs(20), "ready again", || async {
        (status_of(&http, &format!("{base}/readyz")).await.0 == 200).then_some(())
    })
    .await;

    // The database disappears: not ready, still alive.
    db.drop().await;
    within(
        Duration::from_secs(20),
        "not ready without a database",
        || async {
            (status_of(&http, &format!("{base}/readyz")).await == (503, not_ready.clone()))
                .then_some(())
        },
    )
    .await;
    assert_eq!(status_of(&http, &format!("{base}/livez")).await.0, 200);
    assert_eq!(ccm_probe(&base, "readyz").await.0, Some(1));
    ccm.kill().await;

    // Nothing listening: a failure, not a usage error.
    let (code, stderr) = ccm_probe(&base, "livez").await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.starts_with("ccm probe: "), "{stderr}");
}
