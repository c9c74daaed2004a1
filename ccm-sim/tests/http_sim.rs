//! The HTTP face of the simulated CML: tokens, boot-time 502s, fault switches, lab
//! visibility, unknown routes, and the `cml-sim` binary.
#![cfg(feature = "http")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ccm_core::lab::LabState;
use ccm_core::ports::clock::VirtualClock;
use ccm_core::secret::Secret;
use ccm_core::testing::cml::topology_yaml;
use ccm_core::time::from_unix_seconds;
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};
use ccm_sim::InjectedLab;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const START: i64 = 1_740_787_200;

async fn server(change: impl FnOnce(&mut CmlHttpOptions)) -> (CmlHttpServer, VirtualClock) {
    let clock = VirtualClock::new(from_unix_seconds(START));
    let mut options = CmlHttpOptions {
        password: Secret::new("secret"),
        clock: Some(clock.clone()),
        ..CmlHttpOptions::default()
    };
    change(&mut options);
    (CmlHttpServer::start(options).await.unwrap(), clock)
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn new(server: &CmlHttpServer) -> Self {
        Self {
            http: reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .build()
                .unwrap(),
            base: format!("{}/api/v0", server.base_url()),
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, String) {
        let mut request = self.http.request(method, format!("{}/{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }

    async fn login(&self) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "authenticate",
                None,
                Some(json!({"username": "admin", "password": "secret"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn tokens_are_cml_jwts_that_expire_and_log_out() {
    let (server, clock) = server(|o| o.token_lifetime_seconds = 600).await;
    let api = Api::new(&server);
    let token = api.login().await;
    let c = claims(&token);
    assert_eq!(c["iss"], "com.cisco.virl");
    assert_eq!(c["iat"], START);
    assert_eq!(c["exp"], START + 600);
    let (_, extended) = api
        .call(
            Method::POST,
            "auth_extended",
            None,
            Some(json!({"username": "admin", "password": "secret"})),
        )
        .await;
    let extended: Value = serde_json::from_str(&extended).unwrap();
    assert_eq!(c["sub"], extended["id"]);
    assert_eq!(extended["admin"], true);

    let (status, body) = api.call(Method::GET, "authok", Some(&token), None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "\"OK\""));
    for bad in [None, Some("garbage"), Some("a.b.c")] {
        let (status, body) = api.call(Method::GET, "labs", bad, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], 401);
    }
    clock.advance_seconds(600);
    let (status, body) = api.call(Method::GET, "labs", Some(&token), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("expired"), "{body}");

    // Logout ends one session; clear_all_sessions ends them all.
    let (a, b, c) = (api.login().await, api.login().await, api.login().await);
    let (status, body) = api.call(Method::DELETE, "logout", Some(&a), None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "true"));
    assert_eq!(api.call(Method::GET, "authok", Some(&a), None).await.0, 401);
    assert_eq!(api.call(Method::GET, "authok", Some(&b), None).await.0, 200);
    let (status, _) = api
        .call(
            Method::DELETE,
            "logout?clear_all_sessions=true",
            Some(&b),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(api.call(Method::GET, "authok", Some(&c), None).await.0, 401);

    // Lifetime switch: tokens issued from now on.
    server.set_token_lifetime(5);
    let short = api.login().await;
    assert_eq!(
        claims(&short)["exp"],
        claims(&short)["iat"].as_i64().unwrap() + 5
    );
}

#[tokio::test]
async fn every_path_answers_502_while_cml_boots() {
    let (server, clock) = server(|o| o.boot_seconds = 120).await;
    let api = Api::new(&server);
    for (method, path) in [
        (Method::GET, "system_information"),
        (Method::POST, "authenticate"),
        (Method::GET, "labs"),
        (Method::GET, "no/such/path"),
    ] {
        let (status, body) = api.call(method, path, None, None).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{path}");
        assert!(body.contains("502 Bad Gateway"), "{body}");
    }
    clock.advance_seconds(120);
    let (status, body) = api
        .call(Method::GET, "system_information", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn fault_switches() {
    let (slow, _) = server(|o| o.latency = Some(Duration::from_millis(200))).await;
    let api = Api::new(&slow);
    let started = Instant::now();
    api.call(Method::GET, "system_information", None, None)
        .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
    slow.set_latency(None);

    let (faulty, _) = server(|o| o.error_rate = 1.0).await;
    let api = Api::new(&faulty);
    let token = api.login().await;
    let (status, body) = api.call(Method::GET, "labs", Some(&token), None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["code"], 500);
}

#[tokio::test]
async fn the_http_face_serves_the_simulations_model() {
    let (server, _) = server(|_| {}).await;
    let api = Api::new(&server);
    let token = api.login().await;
    let sim = server.simulation();
    let instance = server.instance_id().clone();
    // Another user's lab, placed directly in the model.
    let theirs = sim
        .inject_lab(
            &instance,
            InjectedLab {
                title: "theirs".into(),
                owner: "bob".into(),
                topology: topology_yaml("b", 2),
                state: LabState::Started,
            },
        )
        .unwrap();
    let mine = api
        .http
        .post(format!("{}/import", api.base))
        .bearer_auth(&token)
        .body(topology_yaml("mine", 1))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let labs = |query: &'static str| {
        let api = &api;
        let token = token.clone();
        async move {
            let (_, body) = api.call(Method::GET, query, Some(&token), None).await;
            serde_json::from_str::<Vec<String>>(&body).unwrap()
        }
    };
    assert_eq!(labs("labs").await, vec![mine.clone()]);
    assert_eq!(
        labs("labs?show_all=true").await,
        vec![theirs.to_string(), mine.clone()]
    );
    let (_, users) = api.call(Method::GET, "users", Some(&token), None).await;
    let users: Value = serde_json::from_str(&users).unwrap();
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "bob"]);
    let (_, owner) = api
        .call(Method::GET, &format!("labs/{theirs}"), Some(&token), None)
        .await;
    let owner: Value = serde_json::from_str(&owner).unwrap();
    assert_eq!(owner["owner_username"], "bob");
    assert_eq!(owner["state"], "STARTED");

    // The model sees what HTTP did, and counts it like any CML call.
    assert_eq!(sim.labs(&instance).unwrap().len(), 2);
    assert_eq!(sim.cml_calls().unwrap().get("import_lab"), 1);
    assert_eq!(sim.cml_calls().unwrap().get("list_labs"), 2);

    // The topology names every element with CML's UUIDs and links resolve.
    let (_, topology) = api
        .call(
            Method::GET,
            &format!("labs/{theirs}/topology"),
            Some(&token),
            None,
        )
        .await;
    let topology: Value = serde_json::from_str(&topology).unwrap();
    let interfaces: Vec<&str> = topology["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|n| n["interfaces"].as_array().unwrap())
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    let link = &topology["links"][0];
    assert!(interfaces.contains(&link["interface_a"].as_str().unwrap()));
    assert!(interfaces.contains(&link["interface_b"].as_str().unwrap()));
    assert_eq!(topology["lab"]["title"], "theirs");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_like_cml() {
    let (server, _) = server(|_| {}).await;
    let api = Api::new(&server);
    let (status, body) = api.call(Method::GET, "no_such_thing", None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"code": 404, "description": "Not Found"})
    );
    let (status, body) = api
        .call(Method::PATCH, "system_information", None, None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body.contains("405"), "{body}");
    let (status, body) = api
        .call(
            Method::POST,
            "authenticate",
            None,
            Some(json!({"username": "admin"})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("password"), "{body}");

    // Shutting down closes the listener.
    drop(api);
    let url = format!("{}/api/v0/system_information", server.base_url());
    server.shutdown().await.unwrap();
    assert!(reqwest::get(url).await.is_err());
}

#[test]
fn the_binary_prints_its_url_and_serves_https() {
    let dir = std::env::temp_dir().join(format!("cml-sim-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cert = dir.join("cert.pem");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cml-sim"))
        .args([
            "--tls",
            "--listen",
            "127.0.0.1:0",
            "--password",
            "pw",
            "--cert-out",
        ])
        .arg(&cert)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut url = String::new();
    BufReader::new(stdout).read_line(&mut url).unwrap();
    let url = url.trim().to_owned();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        let pem = std::fs::read(&cert).unwrap();
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap();
        let info: Value = http
            .get(format!("{url}/api/v0/system_information"))
            .send()
            .await?
            .json()
            .await?;
        let token = http
            .post(format!("{url}/api/v0/authenticate"))
            .json(&json!({"username": "admin", "password": "pw"}))
            .send()
            .await?
            .status();
        Ok::<_, reqwest::Error>((info, token))
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let (info, login) = outcome.unwrap();
    assert_eq!(info["version"], "2.9.1+build.7");
    assert_eq!(login, StatusCode::OK);

    let help = Command::new(env!("CARGO_BIN_EXE_cml-sim"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--error-rate"));
    let bad = Command::new(env!("CARGO_BIN_EXE_cml-sim"))
        .args(["--error-rate", "2"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
