//! The event log on the wire: an event ([`Event`]: its envelope and its typed
//! [`EventData`]), the history answer of `GET /api/v1/events` and the queries of
//! the history and of the live stream (`GET /api/v1/events/stream`, whose
//! frames carry the same event JSON).
//!
//! * [`data`] — [`EventData`]: one variant per domain event type, with the same
//!   `type` name and the same `data` JSON; its mapping from the domain is in
//!   `mapping`.
//! * [`payload`] — the `data` of each event type, one named struct per type.
//! * [`stream`] — the other frames of the live stream ([`stream::StreamFrame`]).

pub mod data;
mod mapping;
pub mod payload;
mod schema;
pub mod stream;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub use data::{EmptyEventData, EventData, FieldChange, ScalingAction};

use crate::Example;

/// The kinds of resources events are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    /// A worker.
    Worker,
    /// A lab record.
    Lab,
    /// A lablet definition.
    Definition,
    /// A lablet.
    Lablet,
    /// A job of the job runner.
    Job,
    /// The fleet as a whole (autoscaler decisions, alerts).
    Fleet,
}

impl From<ccm_core::event::ResourceKind> for ResourceKind {
    fn from(kind: ccm_core::event::ResourceKind) -> Self {
        use ccm_core::event::ResourceKind as Domain;
        match kind {
            Domain::Worker => Self::Worker,
            Domain::Lab => Self::Lab,
            Domain::Definition => Self::Definition,
            Domain::Lablet => Self::Lablet,
            Domain::Job => Self::Job,
            Domain::Fleet => Self::Fleet,
        }
    }
}

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventSubject {
    /// Resource kind.
    pub kind: ResourceKind,
    /// Resource id as text (a UUID for workers, labs, definitions and lablets; the
    /// job name for jobs).
    pub id: String,
}

impl From<&ccm_core::event::Subject> for EventSubject {
    fn from(s: &ccm_core::event::Subject) -> Self {
        Self {
            kind: s.kind.into(),
            id: s.id.clone(),
        }
    }
}

/// One event of the log: `{"sequence", "id", "occurred_at", "subject", "type",
/// "data"}`. `type` is the versioned type name (`worker.status.updated.v1`) and
/// says what `data` holds. Its schema (`schema`) is one object per type with a
/// `type` discriminator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Position in the log, starting at 1 and increasing by 1 (the SSE `id`).
    pub sequence: u64,
    /// Unique id of the event (distinct from its position).
    pub id: Uuid,
    /// When the change happened.
    pub occurred_at: DateTime<Utc>,
    /// What it is about.
    pub subject: EventSubject,
    /// What happened: `type` and `data`.
    #[serde(flatten)]
    pub data: EventData,
}

impl From<&ccm_core::event::StoredEvent> for Event {
    fn from(e: &ccm_core::event::StoredEvent) -> Self {
        Self {
            sequence: e.sequence,
            id: e.event.id.0,
            occurred_at: e.event.occurred_at,
            subject: EventSubject::from(&e.event.subject),
            data: EventData::from(&e.event.payload),
        }
    }
}

/// Query of `GET /api/v1/events`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventHistoryQuery {
    /// Events with a sequence greater than this (0, the default: from the start).
    #[serde(default)]
    #[param(default = 0)]
    pub after: u64,
    /// Most events returned (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Only events about these workers: worker ids, comma-separated.
    pub worker: Option<String>,
    /// Only these event types, comma-separated; a trailing `*` matches a prefix
    /// (`worker.*`).
    #[serde(rename = "type")]
    #[param(rename = "type", example = "lablet.*,worker.status.updated.v1")]
    pub types: Option<String>,
}

/// A page of the event history (`GET /api/v1/events`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EventHistory {
    /// Matching events, oldest first.
    pub events: Vec<Event>,
    /// Pass as `after` to continue: the last sequence examined.
    pub next_after: u64,
    /// True when the log had nothing more past `next_after` when it was read.
    pub end: bool,
}

/// Query of `GET /api/v1/events/stream`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventStreamQuery {
    /// Only events about these workers (and only them in the snapshot): worker
    /// ids, comma-separated.
    pub worker: Option<String>,
    /// Only these event types, comma-separated; a trailing `*` matches a prefix.
    #[serde(rename = "type")]
    #[param(rename = "type", example = "lablet.*")]
    pub types: Option<String>,
    /// Resume after this sequence, for clients that cannot set the
    /// `Last-Event-ID` header (the header wins when both are given).
    pub last_event_id: Option<u64>,
}

impl Example for Event {
    fn example() -> Self {
        Self::from(&data::samples::stored(41, data::samples::phase_changed()))
    }
}

impl Example for EventHistory {
    fn example() -> Self {
        Self {
            events: vec![Event::example()],
            next_after: 41,
            end: true,
        }
    }
}

#[cfg(test)]
mod tests;
