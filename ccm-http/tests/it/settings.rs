//! `GET /api/v1/settings`: the settings a process runs with, for admins only.

use crate::common;

use axum::http::Method;
use ccm_core::fleet::FleetSettings;

#[tokio::test]
async fn admins_read_the_settings_in_force_and_nothing_secret() {
    let mut settings = FleetSettings {
        monitoring_interval_seconds: 123,
        ..FleetSettings::default()
    };
    settings.autoscaler.enabled = true;
    settings.autoscaler.drain_grace_seconds = 456;
    settings.autoscaler.learn_warm_pool = true;
    settings.autoscaler.warm_pool_history_weeks = 3;
    let ts = common::server(common::Options {
        settings,
        ..common::Options::default()
    })
    .await;
    let path = "/api/v1/settings";
    let admin = ts.admin_only(path).await;
    let (status, body) = ts.call(Method::GET, path, Some(&admin), None).await;
    assert_eq!(status, 200, "{body}");
    let engine = &body["engine"];
    assert_eq!(engine["monitoring_interval_seconds"], 123, "{body}");
    assert_eq!(engine["autoscaler"]["enabled"], true);
    assert_eq!(engine["autoscaler"]["drain_grace_seconds"], 456);
    assert_eq!(engine["autoscaler"]["learn_warm_pool"], true);
    assert_eq!(engine["autoscaler"]["warm_pool_history_weeks"], 3);
    assert!(engine["lablets"]["lead_time_seconds"].is_number(), "{body}");
    assert_eq!(body["licence_token_configured"], false);
    assert_eq!(body["server"]["regions"][0], "us-east-1");
    assert_eq!(body["server"]["body_limit_bytes"], 64 * 1024);
    // Nothing named like a credential is part of it.
    let text = body.to_string();
    for word in ["password", "secret", "token\"", "database"] {
        assert!(!text.contains(word), "{word} in {text}");
    }
}
