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
    store: &dyn Store,
    ids: &dyn IdSource,
    id: R::Id,
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
    for _ in 0..CONFLICT_RETRIES {
        let mut resource = R::load(store, id)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                kind: R::KIND,
                id: id.to_string(),
            })?;
        let events = command(&mut resource, now).map_err(Into::into)?;
        if events.is_empty() {
            return Ok(resource);
        }
        let mut changes = ChangeSet::new()
            .write(resource.to_write())
            .events(events)
            .identified_by(ids);
        changes.fence = fence.cloned();
        match store.commit(changes).await {
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
        let mut tasks = Vec::new();
        for n in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                update::<Worker, _, _>(
                    store.as_ref(),
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

    #[tokio::test]
    async fn a_refused_command_writes_nothing_and_unknown_ids_are_not_found() {
        let store = MemoryStore::new();
        let id = stored_worker(&store).await;
        let before = store.last_sequence().await.unwrap();
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
        assert_eq!(store.last_sequence().await.unwrap(), before);
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
