//! The frames of the live stream (`GET /api/v1/events/stream`) besides the
//! events themselves: each SSE frame's `data` is one of [`StreamFrame`].

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::Event;
use crate::worker::Worker;

/// `snapshot`, the first frame: the workers (filtered like the events) and the
/// log position they were read after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamSnapshot {
    /// The workers, as `GET /api/v1/workers/{id}` shows them; empty when the
    /// type filter selects no `worker.` event.
    pub workers: Vec<Worker>,
    /// The events that follow come after this sequence.
    pub after_sequence: u64,
    /// True when the stream resumed from `Last-Event-ID` (or `last_event_id`).
    pub resumed: bool,
}

/// `heartbeat`, after every quiet interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamHeartbeat {
    /// The last sequence the stream has examined.
    pub last_sequence: u64,
}

/// `progress`, after a long scan found nothing to send (its SSE `id` is the
/// sequence reached, so a reconnect resumes from there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamProgress {
    /// The sequence the scan reached.
    pub scanned_to: u64,
}

/// `gone`, after which the stream ends: the log was compacted past the
/// stream's position; list everything again and reconnect without
/// `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamGone {
    /// What to do.
    pub reason: String,
    /// The position the stream was at.
    pub last_event_id: u64,
    /// The log's first sequence now.
    pub first_sequence: u64,
}

/// `credential_expired` or `shutdown`, after which the stream ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StreamClosing {
    /// Why the stream ends.
    pub reason: String,
}

/// The `data` of one frame of the live stream; the SSE `event` names which:
/// an event type (`worker.status.updated.v1`, …) for an [`Event`], else
/// `snapshot`, `heartbeat`, `progress`, `gone`, `credential_expired` or
/// `shutdown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum StreamFrame {
    /// An event of the log (SSE `id`: its sequence, SSE `event`: its type).
    Event(Box<Event>),
    /// `snapshot`.
    Snapshot(StreamSnapshot),
    /// `heartbeat`.
    Heartbeat(StreamHeartbeat),
    /// `progress`.
    Progress(StreamProgress),
    /// `gone`.
    Gone(StreamGone),
    /// `credential_expired` or `shutdown`.
    Closing(StreamClosing),
}
