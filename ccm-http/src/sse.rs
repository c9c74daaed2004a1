//! `GET /api/v1/events/stream`: the live event stream (Server-Sent Events).
//!
//! * On connect: a `snapshot` event with the workers (filtered like the events) and
//!   the log position it was taken after.
//! * Then every event of the log after that position, in order, each with its
//!   sequence number as the SSE `id` and its type name as the SSE `event`.
//! * Reconnecting with `Last-Event-ID` (or `?last_event_id=`) resumes right after
//!   that sequence: the stream reads the store's event log, so nothing is lost and
//!   nothing repeated, across a server restart too.
//! * Optional filters `?worker=<id>,…` and `?type=<type>,…` (a trailing `*` matches
//!   a prefix); events the caller's role may not see are never sent.
//! * A `heartbeat` event after every quiet interval (30 s by default), and a
//!   `shutdown` event when the server stops, after which the stream ends.
//!
//! The stream waits on `Store::subscribe` for new events and also reads the log at
//! every heartbeat, so it catches up even when a wake-up was missed (another
//! process's commits on a shared SQLite file).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, Sse};
use axum::response::IntoResponse;
use axum::Extension;
use ccm_core::event::StoredEvent;
use ccm_core::ports::store::WorkerFilter;
use ccm_core::ports::Store;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::api::error::{ApiError, ApiResult};
use crate::api::ApiQuery;
use crate::auth::{Principal, Role};
use crate::state::AppState;
use crate::visibility::{visible_to, EventFilter};

/// Query of the stream.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Worker ids, comma-separated.
    pub worker: Option<String>,
    /// Event types, comma-separated.
    #[serde(rename = "type")]
    pub types: Option<String>,
    /// Resume after this sequence (for clients that cannot set `Last-Event-ID`).
    pub last_event_id: Option<u64>,
}

const BATCH: usize = 500;

struct Tail {
    store: Arc<dyn Store>,
    role: Role,
    filter: EventFilter,
    cursor: u64,
    pending: VecDeque<Event>,
    newest: watch::Receiver<u64>,
    newest_open: bool,
    shutdown: watch::Receiver<bool>,
    heartbeat: Duration,
    next_heartbeat: Instant,
    done: bool,
}

fn event_of(stored: &StoredEvent) -> Option<Event> {
    match serde_json::to_string(stored) {
        Ok(data) => Some(
            Event::default()
                .id(stored.sequence.to_string())
                .event(stored.event.type_name())
                .data(data),
        ),
        Err(error) => {
            tracing::error!(%error, sequence = stored.sequence, "event not serialisable; skipped");
            None
        }
    }
}

impl Tail {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    async fn read(&mut self) {
        self.newest.borrow_and_update();
        match self.store.read_events(self.cursor, BATCH).await {
            Ok(batch) => {
                for stored in batch {
                    self.cursor = stored.sequence;
                    if visible_to(self.role, &stored) && self.filter.matches(&stored) {
                        if let Some(event) = event_of(&stored) {
                            self.pending.push_back(event);
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "event stream could not read the log"),
        }
    }

    async fn next(&mut self) -> Option<Event> {
        if self.done {
            return None;
        }
        loop {
            if self.stopping() {
                self.done = true;
                return Some(
                    Event::default()
                        .event("shutdown")
                        .data(json!({ "reason": "the server is stopping" }).to_string()),
                );
            }
            if let Some(event) = self.pending.pop_front() {
                self.next_heartbeat = Instant::now() + self.heartbeat;
                return Some(event);
            }
            let before = self.cursor;
            self.read().await;
            if !self.pending.is_empty() || self.cursor != before {
                continue;
            }
            let newest = &mut self.newest;
            let open = self.newest_open;
            tokio::select! {
                changed = newest.changed(), if open => {
                    if changed.is_err() {
                        self.newest_open = false;
                    }
                }
                _ = self.shutdown.changed() => {}
                _ = tokio::time::sleep_until(self.next_heartbeat) => {
                    self.next_heartbeat = Instant::now() + self.heartbeat;
                    return Some(
                        Event::default()
                            .event("heartbeat")
                            .data(json!({ "last_sequence": self.cursor }).to_string()),
                    );
                }
            }
        }
    }
}

fn resume_point(headers: &HeaderMap, query: &StreamQuery) -> ApiResult<Option<u64>> {
    if let Some(value) = headers.get("last-event-id") {
        let text = value.to_str().unwrap_or_default().trim();
        return text.parse::<u64>().map(Some).map_err(|_| {
            ApiError::bad_request(format!("Last-Event-ID `{text}` is not an event sequence"))
        });
    }
    Ok(query.last_event_id)
}

/// `GET /api/v1/events/stream`.
pub async fn stream(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<StreamQuery>,
) -> ApiResult<impl IntoResponse> {
    let filter = EventFilter::parse(query.worker.as_deref(), query.types.as_deref());
    let resume = resume_point(&headers, &query)?;
    let mut newest = state.store.subscribe();
    newest.borrow_and_update();
    let cursor = match resume {
        Some(after) => after,
        None => state.store.last_sequence().await?,
    };
    let workers: Vec<_> = state
        .store
        .list_workers(&WorkerFilter::default())
        .await?
        .into_iter()
        .filter(|w| filter.workers.is_empty() || filter.workers.contains(&w.id.to_string()))
        .collect();
    let snapshot = Event::default().event("snapshot").data(
        json!({ "workers": workers, "after_sequence": cursor, "resumed": resume.is_some() })
            .to_string(),
    );
    let heartbeat = state.options.heartbeat;
    let tail = Tail {
        store: state.store.clone(),
        role: who.role,
        filter,
        cursor,
        pending: VecDeque::from([snapshot]),
        newest,
        newest_open: true,
        shutdown: state.shutdown.clone(),
        heartbeat,
        next_heartbeat: Instant::now() + heartbeat,
        done: false,
    };
    let events = futures_util::stream::unfold(tail, |mut tail| async move {
        tail.next().await.map(|e| (Ok::<_, Infallible>(e), tail))
    });
    Ok(Sse::new(events))
}
