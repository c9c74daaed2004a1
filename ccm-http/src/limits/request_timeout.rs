//! The request timeout: a handler that has not answered in time gets a 408, so a
//! slow upload or a stuck call cannot hold a connection and a task forever. The
//! event stream is long-lived by design and is bounded otherwise (per-caller
//! stream slots, credential re-checks, the idle timeout).

use axum::extract::{MatchedPath, NestedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;
use crate::auth::middleware::table_path;
use crate::state::AppState;

/// The route exempt from the timeout.
const STREAM_ROUTE: &str = "/api/v1/events/stream";

/// Middleware answering 408 when the handler takes longer than
/// `server.request_timeout_seconds`.
pub async fn limit_request_time(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let nested = request.extensions().get::<NestedPath>();
    if matched
        .as_ref()
        .is_some_and(|m| table_path(m, nested) == STREAM_ROUTE)
    {
        return next.run(request).await;
    }
    let limit = state.options.limits.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request was not answered within {} s (server.request_timeout_seconds)",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}
