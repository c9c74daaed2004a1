//! `POST /api/v1/lablets/on-demand`: a booking for as soon as possible answers
//! with the estimated ready time as its timeslot's start; the lablet runs its
//! full length from when its lab is ready, each move of the estimate logged as
//! `lablet.rescheduled.v1`; hostile bodies and other owners are refused with
//! the reason, booking nothing.

use crate::api::{advance, TOPOLOGY};
use crate::common;

use axum::http::Method;
use ccm_core::ports::Clock;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn at(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_on_demand_lablet_is_estimated_then_runs_its_full_length_from_ready() {
    let ts = common::server(common::Options::default()).await;
    let keys = ts.role_keys().await;
    let (a, m, u) = keys.each();
    let (_, d) = ts
        .worker_and_definition(a, "od1", "on-demand", TOPOLOGY)
        .await;
    advance(&ts, 40 * 60).await;

    // Hostile or wrong bodies: 4xx with a code, nothing booked.
    for (key, body, status) in [
        (
            m,
            json!({"definition_id": d["id"], "duration_minutes": 0}),
            422,
        ),
        (
            m,
            json!({"definition_id": d["id"], "duration_minutes": 121}),
            422,
        ),
        (
            m,
            json!({"definition_id": d["id"], "duration_minutes": -5}),
            422,
        ),
        (
            m,
            json!({"definition_id": d["id"], "duration_minutes": 4294967296u64}),
            422,
        ),
        (m, json!({"definition_id": d["id"]}), 422),
        (
            m,
            json!({"definition_id": d["id"], "duration_minutes": 30, "timeslot": {}}),
            422,
        ),
        (
            m,
            json!({"definition_id": "00000000-0000-4000-8000-000000000000", "duration_minutes": 30}),
            404,
        ),
        (
            u,
            json!({"definition_id": d["id"], "duration_minutes": 30, "owner": "someone-else"}),
            403,
        ),
    ] {
        let (s, e) = ts
            .call(
                Method::POST,
                "/api/v1/lablets/on-demand",
                key,
                Some(body.clone()),
            )
            .await;
        assert_eq!(s, status, "{body}: {e}");
        assert!(e["error"]["code"].is_string(), "{e}");
    }
    let (_, none) = ts.call(Method::GET, "/api/v1/lablets", m, None).await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0, "{none}");

    let booked_at = ts.clock.now();
    let (s, l) = ts
        .call(
            Method::POST,
            "/api/v1/lablets/on-demand",
            m,
            Some(json!({"definition_id": d["id"], "duration_minutes": 50})),
        )
        .await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["spec"]["on_demand"], true);
    let estimate = at(&l["spec"]["timeslot"]["start"]);
    assert!(estimate > booked_at && estimate <= booked_at + chrono::Duration::minutes(10));
    assert_eq!(
        at(&l["spec"]["timeslot"]["end"]) - estimate,
        chrono::Duration::minutes(50)
    );

    advance(&ts, 15 * 60).await;
    let get = format!("/api/v1/lablets/{}", l["id"].as_str().unwrap());
    let (_, ran) = ts.call(Method::GET, &get, m, None).await;
    assert_eq!(ran["status"]["phase"], "running", "{ran}");
    let start = at(&ran["spec"]["timeslot"]["start"]);
    assert_eq!(
        at(&ran["spec"]["timeslot"]["end"]) - start,
        chrono::Duration::minutes(50)
    );
    let (_, moves) = ts
        .call(
            Method::GET,
            "/api/v1/events?type=lablet.rescheduled.v1",
            m,
            None,
        )
        .await;
    let last = moves["events"].as_array().unwrap().last().cloned().unwrap();
    assert_eq!(at(&last["data"]["to"]["start"]), start, "{moves}");
    assert!(last["data"]["reason"]
        .as_str()
        .unwrap()
        .starts_with("the lab is ready"));
}
