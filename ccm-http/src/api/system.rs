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
use ccm_api::system::{
    Leadership, LeaseView, LogPosition, LoginOnceQuery, LogoutAnswer, ProbeStatus, RelayProgress,
    Role as WireRole, Session, SessionMethod,
};
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::contract::{self, Contract};
use super::error::{ApiError, ApiResult};
use super::ApiQuery;
use crate::auth::session::{cookie, CSRF_COOKIE, SESSION_COOKIE};
use crate::auth::{AuthMethod, Principal, Role};
use crate::state::AppState;

/// `answer` as JSON with its object keys in sorted order, as the answers built
/// with `json!` before they had wire types were written: the same bytes.
pub(crate) fn sorted_json<T: Serialize>(answer: &T) -> ApiResult<Json<Value>> {
    serde_json::to_value(answer)
        .map(Json)
        .map_err(|e| ApiError::internal(&e))
}

/// Longest wait for the store before `/readyz` says not ready: a probe must answer
/// within its own timeout, and a store that slow cannot serve requests anyway.
pub const READY_WITHIN: Duration = Duration::from_secs(2);

/// Key-value namespace of the relay cursors: the relays' own (one home).
pub use ccm_core::runtime::relay::RELAY_NAMESPACE as RELAY_CURSOR_NAMESPACE;

/// Most relay cursors shown (one per sink: a deployment has a handful).
const MAX_RELAY_CURSORS: usize = 100;

/// A probe's answer: status only, never cached. Probes are anonymous, so their
/// bodies name no holder, version or address.
fn probe_answer(status: StatusCode, body: ProbeStatus) -> Response {
    (status, [(CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET /livez` (and `/healthz`): the process is up and its runtime answers. It
/// touches no store, so a database outage never gets healthy processes restarted.
pub async fn livez() -> Response {
    probe_answer(StatusCode::OK, ProbeStatus::ok())
}

/// `GET /readyz`: `200 {"status":"ready"}` when the store answers within
/// [`READY_WITHIN`], else `503 {"status":"not_ready","reason":"store"}` (the
/// cause is logged, not shown).
pub async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(READY_WITHIN, state.store.last_sequence()).await {
        Ok(Ok(_)) => probe_answer(StatusCode::OK, ProbeStatus::ready()),
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
        ProbeStatus::not_ready("store"),
    )
}

/// A relay cursor as the relays store it.
#[derive(Debug, Deserialize)]
struct StoredCursor {
    sequence: u64,
    #[serde(default)]
    updated_at: Option<Timestamp>,
}

/// One relay's progress: its cursor as stored, read against the log's last
/// sequence.
fn relay_progress(sink: String, value: &str, last_sequence: u64) -> RelayProgress {
    match serde_json::from_str::<StoredCursor>(value) {
        Ok(cursor) => RelayProgress {
            sink,
            sequence: Some(cursor.sequence),
            updated_at: cursor.updated_at,
            lag: Some(last_sequence.saturating_sub(cursor.sequence)),
            error: None,
        },
        Err(_) => RelayProgress {
            sink,
            sequence: None,
            updated_at: None,
            lag: None,
            error: Some("unreadable cursor".to_owned()),
        },
    }
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
        .map(|lease| LeaseView::new(&lease, now));
    let last_sequence = state.store.last_sequence().await?;
    let relays: Vec<RelayProgress> = state
        .kv
        .list(RELAY_CURSOR_NAMESPACE, now, MAX_RELAY_CURSORS)
        .await?
        .into_iter()
        .map(|entry| relay_progress(entry.key, &entry.value, last_sequence))
        .collect();
    Ok((
        [(CACHE_CONTROL, "no-store")],
        sorted_json(&Leadership {
            holder: elector.holder().to_owned(),
            leading: fence.is_some(),
            fence_token: fence.map(|f| f.token),
            lease,
            log: LogPosition { last_sequence },
            relays,
        })?,
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
) -> ApiResult<impl IntoResponse> {
    let csrf = match &who.method {
        AuthMethod::Session { csrf } => Some(csrf.clone()),
        _ => None,
    };
    let can_book =
        crate::ownership::booking_owner(&who, None, state.options.lablet_self_service).is_ok();
    sorted_json(&Session {
        subject: who.subject,
        role: match who.role {
            Role::User => WireRole::User,
            Role::Manager => WireRole::Manager,
            Role::Admin => WireRole::Admin,
        },
        method: match who.method {
            AuthMethod::ApiKey { id } => SessionMethod::ApiKey { id: id.0 },
            AuthMethod::Jwt => SessionMethod::Jwt,
            AuthMethod::Session { .. } => SessionMethod::Session,
        },
        csrf_token: csrf,
        can_book_lablets: can_book,
    })
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
    ApiQuery(query): ApiQuery<LoginOnceQuery>,
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
        Some(end_session_url) => Json(LogoutAnswer { end_session_url }).into_response(),
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

/// `GET /livez` and `GET /healthz`.
pub fn livez_contract() -> Contract {
    Contract::new().ok::<ProbeStatus>(200, "The process is up (`{\"status\": \"ok\"}`)")
}

/// `GET /readyz`.
pub fn readyz_contract() -> Contract {
    Contract::new()
        .ok::<ProbeStatus>(200, "The store answers (`{\"status\": \"ready\"}`)")
        .ok::<ProbeStatus>(
            503,
            "The store did not answer within 2 s (`{\"status\": \"not_ready\", \"reason\": \"store\"}`)",
        )
}

/// `GET /api/v1/system/leadership`.
pub fn leadership_contract() -> Contract {
    Contract::new()
        .ok::<Leadership>(
            200,
            "This process's leadership, the stored lease, the log and the relays",
        )
        .error(503, "The store is unavailable (`unavailable`)")
}

/// `GET /metrics`.
pub fn metrics_contract() -> Contract {
    Contract::new()
        .ok_as(
            200,
            "Prometheus text exposition format (version 0.0.4)",
            "text/plain",
            Some(contract::text()),
        )
        .error(503, "The store is unavailable (`unavailable`)")
}

/// `GET /api/v1/session`.
pub fn session_contract() -> Contract {
    Contract::new().ok::<Session>(200, "Who the caller is")
}

/// `GET /login/once`.
pub fn login_once_contract() -> Contract {
    Contract::new()
        .query::<LoginOnceQuery>()
        .ok_empty(
            303,
            "To the dashboard (`Location: /`), with the session and CSRF cookies set",
        )
        .error(
            401,
            "The link was used already or expired (`unauthenticated`)",
        )
        .error(503, "The store is unavailable (`unavailable`)")
}

/// `POST /logout`.
pub fn logout_contract() -> Contract {
    Contract::new()
        .ok_empty(204, "The session ended and its cookies cleared")
        .ok::<LogoutAnswer>(
            200,
            "The session ended and its cookies cleared; send the browser to the provider's logout",
        )
        .error(503, "The store is unavailable (`unavailable`)")
}

#[cfg(test)]
mod tests {
    use ccm_api::Example;
    use ccm_core::api_key::ApiKeyId;
    use ccm_core::ports::store::Lease;
    use serde_json::json;

    use super::*;

    fn bytes(answer: ApiResult<Json<Value>>) -> String {
        answer.map(|Json(v)| v.to_string()).unwrap_or_default()
    }

    #[test]
    fn the_session_keeps_the_bytes_json_wrote() {
        let id = ApiKeyId(uuid::Uuid::from_u128(7));
        for (method, wire) in [
            (
                AuthMethod::ApiKey { id },
                SessionMethod::ApiKey { id: id.0 },
            ),
            (AuthMethod::Jwt, SessionMethod::Jwt),
            (
                AuthMethod::Session { csrf: "c".into() },
                SessionMethod::Session,
            ),
        ] {
            let before = json!({
                "subject": "alice",
                "role": Role::Manager,
                "method": method,
                "csrf_token": Some("c"),
                "can_book_lablets": true,
            });
            let after = sorted_json(&Session {
                subject: "alice".into(),
                role: WireRole::Manager,
                method: wire,
                csrf_token: Some("c".into()),
                can_book_lablets: true,
            });
            assert_eq!(bytes(after), before.to_string());
        }
    }

    #[test]
    fn leadership_keeps_the_bytes_json_wrote() {
        #[derive(Serialize)]
        struct OldLeaseView {
            #[serde(flatten)]
            lease: Lease,
            live: bool,
        }
        let now = ccm_core::time::epoch();
        let lease = Lease {
            name: "controllers".into(),
            holder: "h".into(),
            token: 3,
            expires_at: now,
        };
        let relays = vec![
            relay_progress("webhook".into(), r#"{"sequence": 5}"#, 9),
            relay_progress("audit".into(), "not json", 9),
        ];
        let before = json!({
            "holder": "h",
            "leading": true,
            "fence_token": Some(3),
            "lease": Some(OldLeaseView { lease: lease.clone(), live: false }),
            "log": { "last_sequence": 9 },
            "relays": [
                {"sink": "webhook", "sequence": 5, "updated_at": null, "lag": 4},
                {"sink": "audit", "sequence": null, "updated_at": null, "lag": null, "error": "unreadable cursor"},
            ],
        });
        let after = sorted_json(&Leadership {
            holder: "h".into(),
            leading: true,
            fence_token: Some(3),
            lease: Some(LeaseView::new(&lease, now)),
            log: LogPosition { last_sequence: 9 },
            relays,
        });
        assert_eq!(bytes(after), before.to_string());
        assert!(sorted_json(&Leadership::example()).is_ok());
    }
}
