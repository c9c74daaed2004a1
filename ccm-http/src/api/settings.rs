//! `GET /api/v1/settings`: the settings this process runs with, for admins — the
//! engine's (`FleetSettings`: intervals, thresholds, autoscaler, lablets, idle,
//! launch template, auto-import) and the server's bounds. Nothing secret is part
//! of either: credentials, the licence token and the database URL stay out, and
//! only whether a licence token is configured is said.

use axum::extract::State;
use axum::response::IntoResponse;
use ccm_api::system::settings::{EngineSettings, ServerSettings, SettingsView};

use super::contract::Contract;
use super::error::ApiResult;
use super::system::sorted_json;
use crate::state::AppState;

/// `GET /api/v1/settings`.
pub async fn get(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let options = &state.options;
    let limits = &options.limits;
    // Through a `Value`, as when this answer was built with `json!`: the keys
    // keep their sorted order.
    sorted_json(&SettingsView {
        engine: EngineSettings::from(state.fleet.settings()),
        licence_token_configured: state.fleet.has_licence_token(),
        server: ServerSettings {
            body_limit_bytes: options.body_limit_bytes,
            sse_heartbeat_seconds: options.heartbeat.as_secs(),
            cookie_secure: options.cookie_secure,
            regions: options.regions.clone(),
            lablet_self_service: options.lablet_self_service,
            header_read_timeout_seconds: limits.header_read_timeout.as_secs(),
            request_timeout_seconds: limits.request_timeout.as_secs(),
            idle_timeout_seconds: limits.idle_timeout.as_secs(),
            max_connections: limits.max_connections,
            sse_streams_per_principal: limits.sse_streams_per_principal,
            sse_buffer_events: limits.sse_buffer_events,
        },
    })
}

/// `GET /api/v1/settings`.
pub fn get_contract() -> Contract {
    Contract::new().ok::<SettingsView>(200, "The engine's settings and the server's bounds")
}
