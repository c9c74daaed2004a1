//! System endpoints: `/healthz` (process up, no auth), `/readyz` (store reachable,
//! lease state), `/metrics` (Prometheus), the caller's session (`/api/v1/session`),
//! the one-time admin login link (`/login/once`) and `/logout`.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult};
use super::ApiQuery;
use crate::auth::session::{cookie, CSRF_COOKIE, SESSION_COOKIE};
use crate::auth::{AuthMethod, Principal};
use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the store answers; says whether this process leads.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let store = state.store.last_sequence().await;
    let fence = state.elector.fence();
    let lease = json!({
        "leading": fence.is_some(),
        "holder": state.elector.holder(),
        "token": fence.map(|f| f.token),
    });
    match store {
        Ok(sequence) => Json(json!({
            "status": "ready",
            "store": { "reachable": true, "last_sequence": sequence },
            "lease": lease,
        }))
        .into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness: store unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "not_ready",
                    "store": { "reachable": false },
                    "lease": lease,
                })),
            )
                .into_response()
        }
    }
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
    let (id, session) = state
        .sessions
        .redeem(&query.token)
        .ok_or_else(|| ApiError::unauthenticated("this login link was used already or expired"))?;
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
            if let Some(session) = state.sessions.take(id) {
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
