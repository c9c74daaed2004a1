//! System endpoints: the probes `/livez` (alias `/healthz`) and `/readyz`, public
//! and status-only; the admins' view of leadership and relay progress
//! (`/api/v1/system/leadership`); `/metrics` (Prometheus); the caller's session
//! (`/api/v1/session`), the one-time admin login link (`/login/once`) and `/logout`.

use std::time::Duration;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use ccm_core::ports::store::Lease;
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::ApiQuery;
use crate::auth::session::{cookie, CSRF_COOKIE, SESSION_COOKIE};
use crate::auth::{AuthMethod, Principal};
use crate::state::AppState;

/// Longest wait for the store before `/readyz` says not ready: a probe must answer
/// within its own timeout, and a store that slow cannot serve requests anyway.
pub const READY_WITHIN: Duration = Duration::from_secs(2);

/// Key-value namespace of the relay cursors: the relays' own (one home).
pub use ccm_core::runtime::relay::RELAY_NAMESPACE as RELAY_CURSOR_NAMESPACE;

/// Most relay cursors shown (one per sink: a deployment has a handful).
const MAX_RELAY_CURSORS: usize = 100;

/// A probe's answer: status only, never cached. Probes are anonymous, so their
/// bodies name no holder, version or address.
fn probe_answer(status: StatusCode, body: Value) -> Response {
    (status, [(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET /livez` (and `/healthz`): the process is up and its runtime answers. It
/// touches no store, so a database outage never gets healthy processes restarted.
pub async fn livez() -> Response {
    probe_answer(StatusCode::OK, json!({ "status": "ok" }))
}

/// `GET /readyz`: `200 {"status":"ready"}` when the store answers within
/// [`READY_WITHIN`], else `503 {"status":"not_ready","reason":"store"}` (the
/// cause is logged, not shown).
pub async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_WITHIN, state.store.last_sequence()).await {
        Ok(Ok(_)) => probe_answer(StatusCode::OK, json!({ "status": "ready" })),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the store failed");
            not_ready()
        }
        Err(_) => {
            tracing::warn!(
                within_seconds = READY_WITHIN.as_secs(),
                "readiness: the store did not answer in time"
            );
            not_ready()
        }
    }
}

fn not_ready() -> Response {
    probe_answer(
        StatusCode::SERVICE_UNAVAILABLE,
        json!({ "status": "not_ready", "reason": "store" }),
    )
}

/// A relay cursor as the relays store it.
#[derive(Debug, Deserialize)]
struct StoredCursor {
    sequence: u64,
    #[serde(default)]
    updated_at: Option<Timestamp>,
}

/// One relay's progress through the event log.
#[derive(Debug, Serialize)]
pub struct RelayProgress {
    /// The sink the relay feeds (the cursor's key).
    pub sink: String,
    /// Sequence of the last event the sink took (absent when unreadable).
    pub sequence: Option<u64>,
    /// When the cursor last moved.
    pub updated_at: Option<Timestamp>,
    /// Events committed but not yet taken by the sink.
    pub lag: Option<u64>,
    /// Why the cursor could not be read (its value is not shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
}

impl RelayProgress {
    fn read(sink: String, value: &str, last_sequence: u64) -> Self {
        match serde_json::from_str::<StoredCursor>(value) {
            Ok(cursor) => Self {
                sink,
                sequence: Some(cursor.sequence),
                updated_at: cursor.updated_at,
                lag: Some(last_sequence.saturating_sub(cursor.sequence)),
                error: None,
            },
            Err(_) => Self {
                sink,
                sequence: None,
                updated_at: None,
                lag: None,
                error: Some("unreadable cursor"),
            },
        }
    }
}

/// The stored lease and whether it is still in force.
#[derive(Debug, Serialize)]
pub struct LeaseView {
    /// The lease as stored.
    #[serde(flatten)]
    pub lease: Lease,
    /// `expires_at` is still ahead.
    pub live: bool,
}

/// `GET /api/v1/system/leadership` (admin): this process's holder name and
/// whether it leads, the lease record in the store, the log's last sequence and
/// every relay cursor with its lag behind the log.
pub async fn leadership(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let now = state.fleet.clock().now();
    let elector = &state.elector;
    let fence = elector.fence();
    let lease = state
        .store
        .get_lease(&elector.settings().name)
        .await?
        .map(|lease| LeaseView {
            live: lease.expires_at > now,
            lease,
        });
    let last_sequence = state.store.last_sequence().await?;
    let relays: Vec<RelayProgress> = state
        .kv
        .list(RELAY_CURSOR_NAMESPACE, now, MAX_RELAY_CURSORS)
        .await?
        .into_iter()
        .map(|entry| RelayProgress::read(entry.key, &entry.value, last_sequence))
        .collect();
    Ok((
        [(CACHE_CONTROL, "no-store")],
        Json(json!({
            "holder": elector.holder(),
            "leading": fence.is_some(),
            "fence_token": fence.map(|f| f.token),
            "lease": lease,
            "log": { "last_sequence": last_sequence },
            "relays": relays,
        })),
    ))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let text = crate::metrics::render(&state).await?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    ))
}

/// `GET /api/v1/session`: who the caller is; for a browser session also the CSRF
/// token to send in `x-csrf-token`; and whether they may book lablets.
pub async fn session(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> impl IntoResponse {
    let csrf = match &who.method {
        AuthMethod::Session { csrf } => Some(csrf.clone()),
        _ => None,
    };
    let can_book =
        crate::ownership::booking_owner(&who, None, state.options.lablet_self_service).is_ok();
    Json(json!({
        "subject": who.subject,
        "role": who.role,
        "method": who.method,
        "csrf_token": csrf,
        "can_book_lablets": can_book,
    }))
}

/// Query of `/login/once`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnceQuery {
    /// The one-time token from the link printed at start.
    pub token: String,
}

pub(crate) fn cookie_header(
    name: &str,
    value: &str,
    max_age: u64,
    http_only: bool,
    secure: bool,
) -> String {
    let mut header = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Strict");
    if http_only {
        header.push_str("; HttpOnly");
    }
    if secure {
        header.push_str("; Secure");
    }
    header
}

pub(crate) fn set_cookie(response: &mut Response, value: &str) -> ApiResult<()> {
    let value = HeaderValue::from_str(value).map_err(|e| ApiError::internal(&e))?;
    response.headers_mut().append(SET_COOKIE, value);
    Ok(())
}

/// `GET /login/once?token=`: exchanges the one-time admin token for a session
/// cookie and goes to the dashboard.
pub async fn login_once(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<OnceQuery>,
) -> ApiResult<Response> {
    let (id, session) =
        state.sessions.redeem(&query.token).await?.ok_or_else(|| {
            ApiError::unauthenticated("this login link was used already or expired")
        })?;
    session_redirect(&state, &id, &session.csrf, HeaderValue::from_static("/"))
}

/// A `303` to `location` that sets the cookies of a new browser session: the
/// httpOnly session id and the CSRF token the page echoes in a header.
pub fn session_redirect(
    state: &AppState,
    id: &str,
    csrf: &str,
    location: HeaderValue,
) -> ApiResult<Response> {
    let ttl = state.sessions.ttl().as_secs();
    let secure = state.options.cookie_secure;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, location);
    set_cookie(
        &mut response,
        &cookie_header(SESSION_COOKIE, id, ttl, true, secure),
    )?;
    set_cookie(
        &mut response,
        &cookie_header(CSRF_COOKIE, csrf, ttl, false, secure),
    )?;
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /logout`: ends the browser session and clears its cookies. For a session
/// from the OIDC login the answer names the provider's logout URL
/// (`{"end_session_url"}`) to send the browser to.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let mut end_session_url = None;
    for header in headers.get_all(axum::http::header::COOKIE) {
        if let Some(id) = header.to_str().ok().and_then(|h| cookie(h, SESSION_COOKIE)) {
            if let Some(session) = state.sessions.take(id).await? {
                if let (Some(_), Some(login)) = (&session.tokens, &state.oidc_login) {
                    end_session_url = login.end_session_url().await;
                }
            }
        }
    }
    let secure = state.options.cookie_secure;
    let mut response = match end_session_url {
        Some(url) => Json(json!({ "end_session_url": url })).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    set_cookie(
        &mut response,
        &cookie_header(SESSION_COOKIE, "", 0, true, secure),
    )?;
    set_cookie(
        &mut response,
        &cookie_header(CSRF_COOKIE, "", 0, false, secure),
    )?;
    Ok(response)
}
