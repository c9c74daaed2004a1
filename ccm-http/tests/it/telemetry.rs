//! Trace ids and OTLP export: `ccm serve` with `CCM_OTLP_ENDPOINT` pointing at a
//! collector (a real HTTP server here) exports the request's span under the
//! caller's trace id, answers with that id in `x-trace-id`, and writes it in its
//! JSON log lines.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;

type Received = Arc<Mutex<Vec<Bytes>>>;

async fn collect(State(received): State<Received>, body: Bytes) -> StatusCode {
    received.lock().unwrap().push(body);
    StatusCode::OK
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_callers_trace_id_into_logs_and_the_otlp_export() {
    let received: Received = Arc::default();
    let collector = Router::new()
        .route("/v1/traces", post(collect))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, collector).await });

    let port = free_port();
    let child = tokio::process::Command::from(common::ccm_binary())
        .arg("serve")
        .env("CCM_DATABASE_URL", "memory")
        .env("CCM_LISTEN", format!("127.0.0.1:{port}"))
        .env("CCM_SIM_SEED_DEMO", "false")
        .env("CCM_ADMIN_LOGIN_LINK", "false")
        .env("CCM_LOG_FORMAT", "json")
        .env("CCM_OTLP_ENDPOINT", &collector_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut answered = None;
    for _ in 0..200 {
        match client
            .get(&url)
            .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
            .send()
            .await
        {
            Ok(response) => {
                answered = Some(response);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    let response = answered.expect("ccm serve answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-trace-id"], trace);

    // Without a caller's trace, each request gets its own id.
    let a = client.get(&url).send().await.unwrap();
    let b = client.get(&url).send().await.unwrap();
    assert_ne!(a.headers()["x-trace-id"], b.headers()["x-trace-id"]);

    let pid = child.id().unwrap().to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("ccm stops on SIGTERM")
        .unwrap();
    assert!(output.status.success(), "exit: {:?}", output.status);

    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(
        logs.lines()
            .any(|l| l.contains("\"request\"") && l.contains(&format!("\"trace_id\":\"{trace}\""))),
        "a JSON request line with the trace id:\n{logs}"
    );
    let exported = received.lock().unwrap().clone();
    let needle = hex_bytes(trace);
    assert!(
        exported
            .iter()
            .any(|body| body.windows(needle.len()).any(|w| w == needle.as_slice())),
        "the collector received the request's span ({} exports)",
        exported.len()
    );
}
