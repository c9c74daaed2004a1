//! Group commit: commits that arrive while one is in flight go to the store
//! together, as one transaction, when it ends. The fleet's context commits
//! through it (controllers, jobs' work and the API's use cases); the job
//! runner's schedule records do not.
//!
//! The lablet controller runs many passes at once, and each ends in a commit of
//! one record and its events. Every commit pays the store's fixed cost of a
//! transaction (SQLite's single writer, a round trip and a log flush on
//! PostgreSQL) whatever its size; grouping the commits that queue up behind one
//! another pays it once per group. A commit that finds the store idle goes
//! alone and at once: grouping never waits for company.
//!
//! Each caller gets exactly what its own commit would have given. A group's
//! changes are merged only where that cannot change an outcome: same fence, no
//! record written twice (a second write would conflict with the first). When a
//! merged commit fails for any reason, each of its change sets is committed
//! alone, in order, and answered with its own result, so one conflicting change
//! set never fails the others.
//!
//! Cancellation: a caller dropped while its change set is still queued
//! withdraws it, so nothing it asked for lands later; a caller dropped while
//! committing a group leaves the others of that group with
//! [`StoreError::Unavailable`] — their writes may or may not have landed, which
//! optimistic concurrency tells on their next read.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot::{self, error::TryRecvError};
use tokio::sync::Mutex as AsyncMutex;

use crate::event::ResourceKind;
use crate::ports::store::{ChangeSet, CommitReceipt, Store, StoreError};

/// Most change sets merged into one transaction.
pub const MAX_GROUP: usize = 64;

type Reply = oneshot::Sender<Result<CommitReceipt, StoreError>>;

/// A queued change set, the caller's ticket and where to answer.
struct Queued {
    ticket: u64,
    changes: ChangeSet,
    reply: Reply,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Queued>,
    next_ticket: u64,
}

/// Commits to one store, grouping those that queue up behind one another.
pub struct GroupCommit {
    store: Arc<dyn Store>,
    queue: Mutex<Queue>,
    /// Held by the caller committing a group: one group in flight at a time.
    turn: AsyncMutex<()>,
}

impl std::fmt::Debug for GroupCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommit")
            .field("queued", &self.queued())
            .finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Group commits to `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            queue: Mutex::new(Queue::default()),
            turn: AsyncMutex::new(()),
        }
    }

    /// The store committed to, for reads.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Change sets waiting for a group.
    pub fn queued(&self) -> usize {
        self.queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting
            .len()
    }

    /// Commits `changes` as [`Store::commit`] does, with whatever else is
    /// queued when its turn comes.
    pub async fn commit(&self, changes: ChangeSet) -> Result<CommitReceipt, StoreError> {
        let (reply, mut answer) = oneshot::channel();
        let ticket = {
            let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
            let ticket = queue.next_ticket;
            queue.next_ticket = ticket.wrapping_add(1);
            queue.waiting.push_back(Queued {
                ticket,
                changes,
                reply,
            });
            ticket
        };
        let _withdraw_if_dropped = Withdraw {
            group: self,
            ticket,
        };
        loop {
            // An answered caller returns at once, not after the group that
            // whoever holds the turn next is committing.
            let turn = tokio::select! {
                biased;
                answered = &mut answer => return answered.unwrap_or_else(|_| Err(cancelled())),
                turn = self.turn.lock() => turn,
            };
            match answer.try_recv() {
                Ok(result) => return result,
                Err(TryRecvError::Closed) => return Err(cancelled()),
                Err(TryRecvError::Empty) => {}
            }
            // Not answered, so still queued: no one else commits while the
            // turn is held, and whoever took a change set answered it before
            // giving the turn back.
            let taken = self.take_group();
            self.commit_group(taken).await;
            drop(turn);
        }
    }

    /// The longest run at the head of the queue that merges safely.
    fn take_group(&self) -> Vec<Queued> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut group: Vec<Queued> = Vec::new();
        let mut targets: HashSet<(ResourceKind, String)> = HashSet::new();
        while let Some(next) = queue.waiting.front() {
            if let Some(first) = group.first() {
                let disjoint = next
                    .changes
                    .writes
                    .iter()
                    .all(|w| !targets.contains(&w.target()));
                if group.len() >= MAX_GROUP
                    || next.changes.fence != first.changes.fence
                    || !disjoint
                {
                    break;
                }
            }
            let Some(entry) = queue.waiting.pop_front() else {
                break;
            };
            targets.extend(entry.changes.writes.iter().map(|w| w.target()));
            group.push(entry);
        }
        group
    }

    async fn commit_group(&self, group: Vec<Queued>) {
        if group.len() > 1 {
            let mut merged = ChangeSet::new();
            merged.fence = group.first().and_then(|q| q.changes.fence.clone());
            for queued in &group {
                merged.writes.extend(queued.changes.writes.iter().cloned());
                merged.events.extend(queued.changes.events.iter().cloned());
            }
            if let Ok(receipt) = self.store.commit(merged).await {
                answer_each(group, receipt);
                return;
            }
        }
        for queued in group {
            // A caller that stopped waiting no longer needs its answer.
            let _ = queued.reply.send(self.store.commit(queued.changes).await);
        }
    }
}

/// The answer of a caller whose group's committer was dropped mid-commit.
fn cancelled() -> StoreError {
    StoreError::Unavailable(
        "the group this commit was part of was cancelled while committing".into(),
    )
}

/// Takes a dropped caller's change set out of the queue if it is still there.
struct Withdraw<'a> {
    group: &'a GroupCommit,
    ticket: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        self.group
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .waiting
            .retain(|q| q.ticket != self.ticket);
    }
}

/// Splits a merged commit's receipt among the change sets it merged, in order.
fn answer_each(group: Vec<Queued>, receipt: CommitReceipt) {
    let (mut versions, mut sequences) =
        (receipt.versions.into_iter(), receipt.sequences.into_iter());
    for Queued { changes, reply, .. } in group {
        let own = CommitReceipt {
            versions: versions.by_ref().take(changes.writes.len()).collect(),
            sequences: sequences.by_ref().take(changes.events.len()).collect(),
        };
        // A caller that stopped waiting no longer needs its answer.
        let _ = reply.send(Ok(own));
    }
}
