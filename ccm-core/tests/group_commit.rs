//! Group commit: commits that queue behind one in flight reach the store as one
//! transaction, and each caller still gets what its own commit would have given.
//! The store's first commit is held at a gate until the others have queued, so
//! the grouping does not depend on timing.
#![cfg(feature = "test-support")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ccm_core::ports::store::{ChangeSet, CommitReceipt, Fence, Store, StoreError};
use ccm_core::runtime::group_commit::GroupCommit;
use ccm_core::store::MemoryStore;
use ccm_core::testing::hooked_store::HookedStore;
use ccm_core::testing::store::{sample_event, sample_worker};
use ccm_core::worker::Worker;
use tokio::sync::Semaphore;

/// A memory store whose commits are counted, the first held until `gate` opens.
struct Gated {
    group: Arc<GroupCommit>,
    inner: Arc<MemoryStore>,
    commits: Arc<AtomicUsize>,
    gate: Arc<Semaphore>,
}

fn gated() -> Gated {
    let inner = Arc::new(MemoryStore::new());
    let commits = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(Semaphore::new(0));
    let hook = {
        let (commits, gate) = (commits.clone(), gate.clone());
        Box::new(move |method: &'static str, _| {
            let first = method == "commit" && commits.fetch_add(1, Ordering::SeqCst) == 0;
            let gate = gate.clone();
            Box::pin(async move {
                if first {
                    gate.acquire().await.unwrap().forget();
                }
            }) as futures_util::future::BoxFuture<'static, ()>
        })
    };
    let hooked: Arc<dyn Store> = Arc::new(HookedStore::new(inner.clone(), hook));
    Gated {
        group: Arc::new(GroupCommit::new(hooked)),
        inner,
        commits,
        gate,
    }
}

impl Gated {
    /// Starts the held first commit, then `rest`; opens the gate once all of
    /// `rest` are queued; the answers in the order given.
    async fn run(
        &self,
        first: ChangeSet,
        rest: Vec<ChangeSet>,
    ) -> Vec<Result<CommitReceipt, StoreError>> {
        let mut tasks = Vec::new();
        let group = self.group.clone();
        tasks.push(tokio::spawn(async move { group.commit(first).await }));
        wait_until(|| self.commits.load(Ordering::SeqCst) == 1).await;
        let queued = rest.len();
        for changes in rest {
            let group = self.group.clone();
            tasks.push(tokio::spawn(async move { group.commit(changes).await }));
        }
        wait_until(|| self.group.queued() == queued).await;
        self.gate.add_permits(1);
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }
}

async fn wait_until(condition: impl Fn() -> bool) {
    for _ in 0..2_000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("condition not met within 10 s");
}

fn workers(n: u128) -> Vec<Worker> {
    (0..n)
        .map(|i| sample_worker(100 + i, &format!("w{i}"), "us-east-1"))
        .collect()
}

/// The event's id is unique per worker name and `event`.
fn put(worker: &Worker, event: u64) -> ChangeSet {
    ChangeSet::new()
        .put_worker(worker.clone())
        .events([tagged(worker, event)])
}

fn tagged(worker: &Worker, event: u64) -> ccm_core::event::DomainEvent {
    let seed = worker
        .meta
        .name
        .trim_start_matches('w')
        .parse::<u128>()
        .unwrap();
    sample_event(seed, event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_commit_goes_at_once_and_alone() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let group = GroupCommit::new(store.clone());
    let worker = &workers(1)[0];
    let receipt = group.commit(put(worker, 1)).await.unwrap();
    assert_eq!(receipt.versions, vec![1]);
    assert_eq!(receipt.sequences.len(), 1);
    assert_eq!(group.queued(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_queued_behind_one_in_flight_go_as_one_and_each_gets_its_own_receipt() {
    let gated = gated();
    let fleet = workers(11);
    let rest = fleet[1..]
        .iter()
        .map(|w| put(w, 1).events([tagged(w, 2)]))
        .collect();
    let answers = gated.run(put(&fleet[0], 1), rest).await;
    // The held commit, then the ten behind it as one.
    assert_eq!(gated.commits.load(Ordering::SeqCst), 2);
    let first = answers[0].as_ref().unwrap();
    assert_eq!(
        (first.versions.clone(), first.sequences.clone()),
        (vec![1], vec![1])
    );
    // Spawned tasks queue in no fixed order: each receipt names two
    // consecutive sequences, which hold that caller's own events.
    let log = gated.inner.read_events(0, 100).await.unwrap();
    let mut sequences = Vec::new();
    for (worker, answer) in fleet[1..].iter().zip(&answers[1..]) {
        let receipt = answer.as_ref().unwrap();
        assert_eq!(receipt.versions, vec![1]);
        let ids: Vec<_> = receipt
            .sequences
            .iter()
            .map(|n| log.iter().find(|e| e.sequence == *n).unwrap().event.id)
            .collect();
        assert_eq!(ids, vec![tagged(worker, 1).id, tagged(worker, 2).id]);
        assert_eq!(receipt.sequences[1], receipt.sequences[0] + 1);
        sequences.extend(receipt.sequences.iter().copied());
    }
    sequences.sort_unstable();
    assert_eq!(sequences, (2..22).collect::<Vec<u64>>());
    for worker in &fleet {
        let stored = gated.inner.get_worker(worker.id).await.unwrap().unwrap();
        assert_eq!(stored.meta.version, 1);
    }
    assert_eq!(gated.inner.read_events(0, 100).await.unwrap().len(), 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_change_set_fails_alone_and_the_rest_of_its_group_lands() {
    let gated = gated();
    let fleet = workers(4);
    let mut stale = fleet[2].clone();
    stale.meta.version = 7;
    let rest = vec![put(&fleet[1], 1), put(&stale, 1), put(&fleet[3], 1)];
    let answers = gated.run(put(&fleet[0], 1), rest).await;
    assert!(
        matches!(answers[2], Err(StoreError::Conflict { .. })),
        "{:?}",
        answers[2]
    );
    for i in [0, 1, 3] {
        assert_eq!(answers[i].as_ref().unwrap().versions, vec![1]);
    }
    // Held, the failed group of three, then each of the three alone.
    assert_eq!(gated.commits.load(Ordering::SeqCst), 5);
    assert!(gated.inner.get_worker(fleet[2].id).await.unwrap().is_none());
    // The failed group wrote nothing: three events, one per landed change set.
    assert_eq!(gated.inner.read_events(0, 100).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_written_twice_or_another_fence_starts_a_new_group() {
    let gated = gated();
    let fleet = workers(3);
    let fenced = |changes: ChangeSet| ChangeSet {
        fence: Some(Fence {
            lease: "controllers".into(),
            token: 1,
        }),
        ..changes
    };
    let rest = vec![
        put(&fleet[1], 1),
        // Read at the same version as the one before it: a conflict in its
        // own commit, as it would be without grouping.
        put(&fleet[1], 2),
        put(&fleet[2], 1),
        fenced(put(&fleet[0], 3)),
    ];
    let answers = gated.run(put(&fleet[0], 1), rest).await;
    assert_eq!(answers[1].as_ref().unwrap().versions, vec![1]);
    assert!(
        matches!(answers[2], Err(StoreError::Conflict { .. })),
        "{:?}",
        answers[2]
    );
    assert_eq!(answers[3].as_ref().unwrap().versions, vec![1]);
    // The memory store holds no lease, so the fenced commit is refused alone.
    assert!(answers[4].is_err());
    // Held; [w1]; [w1 again, w2] failed then each alone; the fenced one.
    assert_eq!(gated.commits.load(Ordering::SeqCst), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_dropped_while_queued_withdraws_its_change_set() {
    let gated = gated();
    let fleet = workers(2);
    let first = {
        let group = gated.group.clone();
        let changes = put(&fleet[0], 1);
        tokio::spawn(async move { group.commit(changes).await })
    };
    wait_until(|| gated.commits.load(Ordering::SeqCst) == 1).await;
    let dropped = {
        let group = gated.group.clone();
        let changes = put(&fleet[1], 1);
        tokio::spawn(async move { group.commit(changes).await })
    };
    wait_until(|| gated.group.queued() == 1).await;
    dropped.abort();
    wait_until(|| gated.group.queued() == 0).await;
    gated.gate.add_permits(1);
    assert_eq!(first.await.unwrap().unwrap().versions, vec![1]);
    // A later commit finds nothing of the dropped caller's left to group with.
    let later = gated.group.commit(put(&fleet[0], 2)).await;
    assert!(later.is_err(), "stale version 0 after the first landed");
    assert!(gated.inner.get_worker(fleet[1].id).await.unwrap().is_none());
    assert_eq!(gated.inner.read_events(0, 100).await.unwrap().len(), 1);
}
