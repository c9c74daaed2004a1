//! Trust on first use for CML certificates through the API (the engine with the
//! real HTTPS client against an HTTPS CML simulator that restarts with a new
//! certificate on the same address), and what `ccm serve` prints at start: the
//! one-time admin login link only without OIDC or when asked, never in the log;
//! a warning for `cml.tls = "insecure"`.

use crate::api::advance;
use crate::common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use base64::Engine as _;
use ccm_cml::{CmlClientConfig, HttpCmlClient};
use ccm_core::fleet::FleetSettings;
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::cloud::{CloudProvider, ImageSelector, LaunchRequest, CML_ENDPOINT_TAG};
use ccm_core::secret::Secret;
use ccm_core::worker::EndpointAllowList;
use ccm_http::auth::Role;
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};
use serde_json::{json, Value};
use sha2::Digest as _;

/// An HTTPS CML simulator (its own fresh self-signed certificate) on `listen`.
async fn https_cml(listen: SocketAddr) -> CmlHttpServer {
    CmlHttpServer::start(CmlHttpOptions {
        listen,
        tls: true,
        licensed: true,
        record_exchanges: true,
        ..CmlHttpOptions::default()
    })
    .await
    .unwrap()
}

/// Hex SHA-256 of the DER in the server's PEM: what the worker presents.
fn fingerprint(server: &CmlHttpServer) -> String {
    let pem = server.certificate_pem().unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    hex::encode(sha2::Sha256::digest(der))
}

/// Advances the engine a minute at a time until `done` holds for the worker.
async fn until(
    ts: &common::TestServer,
    key: &str,
    id: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let mut last = Value::Null;
    for _ in 0..120 {
        let (status, worker) = ts
            .call(
                Method::GET,
                &format!("/api/v1/workers/{id}"),
                Some(key),
                None,
            )
            .await;
        assert_eq!(status, 200, "{worker}");
        if done(&worker) {
            return worker;
        }
        last = worker;
        advance(ts, 60).await;
    }
    panic!("the worker never reached the expected state: {last:#}");
}

async fn events_of(ts: &common::TestServer, key: &str, id: &str) -> Vec<Value> {
    let (status, page) = ts
        .call(
            Method::GET,
            &format!("/api/v1/events?worker={id}&limit=1000"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["events"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_cml_certificate_is_refused_alerted_and_accepted_by_an_admin_only() {
    let first = https_cml(SocketAddr::from(([127, 0, 0, 1], 0))).await;
    let address = first.local_addr();
    let fp_first = fingerprint(&first);
    // The default client configuration: trust on first use.
    let client = HttpCmlClient::new(CmlClientConfig::new("admin", Secret::new("admin"))).unwrap();
    let settings = FleetSettings {
        endpoint_allow: EndpointAllowList::parse(&["127.0.0.1"]).unwrap(),
        ..FleetSettings::default()
    };
    let ts = common::server(common::Options {
        cml: Some(Arc::new(client)),
        settings,
        ..common::Options::default()
    })
    .await;
    let admin = ts.key(Role::Admin).await;
    let manager = ts.key(Role::Manager).await;

    // An instance whose `ccm:cml-endpoint` tag names the HTTPS simulator, imported.
    let instance = ts
        .sim
        .cloud()
        .launch(&LaunchRequest {
            worker_id: WorkerId::new(),
            region: Region::new("us-east-1"),
            name: "pinned".into(),
            image: ImageSelector::NamePattern("cml-2.9*".into()),
            instance_type: "m5zn.metal".into(),
            subnet_id: None,
            security_group_ids: vec![],
            key_name: None,
            iam_instance_profile: None,
            tags: BTreeMap::from([(CML_ENDPOINT_TAG.to_owned(), first.base_url().to_owned())]),
            detailed_monitoring: false,
        })
        .await
        .unwrap();
    let (status, created) = ts
        .call(
            Method::POST,
            "/api/v1/workers/import",
            Some(&admin),
            Some(json!({"region": "us-east-1", "instance_id": instance.instance_id.to_string(), "name": "pinned"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Nobody works on it: keep the idle pause from stopping it mid-test.
    let (status, body) = ts
        .call(
            Method::PUT,
            &format!("/api/v1/workers/{id}/idle-detection"),
            Some(&admin),
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // First contact: the certificate is pinned on the worker record.
    let worker = until(&ts, &admin, &id, |w| {
        w["status"]["cml"]["state"] == "available"
    })
    .await;
    assert_eq!(
        worker["status"]["cml"]["certificate"]["pinned_sha256"],
        fp_first.as_str(),
        "{worker:#}"
    );
    assert!(worker["status"]["cml"]["certificate"]["pending_sha256"].is_null());

    // CML comes back on the same address with another certificate.
    first.shutdown().await.unwrap();
    let second = https_cml(address).await;
    let fp_second = fingerprint(&second);
    assert_ne!(fp_first, fp_second);
    let worker = until(&ts, &admin, &id, |w| {
        !w["status"]["cml"]["certificate"]["pending_sha256"].is_null()
    })
    .await;
    let certificate = &worker["status"]["cml"]["certificate"];
    assert_eq!(certificate["pending_sha256"], fp_second.as_str());
    assert_eq!(certificate["pinned_sha256"], fp_first.as_str());
    assert_eq!(worker["status"]["cml"]["state"], "error");
    assert!(
        worker["status"]["alerts"]
            .as_array()
            .unwrap()
            .contains(&json!("cml_certificate")),
        "{worker:#}"
    );
    // More sweeps: still refused, and not one request reached the new server.
    advance(&ts, 10 * 60).await;
    assert!(second.exchanges().is_empty(), "{:?}", second.exchanges());

    let events = events_of(&ts, &admin, &id).await;
    let changed: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "worker.cml.certificate_changed.v1")
        .collect();
    assert_eq!(changed.len(), 1, "one event per change: {events:#?}");
    assert_eq!(changed[0]["data"]["expected"], fp_first.as_str());
    assert_eq!(changed[0]["data"]["presented"], fp_second.as_str());
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "worker.alert.raised.v1"
                && e["data"]["metric"] == "cml_certificate")
    );

    // Only an admin accepts, and only the presented fingerprint.
    let accept = format!("/api/v1/workers/{id}/cml-certificate/accept");
    let (status, body) = ts
        .call(
            Method::POST,
            &accept,
            Some(&manager),
            Some(json!({"sha256": fp_second})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = ts
        .call(
            Method::POST,
            &accept,
            Some(&admin),
            Some(json!({"sha256": fp_first})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed");
    let (status, body) = ts
        .call(
            Method::POST,
            &accept,
            Some(&admin),
            Some(json!({"sha256": "not-hex"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(second.exchanges().is_empty());

    let (status, accepted) = ts
        .call(
            Method::POST,
            &accept,
            Some(&admin),
            Some(json!({"sha256": fp_second.to_uppercase()})),
        )
        .await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        accepted["status"]["cml"]["certificate"]["pinned_sha256"],
        fp_second.as_str()
    );
    assert!(accepted["status"]["cml"]["certificate"]["pending_sha256"].is_null());
    assert!(!accepted["status"]["alerts"]
        .as_array()
        .unwrap()
        .contains(&json!("cml_certificate")));
    let events = events_of(&ts, &admin, &id).await;
    let acceptance = events
        .iter()
        .find(|e| e["type"] == "worker.cml.certificate_accepted.v1")
        .expect("an acceptance event");
    assert_eq!(acceptance["data"]["sha256"], fp_second.as_str());
    assert_eq!(acceptance["data"]["by"], "key:test-admin");
    assert!(events.iter().any(
        |e| e["type"] == "worker.alert.cleared.v1" && e["data"]["metric"] == "cml_certificate"
    ));

    // Trusted again: the engine talks to the new server.
    until(&ts, &admin, &id, |w| {
        w["status"]["cml"]["state"] == "available"
    })
    .await;
    assert!(!second.exchanges().is_empty());
}

/// Starts `ccm serve` on the simulator with `env` and `args`, waits for it to
/// answer, stops it with SIGTERM and returns (stdout, stderr).
async fn serve_output(env: &[(&str, &str)], args: &[&str]) -> (String, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = tokio::process::Command::from(common::ccm_binary());
    command
        .arg("serve")
        .args(args)
        .env("CCM_DATABASE_URL", "memory")
        .env("CCM_LISTEN", format!("127.0.0.1:{port}"))
        .env("CCM_SIM_SEED_DEMO", "false")
        .env("CCM_LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let mut up = false;
    for _ in 0..400 {
        if client.get(&url).send().await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(up, "ccm serve never answered:\n{stdout}\n{stderr}");
    (stdout, stderr)
}

const OIDC: &[(&str, &str)] = &[
    ("CCM_OIDC_ISSUER", "http://127.0.0.1:9/realms/labs"),
    ("CCM_OIDC_AUDIENCE", "ccm"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_no_login_link_when_oidc_is_configured() {
    let (stdout, stderr) = serve_output(OIDC, &[]).await;
    assert!(stdout.contains("ccm is serving at"), "{stdout}");
    for text in [&stdout, &stderr] {
        assert!(!text.contains("/login/once"), "{text}");
        assert!(!text.contains("login link"), "{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_prints_the_login_link_on_stdout_only_when_asked_or_without_oidc() {
    let (stdout, stderr) = serve_output(OIDC, &["--admin-login-link"]).await;
    assert!(stdout.contains("/login/once?token="), "{stdout}");
    assert!(!stderr.contains("/login/once"), "{stderr}");

    // The README's first command: no OIDC, the link is printed (to stdout only).
    let (stdout, stderr) = serve_output(&[], &[]).await;
    assert!(stdout.contains("/login/once?token="), "{stdout}");
    assert!(!stderr.contains("/login/once"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_warns_about_insecure_cml_tls() {
    let (_, stderr) = serve_output(&[("CCM_CML_TLS", "insecure")], &[]).await;
    let warning = stderr
        .lines()
        .find(|l| l.contains("cml.tls") && l.contains("insecure"))
        .unwrap_or_else(|| panic!("no warning in the log:\n{stderr}"));
    assert!(warning.contains("\"WARN\""), "{warning}");
    let (_, stderr) = serve_output(&[], &[]).await;
    assert!(!stderr.contains("insecure"), "{stderr}");
}
