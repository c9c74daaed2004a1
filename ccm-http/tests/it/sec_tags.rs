//! Issue 15 (reserved tags, the CML endpoint) and issue 22 (EC2 limits), through
//! the router with API keys of every role, on the simulator: `ccm:`/`aws:` tags are
//! refused to everyone, the CML endpoint is an admin-only field checked against
//! `cml.endpoint_allow`, an instance tag pointing outside the list makes no CML
//! call at all, and names, tags and lab titles are held to EC2's and CML's limits.

use crate::api::{advance, raw, TOPOLOGY};
use crate::common;

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{Method, Request};
use ccm_core::fleet::FleetSettings;
use ccm_core::ids::{InstanceId, Region};
use ccm_core::ports::cloud::{CloudProvider, CML_ENDPOINT_TAG, WORKER_ID_TAG};
use ccm_core::worker::EndpointAllowList;
use ccm_http::auth::Role;
use serde_json::{json, Value};

fn settings(allow: &[&str]) -> FleetSettings {
    FleetSettings {
        endpoint_allow: EndpointAllowList::parse(allow).unwrap(),
        ..FleetSettings::default()
    }
}

async fn server(allow: &[&str]) -> common::TestServer {
    common::server(common::Options {
        settings: settings(allow),
        // Room for the 100,000-character name, so the refusal is the name's.
        body_limit: 1024 * 1024,
        ..common::Options::default()
    })
    .await
}

/// A worker created by an admin, launched and running (CML up on the simulator).
async fn running_worker(ts: &common::TestServer, admin: &str) -> (String, InstanceId) {
    let (s, w) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(admin),
            Some(json!({"name": "w1", "region": "us-east-1", "tags": {"team": "a"}})),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let id = w["id"].as_str().unwrap().to_owned();
    advance(ts, 40 * 60).await;
    let w = get_worker(ts, admin, &id).await;
    assert_eq!(w["status"]["cml"]["state"], "available", "{w:#}");
    let instance = InstanceId::new(w["instance_id"].as_str().unwrap());
    (id, instance)
}

async fn get_worker(ts: &common::TestServer, key: &str, id: &str) -> Value {
    let (s, w) = ts
        .call(
            Method::GET,
            &format!("/api/v1/workers/{id}"),
            Some(key),
            None,
        )
        .await;
    assert_eq!(s, 200, "{w}");
    w
}

async fn instance_tags(ts: &common::TestServer, instance: &InstanceId) -> BTreeMap<String, String> {
    ts.sim
        .cloud()
        .describe(&Region::new("us-east-1"), std::slice::from_ref(instance))
        .await
        .unwrap()
        .remove(0)
        .tags
}

fn assert_refused(status: u16, body: &Value, field: &str, needles: &[&str]) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "validation_failed", "{body}");
    assert_eq!(body["error"]["details"]["field"], field, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    for needle in needles {
        assert!(
            message.contains(needle),
            "`{needle}` missing from {message}"
        );
    }
}

#[tokio::test]
async fn reserved_tags_are_refused_to_every_role_and_change_nothing() {
    let ts = server(&[]).await;
    let admin = ts.key(Role::Admin).await;
    let manager = ts.key(Role::Manager).await;
    let user = ts.key(Role::User).await;
    let (id, instance) = running_worker(&ts, &admin).await;
    let before = get_worker(&ts, &admin, &id).await["tags"].clone();
    let instance_before = instance_tags(&ts, &instance).await;
    assert_eq!(instance_before[WORKER_ID_TAG], id);

    for key in [
        "ccm:cml-endpoint",
        "ccm:worker-id",
        "CCM:Foo",
        "aws:cloudformation:x",
    ] {
        for (role, token) in [("user", &user), ("manager", &manager), ("admin", &admin)] {
            let (s, body) = ts
                .call(
                    Method::PUT,
                    &format!("/api/v1/workers/{id}/tags"),
                    Some(token),
                    Some(json!({"tags": {key: "https://169.254.169.254", "ok": "1"}})),
                )
                .await;
            let (ds, dbody) = ts
                .call(
                    Method::DELETE,
                    &format!("/api/v1/workers/{id}/tags/{key}"),
                    Some(token),
                    None,
                )
                .await;
            if role == "user" {
                // Users never reach tag routes at all.
                assert_eq!((s, ds), (403, 403), "{body} {dbody}");
            } else {
                assert_refused(s, &body, &format!("tags.{key}"), &[key, "reserved"]);
                assert_refused(ds, &dbody, &format!("tags.{key}"), &[key, "reserved"]);
            }
        }
    }
    // Creating a worker with a reserved tag is refused too.
    let (s, body) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(&admin),
            Some(json!({"name": "w2", "tags": {"ccm:worker-id": id}})),
        )
        .await;
    assert_refused(s, &body, "tags.ccm:worker-id", &["ccm:worker-id"]);

    assert_eq!(get_worker(&ts, &admin, &id).await["tags"], before);
    assert_eq!(instance_tags(&ts, &instance).await, instance_before);
}

#[tokio::test]
async fn the_cml_endpoint_is_an_admin_field_within_the_allow_list() {
    let ts = server(&["*.cml.example.com"]).await;
    let admin = ts.key(Role::Admin).await;
    let manager = ts.key(Role::Manager).await;
    let (id, _) = running_worker(&ts, &admin).await;
    let path = format!("/api/v1/workers/{id}/cml-endpoint");
    let public_ip = get_worker(&ts, &admin, &id).await["network"]["public_ip"]
        .as_str()
        .unwrap()
        .to_owned();

    let (s, body) = ts
        .call(
            Method::PUT,
            &path,
            Some(&manager),
            Some(json!({"url": "https://w1.cml.example.com"})),
        )
        .await;
    assert_eq!(s, 403, "{body}");

    for (url, needle) in [
        ("https://192.0.2.1", "192.0.2.1"),
        ("http://169.254.169.254", "169.254.169.254"),
        ("https://cml.example.com", "cml.example.com"),
        ("https://[::ffff:169.254.169.254]", "169.254.169.254"),
        (&format!("https://admin:pw@{public_ip}"), "user info"),
        (&format!("https://{public_ip}/api/v0"), "path"),
        (&format!("ftp://{public_ip}"), "http"),
        ("https://2130706433", "numeric"),
    ] {
        let (s, body) = ts
            .call(
                Method::PUT,
                &path,
                Some(&admin),
                Some(json!({ "url": url })),
            )
            .await;
        assert_refused(s, &body, "url", &[needle]);
    }
    let w = get_worker(&ts, &admin, &id).await;
    assert_eq!(w["spec"]["cml_endpoint"], Value::Null, "unchanged: {w:#}");
    assert_eq!(w["meta"]["generation"], 1, "{w:#}");

    // The instance's own address and a listed name are taken, canonically.
    let (s, w) = ts
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"url": format!("HTTPS://{public_ip}:8443/")})),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(
        w["spec"]["cml_endpoint"],
        format!("https://{public_ip}:8443")
    );
    let (s, w) = ts
        .call(
            Method::PUT,
            &path,
            Some(&admin),
            Some(json!({"url": "https://W1.cml.example.com"})),
        )
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["spec"]["cml_endpoint"], "https://w1.cml.example.com");
    let (s, w) = ts
        .call(Method::PUT, &path, Some(&admin), Some(json!({"url": null})))
        .await;
    assert_eq!(s, 200, "{w}");
    assert_eq!(w["spec"]["cml_endpoint"], Value::Null);
}

/// Counts every call the engine makes through the CML port after observing the
/// instance again (the simulator counts a call before resolving its endpoint).
async fn cml_calls_after_observing(ts: &common::TestServer) -> u64 {
    // One sweep records the instance's new tag; the sweeps after it use it.
    advance(ts, 6 * 60).await;
    ts.sim.reset_calls().unwrap();
    advance(ts, 12 * 60).await;
    ts.sim.cml_calls().unwrap().total()
}

#[tokio::test]
async fn an_instance_tag_outside_the_allow_list_gets_no_cml_call_and_says_why() {
    let ts = server(&["192.0.2.0/24"]).await;
    let admin = ts.key(Role::Admin).await;
    let (id, instance) = running_worker(&ts, &admin).await;
    let region = Region::new("us-east-1");
    let tag = |url: &str| BTreeMap::from([(CML_ENDPOINT_TAG.to_owned(), url.to_owned())]);

    // Someone with EC2 access points the worker at the metadata service.
    let evil = "http://169.254.169.254:80";
    ts.sim
        .cloud()
        .set_tags(&region, std::slice::from_ref(&instance), &tag(evil))
        .await
        .unwrap();
    assert_eq!(
        cml_calls_after_observing(&ts).await,
        0,
        "no CML call at all"
    );
    let w = get_worker(&ts, &admin, &id).await;
    assert_eq!(w["network"]["endpoint"], evil, "{w:#}");
    assert_eq!(w["status"]["cml"]["state"], "error", "{w:#}");
    let why = w["status"]["cml"]["last_error"].as_str().unwrap();
    for needle in ["169.254.169.254", "cml.endpoint_allow", "ccm:cml-endpoint"] {
        assert!(why.contains(needle), "`{needle}` missing from {why}");
    }
    let (s, history) = ts
        .call(
            Method::GET,
            &format!("/api/v1/events?worker={id}&type=worker.cml.updated.v1&limit=1000"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(s, 200, "{history}");
    assert!(
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e.to_string().contains("cml.endpoint_allow")),
        "an event records the refusal: {history:#}"
    );
    // Lab operations are refused with the reason, before any CML call.
    let (s, body) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{id}/labs/refresh"),
            Some(&admin),
            None,
        )
        .await;
    assert_refused(s, &body, "cml_endpoint", &["169.254.169.254"]);
    assert_eq!(ts.sim.cml_calls().unwrap().total(), 0);

    // The same path with a listed host is called: the count above can see calls.
    ts.sim
        .cloud()
        .set_tags(
            &region,
            std::slice::from_ref(&instance),
            &tag("http://192.0.2.10:9"),
        )
        .await
        .unwrap();
    assert!(cml_calls_after_observing(&ts).await > 0);
    let w = get_worker(&ts, &admin, &id).await;
    let why = w["status"]["cml"]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(!why.contains("cml.endpoint_allow"), "{w:#}");
}

#[tokio::test]
async fn names_tags_and_lab_titles_are_held_to_ec2_and_cml_limits() {
    let ts = server(&[]).await;
    let admin = ts.key(Role::Admin).await;
    let manager = ts.key(Role::Manager).await;

    let (s, body) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(&admin),
            Some(json!({"name": "n".repeat(100_000)})),
        )
        .await;
    assert_refused(s, &body, "name", &["256", "100000"]);
    let (s, body) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(&admin),
            Some(json!({"name": "bad\nname"})),
        )
        .await;
    assert_refused(s, &body, "name", &["control"]);
    let too_many: BTreeMap<String, String> =
        (0..49).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let (s, body) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(&admin),
            Some(json!({"name": "many", "tags": too_many})),
        )
        .await;
    assert_refused(s, &body, "tags", &["51", "50"]);
    let (s, body) = ts
        .call(Method::GET, "/api/v1/workers", Some(&admin), None)
        .await;
    assert_eq!(
        (s, body["total"].as_u64()),
        (200, Some(0)),
        "nothing created"
    );

    let (id, instance) = running_worker(&ts, &admin).await;
    let tags_path = format!("/api/v1/workers/{id}/tags");
    let (s, body) = ts
        .call(
            Method::PUT,
            &tags_path,
            Some(&manager),
            Some(json!({"tags": {"k": "v".repeat(257)}})),
        )
        .await;
    assert_refused(s, &body, "tags.k", &["257", "256"]);
    let (s, body) = ts
        .call(
            Method::PUT,
            &tags_path,
            Some(&manager),
            Some(json!({"tags": {"k".repeat(129): "v"}})),
        )
        .await;
    assert_refused(s, &body, "tags", &["129", "128"]);
    let (s, w) = ts
        .call(
            Method::PUT,
            &tags_path,
            Some(&manager),
            Some(json!({"tags": {"k".repeat(128): "v".repeat(256)}})),
        )
        .await;
    assert_eq!(s, 200, "the limits themselves are fine: {w}");
    assert_eq!(
        instance_tags(&ts, &instance).await["k".repeat(128).as_str()],
        "v".repeat(256)
    );

    let lab = |title: String| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/workers/{id}/labs?title={title}"))
            .header("authorization", format!("Bearer {manager}"))
            .header("content-type", "application/yaml")
            .body(Body::from(TOPOLOGY))
            .unwrap()
    };
    let (s, text) = raw(&ts, lab("t".repeat(65))).await;
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_refused(s, &body, "title", &["65", "64"]);
    let (s, text) = raw(&ts, lab("t".repeat(64))).await;
    assert_eq!(s, 201, "CML's own limit is fine: {text}");
}

#[test]
fn the_allow_list_and_launch_tags_are_configured_and_checked() {
    use ccm_assembly::config::{load_from, ConfigErrors, Sources};
    let env = |pairs: &[(&str, &str)]| Sources {
        file: None,
        env: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let config = load_from(&env(&[(
        "CCM_CML_ENDPOINT_ALLOW",
        "10.0.0.0/8, *.cml.example.com,[fd00::1]:8443",
    )]))
    .unwrap();
    assert_eq!(
        config.cml.endpoint_allow,
        ["10.0.0.0/8", "*.cml.example.com", "[fd00::1]:8443"]
    );
    let settings = ccm_assembly::settings::fleet_settings(&config);
    assert_eq!(settings.endpoint_allow.entries().len(), 3);

    let Err(ConfigErrors(problems)) = load_from(&env(&[(
        "CCM_CML_ENDPOINT_ALLOW",
        "10.0.0.0/8,10.0.0.1/8,*",
    )])) else {
        panic!("bad entries must be refused");
    };
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["cml.endpoint_allow[1]", "cml.endpoint_allow[2]"],
        "{problems:?}"
    );
    assert!(problems[0].reason.contains("10.0.0.0/8"), "{problems:?}");

    let mut config = ccm_assembly::config::Config::default();
    config
        .cloud
        .launch
        .tags
        .insert("ccm:worker-id".into(), "x".into());
    let problems = ccm_assembly::config::check(&config);
    assert!(
        problems
            .iter()
            .any(|p| p.path == "cloud.launch.tags.ccm:worker-id" && p.reason.contains("reserved")),
        "{problems:?}"
    );
}
