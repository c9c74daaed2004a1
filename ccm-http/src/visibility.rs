//! Which events and details a caller sees, and the filters of the event history
//! and stream.
//!
//! Managers and admins see every event and every detail. Users see the fleet's
//! workers, labs, definitions and lablets, but not job bookkeeping, autoscaler
//! decisions (`fleet.*`), nor what CML users did on a worker (activity and
//! telemetry events, which name people). The REST answers hide the same things
//! through the same rules: a worker's recent activity ([`redact_worker`]) and a
//! job's error text ([`redact_job`]), which can carry internal addresses and names.
//! Lablet events follow the lablet routes (`crate::ownership`): a user sees those
//! of their own lablets only ([`LabletScope`]).

use std::collections::HashSet;

use ccm_core::event::{EventPayload, ResourceKind, StoredEvent};
use ccm_core::job::{JobOutcome, JobRecord};
use ccm_core::ports::store::{LabletFilter, StoreError};
use ccm_core::ports::Store;
use ccm_core::worker::Worker;

use crate::auth::{Principal, Role};
use crate::ownership;

/// What a job's error text reads as for a caller who may not see it.
pub const HIDDEN_ERROR: &str = "hidden: managers and admins see the error";

/// True when `role` sees everything: job bookkeeping and errors, autoscaler
/// decisions, and what people did on the workers.
pub fn sees_details(role: Role) -> bool {
    role >= Role::Manager
}

/// `worker` as `role` may see it: without the recent activity (what was done on
/// CML, and by whom) for those who may not see activity events.
pub fn redact_worker(role: Role, worker: &mut Worker) {
    if !sees_details(role) {
        worker.status.activity.recent.clear();
    }
}

/// `job` as `role` may see it: a failure keeps its place but not its text for
/// those who may not see job events.
pub fn redact_job(role: Role, job: &mut JobRecord) {
    if sees_details(role) {
        return;
    }
    if let Some(JobOutcome::Failed { error }) = &mut job.last_outcome {
        HIDDEN_ERROR.clone_into(error);
    }
}

/// True when `role` may see `event`.
pub fn visible_to(role: Role, event: &StoredEvent) -> bool {
    if sees_details(role) {
        return true;
    }
    let kind_ok = !matches!(
        event.event.subject.kind,
        ResourceKind::Job | ResourceKind::Fleet
    );
    let payload_ok = !matches!(
        event.event.payload,
        EventPayload::WorkerActivityRecorded { .. } | EventPayload::WorkerTelemetryRead { .. }
    );
    kind_ok && payload_ok
}

/// Whose lablet events a reader of the log sees: every lablet's for managers and
/// admins, a user's own otherwise.
#[derive(Clone, Debug)]
pub struct LabletScope {
    /// The owner followed; `None` follows every lablet.
    owner: Option<String>,
    /// Ids of that owner's lablets known so far.
    own: HashSet<String>,
}

impl LabletScope {
    /// The scope of `who`, knowing the lablets they own now; lablets booked for
    /// them later are learnt from their creation events.
    pub async fn of(store: &dyn Store, who: &Principal) -> Result<Self, StoreError> {
        if ownership::sees_everything(who) {
            return Ok(Self {
                owner: None,
                own: HashSet::new(),
            });
        }
        let own = store
            .list_lablets(&LabletFilter {
                owner: Some(who.subject.clone()),
                ..LabletFilter::default()
            })
            .await?
            .into_iter()
            .map(|l| l.id.to_string())
            .collect();
        Ok(Self {
            owner: Some(who.subject.clone()),
            own,
        })
    }

    /// True unless `event` is about a lablet outside the scope. Every event of the
    /// log must pass through here in order, so creations are learnt.
    pub fn admits(&mut self, event: &StoredEvent) -> bool {
        let Some(owner) = &self.owner else {
            return true;
        };
        let subject = &event.event.subject;
        if subject.kind != ResourceKind::Lablet {
            return true;
        }
        let booked_for = match &event.event.payload {
            EventPayload::LabletCreatedV2 { request, .. } => Some(&request.owner),
            EventPayload::LabletCreated { lablet } => Some(&lablet.spec.owner),
            _ => None,
        };
        if booked_for == Some(owner) {
            self.own.insert(subject.id.clone());
        }
        self.own.contains(&subject.id)
    }
}

/// Optional filters by worker and by event type.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Worker ids: events about these workers and their labs.
    pub workers: Vec<String>,
    /// Type names; a trailing `*` matches a prefix (`worker.*`).
    pub types: Vec<String>,
}

fn list(text: Option<&str>) -> Vec<String> {
    text.map(|t| {
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

impl EventFilter {
    /// Filters from comma-separated lists.
    pub fn parse(workers: Option<&str>, types: Option<&str>) -> Self {
        Self {
            workers: list(workers),
            types: list(types),
        }
    }

    /// True when some worker event (`worker.…`) can pass the type filter, so a
    /// stream's snapshot needs the workers at all.
    pub fn selects_worker_events(&self) -> bool {
        const WORKER: &str = "worker.";
        self.types.is_empty()
            || self.types.iter().any(|t| match t.strip_suffix('*') {
                Some(prefix) => WORKER.starts_with(prefix) || prefix.starts_with(WORKER),
                None => t.starts_with(WORKER),
            })
    }

    /// True when `event` passes.
    pub fn matches(&self, event: &StoredEvent) -> bool {
        let subject = &event.event.subject;
        let worker_ok = self.workers.is_empty()
            || self.workers.iter().any(|w| match subject.kind {
                ResourceKind::Worker => subject.id == *w,
                ResourceKind::Lab => subject
                    .id
                    .strip_prefix(w.as_str())
                    .is_some_and(|rest| rest.starts_with('/')),
                _ => false,
            });
        let name = event.event.type_name();
        let type_ok = self.types.is_empty()
            || self.types.iter().any(|t| match t.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == t,
            });
        worker_ok && type_ok
    }
}
