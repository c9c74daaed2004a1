//! The event stream: snapshot, order with sequence ids, filters, role visibility,
//! resume with Last-Event-ID (also across a restart on the same SQLite file),
//! heartbeat, the shutdown event, and the one log reader per process that feeds
//! every stream (a stream behind it reads its own way back).

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ccm_core::fleet::CreateWorker;
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::store::StoreError;
use ccm_core::ports::Store;
use ccm_http::auth::Role;
use ccm_http::metrics::LogReader;

const WAIT: Duration = Duration::from_secs(10);

async fn create_worker(ts: &common::TestServer, name: &str) -> WorkerId {
    ts.server
        .state()
        .fleet
        .create_worker(CreateWorker {
            name: name.into(),
            region: Region::new("us-east-1"),
            instance_type: None,
            labels: BTreeMap::new(),
            tags: BTreeMap::new(),
            idle_detection_disabled: false,
            created_by: None,
            image: None,
        })
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn snapshot_then_every_event_in_order_with_its_sequence_as_id() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::User).await;
    let before = create_worker(&ts, "early").await;
    let mut stream = common::open_stream(&ts, &key, "", None).await;
    let snapshot = stream.next_within(WAIT).await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.id, None);
    let data = snapshot.json();
    assert_eq!(data["workers"][0]["id"], before.to_string());
    let after = data["after_sequence"].as_u64().unwrap();
    for n in 0..5 {
        create_worker(&ts, &format!("w{n}")).await;
    }
    for expected in after + 1..after + 6 {
        let event = stream.next_within(WAIT).await.unwrap();
        assert_eq!(event.event, "worker.created.v2");
        assert_eq!(event.id, Some(expected.to_string()));
        assert_eq!(event.json()["sequence"], expected);
    }
}

#[tokio::test]
async fn a_snapshot_lists_workers_only_when_the_stream_can_receive_worker_events() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::User).await;
    let worker = create_worker(&ts, "listed").await.to_string();
    for (query, listed) in [
        ("", true),
        ("?type=worker.created.v2", true),
        ("?type=work*", true),
        ("?type=*", true),
        ("?type=worker.status.*,lablet.*", true),
        ("?type=lablet.phase.changed.v1", false),
        ("?type=lablet.*,fleet.*", false),
    ] {
        let mut stream = common::open_stream(&ts, &key, query, None).await;
        let snapshot = stream.next_within(WAIT).await.unwrap();
        assert_eq!(snapshot.event, "snapshot", "{query}");
        let workers = snapshot.json()["workers"].as_array().unwrap().clone();
        let ids: Vec<&str> = workers.iter().filter_map(|w| w["id"].as_str()).collect();
        assert_eq!(ids == [worker.as_str()], listed, "{query}: {ids:?}");
        assert_eq!(ids.is_empty(), !listed, "{query}: {ids:?}");
    }
}

#[tokio::test]
async fn filters_by_worker_and_type_and_hides_what_the_role_may_not_see() {
    let ts = common::server(common::Options::default()).await;
    let user = ts.key(Role::User).await;
    let manager = ts.key(Role::Manager).await;
    let a = create_worker(&ts, "a").await;
    let mut only_a = common::open_stream(&ts, &user, &format!("?worker={a}"), Some(0)).await;
    let mut types =
        common::open_stream(&ts, &user, "?type=fleet.*,worker.created.v2", Some(0)).await;
    let mut as_manager = common::open_stream(&ts, &manager, "?type=fleet.*", Some(0)).await;
    for s in [&mut only_a, &mut types, &mut as_manager] {
        assert_eq!(s.next_within(WAIT).await.unwrap().event, "snapshot");
    }
    let b = create_worker(&ts, "b").await;
    common::commit_fleet_events(&ts, 1).await;
    ts.server
        .state()
        .fleet
        .stop_worker(a, ccm_core::fleet::WhenLabletsBound::Refuse)
        .await
        .unwrap();

    // Worker filter: a's creation and spec change, nothing of b.
    let e1 = only_a.next_within(WAIT).await.unwrap();
    assert_eq!(e1.event, "worker.created.v2");
    assert_eq!(e1.json()["subject"]["id"], a.to_string());
    let e2 = only_a.next_within(WAIT).await.unwrap();
    assert_eq!(e2.json()["subject"]["id"], a.to_string());
    assert_ne!(e2.event, "worker.created.v2");

    // Type filter for a user: both creations; the fleet event is not for users.
    let t1 = types.next_within(WAIT).await.unwrap();
    let t2 = types.next_within(WAIT).await.unwrap();
    assert_eq!(t1.json()["subject"]["id"], a.to_string());
    assert_eq!(t2.json()["subject"]["id"], b.to_string());
    // The manager sees the fleet event.
    let m = as_manager.next_within(WAIT).await.unwrap();
    assert_eq!(m.event, "fleet.scaling.decided.v1");

    // After one more visible event, the user's stream shows it next: the fleet
    // event was skipped, not delayed.
    create_worker(&ts, "c").await;
    let t3 = types.next_within(WAIT).await.unwrap();
    assert_eq!(t3.event, "worker.created.v2");
    assert!(t3.id.unwrap().parse::<u64>().unwrap() > m.id.unwrap().parse::<u64>().unwrap());

    // The history endpoint applies the same rules.
    let (status, history) = ts
        .call(
            axum::http::Method::GET,
            "/api/v1/events?after=0&type=fleet.*",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(history["events"].as_array().unwrap().len(), 0);
    let (_, history) = ts
        .call(
            axum::http::Method::GET,
            "/api/v1/events?after=0&type=fleet.*",
            Some(&manager),
            None,
        )
        .await;
    assert_eq!(history["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn last_event_id_resumes_with_nothing_lost_or_repeated_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/ccm.db", dir.path().display());
    let mut seen: Vec<u64> = Vec::new();
    let last_seen;
    {
        let store: Arc<dyn Store> =
            Arc::new(ccm_store_sqlite::SqliteStore::open(&url).await.unwrap());
        let ts = common::server(common::Options {
            store: Some(store),
            ..common::Options::default()
        })
        .await;
        let key = ts.key(Role::Admin).await;
        for n in 0..3 {
            create_worker(&ts, &format!("before-{n}")).await;
        }
        let mut stream = common::open_stream(&ts, &key, "", Some(0)).await;
        assert_eq!(stream.next_within(WAIT).await.unwrap().event, "snapshot");
        for _ in 0..2 {
            let e = stream.next_within(WAIT).await.unwrap();
            seen.push(e.id.unwrap().parse().unwrap());
        }
        last_seen = *seen.last().unwrap();
        // More events land while the client is away, then the server stops.
        for n in 0..3 {
            create_worker(&ts, &format!("while-away-{n}")).await;
        }
        ts.server.shutdown_handle().send(true).unwrap();
        let mut rest = Vec::new();
        while let Some(e) = stream.next_within(WAIT).await {
            rest.push(e.event);
        }
        assert_eq!(rest.last().map(String::as_str), Some("shutdown"));
    }
    // A new server on the same file; the client resumes after the last id it saw.
    // The stopped server's tasks let go of the file's lock as they finish.
    let store: Arc<dyn Store> = Arc::new(reopen_when_released(&url).await);
    let ts = common::server(common::Options {
        store: Some(store.clone()),
        ..common::Options::default()
    })
    .await;
    let key = ts.key(Role::Admin).await;
    let total_before_resume = store.last_sequence().await.unwrap();
    let mut stream = common::open_stream(&ts, &key, "", Some(last_seen)).await;
    let snapshot = stream.next_within(WAIT).await.unwrap();
    assert_eq!(snapshot.event, "snapshot");
    assert_eq!(snapshot.json()["resumed"], true);
    create_worker(&ts, "after-restart").await;
    let mut resumed = Vec::new();
    let last = store.last_sequence().await.unwrap();
    assert!(last > total_before_resume);
    while resumed.last() != Some(&last) {
        let e = stream.next_within(WAIT).await.unwrap();
        if e.event == "heartbeat" {
            continue;
        }
        resumed.push(e.id.unwrap().parse::<u64>().unwrap());
    }
    let all: Vec<u64> = seen.iter().chain(resumed.iter()).copied().collect();
    let expected: Vec<u64> = (1..=last).collect();
    assert_eq!(all, expected, "every sequence exactly once, in order");
}

#[tokio::test(start_paused = true)]
async fn a_quiet_stream_sends_heartbeats() {
    let ts = common::server(common::Options {
        heartbeat: Duration::from_secs(30),
        ..common::Options::default()
    })
    .await;
    let key = ts.key(Role::User).await;
    let mut stream = common::open_stream(&ts, &key, "", None).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
    let started = tokio::time::Instant::now();
    let beat = stream.next().await.unwrap();
    assert_eq!(beat.event, "heartbeat");
    assert_eq!(beat.id, None);
    assert!(started.elapsed() >= Duration::from_secs(30));
    let beat = stream.next().await.unwrap();
    assert_eq!(beat.event, "heartbeat");
    assert!(started.elapsed() >= Duration::from_secs(60));
}

/// The heartbeat follows the last frame sent by a whole quiet interval, however
/// the events fall; the stream's one timer is re-armed lazily, not per event.
#[tokio::test(start_paused = true)]
async fn a_heartbeat_comes_a_quiet_interval_after_the_last_frame() {
    let ts = common::server(common::Options {
        heartbeat: Duration::from_secs(30),
        ..common::Options::default()
    })
    .await;
    let key = ts.key(Role::Admin).await;
    let mut stream = common::open_stream(&ts, &key, "", None).await;
    assert_eq!(stream.next().await.unwrap().event, "snapshot");
    let mut last_frame = tokio::time::Instant::now();
    let one_interval = Duration::from_secs(30)..Duration::from_millis(30_010);
    // Events at 20 s, 40 s and 60 s: each starts the quiet interval again, so no
    // heartbeat before 90 s (the stream's alarm, set for 30 s, fires early and
    // is moved on).
    for n in 0..3 {
        tokio::time::sleep(Duration::from_secs(20)).await;
        create_worker(&ts, &format!("w{n}")).await;
        loop {
            let frame = stream.next().await.unwrap();
            assert_ne!(
                frame.event, "heartbeat",
                "no heartbeat while events keep coming"
            );
            last_frame = tokio::time::Instant::now();
            if frame.event == "worker.created.v2" {
                break;
            }
        }
    }
    for _ in 0..2 {
        let frame = stream.next().await.unwrap();
        assert_eq!(frame.event, "heartbeat");
        let quiet = last_frame.elapsed();
        assert!(
            one_interval.contains(&quiet),
            "a heartbeat {quiet:?} after the last frame"
        );
        last_frame = tokio::time::Instant::now();
    }
}

#[tokio::test]
async fn a_bad_last_event_id_is_400() {
    let ts = common::server(common::Options::default()).await;
    let key = ts.key(Role::User).await;
    let response = ts
        .send(
            axum::http::Request::builder()
                .uri("/api/v1/events/stream")
                .header("authorization", format!("Bearer {key}"))
                .header("last-event-id", "yesterday")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(response.status(), 400);
}

fn sequence_of(event: &common::SseEvent) -> u64 {
    event.id.as_deref().unwrap().parse().unwrap()
}

#[tokio::test]
async fn streams_at_the_head_share_one_reader_of_the_log() {
    const STREAMS: usize = 20;
    const COMMITS: u64 = 30;
    let ts = common::server(common::Options {
        limits: ccm_http::limits::ServerLimits {
            sse_streams_per_principal: STREAMS,
            ..Default::default()
        },
        ..common::Options::default()
    })
    .await;
    let key = ts.key(Role::Admin).await;
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        let mut stream = common::open_stream(&ts, &key, "?type=fleet.*", None).await;
        assert_eq!(stream.next_within(WAIT).await.unwrap().event, "snapshot");
        streams.push(stream);
    }
    // The first event after connecting ends every stream's own catch-up read.
    common::commit_fleet_events(&ts, 1).await;
    for stream in &mut streams {
        assert_eq!(
            stream.next_within(WAIT).await.unwrap().event,
            "fleet.scaling.decided.v1"
        );
    }
    let metrics = &ts.server.state().metrics;
    let (stream_reads, hub_reads) = (
        metrics.log_reads(LogReader::Stream),
        metrics.log_reads(LogReader::Hub),
    );
    let started = std::time::Instant::now();
    for _ in 0..COMMITS {
        common::commit_fleet_events(&ts, 1).await;
        let expected = ts.store.last_sequence().await.unwrap();
        for stream in &mut streams {
            let event = stream.next_within(WAIT).await.unwrap();
            assert_eq!(sequence_of(&event), expected);
        }
    }
    let elapsed = started.elapsed().as_secs();
    assert_eq!(
        metrics.log_reads(LogReader::Stream) - stream_reads,
        0,
        "streams at the head never read the log themselves"
    );
    let hub = metrics.log_reads(LogReader::Hub) - hub_reads;
    // One read per wake-up and one per resync second: independent of the
    // number of streams (a read per stream would be STREAMS × COMMITS = 600).
    assert!(
        (1..=COMMITS + elapsed + 2).contains(&hub),
        "{hub} hub reads for {COMMITS} commits"
    );
}

#[tokio::test]
async fn a_stream_that_falls_behind_the_hub_reads_its_way_back_with_nothing_lost() {
    let ts = common::server(common::Options {
        limits: ccm_http::limits::ServerLimits {
            sse_buffer_events: 4,
            ..Default::default()
        },
        ..common::Options::default()
    })
    .await;
    let key = ts.key(Role::Manager).await;
    let mut stream = common::open_stream(&ts, &key, "", None).await;
    assert_eq!(stream.next_within(WAIT).await.unwrap().event, "snapshot");
    common::commit_fleet_events(&ts, 1).await;
    let first = sequence_of(&stream.next_within(WAIT).await.unwrap());
    let reads_before = ts.server.state().metrics.log_reads(LogReader::Stream);
    // Fifty events in one commit: the hub hands them out in one go, far past
    // the four it keeps, while this stream has read none of them.
    common::commit_fleet_events(&ts, 50).await;
    let mut got = Vec::new();
    while got.len() < 50 {
        let event = stream.next_within(WAIT).await.unwrap();
        assert_eq!(event.event, "fleet.scaling.decided.v1");
        got.push(sequence_of(&event));
    }
    let expected: Vec<u64> = (first + 1..=first + 50).collect();
    assert_eq!(got, expected, "every event once, in order");
    assert!(
        ts.server.state().metrics.log_reads(LogReader::Stream) > reads_before,
        "the lagging stream caught up from the log"
    );
    // And it follows the hub again afterwards.
    common::commit_fleet_events(&ts, 1).await;
    assert_eq!(
        sequence_of(&stream.next_within(WAIT).await.unwrap()),
        first + 51
    );
}

/// The SQLite store at `url`, once the process's previous holder of its lock
/// has let go (within a generous bound).
async fn reopen_when_released(url: &str) -> ccm_store_sqlite::SqliteStore {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match ccm_store_sqlite::SqliteStore::open(url).await {
            Ok(store) => return store,
            Err(StoreError::InUse { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(other) => panic!("reopening {url}: {other}"),
        }
    }
}
