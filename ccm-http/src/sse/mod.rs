//! `GET /api/v1/events/stream`: the live event stream (Server-Sent Events).
//!
//! * On connect: a `snapshot` event with the workers (filtered like the events:
//!   none when the type filter selects no `worker.` event) and the log position it
//!   was taken after.
//! * Then every event of the log after that position, in order, each with its
//!   sequence number as the SSE `id` and its type name as the SSE `event`.
//! * Reconnecting with `Last-Event-ID` (or `?last_event_id=`) resumes right after
//!   that sequence: the stream reads the store's event log, so nothing is lost and
//!   nothing repeated, across a server restart too.
//! * Optional filters `?worker=<id>,…` and `?type=<type>,…` (a trailing `*` matches
//!   a prefix); events the caller's role may not see, and for a user the events
//!   of other people's lablets, are never sent.
//! * A `heartbeat` event after every quiet interval (30 s by default), and a
//!   `shutdown` event when the server stops, after which the stream ends.
//! * A `gone` event, after which the stream ends, when the position it resumes
//!   from (or has reached) is older than the log's first sequence: retention
//!   compacted the events after it away. The client lists everything again and
//!   reconnects without `Last-Event-ID`, as after a Kubernetes watch's 410.
//! * A stream holds resources for as long as the client likes, so it is bounded:
//!   one caller holds at most `server.sse_streams_per_principal` streams (the next
//!   gets 429); the credential is checked again at every heartbeat and at least
//!   every 30 s, and when it has expired or was revoked the stream sends
//!   `credential_expired` and ends; and a narrow filter over a long log examines
//!   at most [`SCAN_LIMIT`] entries between two events sent — past that it sends
//!   a `progress` event whose `id` is the sequence reached, so the work follows
//!   what the client reads and a reconnect resumes from there.
//!
//! A stream first reads the log itself from its position (the snapshot's, or
//! `Last-Event-ID`) until a read comes back short, then follows the process's
//! [`hub::EventHub`], which reads the log once for all streams and hands out
//! frames serialised once. A stream that falls more than
//! `server.sse_buffer_events` events behind (a slow client) reads its own way back from the log and rejoins, so
//! order and completeness never depend on the hub's buffer.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, Sse};
use axum::response::IntoResponse;
use axum::Extension;
use ccm_api::event::stream::StreamFrame;
use ccm_api::event::EventStreamQuery;
use ccm_core::ports::store::{check_resumable, WorkerFilter};
use ccm_core::ports::Store;
use futures_util::FutureExt;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};
use tokio::time::{Instant, Sleep};

use crate::api::contract::Contract;
use crate::api::error::{ApiError, ApiResult};
use crate::api::ApiQuery;
use crate::auth::middleware::authenticate;
use crate::auth::{Principal, Role};
use crate::limits::stream_slots::StreamSlot;
use crate::metrics::LogReader;
use crate::state::AppState;
use crate::visibility::{redact_worker, visible_to, EventFilter, LabletScope};

pub mod hub;

use hub::HubEvent;

/// Query of the stream (its wire type: [`EventStreamQuery`]).
pub type StreamQuery = EventStreamQuery;

const BATCH: usize = 500;

/// Log entries examined at most between two events sent.
pub const SCAN_LIMIT: usize = 5_000;

/// Longest time between two checks of a stream's credential.
const CREDENTIAL_CHECK_MAX: Duration = Duration::from_secs(30);

struct Tail {
    store: Arc<dyn Store>,
    role: Role,
    lablets: LabletScope,
    state: AppState,
    credentials: HeaderMap,
    check_every: Duration,
    next_check: Instant,
    scanned: usize,
    _slot: StreamSlot,
    filter: EventFilter,
    cursor: u64,
    pending: VecDeque<Event>,
    /// Events from the hub, from the moment the stream subscribed.
    live: broadcast::Receiver<Arc<HubEvent>>,
    /// Reading the log itself (on connect, or after lagging behind the hub)
    /// until a read comes back short.
    catching_up: bool,
    shutdown: watch::Receiver<bool>,
    /// Completes when the server stops. Kept across waits: a new `changed()`
    /// per wait would take the lock of the one channel every stream shares,
    /// twice per event delivered.
    stopped: Pin<Box<dyn Future<Output = ()> + Send>>,
    heartbeat: Duration,
    next_heartbeat: Instant,
    /// Fires at or before the earlier of `next_heartbeat` and `next_check`.
    /// Those deadlines only move later (at every event sent), so the alarm is
    /// re-armed when it fires rather than at every event: no timer is
    /// registered and cancelled per delivery.
    alarm: Pin<Box<Sleep>>,
    /// End the stream once `pending` is sent (after `gone`).
    ending: bool,
    done: bool,
}

/// Completes once `shutdown` says stop (at once if it already does, and for
/// good if the sender is gone: nothing can stop the server then).
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The `gone` event for a stream at `after` when the log starts at `first`.
fn gone_event(after: u64, first: u64) -> Event {
    Event::default().event("gone").data(
        json!({
            "reason": "the log was compacted past this position; list again and reconnect without Last-Event-ID",
            "last_event_id": after,
            "first_sequence": first,
        })
        .to_string(),
    )
}

/// `Some(gone event)` when a reader at `after` has missed compacted events.
/// Asked after the read it guards (compaction only moves the start forward).
async fn gone_after(store: &dyn Store, after: u64) -> Option<Event> {
    match store.first_sequence().await {
        Ok(first) if check_resumable(after, first).is_err() => Some(gone_event(after, first)),
        Ok(_) => None,
        Err(error) => {
            tracing::warn!(%error, "event stream could not read the log's first sequence");
            None
        }
    }
}

impl Tail {
    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Reads one batch of the log after the cursor; true when it came back
    /// short, i.e. the stream has reached the log's end as of this read.
    async fn read(&mut self) -> bool {
        self.state.metrics.count_log_read(LogReader::Stream);
        let read = self.store.read_events(self.cursor, BATCH).await;
        if let Some(gone) = gone_after(self.store.as_ref(), self.cursor).await {
            self.pending.push_back(gone);
            self.ending = true;
            return true;
        }
        match read {
            Ok(batch) => {
                let reached_end = batch.len() < BATCH;
                for stored in batch {
                    if let Some(event) = HubEvent::of(stored) {
                        self.examine(&event);
                    }
                }
                reached_end
            }
            Err(error) => {
                tracing::warn!(%error, "event stream could not read the log");
                false
            }
        }
    }

    /// Moves the cursor past `event` and queues its frame if this stream shows it.
    fn examine(&mut self, event: &HubEvent) {
        let stored = &event.stored;
        if stored.sequence <= self.cursor {
            return;
        }
        self.cursor = stored.sequence;
        self.scanned += 1;
        let admitted = self.lablets.admits(stored);
        if admitted && visible_to(self.role, stored) && self.filter.matches(stored) {
            self.pending.push_back(event.frame.clone());
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
                self.scanned = 0;
                self.next_heartbeat = Instant::now() + self.heartbeat;
                return Some(event);
            }
            if self.ending {
                self.done = true;
                return None;
            }
            if Instant::now() >= self.next_check {
                if let Some(ended) = self.check_credential().await {
                    self.done = true;
                    return Some(ended);
                }
            }
            if self.scanned >= SCAN_LIMIT {
                self.scanned = 0;
                self.next_heartbeat = Instant::now() + self.heartbeat;
                return Some(
                    Event::default()
                        .id(self.cursor.to_string())
                        .event("progress")
                        .data(json!({ "scanned_to": self.cursor }).to_string()),
                );
            }
            if self.catching_up {
                let reached_end = self.read().await;
                if reached_end {
                    self.catching_up = false;
                } else if self.pending.is_empty() {
                    // A failed read: wait a little rather than spin on the store.
                    tokio::select! {
                        () = &mut self.stopped => {}
                        () = tokio::time::sleep(hub::RESYNC) => {}
                    }
                }
                continue;
            }
            tokio::select! {
                received = self.live.recv() => match received {
                    Ok(event) => self.examine(&event),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, cursor = self.cursor, "event stream fell behind the hub; reading the log");
                        self.catching_up = true;
                    }
                    Err(RecvError::Closed) => {
                        self.done = true;
                        return None;
                    }
                },
                () = &mut self.stopped => {}
                () = &mut self.alarm => {
                    let now = Instant::now();
                    let heartbeat_due = now >= self.next_heartbeat;
                    if heartbeat_due {
                        self.next_heartbeat = now + self.heartbeat;
                    }
                    // A due credential check runs at the top of the loop.
                    let next = self.next_heartbeat.min(self.next_check);
                    self.alarm.as_mut().reset(next.max(now));
                    if heartbeat_due {
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
}

impl Tail {
    /// Authenticates the stream's request again: `Some(event)` ends the stream
    /// when the credential no longer holds (revoked or expired key, closed or
    /// expired session, a JWT past its `exp`) or grants another role. A check
    /// that cannot be made (store or identity provider down) keeps the stream.
    async fn check_credential(&mut self) -> Option<Event> {
        self.next_check = Instant::now() + self.check_every;
        let reason = match authenticate(&self.state, &self.credentials).await {
            Ok(Some(principal)) if principal.role == self.role => return None,
            Ok(Some(_)) => "the credential now grants another role; reconnect",
            Ok(None) => "the credential is gone",
            Err(response) if response.status().is_client_error() => {
                "the credential expired or was revoked"
            }
            Err(response) => {
                tracing::warn!(status = %response.status(), "event stream could not re-check its credential; kept open");
                return None;
            }
        };
        Some(
            Event::default()
                .event("credential_expired")
                .data(json!({ "reason": reason }).to_string()),
        )
    }
}

/// The headers that carry the caller's credential, kept to check it again.
fn credentials_of(headers: &HeaderMap) -> HeaderMap {
    let mut kept = HeaderMap::new();
    for name in [AUTHORIZATION, COOKIE] {
        for value in headers.get_all(&name) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
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
    let per_caller = state.options.limits.sse_streams_per_principal;
    let Some(slot) = state.streams.acquire(&who, per_caller) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!(
                "this caller already holds {per_caller} open event streams \
                 (server.sse_streams_per_principal); close one first"
            ),
        ));
    };
    let filter = EventFilter::parse(query.worker.as_deref(), query.types.as_deref());
    let resume = resume_point(&headers, &query)?;
    // Subscribed before the position is fixed, so every event past it is either
    // read by the stream's own catch-up or received from the hub.
    let live = state.events.subscribe().await?;
    let cursor = match resume {
        Some(after) => after,
        None => state.store.last_sequence().await?,
    };
    let gone = match resume {
        Some(after) => gone_after(state.store.as_ref(), after).await,
        None => None,
    };
    // Read after the cursor is fixed, so a lablet booked in between is either
    // listed here or learnt from its creation event past the cursor.
    let lablets = LabletScope::of(state.store.as_ref(), &who).await?;
    // A stream that can receive no worker event (a lab portal following lablet
    // phases) gets none in its snapshot: listing and serialising the whole fleet
    // for every such connection was the dearest part of connecting.
    let listed = if filter.selects_worker_events() {
        state.store.list_workers(&WorkerFilter::default()).await?
    } else {
        Vec::new()
    };
    let workers: Vec<_> = listed
        .into_iter()
        .filter(|w| filter.workers.is_empty() || filter.workers.contains(&w.id.to_string()))
        .map(|mut w| {
            redact_worker(who.role, &mut w);
            w
        })
        .collect();
    let gone_at_start = gone.is_some();
    let first = match gone {
        Some(gone) => gone,
        None => Event::default().event("snapshot").data(
            json!({ "workers": workers, "after_sequence": cursor, "resumed": resume.is_some() })
                .to_string(),
        ),
    };
    let heartbeat = state.options.heartbeat;
    let check_every = heartbeat.min(CREDENTIAL_CHECK_MAX);
    let tail = Tail {
        store: state.store.clone(),
        role: who.role,
        lablets,
        state: state.clone(),
        credentials: credentials_of(&headers),
        check_every,
        next_check: Instant::now() + check_every,
        scanned: 0,
        _slot: slot,
        filter,
        cursor,
        ending: gone_at_start,
        pending: VecDeque::from([first]),
        live,
        catching_up: true,
        shutdown: state.shutdown.clone(),
        // Fused: polled again after it fired, it waits rather than panics.
        stopped: Box::pin(stopped(state.shutdown.clone()).fuse()),
        heartbeat,
        next_heartbeat: Instant::now() + heartbeat,
        alarm: Box::pin(tokio::time::sleep(heartbeat.min(check_every))),
        done: false,
    };
    let events = futures_util::stream::unfold(tail, |mut tail| async move {
        tail.next().await.map(|e| (Ok::<_, Infallible>(e), tail))
    });
    Ok(Sse::new(events))
}

/// What `GET /api/v1/events/stream` takes and answers: a `text/event-stream`
/// whose frames each carry one [`StreamFrame`]: an event (SSE `id`: its
/// sequence, SSE `event`: its type), or a `snapshot`, `heartbeat`, `progress`,
/// `gone`, `credential_expired` or `shutdown` frame (described in the module).
pub fn stream_contract() -> Contract {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut contract = Contract::new().query::<EventStreamQuery>();
    // Registered so clients get the type; the frame's `data` is its JSON text.
    contract.named::<StreamFrame>();
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    let frame = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(
            "One Server-Sent Events frame (`event`, `id`, `data` lines).",
        ))
        .property(
            "event",
            text("`snapshot`, `heartbeat`, `progress`, `gone`, `credential_expired`, `shutdown`, or the event's type (`worker.status.updated.v1`, …)"),
        )
        .property("id", text("The event's sequence (event and `progress` frames)"))
        .property(
            "data",
            text("A `StreamFrame` as JSON text: an `Event`, or a `StreamSnapshot`, `StreamHeartbeat`, `StreamProgress`, `StreamGone` or `StreamClosing`")
                .content_media_type("application/json"),
        )
        .property(
            "retry",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some("Reconnection time, ms")),
        )
        .required("data")
        .build()
        .into();
    contract
        .ok_as(
            200,
            "Server-Sent Events: first a `snapshot` (`{workers, after_sequence, resumed}`) or a `gone` frame, then one frame per event (`id`: sequence, `event`: type, `data`: the event as in the history), `heartbeat` (`{last_sequence}`) after quiet intervals, `progress` (`{scanned_to}`) on long filtered scans, and `credential_expired` or `shutdown` before the stream ends",
            "text/event-stream",
            Some(frame),
        )
        .error(400, "`Last-Event-ID` is not an event sequence")
        .error(
            429,
            "The caller already holds `server.sse_streams_per_principal` open streams (`too_many_streams`)",
        )
}
