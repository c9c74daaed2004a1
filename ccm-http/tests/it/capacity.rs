//! `GET /api/v1/cost` and `GET /api/v1/capacity/forecast` on the simulator with a
//! virtual clock: the cost follows the workers' billed time (a stopped worker
//! keeps what it billed), the forecast follows the bookings, both answer the
//! same from another engine over the same store, roles are checked and hostile
//! queries are refused without effect.

use crate::api::{advance, TOPOLOGY};
use crate::common;

use axum::http::Method;
use ccm_core::ports::Clock;
use ccm_core::time::plus_seconds;
use ccm_http::auth::Role;
use serde_json::{json, Value};

const PRICE: f64 = 3.9641;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.02 + 1e-3 * b.abs()
}

#[tokio::test]
async fn cost_and_forecast_follow_the_fleet_and_refuse_what_they_should() {
    // One instance type, so the forecast's sizing is exact.
    let mut settings = ccm_core::fleet::FleetSettings::default();
    settings
        .instance_types
        .types
        .retain(|t| t.name == "m5zn.metal");
    let ts = common::server(common::Options {
        settings,
        ..common::Options::default()
    })
    .await;
    let keys = ts.role_keys().await;
    let (a, m, u) = keys.each();

    // Nothing runs: nothing billed.
    let (s, cost) = ts.call(Method::GET, "/api/v1/cost", u, None).await;
    assert_eq!(s, 200, "{cost}");
    assert_eq!(cost["billing_workers"], 0);
    assert_eq!(cost["today"]["usd"], 0.0);
    let (s, _) = ts.call(Method::GET, "/api/v1/cost", None, None).await;
    assert_eq!(s, 401, "cost needs a key");

    let mut ids = Vec::new();
    for (name, region) in [("c1", "us-east-1"), ("c2", "us-west-2")] {
        let (s, w) = ts
            .call(
                Method::POST,
                "/api/v1/workers",
                a,
                Some(json!({"name": name, "region": region, "idle_detection_disabled": true})),
            )
            .await;
        assert_eq!(s, 201, "{w}");
        ids.push(w["id"].as_str().unwrap().to_owned());
    }
    advance(&ts, 60 * 60).await;
    let (_, cost) = ts.call(Method::GET, "/api/v1/cost", u, None).await;
    assert_eq!(cost["billing_workers"], 2, "{cost}");
    assert!(
        close(
            cost["burn_rate_usd_per_hour"].as_f64().unwrap(),
            2.0 * PRICE
        ),
        "{cost}"
    );
    let hours = cost["today"]["worker_hours"].as_f64().unwrap();
    // Each launched a few seconds after its creation and billed since: an hour each.
    assert!((1.9..=2.0).contains(&hours), "{cost}");
    assert!(
        close(cost["today"]["usd"].as_f64().unwrap(), hours * PRICE),
        "{cost}"
    );
    assert_eq!(
        cost["groups"].as_array().unwrap().len(),
        2,
        "one per region: {cost}"
    );
    // Both ran the whole hour they existed: always-on saves nothing here.
    assert!(
        cost["today"]["saving_usd"].as_f64().unwrap().abs() < 0.1,
        "{cost}"
    );
    // The Prometheus gauges say the same.
    let (s, text) = crate::api::raw(
        &ts,
        axum::http::Request::get("/metrics")
            .header("authorization", format!("Bearer {}", keys.user))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    let today = cost["today"]["usd"].as_f64().unwrap();
    let gauge: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("ccm_fleet_cost_usd{period=\"today\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(close(gauge, today), "{gauge} vs {today}");
    assert!(text.contains("ccm_fleet_saving_usd{period=\"week\"}"));

    // A stopped worker keeps what it billed and bills no more; always-on would
    // have gone on billing, which is the saving.
    let (s, _) = ts
        .call(
            Method::POST,
            &format!("/api/v1/workers/{}/stop", ids[0]),
            m,
            None,
        )
        .await;
    assert_eq!(s, 200);
    advance(&ts, 2 * 60 * 60).await;
    let (_, later) = ts.call(Method::GET, "/api/v1/cost", u, None).await;
    assert_eq!(later["billing_workers"], 1, "{later}");
    let later_hours = later["today"]["worker_hours"].as_f64().unwrap();
    assert!(
        (3.9..=4.2).contains(&later_hours),
        "one hour + a few minutes stopping + two: {later}"
    );
    assert!(
        later["today"]["saving_usd"].as_f64().unwrap() > 1.8 * PRICE,
        "{later}"
    );

    // Another engine over the same store answers from the records, not from
    // the first one's memory.
    let other = common::server(common::Options {
        store: Some(ts.store.clone()),
        ..common::Options::default()
    })
    .await;
    other.clock.advance_to(ts.clock.now());
    let other_key = other.key(Role::User).await;
    let (_, again) = other
        .call(Method::GET, "/api/v1/cost", Some(&other_key), None)
        .await;
    assert_eq!(again["week"], later["week"], "{again}");

    // The forecast: managers and admins only.
    let (s, _) = ts
        .call(Method::GET, "/api/v1/capacity/forecast", u, None)
        .await;
    assert_eq!(s, 403);
    let (s, d) = ts
        .call(
            Method::POST,
            "/api/v1/definitions",
            a,
            Some(common::definition_body(
                "forecast", TOPOLOGY, 40000, 8192, 120,
            )),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    let start = plus_seconds(ts.clock.now(), 3 * 3600);
    let end = plus_seconds(start, 3600);
    for _ in 0..3 {
        let (s, l) = ts
            .call(
                Method::POST,
                "/api/v1/lablets",
                m,
                Some(json!({"definition_id": d["id"], "timeslot": {"start": start, "end": end}})),
            )
            .await;
        assert_eq!(s, 201, "{l}");
    }
    let (s, f) = ts
        .call(
            Method::GET,
            "/api/v1/capacity/forecast?hours=6&step_minutes=15",
            m,
            None,
        )
        .await;
    assert_eq!(s, 200, "{f}");
    let steps = f["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 24);
    assert_eq!(f["step_seconds"], 900);
    let lead = f["lead"]["seconds"].as_i64().unwrap();
    assert_eq!(lead, 35 * 60, "nothing learned yet: the configured lead");
    let holding = |step: &Value| {
        let at: chrono::DateTime<chrono::Utc> = step["at"].as_str().unwrap().parse().unwrap();
        plus_seconds(start, -lead) <= at && at < end
    };
    for step in steps {
        if holding(step) {
            assert_eq!(step["lablets"], 3, "{step}");
            // 40 vCPU each: one per 48-vCPU metal worker.
            assert_eq!(step["workers_needed"], 3, "{step}");
            assert!(
                close(step["hourly_usd"].as_f64().unwrap(), 3.0 * PRICE),
                "{step}"
            );
        } else {
            assert_eq!(step["lablets"], 0, "{step}");
            assert_eq!(step["workers_needed"], 0, "{step}");
        }
    }
    let starts: u64 = steps.iter().map(|s| s["starts"].as_u64().unwrap()).sum();
    let stops: u64 = steps.iter().map(|s| s["stops"].as_u64().unwrap()).sum();
    assert_eq!(f["workers_now"], 1, "{f}");
    // From one running worker: it goes idle (1 stop), three start for the
    // lablets, three stop after them.
    assert_eq!((starts, stops), (3, 4), "{f}");

    // Hostile queries: refused, clearly, with nothing changed.
    for query in [
        "hours=0",
        "hours=169",
        "step_minutes=4",
        "step_minutes=61",
        "hours=-1",
        "hours=abc",
        "step=15",
    ] {
        let (s, e) = ts
            .call(
                Method::GET,
                &format!("/api/v1/capacity/forecast?{query}"),
                m,
                None,
            )
            .await;
        assert!(s == 400 || s == 422, "{query}: {s} {e}");
        assert!(e["error"]["code"].is_string(), "{query}: {e}");
    }
    let (s, week) = ts
        .call(
            Method::GET,
            "/api/v1/capacity/forecast?hours=168&step_minutes=5",
            a,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(week["steps"].as_array().unwrap().len(), 168 * 12);
}
