//! PostgreSQL-specific behaviour: several store instances (processes) on one
//! schema, NOTIFY wake-ups, schema versions, isolation of schemas.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use ccm_core::ports::store::{ChangeSet, Fence, Store, StoreError};
use ccm_core::testing::store::{run_check, sample_event, sample_worker, t0, StoreFactory};
use ccm_core::time::plus_seconds;
use common::PgFactory;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_by_another_instance_wakes_subscribers() {
    run_check(PgFactory::new().await, |factory| async move {
        let a = factory.open().await;
        let b = factory.open().await;
        let mut rx = b.subscribe();
        assert_eq!(*rx.borrow_and_update(), 0);
        a.commit(ChangeSet::new().events([sample_event(1, 1), sample_event(1, 2)]))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|seq| *seq == 2))
            .await
            .expect("woken by NOTIFY before the timeout")
            .unwrap();
        // And back: b commits, a's subscribers hear it.
        let mut rx_a = a.subscribe();
        rx_a.borrow_and_update();
        b.commit(ChangeSet::new().events([sample_event(1, 3)]))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(10), rx_a.wait_for(|seq| *seq == 3))
            .await
            .expect("woken before the timeout")
            .unwrap();
        assert_eq!(b.read_events(0, 10).await.unwrap().len(), 3);
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_schemas_do_not_wake_subscribers() {
    let other = PgFactory::new().await;
    let other_store = other.open().await;
    let mut rx = other_store.subscribe();
    run_check(PgFactory::new().await, |factory| async move {
        let store = factory.open().await;
        store
            .commit(ChangeSet::new().events([sample_event(1, 1)]))
            .await
            .unwrap();
        store.close().await;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!rx.has_changed().unwrap());
    assert_eq!(*rx.borrow_and_update(), 0);
    other_store.close().await;
    other.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_from_several_instances_stay_gap_free() {
    run_check(PgFactory::new().await, |factory| async move {
        let stores = [
            Arc::new(factory.open().await),
            Arc::new(factory.open().await),
        ];
        let mut tasks = Vec::new();
        for (i, store) in (0u128..).zip(stores.iter().cycle().take(8)) {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                for n in 0..25u64 {
                    let worker = sample_worker(i * 1000 + u128::from(n), "w", "us-east-1");
                    store
                        .commit(
                            ChangeSet::new()
                                .put_worker(worker)
                                .events([sample_event(i, 2 * n), sample_event(i, 2 * n + 1)]),
                        )
                        .await
                        .unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let events = stores[1].read_events(0, 1000).await.unwrap();
        let sequences: Vec<u64> = events.iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=400).collect::<Vec<_>>());
        // Each commit's two events are adjacent.
        for pair in events.chunks(2) {
            assert_eq!(pair[0].event.subject, pair[1].event.subject);
        }
        for store in &stores {
            store.close().await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_one_instance_wins_a_contended_lease() {
    run_check(PgFactory::new().await, |factory| async move {
        let stores = [
            Arc::new(factory.open().await),
            Arc::new(factory.open().await),
        ];
        let mut tasks = Vec::new();
        for (i, store) in stores.iter().cycle().take(8).enumerate() {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                store
                    .try_acquire_lease("controllers", &format!("p{i}"), 30, t0())
                    .await
                    .unwrap()
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            winners.extend(task.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "{winners:?}");
        assert_eq!(winners[0].token, 1);
        for store in &stores {
            store.close().await;
        }
    })
    .await;
}

/// The backend blocked by `blocker`, waited for with a generous bound.
async fn backend_blocked_by(admin: &sqlx::PgPool, blocker: i32) -> i32 {
    for _ in 0..400 {
        let blocked: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid)) LIMIT 1",
        )
        .bind(blocker)
        .fetch_optional(admin)
        .await
        .unwrap();
        if let Some(pid) = blocked {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no backend came to wait for {blocker} within 20 s");
}

/// Under load, fenced commits queue on the event counter while holding their
/// fence: the holder's renewal must not wait behind them (or a busy leader loses
/// its lease), while a takeover must (or a commit of the old holder could land
/// after the new one starts).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_passes_fenced_commits_in_flight_and_a_takeover_waits_for_them() {
    run_check(PgFactory::new().await, |factory| async move {
        let leader = Arc::new(factory.open().await);
        let rival = Arc::new(factory.open().await);
        let lease = leader
            .try_acquire_lease("controllers", "leader", 30, t0())
            .await
            .unwrap()
            .unwrap();
        // Another transaction holds the event counter: the leader's next fenced
        // commit takes its fence, then waits.
        let admin = factory.admin().await;
        let mut counter = admin.begin().await.unwrap();
        let counter_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *counter)
            .await
            .unwrap();
        sqlx::query(&format!(
            "SELECT last FROM \"{}\".event_counter FOR UPDATE",
            factory.schema
        ))
        .execute(&mut *counter)
        .await
        .unwrap();
        let fence = Fence {
            lease: "controllers".into(),
            token: lease.token,
        };
        let commit = tokio::spawn({
            let leader = Arc::clone(&leader);
            let fence = fence.clone();
            async move {
                leader
                    .commit(ChangeSet::new().events([sample_event(1, 1)]).fenced(fence))
                    .await
            }
        });
        let observer = factory.admin().await;
        let commit_pid = backend_blocked_by(&observer, counter_pid).await;

        let renewed = tokio::time::timeout(
            Duration::from_secs(10),
            leader.renew_lease(
                "controllers",
                "leader",
                lease.token,
                30,
                plus_seconds(t0(), 10),
            ),
        )
        .await
        .expect("the renewal does not wait for the commit in flight")
        .unwrap();
        assert_eq!(renewed.token, lease.token);
        assert_eq!(renewed.expires_at, plus_seconds(t0(), 40));

        // A rival's attempt while the lease is live answers at once, without
        // queueing for the row: queued, it would hold up every later fenced
        // commit of the leader behind it.
        let refused = tokio::time::timeout(
            Duration::from_secs(10),
            rival.try_acquire_lease("controllers", "rival", 30, plus_seconds(t0(), 20)),
        )
        .await
        .expect("an attempt on a live lease does not wait for commits in flight")
        .unwrap();
        assert!(refused.is_none());

        let takeover = tokio::spawn({
            let rival = Arc::clone(&rival);
            async move {
                rival
                    .try_acquire_lease("controllers", "rival", 30, plus_seconds(t0(), 100))
                    .await
            }
        });
        // The takeover queues behind the fenced commit, not beside it.
        backend_blocked_by(&observer, commit_pid).await;
        assert!(!commit.is_finished() && !takeover.is_finished());

        counter.commit().await.unwrap();
        let receipt = commit
            .await
            .unwrap()
            .expect("the commit under a valid fence lands");
        assert_eq!(receipt.sequences, vec![1]);
        let taken = takeover
            .await
            .unwrap()
            .unwrap()
            .expect("expired: taken over");
        assert_eq!(taken.token, lease.token + 1);
        let late = leader
            .commit(ChangeSet::new().events([sample_event(1, 2)]).fenced(fence))
            .await;
        assert!(matches!(late, Err(StoreError::Fenced { .. })), "{late:?}");
        observer.close().await;
        admin.close().await;
        leader.close().await;
        rival.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_a_schema_newer_than_the_code() {
    run_check(PgFactory::new().await, |factory| async move {
        let store = factory.open().await;
        store.close().await;
        let admin = factory.admin().await;
        let future = ccm_store_postgres::PostgresStore::supported_schema_version() + 1;
        sqlx::query(&format!(
            "INSERT INTO \"{}\"._sqlx_migrations \
             (version, description, success, checksum, execution_time) \
             VALUES ($1, 'from the future', TRUE, '\\x00', 0)",
            factory.schema
        ))
        .bind(future)
        .execute(&admin)
        .await
        .unwrap();
        admin.close().await;
        match ccm_store_postgres::PostgresStore::open_with(factory.options()).await {
            Err(error @ StoreError::SchemaTooNew { found, supported }) => {
                assert_eq!((found, supported), (future, future - 1));
                assert!(error.to_string().contains("upgrade ccm"), "{error}");
            }
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_connection_strings_fail_clearly_without_the_password() {
    match ccm_store_postgres::PostgresStore::open("sqlite://x.db").await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("postgres://")),
        other => panic!("expected an invalid-url error, got {other:?}"),
    }
    let mut options =
        ccm_store_postgres::PostgresStoreOptions::new("postgres://ccm:s3cret@127.0.0.1:1/none");
    options.acquire_timeout = Duration::from_secs(2);
    match ccm_store_postgres::PostgresStore::open_with(options).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(!message.contains("s3cret"), "{message}");
        }
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// A page of the whole table walks the index in page order (migration 6): the
/// order of `Table::page_order`, in byte order (`COLLATE "C"`), which an index
/// of the database's default collation could not serve.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfiltered_pages_walk_their_index_instead_of_sorting() {
    use ccm_store_sql::rows::{LABLETS, WORKERS};
    run_check(PgFactory::new().await, |factory| async move {
        let store = factory.open().await;
        let admin = factory.admin().await;
        let mut conn = admin.acquire().await.unwrap();
        // The tables are empty: only a forbidding cost makes the planner show
        // whether an index can give the order at all.
        sqlx::query("SET enable_sort = off")
            .execute(&mut *conn)
            .await
            .unwrap();
        for table in [&WORKERS, &LABLETS] {
            let order: Vec<String> = table
                .page_order
                .iter()
                .map(|column| format!("{column} COLLATE \"C\""))
                .collect();
            let plan: Vec<String> = sqlx::query_scalar(&format!(
                "EXPLAIN SELECT id, body::text FROM \"{}\".{} WHERE TRUE ORDER BY {} LIMIT 100 OFFSET 200",
                factory.schema,
                table.name,
                order.join(", ")
            ))
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            let index = format!("{}_page_order", table.name);
            assert!(plan.iter().any(|step| step.contains(&index)), "{plan:?}");
            assert!(!plan.iter().any(|step| step.contains("Sort")), "{plan:?}");
        }
        drop(conn);
        admin.close().await;
        store.close().await;
    })
    .await;
}
