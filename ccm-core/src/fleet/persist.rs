//! Read-modify-write with optimistic concurrency: load, apply a command, commit the
//! resource with its events, and start over from a fresh read on a conflict.

use async_trait::async_trait;

use crate::domain_error::DomainError;
use crate::error::CoreError;
use crate::event::DomainEvent;
use crate::ids::{LabletId, WorkerId};
use crate::lablet::Lablet;
use crate::ports::ids::IdSource;
use crate::ports::store::{ChangeSet, Fence, Store, StoreError, Write};
use crate::runtime::group_commit::GroupCommit;
use crate::time::Timestamp;
use crate::worker::Worker;

/// Attempts before a write that keeps conflicting gives up.
pub const CONFLICT_RETRIES: usize = 8;

/// A resource the store keeps with a version.
#[async_trait]
pub trait Persisted: Clone + Send + Sync + Sized + 'static {
    /// Its identifier.
    type Id: Copy + Send + Sync + std::fmt::Display;
    /// Kind name for errors.
    const KIND: &'static str;
    /// Its id.
    fn id(&self) -> Self::Id;
    /// Reads it.
    async fn load(store: &dyn Store, id: Self::Id) -> Result<Option<Self>, StoreError>;
    /// The write that stores it.
    fn to_write(&self) -> Write;
    /// Records the version the store gave it.
    fn set_version(&mut self, version: u64);
}

#[async_trait]
impl Persisted for Worker {
    type Id = WorkerId;
    const KIND: &'static str = "worker";
    fn id(&self) -> WorkerId {
        self.id
    }
    async fn load(store: &dyn Store, id: WorkerId) -> Result<Option<Self>, StoreError> {
        store.get_worker(id).await
    }
    fn to_write(&self) -> Write {
        Write::PutWorker(Box::new(self.clone()))
    }
    fn set_version(&mut self, version: u64) {
        self.meta.version = version;
    }
}

#[async_trait]
impl Persisted for Lablet {
    type Id = LabletId;
    const KIND: &'static str = "lablet";
    fn id(&self) -> LabletId {
        self.id
    }
    async fn load(store: &dyn Store, id: LabletId) -> Result<Option<Self>, StoreError> {
        store.get_lablet(id).await
    }
    fn to_write(&self) -> Write {
        Write::PutLablet(Box::new(self.clone()))
    }
    fn set_version(&mut self, version: u64) {
        self.meta.version = version;
    }
}

/// Applies `command` to the stored resource and commits it with its events under
/// `fence`. Returns the resource as stored. A command returning no events writes
/// nothing.
pub async fn update<R, F, E>(
    commits: &GroupCommit,
    ids: &dyn IdSource,
    id: R::Id,
    fence: Option<&Fence>,
    now: Timestamp,
    command: F,
) -> Result<R, CoreError>
where
    R: Persisted,
    F: FnMut(&mut R, Timestamp) -> Result<Vec<DomainEvent>, E> + Send,
    E: Into<CoreError>,
{
    update_loop(commits, ids, id, None, fence, now, command).await
}

/// [`update`] that tries the caller's copy of the resource, read a moment ago,
/// before reading it again: one read fewer per write when nobody wrote in
/// between. The copy is trusted only to commit: should the command refuse it
/// or find nothing to do, or the commit conflict, the resource is read afresh
/// and it all goes on exactly as [`update`] does.
pub async fn update_read<R, F, E>(
    commits: &GroupCommit,
    ids: &dyn IdSource,
    read: R,
    fence: Option<&Fence>,
    now: Timestamp,
    command: F,
) -> Result<R, CoreError>
where
    R: Persisted,
    F: FnMut(&mut R, Timestamp) -> Result<Vec<DomainEvent>, E> + Send,
    E: Into<CoreError>,
{
    update_loop(commits, ids, read.id(), Some(read), fence, now, command).await
}

async fn update_loop<R, F, E>(
    commits: &GroupCommit,
    ids: &dyn IdSource,
    id: R::Id,
    mut read: Option<R>,
    fence: Option<&Fence>,
    now: Timestamp,
    mut command: F,
) -> Result<R, CoreError>
where
    R: Persisted,
    F: FnMut(&mut R, Timestamp) -> Result<Vec<DomainEvent>, E> + Send,
    E: Into<CoreError>,
{
    let mut last_conflict = None;
    let mut attempts = 0;
    while attempts < CONFLICT_RETRIES {
        let (mut resource, caller_copy) = match read.take() {
            Some(copy) => (copy, true),
            None => {
                attempts += 1;
                let fresh = R::load(commits.store(), id).await?;
                let fresh = fresh.ok_or_else(|| DomainError::NotFound {
                    kind: R::KIND,
                    id: id.to_string(),
                })?;
                (fresh, false)
            }
        };
        let events = match command(&mut resource, now) {
            Ok(events) if events.is_empty() && caller_copy => continue,
            Ok(events) if events.is_empty() => return Ok(resource),
            Ok(events) => events,
            Err(_) if caller_copy => continue,
            Err(refused) => return Err(refused.into()),
        };
        let mut changes = ChangeSet::new()
            .write(resource.to_write())
            .events(events)
            .identified_by(ids);
        changes.fence = fence.cloned();
        match commits.commit(changes).await {
            Ok(receipt) => {
                if let Some(version) = receipt.versions.first() {
                    resource.set_version(*version);
                }
                return Ok(resource);
            }
            Err(conflict @ StoreError::Conflict { .. }) => last_conflict = Some(conflict),
            Err(other) => return Err(other.into()),
        }
    }
    Err(last_conflict
        .unwrap_or_else(|| StoreError::Unavailable("write kept conflicting".into()))
        .into())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use super::*;
    use crate::ids::Region;
    use crate::resources::Resources;
    use crate::store::MemoryStore;
    use crate::time::epoch;
    use crate::worker::{Capacity, NewWorker, PauseReason};

    async fn stored_worker(store: &MemoryStore) -> WorkerId {
        let (worker, event) = Worker::create(
            WorkerId::from_u128(1),
            NewWorker {
                name: "w".into(),
                region: Region::new("r"),
                instance_type: "m5zn.metal".into(),
                capacity: Capacity::new(Resources::ZERO, 0),
                tags: BTreeMap::new(),
                labels: BTreeMap::new(),
                idle: Default::default(),
                created_by: None,
                image: None,
            },
            epoch(),
        );
        let id = worker.id;
        store
            .commit(ChangeSet::new().put_worker(worker).events([event]))
            .await
            .unwrap();
        id
    }

    #[tokio::test]
    async fn concurrent_updates_all_land_through_retries() {
        let store = Arc::new(MemoryStore::new());
        let id = stored_worker(&store).await;
        let commits = Arc::new(GroupCommit::new(store.clone()));
        let mut tasks = Vec::new();
        for n in 0..8 {
            let commits = commits.clone();
            tasks.push(tokio::spawn(async move {
                update::<Worker, _, _>(
                    &commits,
                    &crate::ports::RandomIds,
                    id,
                    None,
                    epoch(),
                    |w, now| {
                        let mut tags = w.tags.clone();
                        tags.insert(format!("t{n}"), "x".into());
                        w.replace_tags(tags, now)
                    },
                )
                .await
                .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let w = store.get_worker(id).await.unwrap().unwrap();
        assert_eq!(w.tags.len(), 8);
        assert_eq!(w.meta.version, 9);
    }

    fn tag(w: &mut Worker, now: Timestamp, key: &str) -> Result<Vec<DomainEvent>, DomainError> {
        let mut tags = w.tags.clone();
        tags.insert(key.into(), "x".into());
        w.replace_tags(tags, now)
    }

    #[cfg(feature = "test-support")]
    #[tokio::test]
    async fn a_fresh_copy_saves_the_read_and_a_stale_one_costs_a_conflict_then_lands() {
        use crate::testing::hooked_store::HookedStore;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let memory = Arc::new(MemoryStore::new());
        let id = stored_worker(&memory).await;
        let reads = Arc::new(AtomicUsize::new(0));
        let counter = reads.clone();
        let store = GroupCommit::new(Arc::new(HookedStore::new(
            memory.clone(),
            Box::new(move |method, _| {
                if method == "get_worker" {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                Box::pin(async {})
            }),
        )));
        let ids = crate::ports::RandomIds;
        let copy = memory.get_worker(id).await.unwrap().unwrap();
        let first = update_read(&store, &ids, copy.clone(), None, epoch(), |w, now| {
            tag(w, now, "a")
        })
        .await
        .unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 0, "the copy was enough");
        assert_eq!(first.meta.version, 2);
        // `copy` is now stale: its commit conflicts, a fresh read lands it.
        let second = update_read(&store, &ids, copy, None, epoch(), |w, now| tag(w, now, "b"))
            .await
            .unwrap();
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        assert_eq!(second.meta.version, 3);
        let stored = memory.get_worker(id).await.unwrap().unwrap();
        assert_eq!(stored.tags.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[tokio::test]
    async fn a_stale_copy_that_the_command_refuses_or_finds_done_is_read_again() {
        let memory = Arc::new(MemoryStore::new());
        let id = stored_worker(&memory).await;
        let stale = memory.get_worker(id).await.unwrap().unwrap();
        let store = GroupCommit::new(memory);
        let ids = crate::ports::RandomIds;
        update::<Worker, _, _>(&store, &ids, id, None, epoch(), |w, now| {
            w.request_stop(PauseReason::Manual, now)
        })
        .await
        .unwrap();
        // The stale copy still runs: on it the command finds nothing to do
        // (then refuses), so a fresh read, where the worker stopped, decides.
        let moved = update_read(&store, &ids, stale.clone(), None, epoch(), |w, now| {
            if w.spec.desired_status == crate::worker::DesiredStatus::Stopped {
                tag(w, now, "seen-stopped")
            } else {
                Ok(Vec::new())
            }
        })
        .await
        .unwrap();
        assert!(
            moved.tags.contains_key("seen-stopped"),
            "decided on a fresh read"
        );
        let refused_on_copy = update_read(&store, &ids, stale, None, epoch(), |w, now| {
            if w.spec.desired_status == crate::worker::DesiredStatus::Stopped {
                tag(w, now, "fresh")
            } else {
                Err(DomainError::NotFound {
                    kind: "test",
                    id: "stale copy".into(),
                })
            }
        })
        .await
        .unwrap();
        assert!(refused_on_copy.tags.contains_key("fresh"));
    }

    #[tokio::test]
    async fn a_refused_command_writes_nothing_and_unknown_ids_are_not_found() {
        let memory = Arc::new(MemoryStore::new());
        let id = stored_worker(&memory).await;
        let before = memory.last_sequence().await.unwrap();
        let store = GroupCommit::new(memory.clone());
        let noop = update::<Worker, _, _>(
            &store,
            &crate::ports::RandomIds,
            id,
            None,
            epoch(),
            |w, now| w.set_idle_detection(w.spec.idle.enabled, now),
        )
        .await
        .unwrap();
        assert_eq!(noop.meta.version, 1);
        assert_eq!(memory.last_sequence().await.unwrap(), before);
        let err = update::<Worker, _, _>(
            &store,
            &crate::ports::RandomIds,
            WorkerId::from_u128(9),
            None,
            epoch(),
            |w, now| w.request_stop(PauseReason::Manual, now),
        )
        .await
        .unwrap_err();
        assert_eq!(err.code(), "not_found");
    }
}
