//! Which events a caller sees, and the filters of the event history and stream.
//!
//! Managers and admins see every event. Users see the fleet's workers, labs,
//! definitions and lablets, but not job bookkeeping, autoscaler decisions
//! (`fleet.*`), nor what CML users did on a worker (activity and telemetry
//! events, which name people).

use ccm_core::event::{EventPayload, ResourceKind, StoredEvent};

use crate::auth::Role;

/// True when `role` may see `event`.
pub fn visible_to(role: Role, event: &StoredEvent) -> bool {
    if role >= Role::Manager {
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
