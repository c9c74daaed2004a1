//! The store port: repositories with optimistic concurrency, atomic batch commits
//! that append their domain events to an ordered log (outbox), cursor reads of the
//! log with wake-ups, and leases with fencing tokens for leader election.
//!
//! Versions: every resource carries the version it was read at (`meta.version`, or
//! `version` on lab and job records). A new resource has version 0. A commit writes
//! each resource only if its stored version still equals the one carried, stores it
//! at `version + 1`, and fails whole with [`StoreError::Conflict`] otherwise.
//!
//! API keys ([`ApiKeyRecord`]) are kept beside the resources but outside change
//! sets: they carry no version and emit no events.
//!
//! Retention: [`Store::compact_events`] removes old events from the front of the
//! log. Sequences never change and are never given out again; the log stays
//! complete from [`Store::first_sequence`] on. Before it, only one snapshot event
//! per worker and lablet that still exists is kept (its `worker.created.v1`,
//! `worker.imported.v1` or `lablet.created.v1` carrying the whole aggregate as it
//! stood at the cut, at the sequence of its last compacted event; a resource whose
//! only event is its creation keeps that event, `.v2` included), so every
//! existing worker and lablet can still be rebuilt with `from_events` from the
//! events the log holds about it. Lab, definition, job and fleet events before
//! the cut are dropped: those records are not rebuilt from the log.
//!
//! Every implementation runs the conformance suite `ccm_core::testing::store`
//! (feature `test-support`), which pins these semantics.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::api_key::{ApiKeyId, ApiKeyRecord};
use crate::definition::LabletDefinition;
use crate::event::{DomainEvent, ResourceKind, StoredEvent, Subject};
use crate::ids::{DefinitionId, EventId, LabRecordId, LabletId, Region, WorkerId};
use crate::job::JobRecord;
use crate::lab::LabRecord;
use crate::lablet::{Lablet, LabletPhase};
use crate::ports::ids::IdSource;
use crate::time::{epoch, plus_seconds, Timestamp};
use crate::worker::{LifecycleState, Worker};

pub mod compaction;

/// A filter over one kind of record, and the order every store lists that
/// kind in: one definition, so the stores cannot disagree.
pub trait ListFilter {
    /// The records filtered.
    type Record;

    /// The list order of two records.
    fn list_order(a: &Self::Record, b: &Self::Record) -> Ordering;

    /// True when `record` passes the filter.
    fn matches(&self, record: &Self::Record) -> bool;

    /// The records that pass, in list order.
    fn select(&self, mut records: Vec<Self::Record>) -> Vec<Self::Record> {
        records.retain(|record| self.matches(record));
        records.sort_by(Self::list_order);
        records
    }
}

/// Which workers to list. Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerFilter {
    /// Only this region.
    pub region: Option<Region>,
    /// Only these lifecycle states.
    #[serde(default)]
    pub lifecycle: Vec<LifecycleState>,
    /// Only workers carrying all these labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Include terminated workers (left out by default).
    pub include_terminated: bool,
}

impl ListFilter for WorkerFilter {
    type Record = Worker;

    /// Workers by name, then id.
    fn list_order(a: &Worker, b: &Worker) -> Ordering {
        (a.name(), a.id).cmp(&(b.name(), b.id))
    }

    fn matches(&self, worker: &Worker) -> bool {
        let lifecycle = worker.status.lifecycle;
        (self.include_terminated
            || lifecycle != LifecycleState::Terminated
            || self.lifecycle.contains(&LifecycleState::Terminated))
            && self.region.as_ref().is_none_or(|r| *r == worker.region)
            && (self.lifecycle.is_empty() || self.lifecycle.contains(&lifecycle))
            && worker.meta.matches_labels(&self.labels)
    }
}

/// The generation of each kind of record ([`Store::generations`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Generations {
    /// Workers.
    pub worker: u64,
    /// Lab records.
    pub lab: u64,
    /// Definitions.
    pub definition: u64,
    /// Lablets.
    pub lablet: u64,
    /// Jobs.
    pub job: u64,
}

impl Generations {
    /// The generation of `kind` ([`ResourceKind::Fleet`] has no records: 0).
    pub fn of(&self, kind: ResourceKind) -> u64 {
        match kind {
            ResourceKind::Worker => self.worker,
            ResourceKind::Lab => self.lab,
            ResourceKind::Definition => self.definition,
            ResourceKind::Lablet => self.lablet,
            ResourceKind::Job => self.job,
            ResourceKind::Fleet => 0,
        }
    }

    /// Moves the generation of `kind` (a commit wrote records of it).
    pub fn bump(&mut self, kind: ResourceKind) {
        let generation = match kind {
            ResourceKind::Worker => &mut self.worker,
            ResourceKind::Lab => &mut self.lab,
            ResourceKind::Definition => &mut self.definition,
            ResourceKind::Lablet => &mut self.lablet,
            ResourceKind::Job => &mut self.job,
            ResourceKind::Fleet => return,
        };
        *generation = generation.saturating_add(1);
    }
}

/// Which part of a list to read: at most `limit` records from position `offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageRequest {
    /// Position of the first record (0-based).
    pub offset: usize,
    /// Records at most.
    pub limit: usize,
}

/// One page of a list read from the store.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed<T> {
    /// The page's records, in the list's order.
    pub items: Vec<T>,
    /// Records the filter selects in all.
    pub total: usize,
}

impl<T> Listed<T> {
    /// The page `page` of `all` (already filtered and in order).
    pub fn page_of(all: Vec<T>, page: PageRequest) -> Self {
        let total = all.len();
        Self {
            items: all.into_iter().skip(page.offset).take(page.limit).collect(),
            total,
        }
    }
}

/// Which lablets to list. Empty fields do not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabletFilter {
    /// Only these phases.
    #[serde(default)]
    pub phases: Vec<LabletPhase>,
    /// Only lablets bound to this worker.
    pub worker_id: Option<WorkerId>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this definition.
    pub definition_id: Option<DefinitionId>,
    /// Only lablets whose timeslot starts at or before this instant (the
    /// scheduler's window: bookings further out are not read at all).
    #[serde(default)]
    pub starts_by: Option<Timestamp>,
    /// Only lablets whose timeslot starts at or after this instant (with
    /// `starts_by`, a window of the past: the learned warm pool reads the
    /// bookings of the same hour in earlier weeks).
    #[serde(default)]
    pub starts_from: Option<Timestamp>,
}

impl ListFilter for LabletFilter {
    type Record = Lablet;

    /// Lablets by timeslot start, then id.
    fn list_order(a: &Lablet, b: &Lablet) -> Ordering {
        (a.spec.timeslot.start, a.id).cmp(&(b.spec.timeslot.start, b.id))
    }

    fn matches(&self, lablet: &Lablet) -> bool {
        (self.phases.is_empty() || self.phases.contains(&lablet.status.phase))
            && self
                .starts_by
                .is_none_or(|t| lablet.spec.timeslot.start <= t)
            && self
                .starts_from
                .is_none_or(|t| lablet.spec.timeslot.start >= t)
            && self
                .worker_id
                .is_none_or(|w| lablet.status.worker_id == Some(w))
            && self.owner.as_ref().is_none_or(|o| *o == lablet.spec.owner)
            && self
                .definition_id
                .is_none_or(|d| d == lablet.spec.definition_id)
    }
}

/// Which lab records to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabFilter {
    /// Only labs of this worker.
    pub worker_id: Option<WorkerId>,
    /// Include labs gone from CML.
    pub include_gone: bool,
}

impl ListFilter for LabFilter {
    type Record = LabRecord;

    /// Labs by worker, title, then id.
    fn list_order(a: &LabRecord, b: &LabRecord) -> Ordering {
        (a.worker_id, &a.title, a.id).cmp(&(b.worker_id, &b.title, b.id))
    }

    fn matches(&self, lab: &LabRecord) -> bool {
        self.worker_id.is_none_or(|w| w == lab.worker_id) && (self.include_gone || !lab.gone)
    }
}

/// Which definitions to list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionFilter {
    /// Only versions of this name.
    pub name: Option<String>,
    /// Only active ones.
    pub active_only: bool,
}

impl ListFilter for DefinitionFilter {
    type Record = LabletDefinition;

    /// Definitions by name, then version.
    fn list_order(a: &LabletDefinition, b: &LabletDefinition) -> Ordering {
        (a.name(), a.version).cmp(&(b.name(), b.version))
    }

    fn matches(&self, definition: &LabletDefinition) -> bool {
        self.name.as_ref().is_none_or(|n| n == definition.name())
            && (!self.active_only || definition.active)
    }
}

/// One write in a [`ChangeSet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Write {
    /// Insert (version 0) or update a worker.
    PutWorker(Box<Worker>),
    /// Remove a worker read at `version`.
    DeleteWorker {
        /// Worker.
        id: WorkerId,
        /// Version read.
        version: u64,
    },
    /// Insert or update a lab record.
    PutLab(Box<LabRecord>),
    /// Remove a lab record.
    DeleteLab {
        /// Record.
        id: LabRecordId,
        /// Version read.
        version: u64,
    },
    /// Insert or update a definition.
    PutDefinition(Box<LabletDefinition>),
    /// Insert or update a lablet.
    PutLablet(Box<Lablet>),
    /// Remove a lablet.
    DeleteLablet {
        /// Lablet.
        id: LabletId,
        /// Version read.
        version: u64,
    },
    /// Insert or update a job.
    PutJob(Box<JobRecord>),
}

impl Write {
    /// Kind of the resource written.
    pub fn kind(&self) -> ResourceKind {
        match self {
            Write::PutWorker(_) | Write::DeleteWorker { .. } => ResourceKind::Worker,
            Write::PutLab(_) | Write::DeleteLab { .. } => ResourceKind::Lab,
            Write::PutDefinition(_) => ResourceKind::Definition,
            Write::PutLablet(_) | Write::DeleteLablet { .. } => ResourceKind::Lablet,
            Write::PutJob(_) => ResourceKind::Job,
        }
    }

    /// Kind and id of the resource written.
    pub fn target(&self) -> (ResourceKind, String) {
        match self {
            Write::PutWorker(w) => (ResourceKind::Worker, w.id.to_string()),
            Write::DeleteWorker { id, .. } => (ResourceKind::Worker, id.to_string()),
            Write::PutLab(l) => (ResourceKind::Lab, l.id.to_string()),
            Write::DeleteLab { id, .. } => (ResourceKind::Lab, id.to_string()),
            Write::PutDefinition(d) => (ResourceKind::Definition, d.id.to_string()),
            Write::PutLablet(l) => (ResourceKind::Lablet, l.id.to_string()),
            Write::DeleteLablet { id, .. } => (ResourceKind::Lablet, id.to_string()),
            Write::PutJob(j) => (ResourceKind::Job, j.name.clone()),
        }
    }

    /// The version the writer read (0 for a new resource).
    pub fn expected_version(&self) -> u64 {
        match self {
            Write::PutWorker(w) => w.meta.version,
            Write::PutLab(l) => l.version,
            Write::PutDefinition(d) => d.meta.version,
            Write::PutLablet(l) => l.meta.version,
            Write::PutJob(j) => j.version,
            Write::DeleteWorker { version, .. }
            | Write::DeleteLab { version, .. }
            | Write::DeleteLablet { version, .. } => *version,
        }
    }

    /// True for deletions.
    pub fn is_delete(&self) -> bool {
        matches!(
            self,
            Write::DeleteWorker { .. } | Write::DeleteLab { .. } | Write::DeleteLablet { .. }
        )
    }
}

/// Proof of leadership attached to a commit: rejected once another holder took the lease.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fence {
    /// Lease name.
    pub lease: String,
    /// Token received when the lease was acquired.
    pub token: u64,
}

/// Writes and events committed atomically.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ChangeSet {
    /// Resource writes, applied in order.
    pub writes: Vec<Write>,
    /// Events appended to the log in order, in the same transaction.
    pub events: Vec<DomainEvent>,
    /// Optional fencing check.
    pub fence: Option<Fence>,
}

impl ChangeSet {
    /// An empty change set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The kinds this change set writes or deletes, each once, in order: the
    /// generations ([`Store::generations`]) its commit moves.
    pub fn touched_kinds(&self) -> Vec<ResourceKind> {
        let mut kinds: Vec<ResourceKind> = self.writes.iter().map(Write::kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }

    /// Adds a write.
    pub fn write(mut self, write: Write) -> Self {
        self.writes.push(write);
        self
    }

    /// Adds a worker write.
    pub fn put_worker(self, worker: Worker) -> Self {
        self.write(Write::PutWorker(Box::new(worker)))
    }

    /// Adds a lablet write.
    pub fn put_lablet(self, lablet: Lablet) -> Self {
        self.write(Write::PutLablet(Box::new(lablet)))
    }

    /// Adds a lab record write.
    pub fn put_lab(self, lab: LabRecord) -> Self {
        self.write(Write::PutLab(Box::new(lab)))
    }

    /// Adds a definition write.
    pub fn put_definition(self, definition: LabletDefinition) -> Self {
        self.write(Write::PutDefinition(Box::new(definition)))
    }

    /// Adds a job write.
    pub fn put_job(self, job: JobRecord) -> Self {
        self.write(Write::PutJob(Box::new(job)))
    }

    /// Appends events.
    pub fn events(mut self, events: impl IntoIterator<Item = DomainEvent>) -> Self {
        self.events.extend(events);
        self
    }

    /// Gives every event an id from `ids` (the engine's source: random in
    /// production, seeded in a simulation) just before the commit.
    pub fn identified_by(mut self, ids: &dyn IdSource) -> Self {
        for event in &mut self.events {
            event.id = EventId(ids.next_uuid());
        }
        self
    }

    /// Requires the lease token to be current.
    pub fn fenced(mut self, fence: Fence) -> Self {
        self.fence = Some(fence);
        self
    }

    /// True when there is nothing to commit.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.events.is_empty()
    }
}

/// What a successful commit did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitReceipt {
    /// New version of each written resource, in write order (0 for deletions).
    pub versions: Vec<u64>,
    /// Sequence numbers given to the events, in order.
    pub sequences: Vec<u64>,
}

/// A lease: who leads, with which token, until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// Lease name (`controllers`).
    pub name: String,
    /// Holder identity (process id).
    pub holder: String,
    /// Fencing token: grows each time the lease changes hands; never decreases.
    pub token: u64,
    /// Expiry.
    pub expires_at: Timestamp,
}

impl Lease {
    /// What [`Store::try_acquire_lease`] stores given the `current` lease: the same
    /// token renewed when `holder` holds it and it is live, `None` when another
    /// holder's lease is live, else a new lease whose token is one more than the
    /// current one (1 for a lease never taken). A lease is live while
    /// `expires_at > now`.
    pub fn next_acquire(
        current: Option<&Lease>,
        name: &str,
        holder: &str,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Option<Lease> {
        let expires_at = plus_seconds(now, i64::from(ttl_seconds));
        match current {
            Some(current) if current.holder == holder && current.expires_at > now => Some(Lease {
                expires_at,
                ..current.clone()
            }),
            Some(current) if current.expires_at > now => None,
            current => Some(Lease {
                name: name.to_owned(),
                holder: holder.to_owned(),
                token: current.map_or(1, |l| l.token.saturating_add(1)),
                expires_at,
            }),
        }
    }

    /// What [`Store::renew_lease`] stores: the lease extended to `now + ttl` when
    /// `holder` and `token` match (expired or not, as long as nobody took it over).
    pub fn renewed(
        current: Option<&Lease>,
        name: &str,
        holder: &str,
        token: u64,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Lease, StoreError> {
        match current {
            Some(lease) if lease.holder == holder && lease.token == token => Ok(Lease {
                expires_at: plus_seconds(now, i64::from(ttl_seconds)),
                ..lease.clone()
            }),
            _ => Err(StoreError::LeaseNotHeld {
                lease: name.to_owned(),
                holder: holder.to_owned(),
            }),
        }
    }

    /// What [`Store::release_lease`] stores: the lease expired at the epoch, token
    /// kept; `None` (nothing to store) when `holder` and `token` do not match.
    pub fn released(current: Option<&Lease>, holder: &str, token: u64) -> Option<Lease> {
        current
            .filter(|lease| lease.holder == holder && lease.token == token)
            .map(|lease| Lease {
                expires_at: epoch(),
                ..lease.clone()
            })
    }

    /// Checks a commit's fence against the lease's current token (`None` when the
    /// lease was never taken).
    pub fn check_fence(fence: &Fence, current: Option<u64>) -> Result<(), StoreError> {
        if current == Some(fence.token) {
            Ok(())
        } else {
            Err(StoreError::Fenced {
                lease: fence.lease.clone(),
                token: fence.token,
                current,
            })
        }
    }
}

/// What [`Store::compact_events`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionReport {
    /// The log's first sequence afterwards.
    pub first_sequence: u64,
    /// Events that left the complete part of the log.
    pub compacted: u64,
    /// Snapshot events written in their place (a snapshot of a resource deleted
    /// meanwhile is dropped again at once).
    pub snapshots: u64,
    /// The call stopped at its work bound before the cut: call again.
    pub more: bool,
    /// A resource that still exists but whose events could not be replayed; the
    /// cut stops before its events (the log is never made unrebuildable).
    pub blocked_by: Option<String>,
}

/// One atomic step of compaction, planned by [`compaction`] and
/// applied by [`Store::apply_compaction`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompactionStep {
    /// The first sequence the plan was made against.
    pub expected_first: u64,
    /// The first sequence afterwards; events from `expected_first` up to it
    /// (excluded) are removed.
    pub new_first: u64,
    /// Older snapshots (before `expected_first`) replaced by this step or whose
    /// resource is gone, in ascending order.
    pub superseded: Vec<u64>,
    /// Snapshots stored in place of removed events, at sequences in
    /// `expected_first..new_first`.
    pub snapshots: Vec<StoredEvent>,
}

/// Fails with [`StoreError::EventsGone`] when a reader positioned `after` would
/// miss events because the log now starts at `first_sequence`.
pub fn check_resumable(after: u64, first_sequence: u64) -> Result<(), StoreError> {
    if after.saturating_add(1) < first_sequence {
        Err(StoreError::EventsGone {
            after,
            first_sequence,
        })
    } else {
        Ok(())
    }
}

/// What can go wrong in a store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Optimistic-concurrency conflict: the resource changed since it was read
    /// (or already exists, or is already gone). Nothing of the commit was applied.
    #[error("{kind:?} `{id}` changed concurrently: expected version {expected}, found {actual:?}")]
    Conflict {
        /// Resource kind.
        kind: ResourceKind,
        /// Resource id.
        id: String,
        /// Version the writer read.
        expected: u64,
        /// Version in the store (`None` when absent).
        actual: Option<u64>,
    },
    /// A record that must be unique already exists (an API key with the same id or hash).
    #[error("{kind} `{id}` already exists")]
    AlreadyExists {
        /// What was inserted.
        kind: String,
        /// Its id.
        id: String,
    },
    /// The fencing token is stale: another process leads now.
    #[error("lease `{lease}` token {token} is stale (current {current:?})")]
    Fenced {
        /// Lease name.
        lease: String,
        /// Token presented.
        token: u64,
        /// Current token.
        current: Option<u64>,
    },
    /// A lease operation by a process that does not hold it.
    #[error("lease `{lease}` is not held by `{holder}`")]
    LeaseNotHeld {
        /// Lease name.
        lease: String,
        /// Would-be holder.
        holder: String,
    },
    /// The database schema is newer than this build understands.
    #[error("database schema version {found} is newer than this ccm supports ({supported}); upgrade ccm")]
    SchemaTooNew {
        /// Version found.
        found: i64,
        /// Highest version known.
        supported: i64,
    },
    /// A key-value write whose expectation did not hold; nothing was written.
    #[error(
        "record `{namespace}/{key}` changed concurrently: expected {expected:?}, found {actual:?}"
    )]
    RecordConflict {
        /// Namespace.
        namespace: String,
        /// Key.
        key: String,
        /// Version expected (`None`: expected absent).
        expected: Option<u64>,
        /// Live version found (`None`: absent).
        actual: Option<u64>,
    },
    /// A key-value record beyond the port's bounds; nothing was written.
    #[error("record in `{namespace}` refused: {message}")]
    RecordTooLarge {
        /// Namespace.
        namespace: String,
        /// Which bound.
        message: String,
    },
    /// A reader asked for events after `after`, but the log was compacted past
    /// that position: events in between are gone. Read the resources again
    /// (list) and follow the log from `first_sequence - 1`.
    #[error("events after sequence {after} are gone: the log was compacted and now starts at {first_sequence}; list the resources again and resume from {}", .first_sequence.saturating_sub(1))]
    EventsGone {
        /// Position asked for.
        after: u64,
        /// The log's first sequence.
        first_sequence: u64,
    },
    /// The store serves one process at a time and another process has it open.
    #[error("the database `{location}` is in use: {reason}")]
    InUse {
        /// Where the store is (a file path).
        location: String,
        /// Who holds it and what to do instead.
        reason: String,
    },
    /// The backend could not be reached or failed.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("stored {kind} `{id}` is unreadable: {message}")]
    Corrupt {
        /// What was read.
        kind: String,
        /// Its id.
        id: String,
        /// Decoding error.
        message: String,
    },
}

/// Persistence for everything ccm knows.
#[async_trait]
pub trait Store: Send + Sync {
    /// A worker by id.
    async fn get_worker(&self, id: WorkerId) -> Result<Option<Worker>, StoreError>;
    /// Workers passing the filter, ordered by name then id.
    async fn list_workers(&self, filter: &WorkerFilter) -> Result<Vec<Worker>, StoreError>;
    /// One page of [`Store::list_workers`] (same filter, same order) and the
    /// number of workers the filter selects: the store reads only the page's
    /// records, whatever the table's size.
    async fn list_workers_page(
        &self,
        filter: &WorkerFilter,
        page: PageRequest,
    ) -> Result<Listed<Worker>, StoreError>;
    /// A lab record by id.
    async fn get_lab(&self, id: LabRecordId) -> Result<Option<LabRecord>, StoreError>;
    /// Lab records passing the filter, ordered by worker then title.
    async fn list_labs(&self, filter: &LabFilter) -> Result<Vec<LabRecord>, StoreError>;
    /// A definition by id.
    async fn get_definition(
        &self,
        id: DefinitionId,
    ) -> Result<Option<LabletDefinition>, StoreError>;
    /// Definitions passing the filter, ordered by name then version.
    async fn list_definitions(
        &self,
        filter: &DefinitionFilter,
    ) -> Result<Vec<LabletDefinition>, StoreError>;
    /// A lablet by id.
    async fn get_lablet(&self, id: LabletId) -> Result<Option<Lablet>, StoreError>;
    /// Lablets passing the filter, ordered by timeslot start then id.
    async fn list_lablets(&self, filter: &LabletFilter) -> Result<Vec<Lablet>, StoreError>;
    /// One page of [`Store::list_lablets`] (same filter, same order) and the
    /// number of lablets the filter selects: the store reads only the page's
    /// records, whatever the table's size.
    async fn list_lablets_page(
        &self,
        filter: &LabletFilter,
        page: PageRequest,
    ) -> Result<Listed<Lablet>, StoreError>;
    /// How many lablets the filter selects on each worker, in one read: workers
    /// holding none are absent, and lablets bound to no worker are not counted.
    /// The idle check asks this once for the whole fleet instead of once per
    /// running worker.
    async fn count_lablets_by_worker(
        &self,
        filter: &LabletFilter,
    ) -> Result<BTreeMap<WorkerId, usize>, StoreError>;
    /// A job by name.
    async fn get_job(&self, name: &str) -> Result<Option<JobRecord>, StoreError>;
    /// All jobs, ordered by name.
    async fn list_jobs(&self) -> Result<Vec<JobRecord>, StoreError>;

    /// Applies all writes and appends all events atomically, or nothing.
    async fn commit(&self, changes: ChangeSet) -> Result<CommitReceipt, StoreError>;

    /// Every kind's generation, in one read: a number that moves whenever a
    /// record of that kind is written or deleted, by any process sharing the
    /// store, and never goes back. Read it *before* the records: whoever sees the
    /// same generations again may reuse what it derived from them (a serialised
    /// list page).
    async fn generations(&self) -> Result<Generations, StoreError>;

    /// Events with `sequence > after`, oldest first, at most `limit`. Positions
    /// before [`Store::first_sequence`] hold only compaction snapshots: a reader
    /// resuming from there checks [`check_resumable`] after its read.
    async fn read_events(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// The sequence of the newest event ever appended (0 when none was): it
    /// never decreases, not even when compaction removed that event.
    async fn last_sequence(&self) -> Result<u64, StoreError>;

    /// The first sequence of the complete part of the log: every event from it to
    /// [`Store::last_sequence`] is retained. `last_sequence() + 1` when nothing
    /// from there is retained (1 for an empty log). A reader at `after` has
    /// missed events when `after + 1 < first_sequence()` (see
    /// [`check_resumable`]); reads before it return only compaction snapshots.
    async fn first_sequence(&self) -> Result<u64, StoreError>;

    /// Compacts the front of the log: the events older than `cutoff`, and the
    /// oldest ones beyond the newest `max_events`, leave the complete part of the
    /// log (see the module documentation for what stays rebuildable). Does a
    /// bounded amount of work per call; `more` in the report asks for another.
    async fn compact_events(
        &self,
        cutoff: Timestamp,
        max_events: u64,
    ) -> Result<CompactionReport, StoreError> {
        compaction::compact(self, cutoff, max_events, compaction::Budget::default()).await
    }

    /// Compaction primitive for [`Store::compact_events`]: the events before
    /// [`Store::first_sequence`] about `subjects`, oldest first.
    async fn read_compacted(&self, subjects: &[Subject]) -> Result<Vec<StoredEvent>, StoreError>;

    /// Compaction primitive for [`Store::compact_events`]: applies `step`
    /// atomically, or nothing and returns `false` when the first sequence is no
    /// longer `step.expected_first` (another compaction ran meanwhile).
    async fn apply_compaction(&self, step: CompactionStep) -> Result<bool, StoreError>;

    /// A receiver whose value is the newest known sequence; it changes when events
    /// land (from this process or, for shared stores, any other).
    fn subscribe(&self) -> watch::Receiver<u64>;

    /// Takes the lease if it is free, expired, or already held by `holder` (then it
    /// is renewed with the same token). Returns `None` when another holder has it.
    async fn try_acquire_lease(
        &self,
        name: &str,
        holder: &str,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Option<Lease>, StoreError>;

    /// Extends a lease the caller holds with `token`; fails with
    /// [`StoreError::LeaseNotHeld`] if it was lost.
    async fn renew_lease(
        &self,
        name: &str,
        holder: &str,
        token: u64,
        ttl_seconds: u32,
        now: Timestamp,
    ) -> Result<Lease, StoreError>;

    /// Gives the lease up (it expires at once); a no-op if not held.
    async fn release_lease(&self, name: &str, holder: &str, token: u64) -> Result<(), StoreError>;

    /// The lease as stored, expired or not.
    async fn get_lease(&self, name: &str) -> Result<Option<Lease>, StoreError>;

    /// Stores a new API key (only its hash). Fails with [`StoreError::AlreadyExists`]
    /// when a key with the same id or the same hash is stored.
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;

    /// The key whose hash is `key_hash`, revoked or not.
    async fn find_api_key_by_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// All keys, revoked ones included, ordered by creation time then id.
    async fn list_api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;

    /// Revokes a key at `at`; revoking again keeps the first time. Returns the key as
    /// stored afterwards, `None` when no such key exists.
    async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        at: Timestamp,
    ) -> Result<Option<ApiKeyRecord>, StoreError>;

    /// Records that the key authenticated a request at `at` (`last_used_at` only
    /// moves forward); a no-op for an unknown key.
    async fn touch_api_key(&self, id: ApiKeyId, at: Timestamp) -> Result<(), StoreError>;
}
