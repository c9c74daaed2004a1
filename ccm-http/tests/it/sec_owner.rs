//! Who may see and do what (issue 15): lablets scoped to their owner for users
//! (list, get, cancel, delete, booking with self-service off and on), topology
//! downloads only of one's own lablets' labs, worker activity and job error texts
//! hidden from users only, and an API key's last-used time written at most once a
//! minute. Users are API keys, whose subject is `key:<name>`.

use crate::api::{advance, raw, TOPOLOGY};
use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use ccm_core::ids::{LabletId, WorkerId};
use ccm_core::job::{JobOutcome, JobRecord, JobSchedule};
use ccm_core::ports::store::ChangeSet;
use ccm_core::ports::Clock;
use ccm_core::store::MemoryStore;
use ccm_core::testing::hooked_store::HookedStore;
use ccm_core::time::plus_seconds;
use ccm_http::auth::{api_keys, Role};
use serde_json::{json, Value};

/// One key per person of the scenario: two users, a manager and an admin.
struct People {
    alice: String,
    bob: String,
    manager: String,
    admin: String,
}

async fn key(ts: &common::TestServer, name: &str, role: Role) -> String {
    api_keys::create_key(ts.store.as_ref(), name, role, ts.clock.now())
        .await
        .unwrap()
        .1
}

async fn people(ts: &common::TestServer) -> People {
    People {
        alice: key(ts, "alice", Role::User).await,
        bob: key(ts, "bob", Role::User).await,
        manager: key(ts, "boss", Role::Manager).await,
        admin: key(ts, "root", Role::Admin).await,
    }
}

async fn definition(ts: &common::TestServer, admin: &str) -> String {
    let (s, d) = ts
        .call(
            Method::POST,
            "/api/v1/definitions",
            Some(admin),
            Some(json!({
                "name": "ccna", "version": "1.0.0", "topology_yaml": TOPOLOGY,
                "needs": {"resources": {"cpu_millis": 2000, "memory_mib": 4096, "storage_gib": 10}, "nodes": 0, "ports": 1},
                "licence_affinity": null, "min_cml_version": null,
                "max_duration_minutes": 120, "warm_pool_depth": 0
            })),
        )
        .await;
    assert_eq!(s, 201, "{d}");
    d["id"].as_str().unwrap().to_owned()
}

/// A booking body starting `in_seconds` from now, for `owner` when given.
fn booking(ts: &common::TestServer, did: &str, in_seconds: i64, owner: Option<&str>) -> Value {
    let start = plus_seconds(ts.clock.now(), in_seconds);
    let end = plus_seconds(start, 3600);
    let mut body = json!({"definition_id": did, "timeslot": {"start": start, "end": end}});
    if let Some(owner) = owner {
        body["owner"] = json!(owner);
    }
    body
}

async fn book(ts: &common::TestServer, token: &str, body: Value) -> (u16, Value) {
    ts.call(Method::POST, "/api/v1/lablets", Some(token), Some(body))
        .await
}

/// Books one lablet for `owner` as `manager` and returns its id.
async fn book_for(
    ts: &common::TestServer,
    manager: &str,
    did: &str,
    in_seconds: i64,
    owner: &str,
) -> String {
    let (s, l) = book(ts, manager, booking(ts, did, in_seconds, Some(owner))).await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["spec"]["owner"], owner);
    l["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn users_see_and_act_on_their_own_lablets_and_managers_on_all() {
    let ts = common::server(common::Options::default()).await;
    let p = people(&ts).await;
    let did = definition(&ts, &p.admin).await;
    let mut alices = Vec::new();
    for i in 0..3 {
        alices.push(book_for(&ts, &p.manager, &did, 3600 + i, "key:alice").await);
    }
    let bobs = vec![
        book_for(&ts, &p.admin, &did, 3700, "key:bob").await,
        book_for(&ts, &p.manager, &did, 3800, "key:bob").await,
    ];
    let list = |token: &str, query: &str| {
        let path = format!("/api/v1/lablets{query}");
        let token = token.to_owned();
        let ts = &ts;
        async move {
            let (s, page) = ts.call(Method::GET, &path, Some(&token), None).await;
            assert_eq!(s, 200, "{path}: {page}");
            page
        }
    };

    // Users list their own only, paginated over their own.
    let page = list(&p.alice, "").await;
    assert_eq!(page["total"], 3, "{page}");
    assert_eq!(ids(&page), alices);
    let first = list(&p.alice, "?limit=2").await;
    assert_eq!(first["total"], 3);
    assert_eq!(first["next_offset"], 2);
    assert_eq!(ids(&first), alices[..2].to_vec());
    assert_eq!(ids(&list(&p.alice, "?owner=key:alice").await), alices);
    // Naming someone else gives an empty list, not their lablets.
    let other = list(&p.alice, "?owner=key:bob").await;
    assert_eq!(other["total"], 0, "{other}");
    assert_eq!(ids(&list(&p.bob, "").await), bobs);
    // Managers and admins list everyone's, and may filter by owner.
    for token in [&p.manager, &p.admin] {
        assert_eq!(list(token, "").await["total"], 5);
        assert_eq!(ids(&list(token, "?owner=key:bob").await), bobs);
    }

    // Get: another's lablet answers exactly like one that does not exist.
    let get = |token: &str, id: &str| {
        let path = format!("/api/v1/lablets/{id}");
        let token = token.to_owned();
        let ts = &ts;
        async move { ts.call(Method::GET, &path, Some(&token), None).await }
    };
    let (s, l) = get(&p.alice, &alices[0]).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["spec"]["owner"], "key:alice");
    let (s, hidden) = get(&p.alice, &bobs[0]).await;
    assert_eq!(s, 404, "{hidden}");
    let missing_id = LabletId::new().to_string();
    let (s, missing) = get(&p.alice, &missing_id).await;
    assert_eq!(s, 404);
    assert_eq!(hidden["error"]["code"], missing["error"]["code"]);
    assert_eq!(
        hidden["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&bobs[0], "ID"),
        missing["error"]["message"]
            .as_str()
            .unwrap()
            .replace(&missing_id, "ID")
    );
    for token in [&p.manager, &p.admin, &p.bob] {
        assert_eq!(get(token, &bobs[0]).await.0, 200);
    }

    // Cancel and delete: a user only their own; another's is 404 and unchanged.
    let cancel = |token: &str, id: &str| {
        let path = format!("/api/v1/lablets/{id}/cancel");
        let token = token.to_owned();
        let ts = &ts;
        async move { ts.call(Method::POST, &path, Some(&token), None).await }
    };
    let delete = |token: &str, id: &str| {
        let path = format!("/api/v1/lablets/{id}");
        let token = token.to_owned();
        let ts = &ts;
        async move { ts.call(Method::DELETE, &path, Some(&token), None).await }
    };
    let (s, b) = cancel(&p.alice, &bobs[0]).await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = delete(&p.alice, &bobs[1]).await;
    assert_eq!(s, 404, "{b}");
    for id in &bobs {
        let (_, l) = get(&p.bob, id).await;
        assert_eq!(l["spec"]["cancel_requested"], false, "{l}");
        assert!(l["meta"]["deletion_timestamp"].is_null(), "{l}");
    }
    let (s, l) = cancel(&p.alice, &alices[0]).await;
    assert_eq!(s, 200, "{l}");
    assert_eq!(l["spec"]["cancel_requested"], true);
    let (s, l) = delete(&p.alice, &alices[1]).await;
    assert_eq!(s, 200, "{l}");
    assert!(l["meta"]["deletion_timestamp"].is_string(), "{l}");
    // Managers and admins act on anyone's.
    let (s, l) = cancel(&p.manager, &bobs[0]).await;
    assert_eq!(s, 200, "{l}");
    let (s, l) = delete(&p.admin, &alices[2]).await;
    assert_eq!(s, 200, "{l}");
}

#[tokio::test]
async fn users_book_only_with_self_service_and_only_for_themselves() {
    // Off (the default): users are refused; managers book for anyone.
    let ts = common::server(common::Options::default()).await;
    let p = people(&ts).await;
    let did = definition(&ts, &p.admin).await;
    let (s, b) = book(&ts, &p.alice, booking(&ts, &did, 3600, None)).await;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["code"], "forbidden");
    assert_eq!(b["error"]["message"], "self-service booking is off");
    let (s, b) = book(&ts, &p.alice, booking(&ts, &did, 3600, Some("key:alice"))).await;
    assert_eq!(s, 403, "{b}");
    let (_, page) = ts
        .call(Method::GET, "/api/v1/lablets", Some(&p.admin), None)
        .await;
    assert_eq!(page["total"], 0, "nothing booked by a refused user");
    book_for(&ts, &p.manager, &did, 3600, "key:alice").await;
    let (s, l) = book(&ts, &p.admin, booking(&ts, &did, 3600, None)).await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["spec"]["owner"], "key:root", "the caller by default");
    let (_, me) = ts
        .call(Method::GET, "/api/v1/session", Some(&p.alice), None)
        .await;
    assert_eq!(me["can_book_lablets"], false, "{me}");
    let (_, me) = ts
        .call(Method::GET, "/api/v1/session", Some(&p.manager), None)
        .await;
    assert_eq!(me["can_book_lablets"], true, "{me}");

    // On: users book for themselves; naming another owner is refused.
    let ts = common::server(common::Options {
        lablet_self_service: true,
        ..common::Options::default()
    })
    .await;
    let p = people(&ts).await;
    let did = definition(&ts, &p.admin).await;
    let (s, l) = book(&ts, &p.alice, booking(&ts, &did, 3600, None)).await;
    assert_eq!(s, 201, "{l}");
    assert_eq!(l["spec"]["owner"], "key:alice");
    let (s, l) = book(&ts, &p.alice, booking(&ts, &did, 3600, Some("key:alice"))).await;
    assert_eq!(s, 201, "{l}");
    let (s, b) = book(&ts, &p.alice, booking(&ts, &did, 3600, Some("key:bob"))).await;
    assert_eq!(s, 422, "{b}");
    assert_eq!(b["error"]["details"]["field"], "owner");
    let (_, page) = ts
        .call(Method::GET, "/api/v1/lablets", Some(&p.bob), None)
        .await;
    assert_eq!(page["total"], 0, "nothing booked in bob's name: {page}");
    let (_, page) = ts
        .call(Method::GET, "/api/v1/lablets", Some(&p.alice), None)
        .await;
    assert_eq!(page["total"], 2);
    book_for(&ts, &p.manager, &did, 3600, "key:bob").await;
    let (_, me) = ts
        .call(Method::GET, "/api/v1/session", Some(&p.alice), None)
        .await;
    assert_eq!(me["can_book_lablets"], true, "{me}");
}

/// Subject ids of the `lablet.created.v2` events of a history page.
fn created(history: &Value) -> Vec<String> {
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "lablet.created.v2")
        .map(|e| e["subject"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn users_follow_only_their_own_lablets_in_the_history_and_the_stream() {
    let ts = common::server(common::Options::default()).await;
    let p = people(&ts).await;
    let did = definition(&ts, &p.admin).await;
    // Streams opened before the bookings learn lablets from their creation.
    let mut bob_stream = common::open_stream(&ts, &p.bob, "?type=lablet.*", None).await;
    let mut boss_stream = common::open_stream(&ts, &p.manager, "?type=lablet.*", None).await;
    let alice = book_for(&ts, &p.manager, &did, 3600, "key:alice").await;
    let bob = book_for(&ts, &p.manager, &did, 3700, "key:bob").await;
    let (s, l) = ts
        .call(
            Method::POST,
            &format!("/api/v1/lablets/{alice}/cancel"),
            Some(&p.manager),
            None,
        )
        .await;
    assert_eq!(s, 200, "{l}");
    let (s, l) = ts
        .call(
            Method::POST,
            &format!("/api/v1/lablets/{bob}/cancel"),
            Some(&p.manager),
            None,
        )
        .await;
    assert_eq!(s, 200, "{l}");

    let history = |token: &str| {
        let token = token.to_owned();
        let ts = &ts;
        async move {
            let (s, h) = ts
                .call(Method::GET, "/api/v1/events?limit=1000", Some(&token), None)
                .await;
            assert_eq!(s, 200, "{h}");
            h
        }
    };
    let all_subjects = |h: &Value| -> Vec<String> {
        h["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["subject"]["kind"] == "lablet")
            .map(|e| e["subject"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let h = history(&p.alice).await;
    assert_eq!(created(&h), vec![alice.clone()]);
    assert!(all_subjects(&h).iter().all(|id| *id == alice), "{h}");
    assert!(!h.to_string().contains("key:bob"), "{h}");
    let h = history(&p.bob).await;
    assert_eq!(created(&h), vec![bob.clone()]);
    assert!(all_subjects(&h).iter().all(|id| *id == bob), "{h}");
    for token in [&p.manager, &p.admin] {
        assert_eq!(
            created(&history(token).await),
            vec![alice.clone(), bob.clone()]
        );
    }

    // The streams, up to bob's cancellation (the last event): bob's holds his own
    // lablet's events only, though alice's came first; the manager's holds both.
    let wait = Duration::from_secs(10);
    for (stream, expected) in [
        (&mut bob_stream, vec![bob.clone()]),
        (&mut boss_stream, vec![alice.clone(), bob.clone()]),
    ] {
        let mut subjects = Vec::new();
        let mut created = Vec::new();
        loop {
            let event = stream.next_within(wait).await.unwrap();
            if !event.event.starts_with("lablet.") {
                continue;
            }
            let id = event.json()["subject"]["id"].as_str().unwrap().to_owned();
            if event.event == "lablet.created.v2" {
                created.push(id.clone());
            }
            subjects.push(id.clone());
            if event.event == "lablet.cancel.requested.v1" && id == bob {
                break;
            }
        }
        assert_eq!(created, expected);
        assert!(
            subjects.iter().all(|id| expected.contains(id)),
            "{subjects:?}"
        );
    }
}

/// A running worker with one running lablet for alice and one for bob; returns
/// the worker and each lablet's CML lab id.
async fn running_lablets(ts: &common::TestServer, p: &People) -> (String, String, String) {
    let (s, w) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(&p.admin),
            Some(json!({"name": "host"})),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let worker = w["id"].as_str().unwrap().to_owned();
    let did = definition(ts, &p.admin).await;
    advance(ts, 40 * 60).await;
    let alice = book_for(ts, &p.manager, &did, 600, "key:alice").await;
    let bob = book_for(ts, &p.manager, &did, 600, "key:bob").await;
    advance(ts, 20 * 60).await;
    let mut labs = Vec::new();
    for (token, id) in [(&p.alice, &alice), (&p.bob, &bob)] {
        let (_, l) = ts
            .call(
                Method::GET,
                &format!("/api/v1/lablets/{id}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(l["status"]["phase"], "running", "{l}");
        assert_eq!(l["status"]["worker_id"], worker.as_str());
        labs.push(l["status"]["cml_lab_id"].as_str().unwrap().to_owned());
    }
    let bob_lab = labs.pop().unwrap();
    let alice_lab = labs.pop().unwrap();
    (worker, alice_lab, bob_lab)
}

async fn topology(ts: &common::TestServer, token: &str, worker: &str, lab: &str) -> (u16, String) {
    raw(
        ts,
        Request::builder()
            .uri(format!("/api/v1/workers/{worker}/labs/{lab}/topology"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn users_download_only_the_labs_of_their_own_lablets() {
    let ts = common::server(common::Options::default()).await;
    let p = people(&ts).await;
    let (worker, alice_lab, bob_lab) = running_lablets(&ts, &p).await;
    // A lab no lablet owns, imported by a manager.
    let (s, imported) = raw(
        &ts,
        Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/workers/{worker}/labs?title=ops"))
            .header("authorization", format!("Bearer {}", p.manager))
            .body(Body::from(TOPOLOGY))
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{imported}");
    let imported: Value = serde_json::from_str(&imported).unwrap();
    let ops_lab = imported["cml_lab_id"].as_str().unwrap().to_owned();

    let (s, yaml) = topology(&ts, &p.alice, &worker, &alice_lab).await;
    assert_eq!(s, 200, "{yaml}");
    assert!(yaml.contains("nodes:"), "{yaml}");
    let (s, yaml) = topology(&ts, &p.bob, &worker, &bob_lab).await;
    assert_eq!(s, 200, "{yaml}");
    for (token, lab) in [
        (&p.alice, &bob_lab),
        (&p.bob, &alice_lab),
        (&p.alice, &ops_lab),
        (&p.bob, &ops_lab),
    ] {
        let (s, body) = topology(&ts, token, &worker, lab).await;
        assert_eq!(s, 404, "{body}");
        assert!(!body.contains("nodes:"), "{body}");
    }
    // The lab of alice's lablet on another worker id is not hers either.
    let (s, _) = topology(&ts, &p.alice, &WorkerId::new().to_string(), &alice_lab).await;
    assert_eq!(s, 404);
    for token in [&p.manager, &p.admin] {
        for lab in [&alice_lab, &bob_lab, &ops_lab] {
            let (s, yaml) = topology(&ts, token, &worker, lab).await;
            assert_eq!(s, 200, "{yaml}");
        }
    }
}

#[tokio::test]
async fn worker_activity_and_job_errors_are_hidden_from_users_only() {
    let ts = common::server(common::Options::default()).await;
    let p = people(&ts).await;
    let (worker, _, _) = running_lablets(&ts, &p).await;
    let secret = "connect to 10.1.2.3 refused for operator carol";
    ts.store
        .commit(ChangeSet::new().put_job(JobRecord {
            name: "sec-failing".into(),
            schedule: JobSchedule::Every { seconds: 3600 },
            next_run_at: None,
            last_run_at: Some(ts.clock.now()),
            last_duration_ms: Some(5),
            last_outcome: Some(JobOutcome::Failed {
                error: secret.into(),
            }),
            paused: true,
            version: 0,
        }))
        .await
        .unwrap();

    for (token, sees) in [
        (&p.alice, false),
        (&p.bob, false),
        (&p.manager, true),
        (&p.admin, true),
    ] {
        // Jobs: the failure is listed for everyone, its text only for managers.
        let (s, jobs) = ts
            .call(Method::GET, "/api/v1/jobs", Some(token), None)
            .await;
        assert_eq!(s, 200);
        let failing = jobs
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == "sec-failing")
            .unwrap();
        assert_eq!(failing["last_outcome"]["result"], "failed");
        assert_eq!(jobs.to_string().contains(secret), sees, "{jobs}");

        // Workers: the recent activity (what was done, by whom) only for managers.
        let (s, w) = ts
            .call(
                Method::GET,
                &format!("/api/v1/workers/{worker}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(s, 200);
        let recent = w["status"]["activity"]["recent"].as_array().unwrap();
        assert_eq!(!recent.is_empty(), sees, "{w}");
        assert!(w["status"]["activity"]["last_activity_at"].is_string());
        let (_, page) = ts
            .call(Method::GET, "/api/v1/workers", Some(token), None)
            .await;
        let listed = &page["items"][0]["status"]["activity"]["recent"];
        assert_eq!(!listed.as_array().unwrap().is_empty(), sees, "{page}");

        // The event stream's snapshot follows the same rule.
        let mut stream = common::open_stream(&ts, token, "", None).await;
        let snapshot = stream.next_within(Duration::from_secs(10)).await.unwrap();
        assert_eq!(snapshot.event, "snapshot");
        let snapped = &snapshot.json()["workers"][0]["status"]["activity"]["recent"];
        assert_eq!(!snapped.as_array().unwrap().is_empty(), sees, "{snapped}");

        // The history hides activity events from users, as the stream does.
        let (_, history) = ts
            .call(Method::GET, "/api/v1/events?limit=1000", Some(token), None)
            .await;
        let activity_events = history["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "worker.activity.recorded.v1")
            .count();
        assert_eq!(activity_events > 0, sees, "activity events in the history");
    }
}

#[tokio::test]
async fn an_api_key_s_last_use_is_written_at_most_once_a_minute() {
    let touches = Arc::new(AtomicUsize::new(0));
    let counter = touches.clone();
    let store = Arc::new(HookedStore::new(
        Arc::new(MemoryStore::new()),
        Box::new(move |method, _| {
            if method == "touch_api_key" {
                counter.fetch_add(1, Ordering::SeqCst);
            }
            Box::pin(async {})
        }),
    ));
    let ts = common::server(common::Options {
        store: Some(store),
        ..common::Options::default()
    })
    .await;
    let user = key(&ts, "reader", Role::User).await;
    let before = touches.load(Ordering::SeqCst);
    for _ in 0..100 {
        let (s, _) = ts
            .call(Method::GET, "/api/v1/session", Some(&user), None)
            .await;
        assert_eq!(s, 200);
    }
    assert_eq!(
        touches.load(Ordering::SeqCst) - before,
        1,
        "one write per minute"
    );
    let used = |ts: &common::TestServer| {
        let store = ts.store.clone();
        async move {
            let keys = store.list_api_keys().await.unwrap();
            let reader = keys.iter().find(|k| k.name == "reader").unwrap();
            reader.last_used_at.unwrap()
        }
    };
    let first = used(&ts).await;
    ts.clock.advance_seconds(59);
    ts.call(Method::GET, "/api/v1/session", Some(&user), None)
        .await;
    assert_eq!(
        touches.load(Ordering::SeqCst) - before,
        1,
        "59 s later: none"
    );
    ts.clock.advance_seconds(2);
    for _ in 0..10 {
        ts.call(Method::GET, "/api/v1/session", Some(&user), None)
            .await;
    }
    assert_eq!(
        touches.load(Ordering::SeqCst) - before,
        2,
        "61 s later: one more"
    );
    assert_eq!(used(&ts).await, plus_seconds(first, 61));
}
