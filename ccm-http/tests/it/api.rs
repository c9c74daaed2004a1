//! The REST API over the engine, end to end on the simulator with a virtual clock
//! (driven with `Fleet::run_until`): workers, labs, definitions, lablets, placement
//! preview, jobs, events and metrics.

use crate::common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request};
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::cloud::{CloudProvider, ImageSelector, LaunchRequest};
use ccm_core::ports::Clock;
use ccm_core::time::plus_seconds;
use ccm_http::auth::Role;
use http_body_util::BodyExt;
use serde_json::{json, Value};

pub(crate) const TOPOLOGY: &str = "lab:\n  title: api-lab\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

pub(crate) async fn advance(ts: &common::TestServer, seconds: i64) {
    let state = ts.server.state();
    let until = plus_seconds(ts.clock.now(), seconds);
    state
        .fleet
        .run_until(&state.jobs, None, &ts.clock, until)
        .await
        .unwrap();
}

pub(crate) async fn raw(ts: &common::TestServer, request: Request<Body>) -> (u16, String) {
    let response = ts.send(request).await;
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn workers_boot_and_their_labs_are_operated_through_the_api() {
    let ts = common::server(common::Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let manager = ts.key(Role::Manager).await;
    let user = ts.key(Role::User).await;
    let (a, m, u) = (
        Some(admin.as_str()),
        Some(manager.as_str()),
        Some(user.as_str()),
    );

    let mut ids = Vec::new();
    for (name, region) in [
        ("w1", "us-east-1"),
        ("w2", "us-west-2"),
        ("w3", "us-east-1"),
    ] {
        let (s, w) = ts
            .call(
                Method::POST,
                "/api/v1/workers",
                a,
                Some(json!({"name": name, "region": region, "labels": {"team": name}})),
            )
            .await;
        assert_eq!(s, 201, "{w}");
        assert_eq!(w["spec"]["desired_status"], "running");
        ids.push(w["id"].as_str().unwrap().to_owned());
    }
    // An image by a name the configuration does not have: 422 naming the field.
    let (s, e) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            a,
            Some(json!({"name": "w9", "image": "cml-9.9"})),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["error"]["details"]["field"], "image", "{e}");
    advance(&ts, 40 * 60).await;

    // List with filters and pagination.
    let (s, page) = ts
        .call(Method::GET, "/api/v1/workers?limit=2", u, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    assert_eq!(page["next_offset"], 2);
    assert!(page["items"][0]["status"]["next_refresh_at"].is_string());
    let (_, page) = ts
        .call(Method::GET, "/api/v1/workers?region=us-west-2", u, None)
        .await;
    assert_eq!(page["total"], 1);
    let (_, page) = ts
        .call(Method::GET, "/api/v1/workers?label=team=w3", u, None)
        .await;
    assert_eq!(page["items"][0]["id"], ids[2]);
    let (_, page) = ts
        .call(Method::GET, "/api/v1/workers?status=running", u, None)
        .await;
    assert_eq!(page["total"], 3, "all booted: {page}");

    let w1 = &ids[0];
    let (s, w) = ts
        .call(Method::GET, &format!("/api/v1/workers/{w1}"), u, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(w["status"]["cml"]["state"], "available", "{w}");

    // A per-worker monitoring interval: admins only, bounded, null for the
    // fleet's setting, the field required.
    let path = format!("/api/v1/workers/{w1}/monitoring-interval");
    let (s, w) = ts
        .call(Method::PUT, &path, a, Some(json!({"seconds": 120})))
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["spec"]["monitoring_interval_seconds"], 120);
    for (body, status) in [
        (json!({"seconds": 5}), 422),
        (json!({"seconds": 86_401}), 422),
        (json!({"seconds": -1}), 422),
        (json!({}), 422),
        (json!({"seconds": 120, "every": 1}), 422),
    ] {
        let (s, e) = ts.call(Method::PUT, &path, a, Some(body.clone())).await;
        assert_eq!(s, status, "{body}: {e}");
    }
    let (s, _) = ts
        .call(Method::PUT, &path, m, Some(json!({"seconds": 60})))
        .await;
    assert_eq!(s, 403);
    let (s, w) = ts
        .call(Method::PUT, &path, a, Some(json!({"seconds": null})))
        .await;
    assert_eq!(s, 200, "{w}");
    assert!(w["spec"]["monitoring_interval_seconds"].is_null(), "{w}");

    // The metrics series: points from the sweeps since boot, in 5-minute buckets.
    let (s, series) = ts
        .call(
            Method::GET,
            &format!("/api/v1/workers/{w1}/metrics?step=300"),
            u,
            None,
        )
        .await;
    assert_eq!(s, 200, "{series}");
    let points = series.as_array().unwrap();
    assert!(!points.is_empty(), "{series}");
    assert!(
        points.iter().any(|p| p["cpu_percent"].is_number()),
        "{series}"
    );
    let (s, b) = ts
        .call(
            Method::GET,
            &format!("/api/v1/workers/{w1}/metrics?since=yesterday"),
            u,
            None,
        )
        .await;
    assert_eq!(s, 400, "{b}");

    // Tags, idle status, idle detection, refresh, monitoring.
    let (s, w) = ts
        .call(
            Method::PUT,
            &format!("/api/v1/workers/{w1}/tags"),
            m,
            Some(json!({"tags": {"course": "ccna", "x": "1"}})),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["tags"]["course"], "ccna");
    let (s, w) = ts
        .call(
            Method::DELETE,
            &format!("/api/v1/workers/{w1}/tags/x"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(w["tags"].get("x").is_none());
    let (s, idle) = ts
        .call(Method::GET, &format!("/api/v1/workers/{w1}/idle"), u, None)
        .await;
    assert_eq!(s, 200, "{idle}");
    let (s, w) = ts
        .call(
            Method::PUT,
            &format!("/api/v1/workers/{w1}/idle-detection"),
            a,
            Some(json!({"enabled": false})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(w["spec"]["idle"]["enabled"], false);
    let (s, r) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{w1}/refresh"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert!(r["result"].is_string());
    let (s, _) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{w1}/monitoring"),
            a,
            None,
        )
        .await;
    assert_eq!(s, 200);

    // Labs: import (YAML upload), list, start, download, stop, wipe, delete.
    let (s, text) = raw(
        &ts,
        Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/workers/{w1}/labs?title=api-lab"))
            .header("authorization", format!("Bearer {manager}"))
            .header("content-type", "application/yaml")
            .body(Body::from(TOPOLOGY))
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{text}");
    let lab: Value = serde_json::from_str(&text).unwrap();
    let lab_id = lab["cml_lab_id"].as_str().unwrap().to_owned();
    let (s, labs) = ts
        .call(Method::GET, &format!("/api/v1/workers/{w1}/labs"), u, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(labs.as_array().unwrap().len(), 1);
    let (s, labs) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{w1}/labs/{lab_id}/start"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200, "{labs}");
    // What the started lab's two IOSv nodes take, and the worker counting it as
    // taken by a lab no lablet owns.
    let usage = &labs[0]["usage"];
    assert_eq!(usage["cpus"], 2, "{labs}");
    assert_eq!(usage["memory_mib"], 1536, "{labs}");
    assert_eq!(usage["running_nodes"], 2, "{labs}");
    let (_, w) = ts
        .call(Method::GET, &format!("/api/v1/workers/{w1}"), u, None)
        .await;
    let unmanaged = &w["status"]["capacity"]["unmanaged"];
    assert_eq!(unmanaged["labs"], 1, "{w}");
    assert_eq!(unmanaged["nodes"], 2, "{w}");
    assert_eq!(unmanaged["resources"]["cpu_millis"], 2000, "{w}");
    let (s, yaml) = raw(
        &ts,
        Request::builder()
            .uri(format!("/api/v1/workers/{w1}/labs/{lab_id}/topology"))
            // A manager: users download only their own lablets' labs (sec_owner).
            .header("authorization", format!("Bearer {manager}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert!(yaml.contains("nodes:"), "{yaml}");
    for action in ["stop", "wipe"] {
        let (s, b) = ts
            .call(
                Method::POST,
                &format!("/api/v1/workers/{w1}/labs/{lab_id}/{action}"),
                m,
                None,
            )
            .await;
        assert_eq!(s, 200, "{action}: {b}");
    }
    let (s, labs) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{w1}/labs/refresh"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200, "{labs}");
    let (s, _) = ts
        .call(
            Method::DELETE,
            &format!("/api/v1/workers/{w1}/labs/{lab_id}"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (_, labs) = ts
        .call(Method::GET, &format!("/api/v1/workers/{w1}/labs"), u, None)
        .await;
    assert_eq!(labs.as_array().unwrap().len(), 0);

    // Licence: no token configured and none given is a 422; deregister works.
    let (s, b) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{w1}/licence"),
            a,
            None,
        )
        .await;
    assert_eq!(s, 422, "{b}");
    let (s, b) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{w1}/licence"),
            a,
            Some(json!({"token": "good-token"})),
        )
        .await;
    assert!(s == 200 || s == 422, "{s} {b}");
    let (s, b) = ts
        .call(
            Method::DELETE,
            &format!("/api/v1/workers/{w1}/licence"),
            a,
            None,
        )
        .await;
    assert!(s == 200 || s == 409, "{s} {b}");

    // Stop, then start again; delete with termination.
    let w2 = &ids[1];
    let (s, w) = ts
        .call(Method::POST, &format!("/api/v1/workers/{w2}/stop"), m, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(w["spec"]["desired_status"], "stopped");
    advance(&ts, 10 * 60).await;
    let (_, w) = ts
        .call(Method::GET, &format!("/api/v1/workers/{w2}"), u, None)
        .await;
    assert_eq!(w["status"]["lifecycle"], "stopped");
    let (s, _) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{w2}/start"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let w3 = &ids[2];
    let (s, outcome) = ts
        .call(
            Method::DELETE,
            &format!("/api/v1/workers/{w3}?terminate_instance=true"),
            a,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(outcome["instance_terminated"], true);

    // Metrics: fleet counts, cost, request latencies.
    let (s, text) = raw(
        &ts,
        Request::builder()
            .uri("/metrics")
            .header("authorization", format!("Bearer {user}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert!(text.contains("ccm_workers{status=\"running\"}"), "{text}");
    // Every phase is a series, zero or not.
    for phase in ["pending", "running", "expired"] {
        assert!(
            text.contains(&format!("ccm_lablets{{phase=\"{phase}\"}} ")),
            "{text}"
        );
    }
    assert!(text.contains("ccm_fleet_cost_usd_per_hour "), "{text}");
    assert!(text.contains("ccm_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/workers/{id}\""), "{text}");
    let cost: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ccm_fleet_cost_usd_per_hour "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(cost > 3.0, "at least one m5zn.metal is billed: {cost}");
}

#[tokio::test]
async fn instances_are_imported_one_by_one_and_in_bulk() {
    let ts = common::server(common::Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let a = Some(admin.as_str());
    let cloud = ts.sim.cloud();
    let mut instances = Vec::new();
    for n in 0..3 {
        let instance = cloud
            .launch(&LaunchRequest {
                worker_id: WorkerId::new(),
                region: Region::new("us-east-1"),
                name: format!("outside-{n}"),
                image: ImageSelector::NamePattern("cml-2.9*".into()),
                instance_type: "m5zn.metal".into(),
                subnet_id: None,
                security_group_ids: vec![],
                key_name: None,
                iam_instance_profile: None,
                tags: BTreeMap::new(),
                detailed_monitoring: false,
            })
            .await
            .unwrap();
        instances.push(instance.instance_id.to_string());
    }
    let (s, w) = ts
        .call(
            Method::POST,
            "/api/v1/workers/import",
            a,
            Some(json!({"region": "us-east-1", "instance_id": instances[0], "name": "adopted"})),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    assert_eq!(w["meta"]["name"], "adopted");
    let (s, b) = ts
        .call(
            Method::POST,
            "/api/v1/workers/import",
            a,
            Some(json!({"instance_id": instances[0]})),
        )
        .await;
    assert_eq!(s, 409, "already imported: {b}");
    assert_eq!(b["error"]["code"], "already_exists");
    assert_eq!(b["error"]["details"]["id"], instances[0].to_string());
    let (s, b) = ts
        .call(
            Method::POST,
            "/api/v1/workers/import",
            a,
            Some(json!({"instance_id": "i-doesnotexist"})),
        )
        .await;
    assert!(s == 404 || s == 422, "{s} {b}");
    let (s, report) = ts
        .call(
            Method::POST,
            "/api/v1/workers/import-matching",
            a,
            Some(json!({"region": "us-east-1", "image_name_pattern": "cml-2.9*"})),
        )
        .await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["imported"].as_array().unwrap().len(), 2, "{report}");
}

#[tokio::test]
async fn definitions_lablets_preview_jobs_and_history() {
    let ts = common::server(common::Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let manager = ts.key(Role::Manager).await;
    let user = ts.key(Role::User).await;
    let (a, m, u) = (
        Some(admin.as_str()),
        Some(manager.as_str()),
        Some(user.as_str()),
    );
    let (s, _) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            a,
            Some(json!({"name": "host"})),
        )
        .await;
    assert_eq!(s, 201);
    let definition = json!({
        "name": "ccna", "version": "1.0.0", "topology_yaml": TOPOLOGY,
        "needs": {"resources": {"cpu_millis": 4000, "memory_mib": 8192, "storage_gib": 20}, "nodes": 0, "ports": 2},
        "licence_affinity": null, "min_cml_version": null,
        "max_duration_minutes": 120, "warm_pool_depth": 0
    });
    let (s, d) = ts
        .call(
            Method::POST,
            "/api/v1/definitions",
            a,
            Some(definition.clone()),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    assert_eq!(d["needs"]["nodes"], 2, "node count from the topology");
    let did = d["id"].as_str().unwrap().to_owned();
    // The same version again is a conflict with what is stored (409), not a
    // malformed request, and creates nothing.
    let (s, again) = ts
        .call(
            Method::POST,
            "/api/v1/definitions",
            a,
            Some(definition.clone()),
        )
        .await;
    assert_eq!(s, 409, "{again}");
    assert_eq!(again["error"]["code"], "already_exists");
    assert_eq!(again["error"]["details"]["id"], "ccna 1.0.0");
    let (_, listed) = ts
        .call(Method::GET, "/api/v1/definitions?name=ccna", a, None)
        .await;
    assert_eq!(listed["total"], 1);

    // Preview before any worker runs: nothing placed, with reasons.
    let (s, plan) = ts
        .call(
            Method::POST,
            "/api/v1/placement/preview",
            u,
            Some(json!({"definition_id": did, "count": 3})),
        )
        .await;
    assert_eq!(s, 200, "{plan}");
    assert_eq!(plan["placed"].as_array().unwrap().len(), 0);
    assert_eq!(
        plan["unplaced"][0]["dominant_reason"], "not-running",
        "{plan}"
    );
    assert!(!plan["scale_up"].as_array().unwrap().is_empty());
    advance(&ts, 40 * 60).await;
    let (_, plan) = ts
        .call(
            Method::POST,
            "/api/v1/placement/preview",
            u,
            Some(json!({"definition_id": did, "count": 3})),
        )
        .await;
    assert_eq!(plan["placed"].as_array().unwrap().len(), 3, "{plan}");
    let (_, lablets) = ts.call(Method::GET, "/api/v1/lablets", m, None).await;
    assert_eq!(lablets["total"], 0, "the preview wrote nothing");

    // The monitor read the worker's node and image definitions from CML.
    let (_, workers) = ts.call(Method::GET, "/api/v1/workers", u, None).await;
    let catalog = &workers["items"][0]["status"]["catalog"];
    let offered = catalog["node_definitions"].as_array().unwrap();
    assert!(offered.contains(&json!("iosv")), "{catalog}");
    assert!(offered.contains(&json!("alpine")), "{catalog}");
    assert!(catalog["image_definitions"].as_object().unwrap().len() >= offered.len() - 2);
    assert!(
        catalog["cml_version"].as_str().unwrap().starts_with("2."),
        "{catalog}"
    );
    assert!(catalog["synced_at"].is_string(), "{catalog}");

    // A topology with a node definition no worker offers: refused on every
    // worker, the refusal naming what is missing.
    let asav = TOPOLOGY.replacen("node_definition: iosv", "node_definition: asav", 1);
    let (s, d2) = ts
        .call(
            Method::POST,
            "/api/v1/definitions",
            a,
            Some(json!({
                "name": "asa-lab", "version": "1.0.0", "topology_yaml": asav,
                "needs": {"resources": {"cpu_millis": 1000, "memory_mib": 1024, "storage_gib": 1}, "nodes": 0, "ports": 0},
                "licence_affinity": null, "min_cml_version": null,
                "max_duration_minutes": 60, "warm_pool_depth": 0
            })),
        )
        .await;
    assert_eq!(s, 201, "{d2}");
    assert_eq!(
        d2["requires"]["node_definitions"],
        json!(["asav", "iosv"]),
        "{d2}"
    );
    let (s, plan) = ts
        .call(
            Method::POST,
            "/api/v1/placement/preview",
            u,
            Some(json!({"definition_id": d2["id"], "count": 1})),
        )
        .await;
    assert_eq!(s, 200, "{plan}");
    assert!(plan["placed"].as_array().unwrap().is_empty(), "{plan}");
    let unplaced = &plan["unplaced"][0];
    assert_eq!(unplaced["dominant_reason"], "missing-definitions", "{plan}");
    assert_eq!(unplaced["workers"][0]["missing"], json!(["asav"]), "{plan}");
    let (s, _) = ts
        .call(
            Method::PUT,
            &format!("/api/v1/definitions/{}/active", d2["id"].as_str().unwrap()),
            a,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(s, 200);

    // Book a lablet in 10 minutes; it gets placed and runs.
    let start = plus_seconds(ts.clock.now(), 600);
    let end = plus_seconds(ts.clock.now(), 3600);
    let (s, l) = ts
        .call(
            Method::POST,
            "/api/v1/lablets",
            m,
            Some(json!({"definition_id": did, "timeslot": {"start": start, "end": end}})),
        )
        .await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["spec"]["owner"], "key:test-manager");
    let lid = l["id"].as_str().unwrap().to_owned();
    advance(&ts, 20 * 60).await;
    // Read as its owner (a user sees only their own lablets: sec_owner).
    let (_, l) = ts
        .call(Method::GET, &format!("/api/v1/lablets/{lid}"), m, None)
        .await;
    assert_eq!(l["status"]["phase"], "running", "{l}");
    let (_, page) = ts
        .call(Method::GET, "/api/v1/lablets?phase=running", m, None)
        .await;
    assert_eq!(page["total"], 1);
    // Its access entries: each console node of the imported lab on one of its
    // ports, on the worker's public address, and the event that recorded them.
    let (_, w) = ts
        .call(
            Method::GET,
            &format!(
                "/api/v1/workers/{}",
                l["status"]["worker_id"].as_str().unwrap()
            ),
            a,
            None,
        )
        .await;
    let public_ip = w["network"]["public_ip"].clone();
    assert!(public_ip.is_string(), "{w}");
    let ports = &l["status"]["ports"];
    assert_eq!(
        l["status"]["access"],
        json!([
            {"node": "n0", "label": "r1", "protocol": "telnet", "host": public_ip, "port": ports[0]},
            {"node": "n1", "label": "r2", "protocol": "telnet", "host": public_ip, "port": ports[1]},
        ]),
        "{l}"
    );
    let (_, assigned) = ts
        .call(
            Method::GET,
            "/api/v1/events?after=0&limit=1000&type=lablet.access.assigned.v1",
            m,
            None,
        )
        .await;
    assert_eq!(
        assigned["events"][0]["data"]["access"], l["status"]["access"],
        "{assigned}"
    );

    // Its worker is not stopped or deleted under it without force: 409 naming
    // the lablet, and nothing changes; a malformed force is a 400.
    let host = l["status"]["worker_id"].as_str().unwrap().to_owned();
    let before = ts.store.last_sequence().await.unwrap();
    for (method, path, who) in [
        (Method::POST, format!("/api/v1/workers/{host}/stop"), m),
        (Method::DELETE, format!("/api/v1/workers/{host}"), a),
        (
            Method::DELETE,
            format!("/api/v1/workers/{host}?terminate_instance=true"),
            a,
        ),
    ] {
        let (s, e) = ts.call(method, &path, who, None).await;
        assert_eq!(s, 409, "{path}: {e}");
        assert_eq!(e["error"]["code"], "worker_in_use", "{e}");
        assert_eq!(e["error"]["details"]["lablets"], json!([lid]), "{e}");
        assert!(
            e["error"]["message"].as_str().unwrap().contains("force"),
            "{e}"
        );
    }
    let (s, e) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{host}/stop?force=maybe"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 400, "{e}");
    // Nor is its lab deleted or wiped under it.
    let lab = l["status"]["cml_lab_id"].as_str().unwrap().to_owned();
    for (method, path) in [
        (Method::DELETE, format!("/api/v1/workers/{host}/labs/{lab}")),
        (
            Method::POST,
            format!("/api/v1/workers/{host}/labs/{lab}/wipe"),
        ),
    ] {
        let (s, e) = ts.call(method, &path, m, None).await;
        assert_eq!(s, 409, "{path}: {e}");
        assert_eq!(e["error"]["code"], "lab_in_use", "{e}");
        assert_eq!(e["error"]["details"]["lablet"], json!(lid), "{e}");
    }
    assert_eq!(ts.store.last_sequence().await.unwrap(), before);
    let (_, w) = ts
        .call(Method::GET, &format!("/api/v1/workers/{host}"), m, None)
        .await;
    assert_eq!(w["spec"]["desired_status"], "running", "{w}");
    let (s, l) = ts
        .call(
            Method::POST,
            &format!("/api/v1/lablets/{lid}/cancel"),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200, "{l}");
    let (s, _) = ts
        .call(Method::DELETE, &format!("/api/v1/lablets/{lid}"), m, None)
        .await;
    assert_eq!(s, 200);
    let (s, d) = ts
        .call(
            Method::PUT,
            &format!("/api/v1/definitions/{did}/active"),
            a,
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(d["active"], false);
    let (_, defs) = ts
        .call(Method::GET, "/api/v1/definitions?active_only=true", u, None)
        .await;
    assert_eq!(defs["total"], 0);

    // Jobs: listed with next/last run and outcome; pause, resume, trigger.
    let (s, jobs) = ts.call(Method::GET, "/api/v1/jobs", u, None).await;
    assert_eq!(s, 200);
    let sweep = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "metrics-sweep")
        .unwrap();
    assert!(sweep["next_run_at"].is_string() && sweep["last_run_at"].is_string());
    assert_eq!(sweep["last_outcome"]["result"], "succeeded");
    let (s, j) = ts
        .call(Method::POST, "/api/v1/jobs/metrics-sweep/pause", a, None)
        .await;
    assert_eq!(s, 200);
    assert_eq!(j["paused"], true);
    let (_, j) = ts
        .call(Method::POST, "/api/v1/jobs/metrics-sweep/resume", a, None)
        .await;
    assert_eq!(j["paused"], false);
    let (s, t) = ts
        .call(Method::POST, "/api/v1/jobs/labs-sync/trigger", a, None)
        .await;
    assert_eq!(s, 200, "{t}");
    assert!(t["result"] == "scheduled" || t["result"] == "coalesced");

    // History from a cursor, in pages.
    let (s, h) = ts
        .call(Method::GET, "/api/v1/events?after=0&limit=5", u, None)
        .await;
    assert_eq!(s, 200);
    let events = h["events"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    let next = h["next_after"].as_u64().unwrap();
    let (_, h2) = ts
        .call(
            Method::GET,
            &format!("/api/v1/events?after={next}&limit=5"),
            u,
            None,
        )
        .await;
    assert!(h2["events"][0]["sequence"].as_u64().unwrap() > next);
    let (_, lifecycle) = ts
        .call(
            Method::GET,
            "/api/v1/events?after=0&limit=1000&type=lablet.*",
            u,
            None,
        )
        .await;
    assert!(lifecycle["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["type"].as_str().unwrap().starts_with("lablet.")));
}
