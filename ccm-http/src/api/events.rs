//! `GET /api/v1/events`: the event history from a cursor, filtered by worker and
//! type, by what the caller's role may see and, for users, to their own lablets'
//! events. The live stream is in `crate::sse`.
//!
//! A cursor the log was compacted past answers 410 `gone` (details:
//! `first_sequence`, `resume_after`): the events after it are no longer there,
//! so the caller lists the resources again and reads on from `resume_after`, as
//! a Kubernetes watch does after `410 Gone`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_core::event::StoredEvent;
use ccm_core::ports::store::check_resumable;
use ccm_core::ports::Store;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::ApiQuery;
use crate::auth::Principal;
use crate::state::AppState;
use crate::visibility::{visible_to, EventFilter, LabletScope};

/// Query of `GET /events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Events with a sequence greater than this (0: from the start).
    #[serde(default)]
    pub after: u64,
    /// Most events returned (1–1000, default 100).
    pub limit: Option<usize>,
    /// Worker ids, comma-separated.
    pub worker: Option<String>,
    /// Event types, comma-separated (`worker.*` matches a prefix).
    #[serde(rename = "type")]
    pub types: Option<String>,
}

/// A page of the history.
#[derive(Debug, Serialize)]
pub struct History {
    /// Matching events, oldest first.
    pub events: Vec<StoredEvent>,
    /// Pass as `after` to continue (the last sequence examined).
    pub next_after: u64,
    /// True when the log had nothing more past `next_after` when it was read.
    pub end: bool,
}

/// Log entries examined per request at most, so a narrow filter on a long log
/// answers in bounded time (continue from `next_after`).
const SCAN_LIMIT: usize = 50_000;
const BATCH: usize = 500;

/// The 410 for a reader at `after` when the log now starts at `first_sequence`.
pub(crate) fn gone(after: u64, first_sequence: u64) -> ApiError {
    let resume_after = first_sequence.saturating_sub(1);
    ApiError::new(
        StatusCode::GONE,
        "gone",
        format!(
            "events after sequence {after} are no longer in the log (it was compacted and \
             now starts at {first_sequence}); list the resources again and read on after \
             {resume_after}"
        ),
    )
    .with_details(json!({
        "after": after,
        "first_sequence": first_sequence,
        "resume_after": resume_after,
    }))
}

/// Fails with [`gone`] when a reader at `after` has missed compacted events.
/// Called after the read it guards: compaction only moves the log's start
/// forward, so a start still within reach then was within reach at the read.
pub(crate) async fn ensure_resumable(store: &dyn Store, after: u64) -> ApiResult<()> {
    let first = store.first_sequence().await?;
    check_resumable(after, first).map_err(|_| gone(after, first))
}

/// `GET /api/v1/events?after=&limit=&worker=&type=`.
pub async fn history(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> ApiResult<impl IntoResponse> {
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let filter = EventFilter::parse(query.worker.as_deref(), query.types.as_deref());
    let mut lablets = LabletScope::of(state.store.as_ref(), &who).await?;
    let mut cursor = query.after;
    let mut events = Vec::new();
    let mut scanned = 0;
    let mut end = false;
    while events.len() < limit && scanned < SCAN_LIMIT {
        let batch = state.store.read_events(cursor, BATCH).await?;
        if scanned == 0 {
            ensure_resumable(state.store.as_ref(), query.after).await?;
        }
        if batch.is_empty() {
            end = true;
            break;
        }
        for event in batch {
            scanned += 1;
            cursor = event.sequence;
            let admitted = lablets.admits(&event);
            if admitted && visible_to(who.role, &event) && filter.matches(&event) {
                events.push(event);
                if events.len() == limit {
                    break;
                }
            }
        }
    }
    Ok(Json(History {
        events,
        next_after: cursor,
        end,
    }))
}
