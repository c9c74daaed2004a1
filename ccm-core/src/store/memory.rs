//! An in-memory [`Store`]: the reference implementation of the port's semantics,
//! used by tests, simulations and embedders that need no durability.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::api_key::{ApiKeyId, ApiKeyRecord};
use crate::definition::LabletDefinition;
use crate::event::{ResourceKind, StoredEvent, Subject};
use crate::ids::{DefinitionId, LabRecordId, LabletId, WorkerId};
use crate::job::JobRecord;
use crate::lab::LabRecord;
use crate::lablet::Lablet;
use crate::ports::store::{
    ChangeSet, CommitReceipt, CompactionStep, DefinitionFilter, Generations, LabFilter,
    LabletFilter, Lease, ListFilter, Listed, PageRequest, Store, StoreError, WorkerFilter, Write,
};
use crate::time::Timestamp;
use crate::worker::Worker;

#[derive(Clone)]
struct State {
    workers: BTreeMap<WorkerId, Worker>,
    labs: BTreeMap<LabRecordId, LabRecord>,
    definitions: BTreeMap<DefinitionId, LabletDefinition>,
    lablets: BTreeMap<LabletId, Lablet>,
    jobs: BTreeMap<String, JobRecord>,
    /// Ordered by sequence; compaction leaves gaps before `first`.
    events: Vec<StoredEvent>,
    /// See [`Store::first_sequence`].
    first: u64,
    /// See [`Store::last_sequence`]: outlives the event it names.
    last: u64,
    leases: BTreeMap<String, Lease>,
    api_keys: BTreeMap<ApiKeyId, ApiKeyRecord>,
    /// See [`Store::generations`].
    generations: Generations,
}

impl Default for State {
    fn default() -> Self {
        Self {
            workers: BTreeMap::new(),
            labs: BTreeMap::new(),
            definitions: BTreeMap::new(),
            lablets: BTreeMap::new(),
            jobs: BTreeMap::new(),
            events: Vec::new(),
            first: 1,
            last: 0,
            leases: BTreeMap::new(),
            api_keys: BTreeMap::new(),
            generations: Generations::default(),
        }
    }
}

impl State {
    /// True when the worker or lablet an event is about still exists.
    fn subject_exists(&self, subject: &Subject) -> bool {
        match subject.kind {
            ResourceKind::Worker => subject
                .id
                .parse::<WorkerId>()
                .is_ok_and(|id| self.workers.contains_key(&id)),
            ResourceKind::Lablet => subject
                .id
                .parse::<LabletId>()
                .is_ok_and(|id| self.lablets.contains_key(&id)),
            _ => false,
        }
    }
}

/// Everything in a mutex; commits are atomic because they apply to a copy-on-check.
pub struct MemoryStore {
    state: Mutex<State>,
    newest: watch::Sender<u64>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("in-memory store lock poisoned by a panicking writer".into())
}

fn check(
    kind: ResourceKind,
    id: String,
    expected: u64,
    actual: Option<u64>,
) -> Result<(), StoreError> {
    let ok = match actual {
        None => expected == 0,
        Some(v) => v == expected && expected != 0,
    };
    if ok {
        Ok(())
    } else {
        Err(StoreError::Conflict {
            kind,
            id,
            expected,
            actual,
        })
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        let (newest, _) = watch::channel(0);
        Self {
            state: Mutex::new(State::default()),
            newest,
        }
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> T) -> Result<T, StoreError> {
        let guard = self.state.lock().map_err(|_| poisoned())?;
        Ok(f(&guard))
    }

    fn version_of(state: &State, write: &Write) -> Option<u64> {
        match write {
            Write::PutWorker(w) => state.workers.get(&w.id).map(|x| x.meta.version),
            Write::DeleteWorker { id, .. } => state.workers.get(id).map(|x| x.meta.version),
            Write::PutLab(l) => state.labs.get(&l.id).map(|x| x.version),
            Write::DeleteLab { id, .. } => state.labs.get(id).map(|x| x.version),
            Write::PutDefinition(d) => state.definitions.get(&d.id).map(|x| x.meta.version),
            Write::PutLablet(l) => state.lablets.get(&l.id).map(|x| x.meta.version),
            Write::DeleteLablet { id, .. } => state.lablets.get(id).map(|x| x.meta.version),
            Write::PutJob(j) => state.jobs.get(&j.name).map(|x| x.version),
        }
    }

    fn apply(state: &mut State, write: Write) -> u64 {
        match write {
            Write::PutWorker(mut w) => {
                w.meta.version += 1;
                let v = w.meta.version;
                state.workers.insert(w.id, *w);
                v
            }
            Write::DeleteWorker { id, .. } => {
                state.workers.remove(&id);
                0
            }
            Write::PutLab(mut l) => {
                l.version += 1;
                let v = l.version;
                state.labs.insert(l.id, *l);
                v
            }
            Write::DeleteLab { id, .. } => {
                state.labs.remove(&id);
                0
            }
            Write::PutDefinition(mut d) => {
                d.meta.version += 1;
                let v = d.meta.version;
                state.definitions.insert(d.id, *d);
                v
            }
            Write::PutLablet(mut l) => {
                l.meta.version += 1;
                let v = l.meta.version;
                state.lablets.insert(l.id, *l);
                v
            }
            Write::DeleteLablet { id, .. } => {
                state.lablets.remove(&id);
                0
            }
            Write::PutJob(mut j) => {
                j.version += 1;
                let v = j.version;
                state.jobs.insert(j.name.clone(), *j);
                v
            }
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get_worker(&self, id: WorkerId) -> Result<Option<Worker>, StoreError> {
        self.read(|s| s.workers.get(&id).cloned())
    }

    async fn list_workers(&self, filter: &WorkerFilter) -> Result<Vec<Worker>, StoreError> {
        let everything = PageRequest {
            offset: 0,
            limit: usize::MAX,
        };
        Ok(self.list_workers_page(filter, everything).await?.items)
    }

    async fn list_workers_page(
        &self,
        filter: &WorkerFilter,
        page: PageRequest,
    ) -> Result<Listed<Worker>, StoreError> {
        // Sorted by reference; only the page's records are copied.
        self.read(|s| {
            let mut found: Vec<&Worker> =
                s.workers.values().filter(|w| filter.matches(w)).collect();
            found.sort_by(|a, b| WorkerFilter::list_order(a, b));
            let listed = Listed::page_of(found, page);
            Listed {
                items: listed.items.into_iter().cloned().collect(),
                total: listed.total,
            }
        })
    }

    async fn get_lab(&self, id: LabRecordId) -> Result<Option<LabRecord>, StoreError> {
        self.read(|s| s.labs.get(&id).cloned())
    }

    async fn list_labs(&self, filter: &LabFilter) -> Result<Vec<LabRecord>, StoreError> {
        let mut found = self.read(|s| {
            s.labs
                .values()
                .filter(|l| filter.matches(l))
                .cloned()
                .collect::<Vec<_>>()
        })?;
        found.sort_by(LabFilter::list_order);
        Ok(found)
    }

    async fn get_definition(
        &self,
        id: DefinitionId,
    ) -> Result<Option<LabletDefinition>, StoreError> {
        self.read(|s| s.definitions.get(&id).cloned())
    }

    async fn list_definitions(
        &self,
        filter: &DefinitionFilter,
    ) -> Result<Vec<LabletDefinition>, StoreError> {
        let mut found = self.read(|s| {
            s.definitions
                .values()
                .filter(|d| filter.matches(d))
                .cloned()
                .collect::<Vec<_>>()
        })?;
        found.sort_by(DefinitionFilter::list_order);
        Ok(found)
    }

    async fn get_lablet(&self, id: LabletId) -> Result<Option<Lablet>, StoreError> {
        self.read(|s| s.lablets.get(&id).cloned())
    }

    async fn list_lablets(&self, filter: &LabletFilter) -> Result<Vec<Lablet>, StoreError> {
        let everything = PageRequest {
            offset: 0,
            limit: usize::MAX,
        };
        Ok(self.list_lablets_page(filter, everything).await?.items)
    }

    async fn list_lablets_page(
        &self,
        filter: &LabletFilter,
        page: PageRequest,
    ) -> Result<Listed<Lablet>, StoreError> {
        // Sorted by reference; only the page's records are copied.
        self.read(|s| {
            let mut found: Vec<&Lablet> =
                s.lablets.values().filter(|l| filter.matches(l)).collect();
            found.sort_by(|a, b| LabletFilter::list_order(a, b));
            let listed = Listed::page_of(found, page);
            Listed {
                items: listed.items.into_iter().cloned().collect(),
                total: listed.total,
            }
        })
    }

    async fn count_lablets_by_worker(
        &self,
        filter: &LabletFilter,
    ) -> Result<BTreeMap<WorkerId, usize>, StoreError> {
        self.read(|s| {
            let mut counts = BTreeMap::new();
            for lablet in s.lablets.values().filter(|l| filter.matches(l)) {
                if let Some(worker) = lablet.status.worker_id {
                    *counts.entry(worker).or_insert(0) += 1;
                }
            }
            counts
        })
    }

    async fn get_job(&self, name: &str) -> Result<Option<JobRecord>, StoreError> {
        self.read(|s| s.jobs.get(name).cloned())
    }

    async fn list_jobs(&self) -> Result<Vec<JobRecord>, StoreError> {
        self.read(|s| s.jobs.values().cloned().collect())
    }

    async fn commit(&self, changes: ChangeSet) -> Result<CommitReceipt, StoreError> {
        let newest = {
            let mut guard = self.state.lock().map_err(|_| poisoned())?;
            if let Some(fence) = &changes.fence {
                Lease::check_fence(fence, guard.leases.get(&fence.lease).map(|l| l.token))?;
            }
            // Check every write against the state as it would be after the earlier
            // writes of the same change set, on a scratch copy of the versions only.
            let mut pending: BTreeMap<(ResourceKind, String), Option<u64>> = BTreeMap::new();
            for write in &changes.writes {
                let key = write.target();
                let actual = match pending.get(&key) {
                    Some(v) => *v,
                    None => Self::version_of(&guard, write),
                };
                check(key.0, key.1.clone(), write.expected_version(), actual)?;
                let next = if write.is_delete() {
                    None
                } else {
                    Some(write.expected_version() + 1)
                };
                pending.insert(key, next);
            }
            let mut receipt = CommitReceipt::default();
            for kind in changes.touched_kinds() {
                guard.generations.bump(kind);
            }
            for write in changes.writes {
                receipt.versions.push(Self::apply(&mut guard, write));
            }
            for event in changes.events {
                let sequence = guard.last + 1;
                guard.last = sequence;
                guard.events.push(StoredEvent { sequence, event });
                receipt.sequences.push(sequence);
            }
            let newest = guard.last;
            (receipt, newest)
        };
        let (receipt, newest) = newest;
        if !receipt.sequences.is_empty() {
            self.newest.send_replace(newest);
        }
        Ok(receipt)
    }

    async fn generations(&self) -> Result<Generations, StoreError> {
        self.read(|s| s.generations)
    }

    async fn read_events(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(|s| {
            let start = s.events.partition_point(|e| e.sequence <= after);
            s.events[start..].iter().take(limit).cloned().collect()
        })
    }

    async fn last_sequence(&self) -> Result<u64, StoreError> {
        self.read(|s| s.last)
    }

    async fn first_sequence(&self) -> Result<u64, StoreError> {
        self.read(|s| s.first)
    }

    async fn read_compacted(&self, subjects: &[Subject]) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(|s| {
            s.events
                .iter()
                .take_while(|e| e.sequence < s.first)
                .filter(|e| subjects.contains(&e.event.subject))
                .cloned()
                .collect()
        })
    }

    async fn apply_compaction(&self, step: CompactionStep) -> Result<bool, StoreError> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        if guard.first != step.expected_first {
            return Ok(false);
        }
        let state = &mut *guard;
        let removed = step.expected_first..step.new_first;
        state.events.retain(|e| {
            !removed.contains(&e.sequence) && step.superseded.binary_search(&e.sequence).is_err()
        });
        state.events.extend(step.snapshots);
        state.events.sort_by_key(|e| e.sequence);
        let (events, first) = (std::mem::take(&mut state.events), step.new_first);
        state.events = events
            .into_iter()
            .filter(|e| e.sequence >= first || state.subject_exists(&e.event.subject))
            .collect();
        state.first = first;
        Ok(true)
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.newest.subscribe()
    }

    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Option<Lease>, StoreError> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        let lease = Lease::next_acquire(guard.leases.get(name), name, holder, ttl_seconds, now);
        if let Some(lease) = &lease {
            guard.leases.insert(name.to_owned(), lease.clone());
        }
        Ok(lease)
    }

    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        token: u64,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        let lease = Lease::renewed(
            guard.leases.get(name),
            name,
            holder,
            token,
            ttl_seconds,
            now,
        )?;
        guard.leases.insert(name.to_owned(), lease.clone());
        Ok(lease)
    }

    async fn release_lease(&self, name: &str, holder: &str, token: u64) -> Result<(), StoreError> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        if let Some(lease) = Lease::released(guard.leases.get(name), holder, token) {
            guard.leases.insert(name.to_owned(), lease);
        }
        Ok(())
    }

    async fn get_lease(&self, name: &str) -> Result<Option<Lease>, StoreError> {
        self.read(|s| s.leases.get(name).cloned())
    }

    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        if guard.api_keys.contains_key(&key.id)
            || guard.api_keys.values().any(|k| k.key_hash == key.key_hash)
        {
            return Err(StoreError::AlreadyExists {
                kind: "api key".into(),
                id: key.id.to_string(),
            });
        }
        guard.api_keys.insert(key.id, key.clone());
        Ok(())
    }

    async fn find_api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.read(|s| {
            s.api_keys
                .values()
                .find(|k| k.key_hash == key_hash)
                .cloned()
        })
    }

    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut keys = self.read(|s| s.api_keys.values().cloned().collect::<Vec<_>>())?;
        keys.sort_by_key(|k| (k.created_at, k.id));
        Ok(keys)
    }

    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        at: Timestamp,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        Ok(guard.api_keys.get_mut(&id).map(|key| {
            key.revoked_at.get_or_insert(at);
            key.clone()
        }))
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<(), StoreError> {
        let mut guard = self.state.lock().map_err(|_| poisoned())?;
        if let Some(key) = guard.api_keys.get_mut(&id) {
            if key.last_used_at.is_none_or(|last| last < at) {
                key.last_used_at = Some(at);
            }
        }
        Ok(())
    }
}
