//! `GET /api/v1/settings`: the settings this process runs with, for admins — the
//! engine's (`FleetSettings`: intervals, thresholds, autoscaler, lablets, idle,
//! launch template, auto-import) and the server's bounds. Nothing secret is part
//! of either: credentials, the licence token and the database URL stay out, and
//! only whether a licence token is configured is said.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::error::ApiResult;
use crate::state::AppState;

/// `GET /api/v1/settings`.
pub async fn get(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let options = &state.options;
    let limits = &options.limits;
    Ok(Json(json!({
        "engine": state.fleet.settings(),
        "licence_token_configured": state.fleet.has_licence_token(),
        "server": {
            "body_limit_bytes": options.body_limit_bytes,
            "sse_heartbeat_seconds": options.heartbeat.as_secs(),
            "cookie_secure": options.cookie_secure,
            "regions": options.regions,
            "lablet_self_service": options.lablet_self_service,
            "header_read_timeout_seconds": limits.header_read_timeout.as_secs(),
            "request_timeout_seconds": limits.request_timeout.as_secs(),
            "idle_timeout_seconds": limits.idle_timeout.as_secs(),
            "max_connections": limits.max_connections,
            "sse_streams_per_principal": limits.sse_streams_per_principal,
            "sse_buffer_events": limits.sse_buffer_events,
        },
    })))
}
