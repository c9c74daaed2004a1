//! The `embed_server` example's host application, started as the example starts
//! it and called over HTTP: the host's own routes, its token layer in front of
//! ccm's router under `/ccm`, and ccm's own authorisation behind that.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ccm_core::secret::Secret;
use ccm_examples::embed::{self, HostSettings, RunningHost, SERVICE_REFUSAL, SERVICE_TOKEN_HEADER};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::TcpListener;

const TOKEN: &str = "host-service-token-for-tests";

async fn host(admin_key: Option<&str>) -> RunningHost {
    let mut settings = HostSettings::in_memory(Secret::new(TOKEN));
    // An empty fleet, so the listing shows exactly what the test created.
    settings.ccm.cloud.sim.seed_demo = false;
    settings.admin_key = admin_key.map(Secret::new);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    embed::start(listener, settings).await.unwrap()
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn new(host: &RunningHost) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("http://{}", host.addr()),
        }
    }

    /// `GET path` with the service token and ccm key when given: status and body.
    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
        key: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header(SERVICE_TOKEN_HEADER, token);
        }
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap())
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccm_is_served_under_the_host_behind_both_doors() {
    let host = host(None).await;
    let key = host.admin_key().expose().to_owned();
    let client = Client::new(&host);

    // The host's own routes, outside its token layer.
    let (status, body) = client.get("/healthz", None, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok"));
    let (status, body) = client.get("/hello", None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(json(&body)["ccm_workers"], 0, "{body}");

    // The host's door: no token, or a wrong one, is its own 401 and ccm is
    // never asked — even with a valid ccm key, and for paths ccm does not have.
    for (token, path) in [
        (None, "/ccm/api/v1/workers"),
        (Some("wrong"), "/ccm/api/v1/workers"),
        (Some(""), "/ccm/api/v1/workers"),
        (None, "/ccm/healthz"),
        (None, "/ccm/no/such/route"),
    ] {
        let (status, body) = client.get(path, token, Some(&key)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?} {path}: {body}");
        assert_eq!(body, SERVICE_REFUSAL, "{token:?} {path}");
    }

    // ccm's door, behind the host's: the token alone is not enough.
    let (status, body) = client.get("/ccm/api/v1/workers", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(json(&body)["error"]["code"], "unauthenticated", "{body}");
    let (status, body) = client
        .get("/ccm/api/v1/workers", Some(TOKEN), Some("ccm_not-a-key"))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Both: ccm's API and its probes answer under the mount.
    let (status, body) = client
        .get("/ccm/api/v1/workers", Some(TOKEN), Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = json(&body);
    assert_eq!(page["total"], 0, "{body}");
    assert!(page["items"].as_array().unwrap().is_empty(), "{body}");
    for probe in ["/ccm/healthz", "/ccm/livez", "/ccm/readyz"] {
        let (status, body) = client.get(probe, Some(TOKEN), None).await;
        assert_eq!(status, StatusCode::OK, "{probe}: {body}");
    }
    let (status, body) = client
        .get("/ccm/no/such/route", Some(TOKEN), Some(&key))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(json(&body)["error"]["code"], "not_found", "{body}");

    // A state-changing call through both doors reaches the engine; the listing
    // and the host's own route (which reads ccm in process) see the worker.
    let created = client
        .http
        .post(format!("{}/ccm/api/v1/workers", client.base))
        .header(SERVICE_TOKEN_HEADER, TOKEN)
        .bearer_auth(&key)
        .json(&serde_json::json!({ "name": "embedded-1" }))
        .send()
        .await
        .unwrap();
    let status = created.status();
    let body = created.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(
        json(&body)["audit"]["created_by"],
        "key:embedding-service",
        "{body}"
    );
    let (status, body) = client
        .get("/ccm/api/v1/workers", Some(TOKEN), Some(&key))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let page = json(&body);
    assert_eq!(page["total"], 1, "{body}");
    assert_eq!(page["items"][0]["meta"]["name"], "embedded-1", "{body}");
    let (_, body) = client.get("/hello", None, None).await;
    assert_eq!(json(&body)["ccm_workers"], 1, "{body}");

    // ccm's request metrics know the routes by ccm's own paths, not the mount's.
    let (status, metrics) = client.get("/ccm/metrics", Some(TOKEN), Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{metrics}");
    assert!(
        metrics.contains("route=\"/api/v1/workers\""),
        "no route label for the workers list in:\n{metrics}"
    );

    host.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_given_admin_key_is_stored_once_and_a_weak_one_refused() {
    let given = format!("ccm_{}", "7".repeat(64));
    let host = host(Some(&given)).await;
    let client = Client::new(&host);
    let (status, body) = client
        .get("/ccm/api/v1/workers", Some(TOKEN), Some(&given))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The same key again is found, not stored a second time.
    let server = ccm_http::server::build(&HostSettings::in_memory(Secret::new(TOKEN)).ccm)
        .await
        .unwrap()
        .0;
    let key = Secret::new(given.clone());
    embed::ensure_admin_key(&server, Some(&key)).await.unwrap();
    embed::ensure_admin_key(&server, Some(&key)).await.unwrap();
    assert_eq!(server.state().store.list_api_keys().await.unwrap().len(), 1);
    host.stop().await.unwrap();

    for weak in [
        "ccm_short",
        "not-a-ccm-key-but-long-enough-to-pass-a-length-check",
    ] {
        let refused = embed::ensure_admin_key(&server, Some(&Secret::new(weak))).await;
        assert!(
            matches!(refused, Err(embed::EmbedError::Settings(_))),
            "{weak}: {refused:?}"
        );
    }
}
