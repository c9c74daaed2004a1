//! The [`Store`] conformance suite: every store (in-memory, SQLite, PostgreSQL) runs
//! these checks from its own tests, so they all keep the semantics the port
//! documents — the in-memory store being the reference.
//!
//! Each check is an `async fn(&F)` over a [`StoreFactory`], a per-test handle on fresh
//! storage (a temporary file, a schema of its own…). The checks panic on failure.
//! [`store_conformance_tests!`](crate::store_conformance_tests) expands to one
//! `#[tokio::test]` per check, cleaning up the factory even when a check fails:
//!
//! ```ignore
//! // in an adapter's tests/conformance.rs
//! ccm_core::store_conformance_tests!(MyFactory::new()); // an expression to `.await`
//! ```
//!
//! The checks, also listed in [`CHECKS`]: CRUD of every resource kind and of API
//! keys, filters and list order, version conflicts (a stale write changes nothing,
//! events included), whole-commit atomicity, gap-free ordered event sequences,
//! cursor reads, wake-ups through `subscribe`, leases and fencing, batch writes,
//! concurrent read-modify-write increments, restart survival (skipped for
//! stores that are not durable), and log compaction (every existing worker and
//! lablet rebuilds from the compacted log; sequences never repeat).
// A conformance suite asserts by panicking: it is test code compiled into the
// library only behind the `test-support` feature.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::api_key::{ApiKeyId, ApiKeyRecord, ApiKeyRole};
use crate::definition::{LabletDefinition, NewDefinition, ResourceNeeds};
use crate::event::{DomainEvent, EventPayload, ResourceKind, StoredEvent, Subject};
use crate::ids::{CmlLabId, DefinitionId, EventId, LabRecordId, LabletId, Region, WorkerId};
use crate::job::{JobOutcome, JobRecord, JobSchedule};
use crate::lab::{LabOperation, LabRecord, LabState};
use crate::lablet::{Lablet, LabletPhase, NewLablet, Timeslot};
use crate::ports::cloud::InstanceState;
use crate::ports::store::{
    ChangeSet, CommitReceipt, CompactionStep, DefinitionFilter, Fence, LabFilter, LabletFilter,
    Listed, PageRequest, Store, StoreError, WorkerFilter, Write,
};
use crate::replay::EventSourced;
use crate::resources::Resources;
use crate::store::MemoryStore;
use crate::time::{epoch, from_unix_seconds, plus_seconds, Timestamp};
use crate::version::SemVer;
use crate::worker::{Capacity, CloudWatchMetrics, IdleSettings, LifecycleState, NewWorker, Worker};

/// How long a check waits for a wake-up before failing.
const WAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the store under test. One factory serves one check.
#[async_trait]
pub trait StoreFactory: Send + Sync + 'static {
    /// The store opened.
    type Store: Store + 'static;

    /// Opens the store. The first call sees empty storage; later calls (only made
    /// when [`durable`](Self::durable)) reopen the same storage after
    /// [`close`](Self::close).
    async fn open(&self) -> Self::Store;

    /// True when a store closed and reopened keeps its data (the restart check
    /// is skipped otherwise).
    fn durable(&self) -> bool;

    /// Closes a store before it is reopened. The default drops it.
    async fn close(&self, store: Self::Store) {
        drop(store);
    }

    /// Frees what the factory holds (a temporary directory, a schema). Called
    /// once after the check, also when it failed.
    async fn cleanup(&self) {}
}

/// The reference factory: a fresh [`MemoryStore`] on every open, not durable.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryStoreFactory;

#[async_trait]
impl StoreFactory for MemoryStoreFactory {
    type Store = MemoryStore;

    async fn open(&self) -> MemoryStore {
        MemoryStore::new()
    }

    fn durable(&self) -> bool {
        false
    }
}

/// Names of every check, in the order [`store_conformance_tests!`](crate::store_conformance_tests)
/// runs them.
pub const CHECKS: &[&str] = &[
    "worker_crud",
    "lab_crud",
    "definition_crud",
    "lablet_crud",
    "job_crud",
    "api_key_crud",
    "worker_filters",
    "worker_pages",
    "lab_filters",
    "definition_filters",
    "lablet_filters",
    "stale_writes_conflict",
    "commits_are_atomic",
    "generations_move_with_writes",
    "events_are_ordered_and_gap_free",
    "cursor_reads",
    "subscribe_wakes_on_commit",
    "leases_acquire_renew_release_expire",
    "fencing_rejects_deposed_holder",
    "batch_writes",
    "concurrent_increments",
    "restart_survival",
    "log_compaction_keeps_resources_rebuildable",
    "log_compaction_bounds_size_in_steps",
    "log_compaction_survives_restart",
];

/// Expands to one `#[tokio::test]` per conformance check. The argument is an
/// expression whose `.await` yields a fresh [`StoreFactory`] (evaluated once per
/// test). The calling crate needs `tokio` with `macros` and `rt-multi-thread`.
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:expr) => {
        $crate::store_conformance_tests!(@each $factory;
            worker_crud,
            lab_crud,
            definition_crud,
            lablet_crud,
            job_crud,
            api_key_crud,
            worker_filters,
            worker_pages,
            lab_filters,
            definition_filters,
            lablet_filters,
            stale_writes_conflict,
            commits_are_atomic,
            generations_move_with_writes,
            events_are_ordered_and_gap_free,
            cursor_reads,
            subscribe_wakes_on_commit,
            leases_acquire_renew_release_expire,
            fencing_rejects_deposed_holder,
            batch_writes,
            concurrent_increments,
            restart_survival,
            log_compaction_keeps_resources_rebuildable,
            log_compaction_bounds_size_in_steps,
            log_compaction_survives_restart,
        );
    };
    (@each $factory:expr; $($check:ident),+ $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                $crate::testing::store::run_check($factory.await, |factory| async move {
                    $crate::testing::store::$check(&*factory).await;
                })
                .await;
            }
        )+
    };
}

/// Runs one check on its own task, then [`StoreFactory::cleanup`], then re-raises
/// the check's panic if it failed.
pub async fn run_check<F, C, Fut>(factory: F, check: C)
where
    F: StoreFactory,
    C: FnOnce(Arc<F>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let factory = Arc::new(factory);
    let outcome = tokio::spawn(check(Arc::clone(&factory))).await;
    factory.cleanup().await;
    if let Err(error) = outcome {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
        panic!("conformance check did not finish: {error}");
    }
}

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// A fixed instant with sub-second precision (stores must keep nanoseconds).
pub fn t0() -> Timestamp {
    from_unix_seconds(1_700_000_000)
        .checked_add_signed(chrono::Duration::nanoseconds(123_456_789))
        .unwrap_or_else(epoch)
}

/// `t0() + seconds`.
pub fn at(seconds: i64) -> Timestamp {
    plus_seconds(t0(), seconds)
}

/// A pending worker with an id made from `seed`, with floating-point metrics that
/// only a lossless store reads back equal.
pub fn sample_worker(seed: u128, name: &str, region: &str) -> Worker {
    let input = NewWorker {
        name: name.to_owned(),
        region: Region::new(region),
        instance_type: "m5zn.metal".into(),
        capacity: Capacity::new(Resources::new(48, 192, 1000), 40),
        tags: BTreeMap::from([("Name".to_owned(), name.to_owned())]),
        labels: BTreeMap::new(),
        idle: IdleSettings::default(),
        created_by: Some("conformance".into()),
        image: None,
    };
    let (mut worker, _) = Worker::create(WorkerId::from_u128(seed), input, t0());
    worker.status.metrics.cloudwatch.observed(
        CloudWatchMetrics {
            cpu_percent: Some(37.123_456_789_012_35),
            memory_percent: Some(0.1 + 0.2),
            disk_percent: Some(1e-7),
        },
        at(1),
    );
    worker
}

/// An active definition `name` at version `major.0.0`.
pub fn sample_definition(seed: u128, name: &str, major: u32) -> LabletDefinition {
    LabletDefinition::new(
        DefinitionId::from_u128(seed),
        NewDefinition {
            name: name.to_owned(),
            version: SemVer::new(major, 0, 0),
            topology_yaml: "lab:\n  title: conformance\n".into(),
            needs: ResourceNeeds {
                resources: Resources::new(4, 8, 20),
                nodes: 4,
                ports: 2,
            },
            licence_affinity: None,
            min_cml_version: None,
            max_duration_minutes: 240,
            warm_pool_depth: 1,
        },
        t0(),
    )
    .expect("valid definition")
}

/// A pending lablet of `definition` for `owner`, starting `start` seconds after [`t0`].
pub fn sample_lablet(seed: u128, definition: &LabletDefinition, owner: &str, start: i64) -> Lablet {
    Lablet::create(
        LabletId::from_u128(seed),
        definition,
        NewLablet {
            owner: owner.to_owned(),
            timeslot: Timeslot {
                start: at(start),
                end: at(start + 3600),
            },
            reservation_id: Some(format!("res-{seed}")),
            on_demand: false,
        },
        t0(),
    )
    .expect("valid lablet")
    .0
}

/// A lab record on `worker`.
pub fn sample_lab(seed: u128, worker: WorkerId, title: &str) -> LabRecord {
    let mut lab = LabRecord {
        id: LabRecordId::from_u128(seed),
        worker_id: worker,
        cml_lab_id: CmlLabId::new(format!("cml-{seed}")),
        title: title.to_owned(),
        description: "a lab".into(),
        owner: Some("alice".into()),
        state: LabState::Started,
        node_count: 4,
        link_count: 3,
        first_seen_at: t0(),
        last_synced_at: at(5),
        gone: false,
        usage: None,
        history: Default::default(),
        version: 0,
    };
    lab.record(LabOperation {
        at: t0(),
        action: "imported".into(),
        actor: Some("sync".into()),
    });
    lab
}

/// A job running every minute.
pub fn sample_job(name: &str) -> JobRecord {
    JobRecord {
        name: name.to_owned(),
        schedule: JobSchedule::Every { seconds: 60 },
        next_run_at: Some(at(60)),
        last_run_at: None,
        last_duration_ms: None,
        last_outcome: None,
        paused: false,
        version: 0,
    }
}

/// An event about worker `seed`, told apart by `n`; its id is made from both, so
/// the same arguments give an equal event.
pub fn sample_event(seed: u128, n: u64) -> DomainEvent {
    let mut event = DomainEvent::new(
        Subject {
            kind: ResourceKind::Worker,
            id: WorkerId::from_u128(seed).to_string(),
        },
        EventPayload::WorkerTagsUpdated {
            tags: BTreeMap::from([("n".to_owned(), n.to_string())]),
        },
        at(i64::try_from(n).unwrap_or(0)),
    );
    event.id = EventId::from_u128((seed << 64) | u128::from(n));
    event
}

async fn commit<S: Store + ?Sized>(store: &S, changes: ChangeSet) -> CommitReceipt {
    store.commit(changes).await.expect("commit")
}

fn stored<T: Clone>(value: &T, set: impl FnOnce(&mut T)) -> T {
    let mut value = value.clone();
    set(&mut value);
    value
}

fn expect_conflict(
    result: Result<CommitReceipt, StoreError>,
    kind: ResourceKind,
    id: String,
    expected: u64,
    actual: Option<u64>,
) {
    match result {
        Err(StoreError::Conflict {
            kind: k,
            id: i,
            expected: e,
            actual: a,
        }) => {
            assert_eq!(
                (k, i, e, a),
                (kind, id, expected, actual),
                "conflict details"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
}

async fn all_events<S: Store + ?Sized>(store: &S) -> Vec<StoredEvent> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &StoredEvent| e.sequence);
        let page = store.read_events(after, 500).await.expect("read events");
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

fn assert_gap_free(events: &[StoredEvent]) {
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.sequence, i as u64 + 1, "sequence at position {i}");
    }
}

// ---------------------------------------------------------------------------
// CRUD
// ---------------------------------------------------------------------------

/// Workers: insert (version 1), read back equal, update, delete.
pub async fn worker_crud<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let id = WorkerId::from_u128(1);
    assert_eq!(store.get_worker(id).await.expect("get"), None);
    let worker = sample_worker(1, "worker-1", "us-east-1");
    let receipt = commit(&store, ChangeSet::new().put_worker(worker.clone())).await;
    assert_eq!(receipt.versions, vec![1]);
    assert!(receipt.sequences.is_empty());
    let v1 = stored(&worker, |w| w.meta.version = 1);
    assert_eq!(store.get_worker(id).await.expect("get"), Some(v1.clone()));

    let mut changed = v1.clone();
    changed.status.lifecycle = LifecycleState::Running;
    changed.meta.labels.insert("team".into(), "ccna".into());
    let receipt = commit(&store, ChangeSet::new().put_worker(changed.clone())).await;
    assert_eq!(receipt.versions, vec![2]);
    let v2 = stored(&changed, |w| w.meta.version = 2);
    assert_eq!(store.get_worker(id).await.expect("get"), Some(v2.clone()));
    assert_eq!(
        store
            .list_workers(&WorkerFilter::default())
            .await
            .expect("list"),
        vec![v2]
    );

    let receipt = commit(
        &store,
        ChangeSet::new().write(Write::DeleteWorker { id, version: 2 }),
    )
    .await;
    assert_eq!(receipt.versions, vec![0]);
    assert_eq!(store.get_worker(id).await.expect("get"), None);
    assert!(store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await
        .expect("list")
        .is_empty());
}

/// Lab records: insert, update, delete.
pub async fn lab_crud<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let lab = sample_lab(10, WorkerId::from_u128(1), "routing");
    assert_eq!(store.get_lab(lab.id).await.expect("get"), None);
    assert_eq!(
        commit(&store, ChangeSet::new().put_lab(lab.clone()))
            .await
            .versions,
        vec![1]
    );
    let v1 = stored(&lab, |l| l.version = 1);
    assert_eq!(store.get_lab(lab.id).await.expect("get"), Some(v1.clone()));

    let changed = stored(&v1, |l| {
        l.state = LabState::Stopped;
        l.record(LabOperation {
            at: at(9),
            action: "state STARTED → STOPPED".into(),
            actor: None,
        });
    });
    assert_eq!(
        commit(&store, ChangeSet::new().put_lab(changed.clone()))
            .await
            .versions,
        vec![2]
    );
    let v2 = stored(&changed, |l| l.version = 2);
    assert_eq!(store.get_lab(lab.id).await.expect("get"), Some(v2.clone()));
    assert_eq!(
        store.list_labs(&LabFilter::default()).await.expect("list"),
        vec![v2]
    );

    commit(
        &store,
        ChangeSet::new().write(Write::DeleteLab {
            id: lab.id,
            version: 2,
        }),
    )
    .await;
    assert_eq!(store.get_lab(lab.id).await.expect("get"), None);
}

/// Definitions: insert, update (they are never deleted).
pub async fn definition_crud<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let definition = sample_definition(20, "ccna-basics", 1);
    assert_eq!(
        store.get_definition(definition.id).await.expect("get"),
        None
    );
    assert_eq!(
        commit(&store, ChangeSet::new().put_definition(definition.clone()))
            .await
            .versions,
        vec![1]
    );
    let v1 = stored(&definition, |d| d.meta.version = 1);
    assert_eq!(
        store.get_definition(definition.id).await.expect("get"),
        Some(v1.clone())
    );
    let changed = stored(&v1, |d| d.active = false);
    assert_eq!(
        commit(&store, ChangeSet::new().put_definition(changed.clone()))
            .await
            .versions,
        vec![2]
    );
    let v2 = stored(&changed, |d| d.meta.version = 2);
    assert_eq!(
        store.get_definition(definition.id).await.expect("get"),
        Some(v2.clone())
    );
    assert_eq!(
        store
            .list_definitions(&DefinitionFilter::default())
            .await
            .expect("list"),
        vec![v2]
    );
}

/// Lablets: insert, update, delete.
pub async fn lablet_crud<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let definition = sample_definition(20, "ccna-basics", 1);
    let lablet = sample_lablet(30, &definition, "alice", 600);
    assert_eq!(store.get_lablet(lablet.id).await.expect("get"), None);
    assert_eq!(
        commit(&store, ChangeSet::new().put_lablet(lablet.clone()))
            .await
            .versions,
        vec![1]
    );
    let v1 = stored(&lablet, |l| l.meta.version = 1);
    assert_eq!(
        store.get_lablet(lablet.id).await.expect("get"),
        Some(v1.clone())
    );

    let mut changed = v1.clone();
    changed
        .bind(WorkerId::from_u128(1), vec![2001, 2002], at(2))
        .expect("bind");
    assert_eq!(
        commit(&store, ChangeSet::new().put_lablet(changed.clone()))
            .await
            .versions,
        vec![2]
    );
    let v2 = stored(&changed, |l| l.meta.version = 2);
    assert_eq!(
        store.get_lablet(lablet.id).await.expect("get"),
        Some(v2.clone())
    );
    assert_eq!(
        store
            .list_lablets(&LabletFilter::default())
            .await
            .expect("list"),
        vec![v2]
    );

    commit(
        &store,
        ChangeSet::new().write(Write::DeleteLablet {
            id: lablet.id,
            version: 2,
        }),
    )
    .await;
    assert_eq!(store.get_lablet(lablet.id).await.expect("get"), None);
}

/// Jobs: insert, update, listed by name.
pub async fn job_crud<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    assert_eq!(store.get_job("metrics-sweep").await.expect("get"), None);
    assert!(store.list_jobs().await.expect("list").is_empty());
    let sweep = sample_job("metrics-sweep");
    let sync = sample_job("labs-sync");
    assert_eq!(
        commit(
            &store,
            ChangeSet::new()
                .put_job(sweep.clone())
                .put_job(sync.clone())
        )
        .await
        .versions,
        vec![1, 1]
    );
    let sweep1 = stored(&sweep, |j| j.version = 1);
    let sync1 = stored(&sync, |j| j.version = 1);
    assert_eq!(
        store.get_job("metrics-sweep").await.expect("get"),
        Some(sweep1.clone())
    );
    assert_eq!(
        store.list_jobs().await.expect("list"),
        vec![sync1.clone(), sweep1.clone()]
    );

    let ran = stored(&sweep1, |j| {
        j.last_run_at = Some(at(60));
        j.last_duration_ms = Some(1234);
        j.last_outcome = Some(JobOutcome::Failed {
            error: "timeout".into(),
        });
        j.next_run_at = Some(at(120));
    });
    assert_eq!(
        commit(&store, ChangeSet::new().put_job(ran.clone()))
            .await
            .versions,
        vec![2]
    );
    let once = JobRecord {
        schedule: JobSchedule::Once { at: at(30) },
        ..sample_job("refresh:worker-1")
    };
    commit(&store, ChangeSet::new().put_job(once.clone())).await;
    assert_eq!(
        store.list_jobs().await.expect("list"),
        vec![
            sync1,
            stored(&ran, |j| j.version = 2),
            stored(&once, |j| j.version = 1)
        ]
    );
}

/// API keys: insert, find by hash, list by creation, touch, revoke; ids and hashes unique.
pub async fn api_key_crud<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    assert!(store.list_api_keys().await.expect("list").is_empty());
    let first = ApiKeyRecord::new(
        ApiKeyId::from_u128(2),
        "ci",
        ApiKeyRole::Operator,
        "hash-ci",
        at(2),
    );
    let second = ApiKeyRecord::new(
        ApiKeyId::from_u128(1),
        "dashboard",
        ApiKeyRole::Viewer,
        "hash-dashboard",
        at(1),
    );
    store.insert_api_key(&first).await.expect("insert");
    store.insert_api_key(&second).await.expect("insert");
    assert_eq!(
        store.list_api_keys().await.expect("list"),
        vec![second.clone(), first.clone()]
    );
    assert_eq!(
        store.find_api_key_by_hash("hash-ci").await.expect("find"),
        Some(first.clone())
    );
    assert_eq!(
        store.find_api_key_by_hash("nope").await.expect("find"),
        None
    );

    let same_id = ApiKeyRecord::new(first.id, "other", ApiKeyRole::Admin, "hash-other", at(3));
    assert!(matches!(
        store.insert_api_key(&same_id).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let same_hash = ApiKeyRecord::new(
        ApiKeyId::from_u128(3),
        "other",
        ApiKeyRole::Admin,
        "hash-ci",
        at(3),
    );
    assert!(matches!(
        store.insert_api_key(&same_hash).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    assert_eq!(store.list_api_keys().await.expect("list").len(), 2);

    store.touch_api_key(first.id, at(10)).await.expect("touch");
    store.touch_api_key(first.id, at(5)).await.expect("touch");
    store
        .touch_api_key(ApiKeyId::from_u128(99), at(5))
        .await
        .expect("touch unknown");
    let used = stored(&first, |k| k.last_used_at = Some(at(10)));
    assert_eq!(
        store.find_api_key_by_hash("hash-ci").await.expect("find"),
        Some(used.clone())
    );

    let revoked = stored(&used, |k| k.revoked_at = Some(at(20)));
    assert_eq!(
        store
            .revoke_api_key(first.id, at(20))
            .await
            .expect("revoke"),
        Some(revoked.clone())
    );
    assert_eq!(
        store
            .revoke_api_key(first.id, at(30))
            .await
            .expect("revoke again"),
        Some(revoked.clone())
    );
    assert_eq!(
        store
            .revoke_api_key(ApiKeyId::from_u128(99), at(30))
            .await
            .expect("revoke unknown"),
        None
    );
    let found = store
        .find_api_key_by_hash("hash-ci")
        .await
        .expect("find")
        .expect("revoked keys are still found");
    assert!(!found.is_active());
    assert_eq!(found, revoked);
}

// ---------------------------------------------------------------------------
// Filters and order
// ---------------------------------------------------------------------------

/// Worker filters (region, lifecycle, labels, terminated) and order by name then id.
pub async fn worker_filters<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let mut running = sample_worker(10, "w-a", "us-east-1");
    running.status.lifecycle = LifecycleState::Running;
    running.meta.labels.insert("team".into(), "ccna".into());
    running.meta.labels.insert("tier".into(), "gold".into());
    let mut stopped = sample_worker(11, "w-b", "eu-west-1");
    stopped.status.lifecycle = LifecycleState::Stopped;
    stopped.meta.labels.insert("team".into(), "ccnp".into());
    let mut terminated = sample_worker(12, "w-c", "us-east-1");
    terminated.status.lifecycle = LifecycleState::Terminated;
    terminated.meta.labels.insert("team".into(), "ccna".into());
    // Same name as `running`, smaller id: listed first.
    let pending = sample_worker(5, "w-a", "us-east-1");
    commit(
        &store,
        ChangeSet::new()
            .put_worker(running.clone())
            .put_worker(stopped.clone())
            .put_worker(terminated.clone())
            .put_worker(pending.clone()),
    )
    .await;
    let [running, stopped, terminated, pending] =
        [running, stopped, terminated, pending].map(|w| stored(&w, |w| w.meta.version = 1));

    let list = |filter: WorkerFilter| {
        let store = &store;
        async move { store.list_workers(&filter).await.expect("list") }
    };
    assert_eq!(
        list(WorkerFilter::default()).await,
        vec![pending.clone(), running.clone(), stopped.clone()]
    );
    assert_eq!(
        list(WorkerFilter {
            include_terminated: true,
            ..Default::default()
        })
        .await,
        vec![
            pending.clone(),
            running.clone(),
            stopped.clone(),
            terminated.clone()
        ]
    );
    assert_eq!(
        list(WorkerFilter {
            region: Some(Region::new("us-east-1")),
            ..Default::default()
        })
        .await,
        vec![pending.clone(), running.clone()]
    );
    assert_eq!(
        list(WorkerFilter {
            lifecycle: vec![LifecycleState::Stopped, LifecycleState::Running],
            ..Default::default()
        })
        .await,
        vec![running.clone(), stopped.clone()]
    );
    let ccna = BTreeMap::from([("team".to_owned(), "ccna".to_owned())]);
    assert_eq!(
        list(WorkerFilter {
            labels: ccna.clone(),
            ..Default::default()
        })
        .await,
        vec![running.clone()]
    );
    assert_eq!(
        list(WorkerFilter {
            labels: ccna.clone(),
            include_terminated: true,
            ..Default::default()
        })
        .await,
        vec![running.clone(), terminated.clone()]
    );
    assert_eq!(
        list(WorkerFilter {
            labels: BTreeMap::from([
                ("team".to_owned(), "ccna".to_owned()),
                ("tier".to_owned(), "silver".to_owned()),
            ]),
            ..Default::default()
        })
        .await,
        vec![]
    );
    assert_eq!(
        list(WorkerFilter {
            lifecycle: vec![LifecycleState::Terminated],
            ..Default::default()
        })
        .await,
        vec![terminated.clone()]
    );
    assert_eq!(
        list(WorkerFilter {
            region: Some(Region::new("ap-south-1")),
            include_terminated: true,
            ..Default::default()
        })
        .await,
        vec![]
    );
}

/// Pages of workers are slices of the full list, for every filter, offset and
/// limit: the same order (byte order of names, then ids; case, accents and
/// equal names included), the same filter (labels whose keys hold JSON-path
/// characters included) and the filter's total, also for a page past the end.
pub async fn worker_pages<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let names = ["b", "B", "a", "é", "e", "a", "Z", "a-1"];
    let mut changes = ChangeSet::new();
    for (i, name) in names.iter().enumerate() {
        let seed = 100 - i as u128;
        let mut worker = sample_worker(
            seed,
            name,
            if i % 2 == 0 { "us-east-1" } else { "eu-west-1" },
        );
        worker.status.lifecycle = match i % 3 {
            0 => LifecycleState::Running,
            1 => LifecycleState::Stopped,
            _ => LifecycleState::Terminated,
        };
        if i % 2 == 0 {
            worker
                .meta
                .labels
                .insert("pool.a\"$[0]".into(), "x'y".into());
        }
        if i % 4 == 0 {
            worker.meta.labels.insert("team".into(), "ccna".into());
        }
        changes = changes.put_worker(worker);
    }
    commit(&store, changes).await;

    let filters = [
        WorkerFilter::default(),
        WorkerFilter {
            include_terminated: true,
            ..Default::default()
        },
        WorkerFilter {
            region: Some(Region::new("us-east-1")),
            include_terminated: true,
            ..Default::default()
        },
        WorkerFilter {
            lifecycle: vec![LifecycleState::Terminated, LifecycleState::Stopped],
            ..Default::default()
        },
        WorkerFilter {
            labels: BTreeMap::from([("pool.a\"$[0]".to_owned(), "x'y".to_owned())]),
            include_terminated: true,
            ..Default::default()
        },
        WorkerFilter {
            labels: BTreeMap::from([
                ("pool.a\"$[0]".to_owned(), "x'y".to_owned()),
                ("team".to_owned(), "ccna".to_owned()),
            ]),
            ..Default::default()
        },
        WorkerFilter {
            labels: BTreeMap::from([("team".to_owned(), "other".to_owned())]),
            ..Default::default()
        },
    ];
    for filter in &filters {
        let all = store.list_workers(filter).await.expect("list");
        let mut sorted = all.clone();
        sorted.sort_by(|a, b| (a.name(), a.id).cmp(&(b.name(), b.id)));
        assert_eq!(all, sorted, "list_workers order for {filter:?}");
        for limit in 0..=3 {
            for offset in 0..=all.len() + 1 {
                let page = PageRequest { offset, limit };
                let listed = store.list_workers_page(filter, page).await.expect("page");
                assert_eq!(
                    listed,
                    Listed::page_of(all.clone(), page),
                    "page {page:?} of {filter:?}"
                );
            }
        }
    }
    // Huge positions are empty pages, not errors.
    let listed = store
        .list_workers_page(
            &WorkerFilter::default(),
            PageRequest {
                offset: usize::MAX,
                limit: usize::MAX,
            },
        )
        .await
        .expect("page");
    assert!(listed.items.is_empty());
    let everything = store
        .list_workers_page(
            &WorkerFilter::default(),
            PageRequest {
                offset: 0,
                limit: usize::MAX,
            },
        )
        .await
        .expect("page");
    assert_eq!(
        everything.items,
        store
            .list_workers(&WorkerFilter::default())
            .await
            .expect("list")
    );
}

/// Lab filters (worker, gone) and order by worker, title, id.
pub async fn lab_filters<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let a = WorkerId::from_u128(1);
    let b = WorkerId::from_u128(2);
    let zeta = sample_lab(1, a, "zeta");
    let alpha = sample_lab(2, a, "alpha");
    let gone = stored(&sample_lab(3, b, "mid"), |l| l.gone = true);
    let beta = sample_lab(4, b, "beta");
    commit(
        &store,
        ChangeSet::new()
            .put_lab(zeta.clone())
            .put_lab(alpha.clone())
            .put_lab(gone.clone())
            .put_lab(beta.clone()),
    )
    .await;
    let [zeta, alpha, gone, beta] =
        [zeta, alpha, gone, beta].map(|l| stored(&l, |l| l.version = 1));
    let list = |filter: LabFilter| {
        let store = &store;
        async move { store.list_labs(&filter).await.expect("list") }
    };
    assert_eq!(
        list(LabFilter::default()).await,
        vec![alpha.clone(), zeta.clone(), beta.clone()]
    );
    assert_eq!(
        list(LabFilter {
            include_gone: true,
            ..Default::default()
        })
        .await,
        vec![alpha.clone(), zeta.clone(), beta.clone(), gone.clone()]
    );
    assert_eq!(
        list(LabFilter {
            worker_id: Some(b),
            ..Default::default()
        })
        .await,
        vec![beta.clone()]
    );
    assert_eq!(
        list(LabFilter {
            worker_id: Some(b),
            include_gone: true
        })
        .await,
        vec![beta, gone]
    );
    assert_eq!(
        list(LabFilter {
            worker_id: Some(WorkerId::from_u128(3)),
            include_gone: true
        })
        .await,
        vec![]
    );
}

/// Definition filters (name, active) and order by name then version.
pub async fn definition_filters<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let ccna2 = sample_definition(1, "ccna", 2);
    let ccna1 = sample_definition(2, "ccna", 1);
    let ccna10 = sample_definition(4, "ccna", 10);
    let ccnp = stored(&sample_definition(3, "ccnp", 1), |d| d.active = false);
    commit(
        &store,
        ChangeSet::new()
            .put_definition(ccna2.clone())
            .put_definition(ccna1.clone())
            .put_definition(ccnp.clone())
            .put_definition(ccna10.clone()),
    )
    .await;
    let [ccna2, ccna1, ccnp, ccna10] =
        [ccna2, ccna1, ccnp, ccna10].map(|d| stored(&d, |d| d.meta.version = 1));
    let list = |filter: DefinitionFilter| {
        let store = &store;
        async move { store.list_definitions(&filter).await.expect("list") }
    };
    assert_eq!(
        list(DefinitionFilter::default()).await,
        vec![ccna1.clone(), ccna2.clone(), ccna10.clone(), ccnp.clone()]
    );
    assert_eq!(
        list(DefinitionFilter {
            name: Some("ccna".into()),
            active_only: false
        })
        .await,
        vec![ccna1.clone(), ccna2.clone(), ccna10.clone()]
    );
    assert_eq!(
        list(DefinitionFilter {
            name: None,
            active_only: true
        })
        .await,
        vec![ccna1, ccna2, ccna10]
    );
    assert_eq!(
        list(DefinitionFilter {
            name: Some("ccnp".into()),
            active_only: true
        })
        .await,
        vec![]
    );
}

/// Lablet filters (phases, worker, owner, definition, start window), order by
/// timeslot start then id, and pages of that order.
pub async fn lablet_filters<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let d1 = sample_definition(1, "ccna", 1);
    let d2 = sample_definition(2, "ccnp", 1);
    let worker = WorkerId::from_u128(7);
    let late = sample_lablet(1, &d1, "alice", 7200);
    let scheduled = stored(&sample_lablet(2, &d1, "bob", 3600), |l| {
        l.status.phase = LabletPhase::Scheduled;
        l.status.worker_id = Some(worker);
    });
    let other_definition = sample_lablet(3, &d2, "alice", 3600);
    let running = stored(&sample_lablet(4, &d1, "alice", 0), |l| {
        l.status.phase = LabletPhase::Running;
        l.status.worker_id = Some(worker);
    });
    commit(
        &store,
        ChangeSet::new()
            .put_lablet(late.clone())
            .put_lablet(scheduled.clone())
            .put_lablet(other_definition.clone())
            .put_lablet(running.clone()),
    )
    .await;
    let [late, scheduled, other_definition, running] =
        [late, scheduled, other_definition, running].map(|l| stored(&l, |l| l.meta.version = 1));
    let list = |filter: LabletFilter| {
        let store = &store;
        async move { store.list_lablets(&filter).await.expect("list") }
    };
    assert_eq!(
        list(LabletFilter::default()).await,
        vec![
            running.clone(),
            scheduled.clone(),
            other_definition.clone(),
            late.clone()
        ]
    );
    assert_eq!(
        list(LabletFilter {
            phases: vec![LabletPhase::Scheduled, LabletPhase::Running],
            ..Default::default()
        })
        .await,
        vec![running.clone(), scheduled.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            worker_id: Some(worker),
            ..Default::default()
        })
        .await,
        vec![running.clone(), scheduled.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            owner: Some("alice".into()),
            ..Default::default()
        })
        .await,
        vec![running.clone(), other_definition.clone(), late.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            definition_id: Some(d2.id),
            ..Default::default()
        })
        .await,
        vec![other_definition.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            owner: Some("alice".into()),
            definition_id: Some(d1.id),
            phases: vec![LabletPhase::Pending],
            worker_id: None,
            starts_by: None,
            starts_from: None,
        })
        .await,
        vec![late.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            worker_id: Some(WorkerId::from_u128(8)),
            ..Default::default()
        })
        .await,
        vec![]
    );
    // A start window: the instant itself is inside, a nanosecond earlier is not.
    assert_eq!(
        list(LabletFilter {
            starts_by: Some(at(3600)),
            ..Default::default()
        })
        .await,
        vec![running.clone(), scheduled.clone(), other_definition.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            starts_by: Some(at(3600) - chrono::Duration::nanoseconds(1)),
            ..Default::default()
        })
        .await,
        vec![running.clone()]
    );
    // A window of the past: both ends inclusive.
    assert_eq!(
        list(LabletFilter {
            starts_from: Some(at(3600)),
            starts_by: Some(at(3600)),
            ..Default::default()
        })
        .await,
        vec![scheduled.clone(), other_definition.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            starts_from: Some(at(3600) + chrono::Duration::nanoseconds(1)),
            ..Default::default()
        })
        .await,
        vec![late.clone()]
    );
    assert_eq!(
        list(LabletFilter {
            phases: vec![LabletPhase::Pending],
            starts_by: Some(at(86_400)),
            ..Default::default()
        })
        .await,
        vec![other_definition.clone(), late.clone()]
    );
    let filters = [
        LabletFilter::default(),
        LabletFilter {
            owner: Some("alice".into()),
            ..Default::default()
        },
        LabletFilter {
            phases: vec![LabletPhase::Pending, LabletPhase::Running],
            starts_by: Some(at(3600)),
            ..Default::default()
        },
        LabletFilter {
            worker_id: Some(WorkerId::from_u128(8)),
            ..Default::default()
        },
    ];
    let counted = |filter: LabletFilter| {
        let store = &store;
        async move {
            store
                .count_lablets_by_worker(&filter)
                .await
                .expect("count by worker")
        }
    };
    assert_eq!(
        counted(LabletFilter::default()).await,
        BTreeMap::from([(worker, 2)]),
        "the unbound lablets are not counted"
    );
    assert_eq!(
        counted(LabletFilter {
            phases: vec![LabletPhase::Running],
            ..Default::default()
        })
        .await,
        BTreeMap::from([(worker, 1)])
    );
    assert_eq!(
        counted(LabletFilter {
            phases: vec![LabletPhase::Pending],
            ..Default::default()
        })
        .await,
        BTreeMap::new(),
        "a worker holding none is absent"
    );
    for filter in &filters {
        let all = list(filter.clone()).await;
        let mut grouped = BTreeMap::new();
        for lablet in &all {
            if let Some(worker) = lablet.status.worker_id {
                *grouped.entry(worker).or_insert(0) += 1;
            }
        }
        assert_eq!(
            counted(filter.clone()).await,
            grouped,
            "counts of {filter:?}"
        );
        for limit in 0..=3 {
            for offset in 0..=all.len() + 1 {
                let page = PageRequest { offset, limit };
                let listed = store.list_lablets_page(filter, page).await.expect("page");
                assert_eq!(
                    listed,
                    Listed::page_of(all.clone(), page),
                    "page {page:?} of {filter:?}"
                );
            }
        }
    }
    let huge = PageRequest {
        offset: usize::MAX,
        limit: usize::MAX,
    };
    let listed = store
        .list_lablets_page(&LabletFilter::default(), huge)
        .await
        .expect("page");
    assert_eq!((listed.items.len(), listed.total), (0, 4));
}

// ---------------------------------------------------------------------------
// Conflicts and atomicity
// ---------------------------------------------------------------------------

/// A stale write fails with a typed conflict and changes nothing, its events included.
pub async fn stale_writes_conflict<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let worker = sample_worker(1, "w", "us-east-1");
    let wid = worker.id.to_string();
    commit(
        &store,
        ChangeSet::new()
            .put_worker(worker.clone())
            .events([sample_event(1, 1)]),
    )
    .await;
    let v1 = stored(&worker, |w| w.meta.version = 1);
    let v2 = stored(&v1, |w| w.status.lifecycle = LifecycleState::Running);
    commit(&store, ChangeSet::new().put_worker(v2.clone())).await;
    let v2 = stored(&v2, |w| w.meta.version = 2);
    let mut wake = store.subscribe();
    wake.borrow_and_update();

    // Stale update (read at version 1, now 2).
    let stale = stored(&v1, |w| w.status.lifecycle = LifecycleState::Failed);
    expect_conflict(
        store
            .commit(
                ChangeSet::new()
                    .put_worker(stale)
                    .events([sample_event(1, 2)]),
            )
            .await,
        ResourceKind::Worker,
        wid.clone(),
        1,
        Some(2),
    );
    // Insert of an existing id.
    expect_conflict(
        store
            .commit(ChangeSet::new().put_worker(worker.clone()))
            .await,
        ResourceKind::Worker,
        wid.clone(),
        0,
        Some(2),
    );
    // Update of a missing resource.
    let ghost = stored(&sample_worker(2, "ghost", "us-east-1"), |w| {
        w.meta.version = 3
    });
    expect_conflict(
        store.commit(ChangeSet::new().put_worker(ghost)).await,
        ResourceKind::Worker,
        WorkerId::from_u128(2).to_string(),
        3,
        None,
    );
    // Stale delete.
    expect_conflict(
        store
            .commit(ChangeSet::new().write(Write::DeleteWorker {
                id: worker.id,
                version: 1,
            }))
            .await,
        ResourceKind::Worker,
        wid.clone(),
        1,
        Some(2),
    );
    // Stale writes of the other kinds.
    let lab = sample_lab(3, worker.id, "lab");
    let definition = sample_definition(4, "d", 1);
    let lablet = sample_lablet(5, &definition, "alice", 0);
    let job = sample_job("job");
    commit(
        &store,
        ChangeSet::new()
            .put_lab(lab.clone())
            .put_definition(definition.clone())
            .put_lablet(lablet.clone())
            .put_job(job.clone()),
    )
    .await;
    let after_setup = store.last_sequence().await.expect("last");
    expect_conflict(
        store.commit(ChangeSet::new().put_lab(lab.clone())).await,
        ResourceKind::Lab,
        lab.id.to_string(),
        0,
        Some(1),
    );
    expect_conflict(
        store
            .commit(ChangeSet::new().put_definition(stored(&definition, |d| d.meta.version = 2)))
            .await,
        ResourceKind::Definition,
        definition.id.to_string(),
        2,
        Some(1),
    );
    expect_conflict(
        store
            .commit(ChangeSet::new().write(Write::DeleteLablet {
                id: lablet.id,
                version: 7,
            }))
            .await,
        ResourceKind::Lablet,
        lablet.id.to_string(),
        7,
        Some(1),
    );
    expect_conflict(
        store
            .commit(ChangeSet::new().write(Write::DeleteLab {
                id: LabRecordId::from_u128(77),
                version: 1,
            }))
            .await,
        ResourceKind::Lab,
        LabRecordId::from_u128(77).to_string(),
        1,
        None,
    );
    expect_conflict(
        store.commit(ChangeSet::new().put_job(job.clone())).await,
        ResourceKind::Job,
        "job".into(),
        0,
        Some(1),
    );

    assert_eq!(store.get_worker(worker.id).await.expect("get"), Some(v2));
    assert_eq!(
        store.get_worker(WorkerId::from_u128(2)).await.expect("get"),
        None
    );
    assert_eq!(
        store.get_lab(lab.id).await.expect("get"),
        Some(stored(&lab, |l| l.version = 1))
    );
    assert_eq!(store.last_sequence().await.expect("last"), 1);
    assert_eq!(after_setup, 1);
    assert_eq!(all_events(&store).await.len(), 1);
    assert!(
        !wake.has_changed().expect("sender alive"),
        "a failed commit woke subscribers"
    );
}

/// A conflict on a later write leaves the earlier writes of the same commit
/// unapplied; writes to one resource within a commit see each other.
pub async fn commits_are_atomic<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let existing = sample_worker(1, "existing", "us-east-1");
    commit(&store, ChangeSet::new().put_worker(existing.clone())).await;

    let fresh = sample_worker(2, "fresh", "us-east-1");
    let lab = sample_lab(3, fresh.id, "lab");
    let stale = stored(&existing, |w| w.meta.version = 5);
    expect_conflict(
        store
            .commit(
                ChangeSet::new()
                    .put_worker(fresh.clone())
                    .put_lab(lab.clone())
                    .put_worker(stale)
                    .events([sample_event(2, 1), sample_event(1, 2)]),
            )
            .await,
        ResourceKind::Worker,
        existing.id.to_string(),
        5,
        Some(1),
    );
    assert_eq!(store.get_worker(fresh.id).await.expect("get"), None);
    assert_eq!(store.get_lab(lab.id).await.expect("get"), None);
    assert_eq!(store.last_sequence().await.expect("last"), 0);
    assert!(store.read_events(0, 10).await.expect("read").is_empty());

    // A later write to the same resource sees the earlier one.
    let second = stored(&fresh, |w| {
        w.meta.version = 1;
        w.status.lifecycle = LifecycleState::Provisioning;
    });
    let receipt = commit(
        &store,
        ChangeSet::new()
            .put_worker(fresh.clone())
            .put_worker(second.clone())
            .events([sample_event(2, 1)]),
    )
    .await;
    assert_eq!(receipt.versions, vec![1, 2]);
    assert_eq!(receipt.sequences, vec![1]);
    assert_eq!(
        store.get_worker(fresh.id).await.expect("get"),
        Some(stored(&second, |w| w.meta.version = 2))
    );
    // Insert then delete in one commit; a second insert of the same id conflicts.
    let temp = sample_worker(3, "temp", "us-east-1");
    let receipt = commit(
        &store,
        ChangeSet::new()
            .put_worker(temp.clone())
            .write(Write::DeleteWorker {
                id: temp.id,
                version: 1,
            }),
    )
    .await;
    assert_eq!(receipt.versions, vec![1, 0]);
    assert_eq!(store.get_worker(temp.id).await.expect("get"), None);
    expect_conflict(
        store
            .commit(
                ChangeSet::new()
                    .put_worker(temp.clone())
                    .put_worker(temp.clone()),
            )
            .await,
        ResourceKind::Worker,
        temp.id.to_string(),
        0,
        Some(1),
    );
    assert_eq!(store.get_worker(temp.id).await.expect("get"), None);
}

/// Every kind's generation moves with each commit that writes or deletes one of
/// its records, and with nothing else: not another kind's writes, not events
/// alone, not a failed commit. It never goes back, a restart included.
pub async fn generations_move_with_writes<F: StoreFactory>(factory: &F) {
    const KINDS: [ResourceKind; 5] = [
        ResourceKind::Worker,
        ResourceKind::Lab,
        ResourceKind::Definition,
        ResourceKind::Lablet,
        ResourceKind::Job,
    ];
    async fn generations<S: Store>(store: &S) -> Vec<u64> {
        let read = store.generations().await.expect("generations");
        assert_eq!(read.of(ResourceKind::Fleet), 0);
        KINDS.iter().map(|kind| read.of(*kind)).collect()
    }
    /// The kinds whose generation differs, in `KINDS` order; panics if one went back.
    fn moved(before: &[u64], after: &[u64]) -> Vec<ResourceKind> {
        KINDS
            .iter()
            .zip(before.iter().zip(after))
            .filter_map(|(kind, (b, a))| {
                assert!(a >= b, "{kind:?} generation went back from {b} to {a}");
                (a != b).then_some(*kind)
            })
            .collect()
    }

    let store = factory.open().await;
    let start = generations(&store).await;
    let worker = sample_worker(1, "w", "us-east-1");
    commit(&store, ChangeSet::new().put_worker(worker.clone())).await;
    let after_worker = generations(&store).await;
    assert_eq!(moved(&start, &after_worker), vec![ResourceKind::Worker]);

    commit(&store, ChangeSet::new().events([sample_event(1, 1)])).await;
    let after_events = generations(&store).await;
    assert!(
        moved(&after_worker, &after_events).is_empty(),
        "events alone"
    );

    let stale = stored(&worker, |w| w.meta.version = 7);
    assert!(store
        .commit(ChangeSet::new().put_worker(stale))
        .await
        .is_err());
    assert!(
        moved(&after_events, &generations(&store).await).is_empty(),
        "a failed commit"
    );

    let definition = sample_definition(2, "d", 1);
    let lablet = sample_lablet(3, &definition, "alice", 0);
    commit(
        &store,
        ChangeSet::new()
            .put_definition(definition)
            .put_lablet(lablet)
            .put_lab(sample_lab(4, worker.id, "lab"))
            .put_job(sample_job("job")),
    )
    .await;
    let after_others = generations(&store).await;
    assert_eq!(
        moved(&after_events, &after_others),
        vec![
            ResourceKind::Lab,
            ResourceKind::Definition,
            ResourceKind::Lablet,
            ResourceKind::Job
        ]
    );

    commit(
        &store,
        ChangeSet::new().write(Write::DeleteWorker {
            id: worker.id,
            version: 1,
        }),
    )
    .await;
    let after_delete = generations(&store).await;
    assert_eq!(
        moved(&after_others, &after_delete),
        vec![ResourceKind::Worker]
    );

    if factory.durable() {
        factory.close(store).await;
        let reopened = factory.open().await;
        assert!(moved(&after_delete, &generations(&reopened).await).is_empty());
    }
}

// ---------------------------------------------------------------------------
// Event log
// ---------------------------------------------------------------------------

/// Events get sequences 1, 2, 3… in commit order; failed commits use none.
pub async fn events_are_ordered_and_gap_free<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    assert_eq!(store.last_sequence().await.expect("last"), 0);
    let worker = sample_worker(1, "w", "us-east-1");
    let first = [sample_event(1, 1), sample_event(1, 2)];
    let receipt = commit(
        &store,
        ChangeSet::new()
            .put_worker(worker.clone())
            .events(first.clone()),
    )
    .await;
    assert_eq!(receipt.sequences, vec![1, 2]);
    let receipt = commit(&store, ChangeSet::new().put_job(sample_job("j"))).await;
    assert!(receipt.sequences.is_empty());
    // A failed commit consumes no sequence numbers.
    assert!(store
        .commit(
            ChangeSet::new()
                .put_worker(worker.clone())
                .events([sample_event(1, 99)])
        )
        .await
        .is_err());
    let second = [sample_event(2, 3), sample_event(3, 4), sample_event(1, 5)];
    let receipt = commit(&store, ChangeSet::new().events(second.clone())).await;
    assert_eq!(receipt.sequences, vec![3, 4, 5]);
    assert_eq!(store.last_sequence().await.expect("last"), 5);

    let events = all_events(&store).await;
    assert_gap_free(&events);
    let expected: Vec<DomainEvent> = first.into_iter().chain(second).collect();
    assert_eq!(
        events.into_iter().map(|e| e.event).collect::<Vec<_>>(),
        expected
    );
    // Events with rich payloads come back equal.
    let created = Worker::create(
        WorkerId::from_u128(9),
        NewWorker {
            name: "rich".into(),
            region: Region::new("us-east-1"),
            instance_type: "m5zn.metal".into(),
            capacity: Capacity::new(Resources::new(48, 192, 1000), 40),
            tags: BTreeMap::new(),
            labels: BTreeMap::new(),
            idle: IdleSettings::default(),
            created_by: None,
            image: None,
        },
        t0(),
    )
    .1;
    let receipt = commit(&store, ChangeSet::new().events([created.clone()])).await;
    assert_eq!(receipt.sequences, vec![6]);
    let read = store.read_events(5, 10).await.expect("read");
    assert_eq!(
        read,
        vec![StoredEvent {
            sequence: 6,
            event: created
        }]
    );
}

/// `read_events(after, limit)` pages through the log.
pub async fn cursor_reads<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    assert!(store.read_events(0, 10).await.expect("read").is_empty());
    for n in 1..=10u64 {
        commit(&store, ChangeSet::new().events([sample_event(1, n)])).await;
    }
    let seqs = |events: Vec<StoredEvent>| events.iter().map(|e| e.sequence).collect::<Vec<_>>();
    assert_eq!(
        seqs(store.read_events(0, 3).await.expect("read")),
        vec![1, 2, 3]
    );
    assert_eq!(
        seqs(store.read_events(3, 3).await.expect("read")),
        vec![4, 5, 6]
    );
    assert_eq!(
        seqs(store.read_events(8, 10).await.expect("read")),
        vec![9, 10]
    );
    assert!(store.read_events(10, 10).await.expect("read").is_empty());
    assert!(store.read_events(1000, 10).await.expect("read").is_empty());
    assert!(store.read_events(0, 0).await.expect("read").is_empty());
    // Paging with a resumable cursor sees every event once, in order.
    let mut cursor = 0;
    let mut seen = Vec::new();
    loop {
        let page = store.read_events(cursor, 4).await.expect("read");
        let Some(last) = page.last() else { break };
        cursor = last.sequence;
        seen.extend(page);
    }
    assert_gap_free(&seen);
    assert_eq!(seen.len(), 10);
    for (event, n) in seen.iter().zip(1u64..) {
        assert_eq!(event.event, sample_event(1, n));
    }
    // Bounds beyond what SQL counts: everything, and nothing.
    assert_eq!(store.read_events(0, usize::MAX).await.expect("read"), seen);
    assert!(store
        .read_events(u64::MAX, 10)
        .await
        .expect("read")
        .is_empty());
}

/// A subscriber is woken with the newest sequence when events land; a commit
/// without events does not wake it.
pub async fn subscribe_wakes_on_commit<F: StoreFactory>(factory: &F) {
    let store = Arc::new(factory.open().await);
    let mut rx = store.subscribe();
    assert_eq!(*rx.borrow_and_update(), 0);

    let waiter = tokio::spawn(async move {
        tokio::time::timeout(WAKE_TIMEOUT, rx.changed())
            .await
            .expect("woken before the timeout")
            .expect("sender alive");
        let seen = *rx.borrow_and_update();
        (rx, seen)
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    commit(
        &*store,
        ChangeSet::new().events([sample_event(1, 1), sample_event(1, 2)]),
    )
    .await;
    let (mut rx, seen) = waiter.await.expect("waiter");
    assert_eq!(seen, 2);

    commit(&*store, ChangeSet::new().put_job(sample_job("quiet"))).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        !rx.has_changed().expect("sender alive"),
        "a commit without events woke subscribers"
    );

    commit(&*store, ChangeSet::new().events([sample_event(1, 3)])).await;
    tokio::time::timeout(WAKE_TIMEOUT, rx.wait_for(|seq| *seq >= 3))
        .await
        .expect("woken before the timeout")
        .expect("sender alive");
    // A late subscriber starts at the newest sequence.
    assert_eq!(*store.subscribe().borrow(), 3);
}

// ---------------------------------------------------------------------------
// Leases and fencing
// ---------------------------------------------------------------------------

/// Acquire, renew, release and expiry, with tokens that only grow.
pub async fn leases_acquire_renew_release_expire<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let name = "controllers";
    assert_eq!(store.get_lease(name).await.expect("get"), None);

    let a = store
        .try_acquire_lease(name, "a", 30, t0())
        .await
        .expect("acquire")
        .expect("free lease is granted");
    assert_eq!(
        (a.name.as_str(), a.holder.as_str(), a.token),
        (name, "a", 1)
    );
    assert_eq!(a.expires_at, at(30));
    assert_eq!(store.get_lease(name).await.expect("get"), Some(a.clone()));

    // Another holder is refused while the lease is live.
    assert_eq!(
        store
            .try_acquire_lease(name, "b", 30, at(10))
            .await
            .expect("acquire"),
        None
    );
    // The holder re-acquiring renews with the same token.
    let again = store
        .try_acquire_lease(name, "a", 30, at(10))
        .await
        .expect("acquire")
        .expect("holder re-acquires");
    assert_eq!((again.token, again.expires_at), (1, at(40)));
    let renewed = store
        .renew_lease(name, "a", 1, 30, at(20))
        .await
        .expect("renew");
    assert_eq!((renewed.token, renewed.expires_at), (1, at(50)));
    assert!(matches!(
        store.renew_lease(name, "b", 1, 30, at(20)).await,
        Err(StoreError::LeaseNotHeld { .. })
    ));
    assert!(matches!(
        store.renew_lease(name, "a", 2, 30, at(20)).await,
        Err(StoreError::LeaseNotHeld { .. })
    ));
    assert!(matches!(
        store.renew_lease("missing", "a", 1, 30, at(20)).await,
        Err(StoreError::LeaseNotHeld { .. })
    ));

    // At its expiry instant the lease is free: another holder takes it with a new token.
    let b = store
        .try_acquire_lease(name, "b", 30, at(50))
        .await
        .expect("acquire")
        .expect("expired lease is granted");
    assert_eq!((b.holder.as_str(), b.token, b.expires_at), ("b", 2, at(80)));
    assert!(matches!(
        store.renew_lease(name, "a", 1, 30, at(55)).await,
        Err(StoreError::LeaseNotHeld { .. })
    ));
    // Releasing a lease one does not hold is a no-op.
    store.release_lease(name, "a", 1).await.expect("release");
    store.release_lease(name, "b", 1).await.expect("release");
    store
        .release_lease("missing", "b", 1)
        .await
        .expect("release");
    assert_eq!(store.get_lease(name).await.expect("get"), Some(b.clone()));

    // Released: expires at once; the token survives and grows on the next acquire,
    // even by the same holder.
    store.release_lease(name, "b", 2).await.expect("release");
    let released = store.get_lease(name).await.expect("get").expect("kept");
    assert_eq!(
        (
            released.holder.as_str(),
            released.token,
            released.expires_at
        ),
        ("b", 2, epoch())
    );
    let b3 = store
        .try_acquire_lease(name, "b", 30, at(60))
        .await
        .expect("acquire")
        .expect("released lease is granted");
    assert_eq!((b3.token, b3.expires_at), (3, at(90)));
    assert_eq!(
        store
            .try_acquire_lease(name, "a", 30, at(60))
            .await
            .expect("acquire"),
        None
    );

    // A holder may renew a lease that expired while nobody else took it.
    let c = store
        .try_acquire_lease("other", "c", 10, t0())
        .await
        .expect("acquire")
        .expect("granted");
    assert_eq!(c.token, 1, "leases count their tokens separately");
    let late = store
        .renew_lease("other", "c", 1, 10, at(100))
        .await
        .expect("renew after expiry, not taken over");
    assert_eq!((late.token, late.expires_at), (1, at(110)));
    assert_eq!(store.get_lease(name).await.expect("get"), Some(b3));
}

/// A commit fenced with a stale token is rejected whole; the current holder's passes.
pub async fn fencing_rejects_deposed_holder<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    let name = "controllers";
    let a = store
        .try_acquire_lease(name, "a", 30, t0())
        .await
        .expect("acquire")
        .expect("granted");
    let fence_a = Fence {
        lease: name.into(),
        token: a.token,
    };
    let first = sample_worker(1, "first", "us-east-1");
    let receipt = commit(
        &store,
        ChangeSet::new()
            .put_worker(first.clone())
            .events([sample_event(1, 1)])
            .fenced(fence_a.clone()),
    )
    .await;
    assert_eq!(receipt.sequences, vec![1]);

    // `a` stalls past its expiry; `b` takes over.
    let b = store
        .try_acquire_lease(name, "b", 30, at(31))
        .await
        .expect("acquire")
        .expect("granted");
    assert!(b.token > a.token);
    let second = sample_worker(2, "second", "us-east-1");
    match store
        .commit(
            ChangeSet::new()
                .put_worker(second.clone())
                .events([sample_event(2, 2)])
                .fenced(fence_a.clone()),
        )
        .await
    {
        Err(StoreError::Fenced {
            lease,
            token,
            current,
        }) => {
            assert_eq!(
                (lease.as_str(), token, current),
                (name, a.token, Some(b.token))
            );
        }
        other => panic!("expected the deposed holder to be fenced, got {other:?}"),
    }
    assert_eq!(store.get_worker(second.id).await.expect("get"), None);
    assert_eq!(store.last_sequence().await.expect("last"), 1);
    // The fence is checked before the writes: a stale write under a stale fence
    // is reported as fenced.
    assert!(matches!(
        store
            .commit(
                ChangeSet::new()
                    .put_worker(first.clone())
                    .fenced(fence_a.clone())
            )
            .await,
        Err(StoreError::Fenced { .. })
    ));

    let fence_b = Fence {
        lease: name.into(),
        token: b.token,
    };
    let receipt = commit(
        &store,
        ChangeSet::new()
            .put_worker(second.clone())
            .events([sample_event(2, 2)])
            .fenced(fence_b.clone()),
    )
    .await;
    assert_eq!(receipt.sequences, vec![2]);

    // A fence naming a lease nobody ever took is rejected.
    match store
        .commit(ChangeSet::new().events([sample_event(3, 3)]).fenced(Fence {
            lease: "nobody".into(),
            token: 1,
        }))
        .await
    {
        Err(StoreError::Fenced { current, .. }) => assert_eq!(current, None),
        other => panic!("expected fenced, got {other:?}"),
    }

    // Once `b` released and `a` came back, `b`'s token is stale too.
    store
        .release_lease(name, "b", b.token)
        .await
        .expect("release");
    let a2 = store
        .try_acquire_lease(name, "a", 30, at(40))
        .await
        .expect("acquire")
        .expect("granted");
    assert!(a2.token > b.token);
    assert!(matches!(
        store
            .commit(
                ChangeSet::new()
                    .events([sample_event(2, 4)])
                    .fenced(fence_b)
            )
            .await,
        Err(StoreError::Fenced { .. })
    ));
    assert_eq!(store.last_sequence().await.expect("last"), 2);
}

// ---------------------------------------------------------------------------
// Batches and concurrency
// ---------------------------------------------------------------------------

/// Hundreds of workers inserted, then updated, in one commit each; a batch with one
/// stale write applies nothing.
pub async fn batch_writes<F: StoreFactory>(factory: &F) {
    const N: u128 = 300;
    let store = factory.open().await;
    let workers: Vec<Worker> = (0..N)
        .map(|i| sample_worker(1000 + i, &format!("w-{i:04}"), "us-east-1"))
        .collect();
    let mut insert = ChangeSet::new();
    for (i, worker) in (0u64..).zip(&workers) {
        insert = insert
            .put_worker(worker.clone())
            .events([sample_event(1000, i)]);
    }
    let receipt = commit(&store, insert).await;
    assert_eq!(receipt.versions, vec![1; N as usize]);
    assert_eq!(receipt.sequences, (1..=N as u64).collect::<Vec<_>>());

    let mut update = ChangeSet::new();
    let mut expected = Vec::new();
    for (i, worker) in (0u64..).zip(&workers) {
        let running = stored(worker, |w| {
            w.meta.version = 1;
            w.status.lifecycle = LifecycleState::Running;
        });
        expected.push(stored(&running, |w| w.meta.version = 2));
        update = update.put_worker(running).events([sample_event(1001, i)]);
    }
    let receipt = commit(&store, update).await;
    assert_eq!(receipt.versions, vec![2; N as usize]);
    assert_eq!(
        receipt.sequences,
        (N as u64 + 1..=2 * N as u64).collect::<Vec<_>>()
    );
    let running = store
        .list_workers(&WorkerFilter {
            lifecycle: vec![LifecycleState::Running],
            ..Default::default()
        })
        .await
        .expect("list");
    assert_eq!(running, expected);

    // One stale write among hundreds: nothing applied.
    let mut mixed = ChangeSet::new();
    for (i, worker) in expected.iter().enumerate() {
        let version = if i == N as usize / 2 { 1 } else { 2 };
        mixed = mixed.put_worker(stored(worker, |w| {
            w.meta.version = version;
            w.status.lifecycle = LifecycleState::Stopping;
        }));
    }
    expect_conflict(
        store.commit(mixed.events([sample_event(1000, 2)])).await,
        ResourceKind::Worker,
        expected[N as usize / 2].id.to_string(),
        1,
        Some(2),
    );
    // Hundreds of inserts, one of an existing id: nothing applied.
    let mut inserts = ChangeSet::new();
    for i in 0..N {
        let seed = if i == N - 3 { 1000 + 7 } else { 5000 + i };
        inserts = inserts.put_worker(sample_worker(seed, &format!("new-{i:04}"), "eu-west-1"));
    }
    expect_conflict(
        store.commit(inserts).await,
        ResourceKind::Worker,
        WorkerId::from_u128(1007).to_string(),
        0,
        Some(2),
    );
    assert!(store
        .list_workers(&WorkerFilter {
            region: Some(Region::new("eu-west-1")),
            ..Default::default()
        })
        .await
        .expect("list")
        .is_empty());
    assert_eq!(
        store
            .list_workers(&WorkerFilter::default())
            .await
            .expect("list"),
        expected
    );
    assert_eq!(store.last_sequence().await.expect("last"), 2 * N as u64);

    // Updates of every worker with the first one updated again in the middle:
    // each write sees the ones before it, whatever a store batches.
    let mut twice = ChangeSet::new();
    let mut last = expected.clone();
    for (i, worker) in expected.iter().enumerate() {
        twice = twice.put_worker(stored(worker, |w| {
            w.status.lifecycle = LifecycleState::Stopping
        }));
        if i == N as usize / 2 {
            twice = twice.put_worker(stored(&expected[0], |w| {
                w.meta.version = 3;
                w.status.lifecycle = LifecycleState::Stopped;
            }));
        }
    }
    let receipt = commit(&store, twice).await;
    let mut versions = vec![3; N as usize + 1];
    versions[N as usize / 2 + 1] = 4;
    assert_eq!(receipt.versions, versions);
    last[0] = stored(&expected[0], |w| {
        w.meta.version = 4;
        w.status.lifecycle = LifecycleState::Stopped;
    });
    for worker in &mut last[1..] {
        worker.meta.version = 3;
        worker.status.lifecycle = LifecycleState::Stopping;
    }
    assert_eq!(
        store
            .list_workers(&WorkerFilter {
                include_terminated: true,
                ..WorkerFilter::default()
            })
            .await
            .expect("list"),
        last
    );
}

/// 16 tasks each doing 200 read-modify-write increments of one worker's label,
/// retrying on conflict: exactly 3,200 increments land, with gap-free events in
/// commit order.
pub async fn concurrent_increments<F: StoreFactory>(factory: &F) {
    concurrent_increments_with(factory, 16, 200).await;
}

/// [`concurrent_increments`] with chosen numbers of tasks and increments per task.
pub async fn concurrent_increments_with<F: StoreFactory>(factory: &F, tasks: u64, each: u64) {
    const COUNT: &str = "count";
    let store = Arc::new(factory.open().await);
    let mut worker = sample_worker(1, "counter", "us-east-1");
    worker.meta.labels.insert(COUNT.into(), "0".into());
    commit(&*store, ChangeSet::new().put_worker(worker.clone())).await;

    let mut handles = Vec::new();
    for task in 0..tasks {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let mut conflicts = 0u64;
            // Exponential backoff with full jitter (xorshift seeded per task), as a
            // well-behaved client retries: 16 writers on one record otherwise spend
            // most of their attempts colliding.
            let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ (task + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            for _ in 0..each {
                let mut attempt = 0u32;
                loop {
                    let mut current = store
                        .get_worker(worker.id)
                        .await
                        .expect("get")
                        .expect("counter exists");
                    let n: u64 = current.meta.labels[COUNT].parse().expect("a number");
                    current
                        .meta
                        .labels
                        .insert(COUNT.into(), (n + 1).to_string());
                    let changes = ChangeSet::new()
                        .put_worker(current)
                        .events([sample_event(1, n + 1)]);
                    match store.commit(changes).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => {
                            conflicts += 1;
                            attempt += 1;
                            rng ^= rng << 13;
                            rng ^= rng >> 7;
                            rng ^= rng << 17;
                            let cap_micros = 1000u64 << attempt.min(5);
                            let wait = Duration::from_micros(rng % cap_micros);
                            tokio::time::sleep(wait).await;
                        }
                        Err(other) => panic!("increment failed: {other}"),
                    }
                }
            }
            conflicts
        }));
    }
    let started = std::time::Instant::now();
    let mut conflicts = 0;
    for handle in handles {
        conflicts += handle.await.expect("task");
    }
    let total = tasks * each;
    eprintln!(
        "{total} increments by {tasks} tasks: {conflicts} conflicts retried, {:?}",
        started.elapsed()
    );
    let counter = store
        .get_worker(worker.id)
        .await
        .expect("get")
        .expect("counter");
    assert_eq!(counter.meta.labels[COUNT], total.to_string());
    assert_eq!(counter.meta.version, total + 1);
    assert_eq!(store.last_sequence().await.expect("last"), total);
    let events = all_events(&*store).await;
    assert_gap_free(&events);
    let counts: Vec<u64> = events
        .iter()
        .map(|e| match &e.event.payload {
            EventPayload::WorkerTagsUpdated { tags } => tags["n"].parse().expect("a number"),
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        counts,
        (1..=total).collect::<Vec<_>>(),
        "events in commit order"
    );
}

// ---------------------------------------------------------------------------
// Restart
// ---------------------------------------------------------------------------

/// Close and reopen: every resource, event, lease and key is still there, and
/// sequences and tokens go on from where they were. Skipped when not durable.
pub async fn restart_survival<F: StoreFactory>(factory: &F) {
    if !factory.durable() {
        return;
    }
    let store = factory.open().await;
    let worker = sample_worker(1, "w", "us-east-1");
    let definition = sample_definition(2, "d", 1);
    let lablet = sample_lablet(3, &definition, "alice", 0);
    let lab = sample_lab(4, worker.id, "lab");
    let job = sample_job("job");
    let gone = sample_worker(5, "gone", "us-east-1");
    commit(
        &store,
        ChangeSet::new()
            .put_worker(worker.clone())
            .put_worker(gone.clone())
            .put_definition(definition.clone())
            .put_lablet(lablet.clone())
            .put_lab(lab.clone())
            .put_job(job.clone())
            .events([sample_event(1, 1), sample_event(2, 2)]),
    )
    .await;
    commit(
        &store,
        ChangeSet::new()
            .write(Write::DeleteWorker {
                id: gone.id,
                version: 1,
            })
            .events([sample_event(5, 3)]),
    )
    .await;
    let lease = store
        .try_acquire_lease("controllers", "a", 30, t0())
        .await
        .expect("acquire")
        .expect("granted");
    let key = ApiKeyRecord::new(
        ApiKeyId::from_u128(6),
        "ci",
        ApiKeyRole::Admin,
        "hash",
        t0(),
    );
    store.insert_api_key(&key).await.expect("insert");
    store.revoke_api_key(key.id, at(1)).await.expect("revoke");
    let events = all_events(&store).await;
    factory.close(store).await;

    let store = factory.open().await;
    assert_eq!(
        store.get_worker(worker.id).await.expect("get"),
        Some(stored(&worker, |w| w.meta.version = 1))
    );
    assert_eq!(store.get_worker(gone.id).await.expect("get"), None);
    assert_eq!(
        store.get_definition(definition.id).await.expect("get"),
        Some(stored(&definition, |d| d.meta.version = 1))
    );
    assert_eq!(
        store.get_lablet(lablet.id).await.expect("get"),
        Some(stored(&lablet, |l| l.meta.version = 1))
    );
    assert_eq!(
        store.get_lab(lab.id).await.expect("get"),
        Some(stored(&lab, |l| l.version = 1))
    );
    assert_eq!(
        store.list_jobs().await.expect("list"),
        vec![stored(&job, |j| j.version = 1)]
    );
    assert_eq!(
        store.list_api_keys().await.expect("list"),
        vec![stored(&key, |k| k.revoked_at = Some(at(1)))]
    );
    assert_eq!(
        store.get_lease("controllers").await.expect("get"),
        Some(lease.clone())
    );
    assert_eq!(all_events(&store).await, events);
    assert_eq!(store.last_sequence().await.expect("last"), 3);
    assert_eq!(
        *store.subscribe().borrow(),
        3,
        "the watch starts at the stored sequence"
    );

    // Versions, sequences and tokens go on.
    let update = stored(&worker, |w| {
        w.meta.version = 1;
        w.status.lifecycle = LifecycleState::Running;
    });
    let receipt = commit(
        &store,
        ChangeSet::new()
            .put_worker(update)
            .events([sample_event(1, 4)]),
    )
    .await;
    assert_eq!((receipt.versions, receipt.sequences), (vec![2], vec![4]));
    let next = store
        .try_acquire_lease("controllers", "b", 30, at(60))
        .await
        .expect("acquire")
        .expect("expired lease granted");
    assert_eq!(next.token, lease.token + 1);
    let seen: BTreeSet<u64> = all_events(&store)
        .await
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(seen, (1..=4).collect());
    factory.close(store).await;
}

// ---------------------------------------------------------------------------
// Retention (compaction)
// ---------------------------------------------------------------------------

/// When the old part of the compaction fixtures happened; the young part is
/// after [`compaction_cutoff`].
fn old(seconds: i64) -> Timestamp {
    at(seconds)
}

fn young(seconds: i64) -> Timestamp {
    at(100_000 + seconds)
}

/// Cuts between the fixtures' old and young events.
pub fn compaction_cutoff() -> Timestamp {
    at(50_000)
}

/// Commits a worker with the events a command produced, keeping its version.
async fn save_worker<S: Store + ?Sized>(store: &S, worker: &mut Worker, events: Vec<DomainEvent>) {
    let receipt = commit(
        store,
        ChangeSet::new().put_worker(worker.clone()).events(events),
    )
    .await;
    worker.meta.version = receipt.versions[0];
}

async fn save_lablet<S: Store + ?Sized>(store: &S, lablet: &mut Lablet, events: Vec<DomainEvent>) {
    let receipt = commit(
        store,
        ChangeSet::new().put_lablet(lablet.clone()).events(events),
    )
    .await;
    lablet.meta.version = receipt.versions[0];
}

fn fleet_event(n: i64, when: Timestamp) -> DomainEvent {
    DomainEvent::new(
        Subject {
            kind: ResourceKind::Fleet,
            id: "fleet".into(),
        },
        EventPayload::FleetScalingDecided {
            action: crate::event::ScalingAction::Blocked,
            workers: Vec::new(),
            reason: format!("decision {n}"),
        },
        when,
    )
}

fn worker_input(name: &str) -> NewWorker {
    NewWorker {
        name: name.to_owned(),
        region: Region::new("us-east-1"),
        instance_type: "m5zn.metal".into(),
        capacity: Capacity::new(Resources::new(48, 192, 1000), 40),
        tags: BTreeMap::new(),
        labels: BTreeMap::new(),
        idle: IdleSettings::default(),
        created_by: Some("conformance".into()),
        image: None,
    }
}

/// What the compaction fixtures built: the ids that exist and those deleted.
struct History {
    workers: Vec<WorkerId>,
    lablets: Vec<LabletId>,
    deleted_worker: WorkerId,
    deleted_lablet: LabletId,
}

/// A log with old and young events: workers (one imported, one deleted), lablets
/// (one deleted without an event), a definition, lab and fleet events.
async fn compaction_history<S: Store + ?Sized>(store: &S) -> History {
    let definition = sample_definition(900, "ccna", 1);
    commit(
        store,
        ChangeSet::new()
            .put_definition(definition.clone())
            .events([DomainEvent::new(
                Subject {
                    kind: ResourceKind::Definition,
                    id: definition.id.to_string(),
                },
                EventPayload::DefinitionCreated {
                    definition: Box::new(definition.clone()),
                },
                old(0),
            )]),
    )
    .await;

    // A: created long ago, changed then and lately.
    let (mut a, created) = Worker::create(WorkerId::from_u128(901), worker_input("a"), old(1));
    save_worker(store, &mut a, vec![created]).await;
    let events = a
        .observe_lifecycle(
            LifecycleState::Provisioning,
            Some(InstanceState::Pending),
            None,
            old(2),
        )
        .unwrap();
    save_worker(store, &mut a, events).await;
    for n in 0..3 {
        let tags = BTreeMap::from([("round".to_owned(), n.to_string())]);
        let events = a.replace_tags(tags, old(10 + n)).unwrap();
        save_worker(store, &mut a, events).await;
    }
    commit(store, ChangeSet::new().events([fleet_event(1, old(20))])).await;

    // B: imported long ago, deleted long ago.
    let instance = crate::worker::aggregate::ImportedInstance {
        instance_id: crate::ids::InstanceId::new("i-0b"),
        ami: None,
        network: Default::default(),
        ec2_state: InstanceState::Running,
        launched_at: Some(old(3)),
    };
    let (mut b, imported) = Worker::import(
        WorkerId::from_u128(902),
        worker_input("b"),
        instance,
        old(3),
    );
    save_worker(store, &mut b, vec![imported]).await;
    let events = b.set_draining(true, old(21)).unwrap();
    save_worker(store, &mut b, events).await;
    let events = b.request_deletion(Some("ops".into()), old(22)).unwrap();
    commit(
        store,
        ChangeSet::new()
            .write(Write::DeleteWorker {
                id: b.id,
                version: b.meta.version,
            })
            .events(events),
    )
    .await;

    // C: imported long ago, no change since.
    let instance = crate::worker::aggregate::ImportedInstance {
        instance_id: crate::ids::InstanceId::new("i-0c"),
        ami: None,
        network: Default::default(),
        ec2_state: InstanceState::Stopped,
        launched_at: None,
    };
    let (mut c, imported) = Worker::import(
        WorkerId::from_u128(903),
        worker_input("c"),
        instance,
        old(4),
    );
    save_worker(store, &mut c, vec![imported]).await;

    // L: a lablet booked and placed long ago, cancelled lately.
    let booking = |start: i64| NewLablet {
        owner: "alice".into(),
        timeslot: Timeslot {
            start: young(start),
            end: young(start + 3600),
        },
        reservation_id: None,
        on_demand: false,
    };
    let (mut l, created) =
        Lablet::create(LabletId::from_u128(904), &definition, booking(0), old(5)).unwrap();
    save_lablet(store, &mut l, vec![created]).await;
    let events = l.bind(a.id, vec![2000, 2001], old(30)).unwrap();
    save_lablet(store, &mut l, events).await;
    let events = l
        .transition(LabletPhase::Instantiating, None, old(31))
        .unwrap();
    save_lablet(store, &mut l, events).await;

    // M: a lablet of long ago, deleted later without an event.
    let (mut m, created) =
        Lablet::create(LabletId::from_u128(905), &definition, booking(10), old(6)).unwrap();
    save_lablet(store, &mut m, vec![created]).await;
    let events = m.cancel(Some("alice".into()), old(32)).unwrap();
    save_lablet(store, &mut m, events).await;
    let lab = sample_lab(906, a.id, "old lab");
    commit(
        store,
        ChangeSet::new()
            .put_lab(lab.clone())
            .events([DomainEvent::new(
                Subject {
                    kind: ResourceKind::Lab,
                    id: lab.id.to_string(),
                },
                EventPayload::LabDiscovered {
                    lab: Box::new(lab.clone()),
                },
                old(33),
            )]),
    )
    .await;

    // The young part.
    for n in 3..5 {
        let tags = BTreeMap::from([("round".to_owned(), n.to_string())]);
        let events = a.replace_tags(tags, young(n)).unwrap();
        save_worker(store, &mut a, events).await;
    }
    let events = l.cancel(Some("alice".into()), young(10)).unwrap();
    save_lablet(store, &mut l, events).await;
    let (mut d, created) = Worker::create(WorkerId::from_u128(907), worker_input("d"), young(11));
    save_worker(store, &mut d, vec![created]).await;
    commit(store, ChangeSet::new().events([fleet_event(2, young(12))])).await;
    History {
        workers: vec![a.id, c.id, d.id],
        lablets: vec![l.id, m.id],
        deleted_worker: b.id,
        deleted_lablet: m.id,
    }
}

fn events_about<'a>(
    events: &'a [StoredEvent],
    kind: ResourceKind,
    id: &'a str,
) -> impl Iterator<Item = &'a DomainEvent> + 'a {
    events
        .iter()
        .filter(move |e| e.event.subject.kind == kind && e.event.subject.id == id)
        .map(|e| &e.event)
}

/// Every worker and lablet the store holds rebuilds from the log's events about
/// it into the stored record (its version aside, which only the store keeps),
/// and into what the whole log before compaction rebuilt.
async fn assert_rebuildable<S: Store + ?Sized>(store: &S, before: &[StoredEvent]) {
    let log = all_events(store).await;
    let workers = store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await
        .expect("list workers");
    for record in workers {
        let id = record.id.to_string();
        let mut rebuilt = Worker::from_events(events_about(&log, ResourceKind::Worker, &id))
            .unwrap_or_else(|e| panic!("worker {id} does not rebuild: {e}"));
        let whole = Worker::from_events(events_about(before, ResourceKind::Worker, &id)).unwrap();
        rebuilt.meta.version = record.meta.version;
        assert_eq!(
            rebuilt, record,
            "worker {id} rebuilt from the compacted log"
        );
        assert_eq!(
            Worker::from_events(events_about(&log, ResourceKind::Worker, &id)).unwrap(),
            whole,
            "worker {id}: compacted and whole logs rebuild the same"
        );
    }
    for record in store
        .list_lablets(&LabletFilter::default())
        .await
        .expect("list lablets")
    {
        let id = record.id.to_string();
        let mut rebuilt = Lablet::from_events(events_about(&log, ResourceKind::Lablet, &id))
            .unwrap_or_else(|e| panic!("lablet {id} does not rebuild: {e}"));
        rebuilt.meta.version = record.meta.version;
        assert_eq!(
            rebuilt, record,
            "lablet {id} rebuilt from the compacted log"
        );
    }
}

/// Before the first sequence, only one creation snapshot per existing worker and
/// lablet is left.
async fn assert_only_snapshots_before_first<S: Store + ?Sized>(store: &S) {
    let first = store.first_sequence().await.expect("first");
    let mut seen = BTreeSet::new();
    for stored in all_events(store)
        .await
        .iter()
        .filter(|e| e.sequence < first)
    {
        let subject = &stored.event.subject;
        assert!(
            matches!(
                stored.event.payload,
                EventPayload::WorkerCreated { .. }
                    | EventPayload::WorkerImported { .. }
                    | EventPayload::LabletCreated { .. }
                    // A lone creation stays as it was written.
                    | EventPayload::WorkerCreatedV2 { .. }
                    | EventPayload::WorkerImportedV2 { .. }
                    | EventPayload::LabletCreatedV2 { .. }
            ),
            "only snapshots before the first sequence, found {} at {}",
            stored.event.type_name(),
            stored.sequence
        );
        assert!(
            seen.insert((subject.kind, subject.id.clone())),
            "one snapshot per resource: {subject:?} twice"
        );
        let exists = match subject.kind {
            ResourceKind::Worker => store
                .get_worker(subject.id.parse().unwrap())
                .await
                .unwrap()
                .is_some(),
            _ => store
                .get_lablet(subject.id.parse().unwrap())
                .await
                .unwrap()
                .is_some(),
        };
        assert!(
            exists,
            "a snapshot of a deleted resource is left: {subject:?}"
        );
    }
}

/// Compaction by age: the complete part starts at the first young event, keeps
/// every event from there as it was, numbers stay and go on, and every existing
/// worker and lablet still rebuilds from the log; deleted resources, lab,
/// definition and fleet events leave nothing before the cut. Compacting again
/// changes nothing; a stale step is refused.
pub async fn log_compaction_keeps_resources_rebuildable<F: StoreFactory>(factory: &F) {
    let store = factory.open().await;
    assert_eq!(store.first_sequence().await.expect("first"), 1, "empty log");
    let history = compaction_history(&store).await;
    let before = all_events(&store).await;
    let last = store.last_sequence().await.expect("last");
    assert_eq!(store.first_sequence().await.expect("first"), 1);
    let first_young = before
        .iter()
        .find(|e| e.event.occurred_at >= compaction_cutoff())
        .expect("young events")
        .sequence;

    let report = store
        .compact_events(compaction_cutoff(), u64::MAX)
        .await
        .expect("compact");
    assert_eq!(report.first_sequence, first_young);
    assert_eq!(report.compacted, first_young - 1);
    assert!(!report.more);
    assert_eq!(report.blocked_by, None);
    assert_eq!(store.first_sequence().await.expect("first"), first_young);
    assert_eq!(
        store.last_sequence().await.expect("last"),
        last,
        "last stays"
    );
    let tail = store
        .read_events(first_young - 1, 10_000)
        .await
        .expect("tail");
    assert_eq!(
        tail,
        before[(first_young - 1) as usize..],
        "the complete part is untouched"
    );
    assert_only_snapshots_before_first(&store).await;
    assert_rebuildable(&store, &before).await;
    let log = all_events(&store).await;
    let deleted = history.deleted_worker.to_string();
    assert_eq!(
        events_about(&log, ResourceKind::Worker, &deleted).count(),
        0
    );
    assert!(log
        .iter()
        .filter(|e| e.sequence < first_young)
        .all(|e| matches!(
            e.event.subject.kind,
            ResourceKind::Worker | ResourceKind::Lablet
        )));
    let snapshots = log.iter().filter(|e| e.sequence < first_young).count() as u64;
    // The deleted worker's snapshot is written, then dropped with its record gone.
    assert!(report.snapshots >= snapshots, "{report:?}");
    // A (worker), C (worker, imported: kept as imported), L and M (lablets).
    assert_eq!(snapshots, 4);
    let c = history.workers[1].to_string();
    assert!(
        events_about(&log, ResourceKind::Worker, &c).all(|e| matches!(
            e.payload,
            EventPayload::WorkerImported { .. } | EventPayload::WorkerImportedV2 { .. }
        ))
    );

    let again = store
        .compact_events(compaction_cutoff(), u64::MAX)
        .await
        .expect("compact again");
    assert_eq!((again.compacted, again.snapshots), (0, 0));
    assert_eq!(
        all_events(&store).await,
        log,
        "compacting again changes nothing"
    );
    let stale = CompactionStep {
        expected_first: 1,
        new_first: last + 1,
        ..CompactionStep::default()
    };
    assert!(!store.apply_compaction(stale).await.expect("stale step"));
    assert_eq!(
        all_events(&store).await,
        log,
        "a stale step changes nothing"
    );

    // Sequences go on from the last one.
    let receipt = commit(&store, ChangeSet::new().events([fleet_event(3, young(20))])).await;
    assert_eq!(receipt.sequences, vec![last + 1]);

    // M goes without an event; then everything is compacted.
    let m = store
        .get_lablet(history.deleted_lablet)
        .await
        .expect("get")
        .expect("M exists");
    commit(
        &store,
        ChangeSet::new().write(Write::DeleteLablet {
            id: m.id,
            version: m.meta.version,
        }),
    )
    .await;
    let before = all_events(&store).await;
    let everything = store
        .compact_events(at(10_000_000), 0)
        .await
        .expect("compact everything");
    assert_eq!(everything.first_sequence, last + 2);
    assert_eq!(store.first_sequence().await.expect("first"), last + 2);
    assert_eq!(store.last_sequence().await.expect("last"), last + 1);
    assert!(store
        .read_events(last + 1, 100)
        .await
        .expect("read")
        .is_empty());
    assert_only_snapshots_before_first(&store).await;
    assert_rebuildable(&store, &before).await;
    let log = all_events(&store).await;
    assert_eq!(
        log.len(),
        history.workers.len() + history.lablets.len() - 1,
        "one snapshot per existing worker and lablet: {log:?}"
    );
    let receipt = commit(&store, ChangeSet::new().events([fleet_event(4, young(30))])).await;
    assert_eq!(receipt.sequences, vec![last + 2], "sequences never repeat");
    assert_eq!(store.first_sequence().await.expect("first"), last + 2);
}

/// Compaction by size, in small steps: at most `max_events` stay in the complete
/// part, a later step replaces the snapshot an earlier one wrote, `more` asks
/// for another call when the budget ran out, and the result equals one call.
pub async fn log_compaction_bounds_size_in_steps<F: StoreFactory>(factory: &F) {
    use crate::ports::store::compaction::{compact, Budget};

    let store = factory.open().await;
    let (mut w, created) = Worker::create(WorkerId::from_u128(910), worker_input("w"), young(0));
    save_worker(&store, &mut w, vec![created]).await;
    for n in 0..19 {
        let tags = BTreeMap::from([("n".to_owned(), n.to_string())]);
        let events = w.replace_tags(tags, young(n + 1)).unwrap();
        save_worker(&store, &mut w, events).await;
        commit(
            &store,
            ChangeSet::new().events([fleet_event(n, young(n + 1))]),
        )
        .await;
    }
    let before = all_events(&store).await;
    let last = store.last_sequence().await.expect("last");
    assert_eq!(last, 39);

    let small = Budget {
        step_events: 4,
        max_steps: 3,
    };
    let first_call = compact(&store, t0(), 5, small).await.expect("compact");
    assert!(first_call.more, "12 of 34 events: the budget ran out");
    assert_eq!(first_call.first_sequence, 13);
    assert_only_snapshots_before_first(&store).await;
    assert_rebuildable(&store, &before).await;
    let mut calls = 1;
    loop {
        let report = compact(&store, t0(), 5, small).await.expect("compact");
        calls += 1;
        if !report.more {
            break;
        }
        assert!(calls < 10, "compaction does not finish");
    }
    assert_eq!(store.first_sequence().await.expect("first"), last - 4);
    let tail = store.read_events(last - 5, 100).await.expect("tail");
    assert_eq!(tail, before[(last - 5) as usize..]);
    assert_only_snapshots_before_first(&store).await;
    assert_rebuildable(&store, &before).await;
    let in_steps = all_events(&store).await;

    // One call over a copy of the log gives the same events (snapshot ids aside).
    let reference = MemoryStore::new();
    for stored in &before {
        commit(&reference, ChangeSet::new().events([stored.event.clone()])).await;
    }
    let w_now = store.get_worker(w.id).await.expect("get").expect("w");
    commit(
        &reference,
        ChangeSet::new().put_worker(stored(&w_now, |w| w.meta.version = 0)),
    )
    .await;
    reference.compact_events(t0(), 5).await.expect("compact");
    let strip = |events: &[StoredEvent]| -> Vec<(u64, EventPayload)> {
        events
            .iter()
            .map(|e| (e.sequence, e.event.payload.clone()))
            .collect()
    };
    assert_eq!(strip(&in_steps), strip(&all_events(&reference).await));
}

/// A compacted log survives a restart: first and last sequences stay, and the
/// next event is numbered after the last one even when compaction removed it.
pub async fn log_compaction_survives_restart<F: StoreFactory>(factory: &F) {
    if !factory.durable() {
        return;
    }
    let store = factory.open().await;
    compaction_history(&store).await;
    let last = store.last_sequence().await.expect("last");
    store
        .compact_events(at(10_000_000), 0)
        .await
        .expect("compact everything");
    let log = all_events(&store).await;
    factory.close(store).await;

    let store = factory.open().await;
    assert_eq!(store.first_sequence().await.expect("first"), last + 1);
    assert_eq!(store.last_sequence().await.expect("last"), last);
    assert_eq!(*store.subscribe().borrow(), last);
    assert_eq!(all_events(&store).await, log);
    let receipt = commit(&store, ChangeSet::new().events([fleet_event(9, young(40))])).await;
    assert_eq!(receipt.sequences, vec![last + 1]);
    factory.close(store).await;
}
