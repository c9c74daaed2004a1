//! Readers of a compacted event log: the history answers 410 `gone` for a cursor
//! retention compacted past (and reads on from where the log starts), the stream
//! sends `gone` and ends — at connect and when compaction overtakes a stream —
//! and the retention settings come from the configuration.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::Method;
use ccm_assembly::config::{load_from, Sources};
use ccm_core::time::epoch;
use ccm_http::auth::Role;

const WAIT: Duration = Duration::from_secs(10);

/// Keeps the newest `keep` events; returns the log's first sequence afterwards.
async fn compact_to(ts: &common::TestServer, keep: u64) -> u64 {
    let report = ts.store.compact_events(epoch(), keep).await.unwrap();
    assert!(!report.more);
    let first = ts.store.first_sequence().await.unwrap();
    assert_eq!(report.first_sequence, first);
    first
}

#[tokio::test]
async fn history_from_a_compacted_position_is_gone_and_says_where_to_resume() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::Admin).await;
    let last = common::commit_fleet_events(&ts, 6).await;
    let first = compact_to(&ts, 2).await;
    assert_eq!(first, last - 1);

    for after in [0, first - 2] {
        let (status, body) = ts
            .call(
                Method::GET,
                &format!("/api/v1/events?after={after}"),
                Some(&key),
                None,
            )
            .await;
        assert_eq!(status, 410, "after={after}: {body}");
        let error = &body["error"];
        assert_eq!(error["code"], "gone");
        assert_eq!(error["details"]["after"], after);
        assert_eq!(error["details"]["first_sequence"], first);
        assert_eq!(error["details"]["resume_after"], first - 1);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("list the resources again"),
            "{error}"
        );
    }

    let (status, body) = ts
        .call(
            Method::GET,
            &format!("/api/v1/events?after={}", first - 1),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sequences: Vec<u64> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, vec![first, last]);
    assert_eq!(body["end"], true);
    let (status, body) = ts
        .call(
            Method::GET,
            &format!("/api/v1/events?after={last}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!((status, body["events"].as_array().unwrap().len()), (200, 0));
}

#[tokio::test]
async fn a_stream_resuming_from_a_compacted_position_gets_gone_and_ends() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::Admin).await;
    let last = common::commit_fleet_events(&ts, 5).await;
    let first = compact_to(&ts, 1).await;
    assert_eq!(first, last);

    let mut stream = common::open_stream(&ts, &key, "", Some(1)).await;
    let gone = stream.next_within(WAIT).await.expect("an event");
    assert_eq!(gone.event, "gone");
    assert_eq!(gone.id, None, "gone moves no cursor");
    assert_eq!(gone.json()["last_event_id"], 1);
    assert_eq!(gone.json()["first_sequence"], first);
    assert_eq!(stream.next_within(WAIT).await, None, "the stream ends");

    // From the first retained position the stream resumes as usual.
    let mut stream = common::open_stream(&ts, &key, "", Some(first - 1)).await;
    let snapshot = stream.next_within(WAIT).await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.json()["resumed"], true);
    let event = stream.next_within(WAIT).await.unwrap();
    assert_eq!(event.id, Some(first.to_string()));
}

#[tokio::test]
async fn a_stream_overtaken_by_compaction_gets_gone_and_ends() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::Admin).await;
    common::commit_fleet_events(&ts, 2).await;
    let mut stream = common::open_stream(&ts, &key, "", None).await;
    let snapshot = stream.next_within(WAIT).await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    let at = snapshot.json()["after_sequence"].as_u64().unwrap();
    // The stream reads only when polled: these events leave the log unread.
    let last = common::commit_fleet_events(&ts, 3).await;
    compact_to(&ts, 0).await;
    assert_eq!(ts.store.first_sequence().await.unwrap(), last + 1);
    let gone = stream.next_within(WAIT).await.expect("an event");
    assert_eq!(gone.event, "gone");
    assert_eq!(gone.json()["last_event_id"], at);
    assert_eq!(stream.next_within(WAIT).await, None, "the stream ends");
}

#[tokio::test]
async fn retention_settings_come_from_the_configuration() {
    let defaults = ccm_assembly::settings::fleet_settings(&load_from(&Sources::default()).unwrap());
    assert_eq!(
        (defaults.event_retention_days, defaults.event_retention_max),
        (30, 10_000_000)
    );
    let env = BTreeMap::from([
        ("CCM_EVENT_RETENTION_DAYS".to_owned(), "7".to_owned()),
        ("CCM_EVENT_RETENTION_MAX".to_owned(), "5000".to_owned()),
    ]);
    let config = load_from(&Sources { file: None, env }).unwrap();
    let settings = ccm_assembly::settings::fleet_settings(&config);
    assert_eq!(
        (settings.event_retention_days, settings.event_retention_max),
        (7, 5000)
    );
    let env = BTreeMap::from([("CCM_EVENT_RETENTION_MAX".to_owned(), "0".to_owned())]);
    let problems = load_from(&Sources { file: None, env }).unwrap_err().0;
    assert!(
        problems
            .iter()
            .any(|p| p.path == "engine.event_retention_max" && p.reason.contains("at least 1")),
        "{problems:?}"
    );
}
