//! `GET /api/v1/workers` answers a serialised page again while the store's
//! generations are unchanged, and never a stale one: two servers on one
//! PostgreSQL (each with its own page cache, as two processes), a change made
//! through one shows in the other's very next list.

use std::sync::Arc;

use axum::http::Method;
use ccm_core::ports::Store;
use ccm_http::auth::Role;
use serde_json::{json, Value};

use crate::common::{self, Options};
use crate::processes::Database;

fn names(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|w| w["meta"]["name"].as_str().expect("name"))
        .collect()
}

async fn list(server: &common::TestServer, token: &str, path: &str) -> Value {
    let (status, page) = server.call(Method::GET, path, Some(token), None).await;
    assert_eq!(status, 200, "{page}");
    page
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_page_is_reused_until_any_process_changes_a_worker() {
    let db = Database::fresh().await;
    let store: Arc<dyn Store> = Arc::new(db.store().await);
    let server = |holder: &str| {
        common::server(Options {
            store: Some(store.clone()),
            holder: holder.into(),
            ..Options::default()
        })
    };
    let (a, b) = (server("a").await, server("b").await);
    let admin = a.key(Role::Admin).await;
    let user = a.key(Role::User).await;
    let mut ids = Vec::new();
    for name in ["w1", "w2", "w3"] {
        let (status, worker) = a
            .call(
                Method::POST,
                "/api/v1/workers",
                Some(&admin),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "{worker}");
        ids.push(worker["id"].as_str().expect("id").to_owned());
    }
    let pages = |server: &common::TestServer| server.server.state().metrics.pages();

    let first = list(&b, &admin, "/api/v1/workers").await;
    assert_eq!(names(&first), ["w1", "w2", "w3"]);
    assert_eq!(list(&b, &admin, "/api/v1/workers").await, first);
    assert_eq!(pages(&b), (1, 1), "the second list is the first page again");

    // Another query, another role: pages of their own.
    let second = list(&b, &admin, "/api/v1/workers?limit=2&offset=1").await;
    assert_eq!(names(&second), ["w2", "w3"]);
    list(&b, &user, "/api/v1/workers").await;
    assert_eq!(pages(&b), (1, 3));

    // A change through the other server: b's next list shows it.
    let (status, _) = a
        .call(
            Method::PUT,
            &format!("/api/v1/workers/{}/tags", ids[1]),
            Some(&admin),
            Some(json!({"tags": {"team": "ccna"}})),
        )
        .await;
    assert_eq!(status, 200);
    let after = list(&b, &admin, "/api/v1/workers").await;
    assert_eq!(after["items"][1]["tags"]["team"], "ccna", "{after}");
    assert_eq!(pages(&b), (1, 4));
    assert_eq!(list(&b, &admin, "/api/v1/workers").await, after);
    assert_eq!(pages(&b), (2, 4));

    // A deletion too (pending until the engine terminates, or done), also for
    // the page that was kept with other parameters.
    let (status, _) = a
        .call(
            Method::DELETE,
            &format!("/api/v1/workers/{}", ids[2]),
            Some(&admin),
            None,
        )
        .await;
    assert!((200..300).contains(&status), "delete: {status}");
    let after_delete = list(&b, &admin, "/api/v1/workers?limit=2&offset=1").await;
    let deleted = after_delete["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|w| w["id"] == ids[2].as_str());
    assert!(
        deleted.is_none_or(|w| !w["meta"]["deletion_timestamp"].is_null()),
        "{after_delete}"
    );
    assert_eq!(pages(&b), (2, 5));
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_kept_for_an_admin_is_never_served_to_a_user() {
    let ts = common::server(Options::default()).await;
    let admin = ts.key(Role::Admin).await;
    let user = ts.key(Role::User).await;
    let (status, created) = ts
        .call(
            Method::POST,
            "/api/v1/workers",
            Some(&admin),
            Some(json!({"name": "w"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("worker id");
    let mut worker = ts.store.get_worker(id).await.unwrap().unwrap();
    worker
        .status
        .activity
        .recent
        .push_front(ccm_core::worker::ActivityEvent {
            at: worker.meta.created_at,
            source: "lablet".into(),
            detail: "started lab of alice".into(),
        });
    ts.store
        .commit(ccm_core::ports::store::ChangeSet::new().put_worker(worker))
        .await
        .unwrap();

    let for_admin = list(&ts, &admin, "/api/v1/workers").await;
    assert_eq!(
        for_admin["items"][0]["status"]["activity"]["recent"][0]["detail"],
        "started lab of alice"
    );
    let for_user = list(&ts, &user, "/api/v1/workers").await;
    assert_eq!(
        for_user["items"][0]["status"]["activity"]["recent"],
        json!([]),
        "{for_user}"
    );
    // And again, both from the cache now.
    assert_eq!(list(&ts, &admin, "/api/v1/workers").await, for_admin);
    assert_eq!(list(&ts, &user, "/api/v1/workers").await, for_user);
    assert_eq!(ts.server.state().metrics.pages(), (2, 2));
}

fn lablet_ids(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|l| l["id"].as_str().expect("id"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lablet_page_is_read_from_the_store_by_page_and_reused_until_any_process_changes_a_lablet(
) {
    let db = Database::fresh().await;
    let store: Arc<dyn Store> = Arc::new(db.store().await);
    let server = |holder: &str| {
        common::server(Options {
            store: Some(store.clone()),
            holder: holder.into(),
            ..Options::default()
        })
    };
    let (a, b) = (server("a").await, server("b").await);
    let admin = a.key(Role::Admin).await;
    let user = a.key(Role::User).await;
    let definition = json!({
        "name": "ccna", "version": "1.0.0", "topology_yaml": crate::api::TOPOLOGY,
        "needs": {"resources": {"cpu_millis": 4000, "memory_mib": 8192, "storage_gib": 20}, "nodes": 0, "ports": 2},
        "licence_affinity": null, "min_cml_version": null,
        "max_duration_minutes": 120, "warm_pool_depth": 0
    });
    let (status, d) = a
        .call(
            Method::POST,
            "/api/v1/definitions",
            Some(&admin),
            Some(definition),
        )
        .await;
    assert_eq!(status, 201, "{d}");
    // Booked out of start order, for two owners.
    let mut booked = Vec::new();
    for (owner, hours) in [
        ("key:test-user", 30),
        ("someone", 10),
        ("key:test-user", 20),
    ] {
        let start =
            ccm_core::time::plus_seconds(ccm_core::ports::Clock::now(&a.clock), hours * 3600);
        let end = ccm_core::time::plus_seconds(start, 3600);
        let (status, l) = a
            .call(
                Method::POST,
                "/api/v1/lablets",
                Some(&admin),
                Some(json!({"definition_id": d["id"], "owner": owner,
                            "timeslot": {"start": start, "end": end}})),
            )
            .await;
        assert_eq!(status, 201, "{l}");
        booked.push(l["id"].as_str().expect("id").to_owned());
    }
    let pages = |server: &common::TestServer| server.server.state().metrics.pages();

    let all = list(&b, &admin, "/api/v1/lablets").await;
    assert_eq!(lablet_ids(&all), [&booked[1], &booked[2], &booked[0]]);
    assert_eq!(all["total"], 3);
    assert_eq!(list(&b, &admin, "/api/v1/lablets").await, all);
    assert_eq!(pages(&b), (1, 1));

    // A page from the middle, counted over the whole filter.
    let middle = list(&b, &admin, "/api/v1/lablets?limit=1&offset=1").await;
    assert_eq!(lablet_ids(&middle), [&booked[2]]);
    assert_eq!(
        (middle["total"].as_u64(), middle["next_offset"].as_u64()),
        (Some(3), Some(2))
    );
    // The user's own page is a page of its own, never the admin's.
    let own = list(&b, &user, "/api/v1/lablets").await;
    assert_eq!(lablet_ids(&own), [&booked[2], &booked[0]]);
    assert_eq!(own["total"], 2);
    assert_eq!(pages(&b), (1, 3));

    // The phase counts, without reading a lablet, on either process.
    let metrics = axum::http::Request::builder()
        .uri("/metrics")
        .header("authorization", format!("Bearer {admin}"))
        .body(axum::body::Body::empty())
        .expect("request");
    let (status, text) = crate::api::raw(&b, metrics).await;
    assert_eq!(status, 200);
    assert!(
        text.contains("ccm_lablets{phase=\"pending\"} 3\n"),
        "{text}"
    );
    assert!(
        text.contains("ccm_lablets{phase=\"running\"} 0\n"),
        "{text}"
    );

    // A cancellation through the other server shows in b's very next list.
    let (status, _) = a
        .call(
            Method::POST,
            &format!("/api/v1/lablets/{}/cancel", booked[2]),
            Some(&admin),
            None,
        )
        .await;
    assert!((200..300).contains(&status), "cancel: {status}");
    let after = list(&b, &user, "/api/v1/lablets").await;
    assert_ne!(after, own, "the cancellation shows");
    assert_eq!(pages(&b), (1, 4));
    db.drop().await;
}
