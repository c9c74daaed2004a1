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
use ccm_api::event::{Event, EventHistory, EventHistoryQuery};
use ccm_core::ports::store::check_resumable;
use ccm_core::ports::Store;
use serde_json::json;

use super::contract::Contract;
use super::error::{ApiError, ApiResult};
use super::ApiQuery;
use crate::auth::Principal;
use crate::state::AppState;
use crate::visibility::{visible_to, EventFilter, LabletScope};

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
    ApiQuery(query): ApiQuery<EventHistoryQuery>,
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
                events.push(Event::from(&event));
                if events.len() == limit {
                    break;
                }
            }
        }
    }
    Ok(Json(EventHistory {
        events,
        next_after: cursor,
        end,
    }))
}

/// What `GET /api/v1/events` takes and answers.
pub fn history_contract() -> Contract {
    Contract::new()
        .query::<EventHistoryQuery>()
        .ok::<EventHistory>(
            200,
            "The matching events after `after`, oldest first, and where to continue",
        )
        .error(
            410,
            "The log was compacted past `after` (`gone`; details: `first_sequence`, `resume_after`): list the resources again and read on from `resume_after`",
        )
        .error(422, "`limit` is not between 1 and 1000")
}
