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

const TOPOLOGY: &str = "lab:\n  title: cli-lab\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

fn json_of(output: &Output) -> Value {
    let text = stdout(output);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// Exit code 1 and the server's error code on standard error.
fn refused(output: &Output, code: &str) {
    let said = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{said}");
    assert!(said.contains(code), "{said}");
}

/// Runs `ccm args` while virtual time passes (the server's driver acts on due
/// time), until it exits.
async fn ccm_while_time_passes(
    ts: &common::TestServer,
    url: &str,
    key: &str,
    args: &[&str],
) -> Output {
    let run = ccm(url, key, args);
    tokio::pin!(run);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        tokio::select! {
            output = &mut run => return output,
            () = tokio::time::sleep(std::time::Duration::from_millis(20)) => {
                assert!(tokio::time::Instant::now() < deadline, "ccm {args:?} did not end");
                ts.clock.advance_seconds(5);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_api_group_from_the_command_line() {
    let ts = common::server(common::Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(ts.server.clone().run(listener));
    let dir = tempfile::tempdir().unwrap();
    let topology = dir.path().join("lab.yaml");
    std::fs::write(&topology, TOPOLOGY).unwrap();
    let topology = topology.to_str().unwrap();
    let a = admin.as_str();

    // Definitions: from flags and from a JSON document.
    let d = json_of(
        &ccm(
            &url,
            a,
            &[
                "definitions",
                "create",
                "--name",
                "ccna",
                "--version",
                "1.0.0",
                "--topology",
                topology,
                "--cpu-millis",
                "4000",
                "--memory-mib",
                "8192",
                "--storage-gib",
                "20",
                "--ports",
                "2",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(d["meta"]["name"], "ccna", "{d}");
    assert_eq!(d["needs"]["nodes"], 2, "counted from the topology: {d}");
    let did = d["id"].as_str().unwrap().to_owned();
    let document = dir.path().join("definition.json");
    let body = serde_json::json!({
        "name": "ccna", "version": "1.1.0", "topology_yaml": TOPOLOGY,
        "needs": d["needs"], "licence_affinity": null, "min_cml_version": null,
        "max_duration_minutes": 120, "warm_pool_depth": 0,
    });
    std::fs::write(&document, body.to_string()).unwrap();
    let d2 = json_of(
        &ccm(
            &url,
            a,
            &[
                "definitions",
                "create",
                "--file",
                document.to_str().unwrap(),
                "--json",
            ],
        )
        .await,
    );
    let did2 = d2["id"].as_str().unwrap().to_owned();
    let off = json_of(&ccm(&url, a, &["definitions", "deactivate", &did2, "--json"]).await);
    assert_eq!(off["active"], false);
    let on = json_of(&ccm(&url, a, &["definitions", "activate", &did2, "--json"]).await);
    assert_eq!(on["active"], true);
    let text = stdout(&ccm(&url, a, &["definitions", "list"]).await);
    assert!(text.contains("1.0.0") && text.contains("1.1.0"), "{text}");
    let text = stdout(&ccm(&url, a, &["definitions", "show", &did]).await);
    assert!(text.contains("ccna") && text.contains("8192"), "{text}");
    refused(
        &ccm(
            &url,
            a,
            &[
                "definitions",
                "show",
                "00000000-0000-0000-0000-000000000000",
            ],
        )
        .await,
        "404 not_found",
    );

    // A worker created and waited for until it runs.
    let w = json_of(
        &ccm_while_time_passes(
            &ts,
            &url,
            a,
            &[
                "workers",
                "create",
                "--name",
                "cli-host",
                "--no-idle-detection",
                "--label",
                "room=lab1",
                "--wait",
                "--timeout",
                "150",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(w["status"]["lifecycle"], "running", "{w}");
    assert_eq!(w["meta"]["labels"]["room"], "lab1", "{w}");
    let wid = w["id"].as_str().unwrap().to_owned();
    // Its CML comes up a little later; then it takes lablets.
    for _ in 0..500 {
        let (_, w) = ts
            .call(
                axum::http::Method::GET,
                &format!("/api/v1/workers/{wid}"),
                Some(a),
                None,
            )
            .await;
        if w["status"]["cml"]["ready"] == true && w["status"]["catalog"].is_object() {
            break;
        }
        ts.clock.advance_seconds(10);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let idle = json_of(&ccm(&url, a, &["workers", "idle", &wid, "--json"]).await);
    assert_eq!(idle["enabled"], false, "{idle}");
    let tagged = json_of(
        &ccm(
            &url,
            a,
            &["workers", "tags", "set", &wid, "team=net", "--json"],
        )
        .await,
    );
    assert!(tagged.to_string().contains("team"), "{tagged}");
    stdout(&ccm(&url, a, &["workers", "tags", "remove", &wid, "team"]).await);
    stdout(&ccm(&url, a, &["workers", "metrics", &wid]).await);

    // Placement preview: both lablets fit on the running worker.
    let plan = json_of(
        &ccm(
            &url,
            a,
            &[
                "placement",
                "preview",
                "--definition",
                &did,
                "--count",
                "2",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(plan["placed"].as_array().unwrap().len(), 2, "{plan}");
    let text = stdout(&ccm(&url, a, &["placement", "preview", "--definition", &did]).await);
    assert!(
        text.contains("placed:") && text.contains("cli-host"),
        "{text}"
    );

    // A lablet booked and waited for until it runs, then listed.
    let start =
        ccm_core::time::plus_seconds(ccm_core::ports::Clock::now(&ts.clock), 600).to_rfc3339();
    let end = ccm_core::time::plus_seconds(ccm_core::ports::Clock::now(&ts.clock), 600 + 110 * 60)
        .to_rfc3339();
    let l = json_of(
        &ccm_while_time_passes(
            &ts,
            &url,
            a,
            &[
                "lablets",
                "book",
                "--definition",
                &did,
                "--start",
                &start,
                "--end",
                &end,
                "--wait",
                "--timeout",
                "150",
                "--json",
            ],
        )
        .await,
    );
    assert_eq!(l["status"]["phase"], "running", "{l}");
    let lid = l["id"].as_str().unwrap().to_owned();
    let page = json_of(&ccm(&url, a, &["lablets", "list", "--json"]).await);
    assert_eq!(page["items"][0]["id"], lid.as_str(), "{page}");
    let text = stdout(&ccm(&url, a, &["lablets", "list", "--phase", "running"]).await);
    assert!(text.contains(&lid), "{text}");

    // The lablet's lab on the worker, mirrored from its CML now.
    let mirrored = json_of(&ccm(&url, a, &["labs", "refresh", &wid, "--json"]).await);
    assert_eq!(mirrored.as_array().unwrap().len(), 1, "{mirrored}");
    let labs = json_of(&ccm(&url, a, &["labs", "list", &wid, "--json"]).await);
    assert_eq!(labs, mirrored);
    let lab = labs[0]["cml_lab_id"].as_str().unwrap().to_owned();
    let text = stdout(&ccm(&url, a, &["labs", "list", &wid]).await);
    assert!(text.starts_with("LAB") && text.contains(&lab), "{text}");
    let yaml = stdout(&ccm(&url, a, &["labs", "topology", &wid, &lab]).await);
    assert!(yaml.contains("iosv"), "{yaml}");
    refused(
        &ccm(&url, a, &["labs", "wipe", &wid, &lab]).await,
        "409 lab_in_use",
    );
    let cancelled = json_of(&ccm(&url, a, &["lablets", "cancel", &lid, "--json"]).await);
    assert_eq!(cancelled["id"], lid.as_str());

    // API keys over the API: the new key works until it is revoked.
    let k = json_of(&ccm(&url, a, &["keys", "create", "--name", "cli-made", "--json"]).await);
    let (kid, key) = (k["id"].as_str().unwrap(), k["key"].as_str().unwrap());
    let list = json_of(&ccm(&url, a, &["keys", "list", "--json"]).await);
    assert!(
        list.as_array().unwrap().iter().any(|k| k["id"] == kid),
        "{list}"
    );
    let me = json_of(&ccm(&url, key, &["session", "--json"]).await);
    assert_eq!(me["role"], "user", "{me}");
    refused(&ccm(&url, key, &["settings"]).await, "403 forbidden");
    let revoked = json_of(&ccm(&url, a, &["keys", "revoke", kid, "--json"]).await);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    refused(&ccm(&url, key, &["whoami"]).await, "401");

    // What the server runs with.
    let settings = json_of(&ccm(&url, a, &["settings", "--json"]).await);
    assert!(settings["engine"].is_object(), "{settings}");
    let text = stdout(&ccm(&url, a, &["settings"]).await);
    assert!(text.contains("server.regions"), "{text}");
    let leadership = json_of(&ccm(&url, a, &["leadership", "--json"]).await);
    assert_eq!(leadership["holder"], "test-holder", "{leadership}");
    let metrics = stdout(&ccm(&url, a, &["metrics"]).await);
    assert!(metrics.contains("# TYPE"), "{metrics}");
    let document = json_of(&ccm(&url, a, &["openapi"]).await);
    assert!(document["paths"].is_object());

    // Events: the history, and the stream from the start of the log.
    let history = json_of(&ccm(&url, a, &["events", "list", "--limit", "1000", "--json"]).await);
    let events = history["events"].as_array().unwrap();
    assert!(events.len() >= 3, "{history}");
    let text = stdout(&ccm(&url, a, &["events", "list", "--type", "worker.created*"]).await);
    assert!(
        text.contains("worker.created") && text.contains(&wid),
        "{text}"
    );
    let tail = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        ccm(
            &url,
            a,
            &["events", "tail", "--after", "0", "--count", "3", "--json"],
        ),
    )
    .await
    .expect("tail --count ends");
    let lines: Vec<Value> = stdout(&tail)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    for (line, event) in lines.iter().zip(events) {
        assert_eq!(line["data"]["sequence"], event["sequence"], "{line}");
        assert_eq!(line["id"], event["sequence"].to_string(), "{line}");
        assert_eq!(line["event"], event["type"], "{line}");
    }
    let tail = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        ccm(
            &url,
            a,
            &[
                "events",
                "tail",
                "--after",
                "0",
                "--type",
                "lablet.*",
                "--until-idle",
                "2",
            ],
        ),
    )
    .await
    .expect("tail --until-idle ends");
    let text = stdout(&tail);
    assert!(!text.is_empty(), "lablet events");
    assert!(text.lines().all(|l| l.contains("lablet.")), "{text}");

    // Completions.
    let script = stdout(&ccm(&url, a, &["completions", "bash"]).await);
    assert!(
        script.contains("ccm") && script.contains("placement"),
        "{script}"
    );

    ts.server.shutdown_handle().send(true).unwrap();
    task.await.unwrap().unwrap();
}
