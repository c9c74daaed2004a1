//! `ccm serve` with `cloud = aws` against moto (EC2 + CloudWatch), whose instances
//! carry `ccm:cml-endpoint` tags pointing at CML simulators over HTTP: create,
//! import, start, stop and labs, all through the REST API of a listening server
//! with its engine driver on the real clock.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ccm_assembly::config::{CloudKind, CmlTls, Config};
use ccm_aws::testing::MotoServer;
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::cloud::{ImageSelector, LaunchRequest, CML_ENDPOINT_TAG};
use ccm_core::ports::CloudProvider;
use ccm_core::secret::Secret;
use ccm_http::auth::{api_keys, Role};
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};
use serde_json::{json, Value};

const TOPOLOGY: &str = "lab:\n  title: e2e\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
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

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Polls the worker (asking for a refresh each time) until `done` holds.
    async fn wait_for(&self, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let worker = self.get(&format!("/api/v1/workers/{id}")).await;
            if done(&worker) {
                return worker;
            }
            assert!(
                Instant::now() < deadline,
                "worker {id} never became {what}: {worker:#}"
            );
            let _ = self
                .post(&format!("/api/v1/workers/{id}/refresh"), json!({}))
                .await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

fn lifecycle(worker: &Value) -> &str {
    worker["status"]["lifecycle"].as_str().unwrap_or("")
}

fn running_with_cml(worker: &Value) -> bool {
    lifecycle(worker) == "running" && worker["status"]["cml"]["state"] == "available"
}

fn config(moto: &MotoServer) -> Config {
    let mut config = Config::default();
    config.database.url = Secret::new("memory");
    config.cloud.provider = CloudKind::Aws;
    config.cloud.regions = vec!["us-east-1".into()];
    config.cloud.aws.endpoint_url = Some(moto.endpoint());
    config.cloud.aws.access_key_id = Some("testing".into());
    config.cloud.aws.secret_access_key = Some(Secret::new("testing"));
    config.cloud.launch.image_name_pattern = "cml-2.9*".into();
    config.cml.username = "admin".into();
    config.cml.password = Some(Secret::new("admin"));
    config.cml.tls = CmlTls::Insecure;
    // The CML simulators listen on loopback, which is no instance's address.
    config.cml.endpoint_allow = vec!["127.0.0.1/32".into()];
    config.engine.monitoring_interval_seconds = Some(2);
    config.engine.labs_sync_interval_seconds = Some(5);
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_import_start_stop_and_labs_through_the_api_on_moto_and_cml_over_http() {
    let moto = MotoServer::start()
        .await
        .expect("moto (run scripts/setup-python)");
    let cml_a = CmlHttpServer::start(CmlHttpOptions {
        licensed: true,
        ..CmlHttpOptions::default()
    })
    .await
    .unwrap();
    let cml_b = CmlHttpServer::start(CmlHttpOptions::default())
        .await
        .unwrap();

    let config = config(&moto);
    assert!(ccm_assembly::config::check(&config).is_empty());
    let (server, about) = ccm_http::server::build(&config).await.unwrap();
    assert!(about.contains("AWS EC2"), "{about}");
    let (_, key) = api_keys::create_key(
        server.state().store.as_ref(),
        "e2e",
        Role::Admin,
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = server.shutdown_handle();
    let running = tokio::spawn(server.clone().run(listener));
    let api = Api {
        client: reqwest::Client::new(),
        base,
        key,
    };

    // Create: ccm launches the instance in moto; an admin points it at
    // simulator A (`ccm:` tags are reserved, the endpoint is its own field).
    let (status, created) = api
        .post("/api/v1/workers", json!({"name": "e2e-created"}))
        .await;
    assert_eq!(status, 201, "{created}");
    let created_id = created["id"].as_str().unwrap().to_owned();
    let (status, pointed) = api
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/workers/{created_id}/cml-endpoint"),
            Some(json!({"url": cml_a.base_url()})),
        )
        .await;
    assert_eq!(status, 200, "{pointed}");
    let worker = api
        .wait_for(&created_id, "running with CML available", running_with_cml)
        .await;
    assert!(worker["instance_id"].as_str().unwrap().starts_with("i-"));

    // Import: an instance someone else launched; its CML is simulator B.
    let outside = moto
        .cloud()
        .unwrap()
        .launch(&LaunchRequest {
            worker_id: WorkerId::new(),
            region: Region::new("us-east-1"),
            name: "launched-by-hand".into(),
            image: ImageSelector::NamePattern("cml-2.9*".into()),
            instance_type: "m5zn.metal".into(),
            subnet_id: None,
            security_group_ids: Vec::new(),
            key_name: None,
            iam_instance_profile: None,
            tags: BTreeMap::from([(CML_ENDPOINT_TAG.to_owned(), cml_b.base_url().to_owned())]),
            detailed_monitoring: false,
        })
        .await
        .unwrap();
    let (status, imported) = api
        .post(
            "/api/v1/workers/import",
            json!({"instance_id": outside.instance_id.to_string(), "region": "us-east-1"}),
        )
        .await;
    assert_eq!(status, 201, "{imported}");
    let imported_id = imported["id"].as_str().unwrap().to_owned();
    assert_eq!(imported["meta"]["name"], "launched-by-hand");
    api.wait_for(&imported_id, "running with CML available", running_with_cml)
        .await;
    let (status, again) = api
        .post(
            "/api/v1/workers/import",
            json!({"instance_id": outside.instance_id.to_string(), "region": "us-east-1"}),
        )
        .await;
    assert_eq!(status, 409, "importing twice is refused: {again}");
    assert!(again["error"]["message"]
        .as_str()
        .unwrap()
        .contains(&imported_id));

    let listed = api.get("/api/v1/workers").await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w["meta"]["name"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{listed:#}");

    // Labs on the created worker, over CML's HTTP API.
    let response = api
        .client
        .post(format!(
            "{}/api/v1/workers/{created_id}/labs?title=e2e",
            api.base
        ))
        .bearer_auth(&api.key)
        .header("content-type", "application/yaml")
        .body(TOPOLOGY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let lab: Value = response.json().await.unwrap();
    let lab_id = lab["cml_lab_id"].as_str().unwrap().to_owned();
    assert_eq!(lab["node_count"], 2);
    let (status, labs) = api
        .post(
            &format!("/api/v1/workers/{created_id}/labs/{lab_id}/start"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{labs}");
    let labs = api.get(&format!("/api/v1/workers/{created_id}/labs")).await;
    let started = labs
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["cml_lab_id"] == lab_id.as_str())
        .unwrap();
    assert_eq!(started["state"], "STARTED", "{labs:#}");
    let yaml = api
        .client
        .get(format!(
            "{}/api/v1/workers/{created_id}/labs/{lab_id}/topology",
            api.base
        ))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("nodes"), "{yaml}");
    let (status, _) = api
        .call(
            reqwest::Method::DELETE,
            &format!("/api/v1/workers/{created_id}/labs/{lab_id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);

    // Stop, then start again, through the controller against moto.
    let (status, body) = api
        .post(&format!("/api/v1/workers/{imported_id}/stop"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    api.wait_for(&imported_id, "stopped", |w| lifecycle(w) == "stopped")
        .await;
    let (status, body) = api
        .post(&format!("/api/v1/workers/{imported_id}/start"), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    api.wait_for(&imported_id, "running again", running_with_cml)
        .await;

    // AWS calls by operation are on /metrics.
    let metrics = api
        .client
        .get(format!("{}/metrics", api.base))
        .bearer_auth(&api.key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("RunInstances"), "{metrics}");

    stop.send(true).unwrap();
    running.await.unwrap().unwrap();
    cml_a.shutdown().await.unwrap();
    cml_b.shutdown().await.unwrap();
}
