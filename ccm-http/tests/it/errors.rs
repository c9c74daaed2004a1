//! Error bodies and status codes: client mistakes are 400/404/405/409/413/422 with
//! `{"error": {"code", "message", "details"?}}`; internal failures are a 500 or 503
//! that says nothing about internals.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use ccm_core::ports::store::StoreError;
use ccm_core::CoreError;
use ccm_http::api::error::ApiError;
use ccm_http::auth::Role;
use http_body_util::BodyExt;
use serde_json::json;

fn assert_error(status: u16, body: &serde_json::Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error"]["code"], want_code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

#[tokio::test]
async fn client_mistakes_map_to_4xx_with_an_error_body() {
    let ts = common::server(common::Options {
        body_limit: 2048,
        ..common::Options::default()
    })
    .await;
    let admin = ts.key(Role::Admin).await;
    let key = Some(admin.as_str());

    let missing = "/api/v1/workers/00000000-0000-4000-8000-000000000001";
    let (s, b) = ts.call(Method::GET, missing, key, None).await;
    assert_error(s, &b, 404, "not_found");
    assert_eq!(b["error"]["details"]["kind"], "worker");

    let (s, b) = ts
        .call(Method::GET, "/api/v1/workers/not-a-uuid", key, None)
        .await;
    assert_error(s, &b, 400, "bad_request");

    let (s, b) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            key,
            Some(json!({"name": " "})),
        )
        .await;
    assert_error(s, &b, 422, "validation_failed");
    assert_eq!(b["error"]["details"]["field"], "name");

    let (s, b) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            key,
            Some(json!({"name": "x", "region": "mars-1"})),
        )
        .await;
    assert_error(s, &b, 422, "validation_failed");
    assert_eq!(b["error"]["details"]["field"], "region");

    let (s, b) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            key,
            Some(json!({"nom": "x"})),
        )
        .await;
    assert_error(s, &b, 422, "validation_failed");

    let (s, b) = ts
        .call(Method::GET, "/api/v1/workers?status=flying", key, None)
        .await;
    assert_error(s, &b, 422, "validation_failed");
    let (s, b) = ts
        .call(Method::GET, "/api/v1/workers?limit=0", key, None)
        .await;
    assert_error(s, &b, 422, "validation_failed");
    let (s, b) = ts
        .call(
            Method::GET,
            "/api/v1/workers?include_terminated=maybe",
            key,
            None,
        )
        .await;
    assert_error(s, &b, 400, "bad_request");

    // Malformed JSON, wrong media type.
    let response = ts
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/workers")
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = ts
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/v1/workers")
                .header("authorization", format!("Bearer {admin}"))
                .body(Body::from(r#"{"name":"x"}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // Body over the limit.
    let big = json!({"name": "x".repeat(4096)});
    let (s, b) = ts
        .call(Method::POST, "/api/v1/workers", key, Some(big))
        .await;
    assert_error(s, &b, 413, "payload_too_large");

    // Unknown route and wrong method.
    let (s, b) = ts
        .call(Method::GET, "/api/v1/nothing-here", key, None)
        .await;
    assert_error(s, &b, 404, "not_found");
    let (s, b) = ts.call(Method::PATCH, "/api/v1/workers", key, None).await;
    assert_error(s, &b, 405, "method_not_allowed");

    // Unknown job, unknown key.
    let (s, b) = ts
        .call(Method::POST, "/api/v1/jobs/nope/trigger", key, None)
        .await;
    assert_error(s, &b, 404, "not_found");
    let (s, b) = ts
        .call(
            Method::DELETE,
            "/api/v1/api-keys/00000000-0000-4000-8000-000000000009",
            key,
            None,
        )
        .await;
    assert_error(s, &b, 404, "not_found");

    // Lab operations on a worker whose CML is not up: 422, naming the state.
    let (s, w) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            key,
            Some(json!({"name": "w"})),
        )
        .await;
    assert_eq!(s, 201);
    let id = w["id"].as_str().unwrap();
    let (s, b) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{id}/labs/lab-1/start"),
            key,
            None,
        )
        .await;
    assert_error(s, &b, 422, "validation_failed");

    // A topology that is not CML YAML: 422 with the reason.
    let response = ts
        .send(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/api/v1/workers/{id}/labs"))
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "application/yaml")
                .body(Body::from("just: text"))
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 422);

    // A definition version that is not newer conflicts with the stored one: 409;
    // a lablet in the past: 422.
    let definition = json!({
        "name": "d", "version": "1.0.0",
        "topology_yaml": "lab:\n  title: d\nnodes:\n  - id: n0\n    label: a\n    node_definition: alpine\nlinks: []\n",
        "needs": {"resources": {"cpu_millis": 1000, "memory_mib": 1024, "storage_gib": 1}, "nodes": 1, "ports": 1},
        "licence_affinity": null, "min_cml_version": null,
        "max_duration_minutes": 60, "warm_pool_depth": 0
    });
    let (s, d) = ts
        .call(
            Method::POST,
            "/api/v1/definitions",
            key,
            Some(definition.clone()),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let (s, b) = ts
        .call(Method::POST, "/api/v1/definitions", key, Some(definition))
        .await;
    assert_error(s, &b, 409, "already_exists");
    let (s, b) = ts
        .call(
            Method::POST,
            "/api/v1/lablets",
            key,
            Some(json!({"definition_id": d["id"], "timeslot": {"start": "2000-01-01T00:00:00Z", "end": "2000-01-01T01:00:00Z"}})),
        )
        .await;
    assert_error(s, &b, 422, "validation_failed");
}

#[tokio::test]
async fn a_deleted_worker_cannot_be_started_again() {
    let ts = common::server(common::Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let key = Some(admin.as_str());
    let (_, w) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            key,
            Some(json!({"name": "w"})),
        )
        .await;
    let id = w["id"].as_str().unwrap();
    let (s, outcome) = ts
        .call(
            Method::DELETE,
            &format!("/api/v1/workers/{id}?terminate_instance=true"),
            key,
            None,
        )
        .await;
    assert_eq!(s, 200, "{outcome}");
    assert_eq!(
        outcome["instance_terminated"], false,
        "no instance was launched yet"
    );
    let (s, b) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{id}/start"),
            key,
            None,
        )
        .await;
    assert_error(s, &b, 404, "not_found");
}

#[tokio::test]
async fn internal_failures_hide_their_cause() {
    let corrupt = ApiError::from(CoreError::Store(StoreError::Corrupt {
        kind: "worker".into(),
        id: "w".into(),
        message: "secret table layout".into(),
    }));
    assert_eq!(corrupt.status, 500);
    assert_eq!(corrupt.code, "internal");
    assert!(!corrupt.message.contains("secret"));
    let down = ApiError::from(CoreError::Store(StoreError::Unavailable(
        "postgres://admin:hunter2@db".into(),
    )));
    assert_eq!(down.status, 503);
    assert!(!down.message.contains("hunter2"));
    let conflict = ApiError::from(CoreError::Store(StoreError::Conflict {
        kind: ccm_core::event::ResourceKind::Worker,
        id: "w".into(),
        expected: 1,
        actual: Some(2),
    }));
    assert_eq!(conflict.status, 409);
    let response = axum::response::IntoResponse::into_response(down);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["error"]["code"], "unavailable");
    assert!(json["error"].get("details").is_none());
}
