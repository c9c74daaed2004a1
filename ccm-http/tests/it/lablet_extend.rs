//! `POST /api/v1/lablets/{id}/extend`: a running lablet's end moves later and
//! the engine keeps it running until the new end; the owner check, the
//! definition's longest session, ended lablets and a worker being taken down
//! refuse it with the reason and change nothing.

use crate::api::{advance, TOPOLOGY};
use crate::common;

use axum::http::Method;
use ccm_core::ports::Clock;
use ccm_core::time::plus_seconds;
use serde_json::json;

#[tokio::test]
async fn a_running_lablet_is_extended_within_its_definition_and_runs_to_the_new_end() {
    let ts = common::server(common::Options::default()).await;
    let keys = ts.role_keys().await;
    let (a, m, u) = keys.each();
    let (w, d) = ts.worker_and_definition(a, "x1", "extend", TOPOLOGY).await;
    advance(&ts, 40 * 60).await;
    let start = plus_seconds(ts.clock.now(), 10 * 60);
    let end = plus_seconds(start, 3600);
    let (s, l) = ts
        .call(
            Method::POST,
            "/api/v1/lablets",
            m,
            Some(json!({"definition_id": d["id"], "timeslot": {"start": start, "end": end}})),
        )
        .await;
    assert_eq!(s, 201, "{l}");
    let path = format!("/api/v1/lablets/{}/extend", l["id"].as_str().unwrap());
    advance(&ts, 20 * 60).await;

    // Someone else's lablet does not exist for a user.
    let later = plus_seconds(end, 30 * 60);
    let (s, _) = ts
        .call(Method::POST, &path, u, Some(json!({"until": later})))
        .await;
    assert_eq!(s, 404);
    // Not later than the end, past the definition's 120 minutes, malformed: 4xx, nothing moves.
    for (body, status) in [
        (json!({"until": end}), 422),
        (json!({"until": plus_seconds(start, 121 * 60)}), 422),
        (json!({"until": "tomorrow"}), 422),
        (json!({"until": later, "extra": 1}), 422),
        (json!({}), 422),
    ] {
        let (s, e) = ts.call(Method::POST, &path, m, Some(body.clone())).await;
        assert_eq!(s, status, "{body}: {e}");
        assert!(e["error"]["code"].is_string(), "{e}");
    }
    let (_, same) = ts
        .call(
            Method::GET,
            &format!("/api/v1/lablets/{}", l["id"].as_str().unwrap()),
            m,
            None,
        )
        .await;
    assert_eq!(
        same["spec"]["timeslot"]["end"],
        l["spec"]["timeslot"]["end"]
    );

    let (s, extended) = ts
        .call(Method::POST, &path, m, Some(json!({"until": later})))
        .await;
    assert_eq!(s, 200, "{extended}");
    let new_end: chrono::DateTime<chrono::Utc> = extended["spec"]["timeslot"]["end"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(new_end, later);
    let (_, history) = ts
        .call(
            Method::GET,
            "/api/v1/events?type=lablet.extended.v1",
            m,
            None,
        )
        .await;
    assert_eq!(
        history["events"][0]["data"]["by"], "key:test-manager",
        "{history}"
    );

    // Past the old end it still runs; past the new one it has ended.
    advance(&ts, 60 * 60).await;
    let get = format!("/api/v1/lablets/{}", l["id"].as_str().unwrap());
    let (_, running) = ts.call(Method::GET, &get, m, None).await;
    assert_eq!(running["status"]["phase"], "running", "{running}");
    advance(&ts, 40 * 60).await;
    let (_, ended) = ts.call(Method::GET, &get, m, None).await;
    assert!(
        ["stopping", "stopped", "terminated"].contains(&ended["status"]["phase"].as_str().unwrap()),
        "{ended}"
    );
    let (s, e) = ts
        .call(
            Method::POST,
            &path,
            m,
            Some(json!({"until": plus_seconds(ts.clock.now(), 600)})),
        )
        .await;
    assert_eq!(s, 409, "an ended lablet: {e}");

    // A lablet on a worker being taken down is not extended.
    let start = plus_seconds(ts.clock.now(), 10 * 60);
    let (s, l2) = ts
        .call(
            Method::POST,
            "/api/v1/lablets",
            m,
            Some(json!({"definition_id": d["id"], "timeslot": {"start": start, "end": plus_seconds(start, 3600)}})),
        )
        .await;
    assert_eq!(s, 201, "{l2}");
    advance(&ts, 20 * 60).await;
    let (s, _) = ts
        .call(
            Method::POST,
            &format!(
                "/api/v1/workers/{}/stop?force=true",
                w["id"].as_str().unwrap()
            ),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200);
    let (s, e) = ts
        .call(
            Method::POST,
            &format!("/api/v1/lablets/{}/extend", l2["id"].as_str().unwrap()),
            m,
            Some(json!({"until": plus_seconds(start, 90 * 60)})),
        )
        .await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("taken down")
            || e["error"]["code"] == "invalid_transition",
        "{e}"
    );
}
