//! The `ccm` operator subcommands against a running server, with an API key.

use crate::common;

use std::process::Output;

use ccm_http::auth::Role;
use serde_json::Value;

async fn ccm(url: &str, key: &str, args: &[&str]) -> Output {
    let mut command = tokio::process::Command::from(common::ccm_binary());
    command
        .args(args)
        .env("CCM_SERVER", url)
        .env("CCM_API_KEY", key)
        .env_remove("CCM_CONFIG");
    command.output().await.unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "ccm failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_lablets_and_jobs_from_the_command_line() {
    let ts = common::server(common::Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let user = ts.key(Role::User).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(ts.server.clone().run(listener));

    let out = ccm(&url, &admin, &["workers", "list"]).await;
    assert_eq!(
        stdout(&out).trim(),
        "ID  NAME  REGION  STATUS  CML  INSTANCE  TYPE"
    );
    let (status, created) = ts
        .call(
            axum::http::Method::POST,
            "/api/v1/workers",
            Some(&admin),
            Some(serde_json::json!({"name": "cli-worker"})),
        )
        .await;
    assert_eq!(status, 201);
    let id = created["id"].as_str().unwrap();
    let text = stdout(&ccm(&url, &user, &["workers", "list"]).await);
    assert!(text.contains("cli-worker") && text.contains(id), "{text}");
    let json: Value = serde_json::from_str(&stdout(
        &ccm(&url, &user, &["workers", "list", "--json"]).await,
    ))
    .unwrap();
    assert_eq!(json["items"][0]["id"], id);
    let text = stdout(&ccm(&url, &user, &["workers", "show", id]).await);
    assert!(
        text.contains("cli-worker") && text.contains("desired"),
        "{text}"
    );

    // A user may not stop a worker: the server's message is shown, exit code 1.
    let refused = ccm(&url, &user, &["workers", "stop", id]).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("403 forbidden"));

    // A worker that holds a lablet is stopped only with --force.
    let worker_id: ccm_core::ids::WorkerId = id.parse().unwrap();
    let mut worker = ts.store.get_worker(worker_id).await.unwrap().unwrap();
    let lablet = ccm_core::ids::LabletId::new();
    let held = ccm_core::worker::Allocation {
        resources: ccm_core::resources::Resources::new(1, 1, 1),
        nodes: 0,
        ports: Vec::new(),
    };
    let events = worker
        .allocate(lablet, held, ccm_core::ports::Clock::now(&ts.clock))
        .unwrap();
    ts.store
        .commit(
            ccm_core::ports::store::ChangeSet::new()
                .put_worker(worker)
                .events(events),
        )
        .await
        .unwrap();
    let refused = ccm(&url, &admin, &["workers", "stop", id]).await;
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("409") && said.contains(&lablet.to_string()) && said.contains("force"),
        "{said}"
    );
    let text = stdout(
        &ccm(
            &url,
            &admin,
            &[
                "workers",
                "monitoring-interval",
                id,
                "--seconds",
                "120",
                "--json",
            ],
        )
        .await,
    );
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["spec"]["monitoring_interval_seconds"], 120);
    let refused = ccm(
        &url,
        &admin,
        &["workers", "monitoring-interval", id, "--seconds", "5"],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("422"));
    let text = stdout(
        &ccm(
            &url,
            &admin,
            &["workers", "monitoring-interval", id, "--default", "--json"],
        )
        .await,
    );
    let json: Value = serde_json::from_str(&text).unwrap();
    assert!(json["spec"]["monitoring_interval_seconds"].is_null());
    let text = stdout(&ccm(&url, &admin, &["workers", "stop", id, "--force", "--json"]).await);
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["spec"]["desired_status"], "stopped");

    let text = stdout(&ccm(&url, &user, &["jobs", "list"]).await);
    assert!(text.contains("metrics-sweep"), "{text}");
    let text = stdout(&ccm(&url, &admin, &["jobs", "pause", "labs-sync", "--json"]).await);
    assert!(text.contains("\"paused\": true"), "{text}");
    let text = stdout(&ccm(&url, &user, &["lablets", "list"]).await);
    assert!(text.starts_with("ID"), "{text}");
    let bad = ccm(&url, "ccm_wrong", &["lablets", "definitions"]).await;
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("401 unauthenticated"));

    ts.server.shutdown_handle().send(true).unwrap();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn api_keys_are_created_in_the_configured_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/ccm.db", dir.path().display());
    let output = tokio::process::Command::from(common::ccm_binary())
        .args(["api-key", "create", "--name", "ci", "--role", "manager"])
        .env("CCM_DATABASE_URL", &db)
        .env_remove("CCM_CONFIG")
        .output()
        .await
        .unwrap();
    let text = stdout(&output);
    let key = text
        .lines()
        .find_map(|l| l.strip_prefix("key: "))
        .unwrap()
        .trim()
        .to_owned();
    let store = ccm_store_sqlite::SqliteStore::open(&db).await.unwrap();
    let principal = ccm_http::auth::api_keys::authenticate(&store, &key, chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(principal.role, Role::Manager);
    assert_eq!(principal.subject, "key:ci");
    let bad = tokio::process::Command::from(common::ccm_binary())
        .args(["api-key", "create", "--name", "x", "--role", "root"])
        .env("CCM_DATABASE_URL", &db)
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not a role"));
}
