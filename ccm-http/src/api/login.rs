//! The browser login with the OIDC provider: `GET /auth/login` sends the browser
//! to the provider (authorization code + PKCE) and gives it the login cookie that
//! binds the login to it, `GET /auth/callback` completes the login only for that
//! browser and sets the session cookies. Logout is `POST /logout` (see `system`).

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, COOKIE, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use ccm_api::login::{CallbackQuery, LoginQuery};

use super::contract::Contract;
use super::error::{ApiError, ApiResult};
use super::system::{session_redirect, set_cookie};
use super::ApiQuery;
use crate::auth::oidc_login::LoginError;
use crate::auth::pending::{ReturnTo, PENDING_TTL};
use crate::auth::session::{cookie, random_token};
use crate::state::AppState;

/// The cookie binding a login to the browser that started it (login CSRF).
pub const LOGIN_COOKIE: &str = "ccm_login";

/// The login cookie: only sent to `/auth`, and `SameSite=Lax` because the
/// provider's redirect to the callback is a cross-site navigation.
fn login_cookie(value: &str, max_age: u64, secure: bool) -> String {
    let mut header =
        format!("{LOGIN_COOKIE}={value}; Path=/auth; Max-Age={max_age}; SameSite=Lax; HttpOnly");
    if secure {
        header.push_str("; Secure");
    }
    header
}

/// The browser's login binding, when it sent a well-formed one.
fn binding_of(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|h| cookie(h, LOGIN_COOKIE))
        .find(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn login_error(error: LoginError) -> ApiError {
    match error {
        LoginError::Refused(reason) => {
            tracing::info!(%reason, "browser login refused");
            ApiError::unauthenticated(format!("login failed: {reason}"))
        }
        unavailable @ LoginError::Unavailable(_) => ApiError::unavailable(&unavailable),
    }
}

/// `GET /auth/login`: redirects to the provider. A browser keeps its binding
/// across logins, so logins started in several tabs all complete.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<LoginQuery>,
) -> ApiResult<Response> {
    let login = state
        .oidc_login
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no OIDC login is configured (auth.oidc.client_id)"))?;
    let return_to = ReturnTo::parse(query.return_to.as_deref())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let binding = binding_of(&headers).map_or_else(random_token, str::to_owned);
    let url = login
        .start(return_to, query.login_hint.as_deref(), &binding)
        .await
        .map_err(login_error)?;
    let location = HeaderValue::from_str(&url).map_err(|e| ApiError::internal(&e))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, location);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let secure = state.options.cookie_secure;
    set_cookie(
        &mut response,
        &login_cookie(&binding, PENDING_TTL.as_secs(), secure),
    )?;
    Ok(response)
}

/// What `GET /auth/login` takes and answers.
pub fn login_contract() -> Contract {
    Contract::new()
        .query::<LoginQuery>()
        .ok_empty(
            303,
            "To the provider's login page (`Location`), with the login binding cookie",
        )
        .error(400, "`return_to` is not a local path")
        .error(404, "No OIDC login is configured (auth.oidc.client_id)")
        .error(401, "The provider refused to start the login")
}

/// What `GET /auth/callback` takes and answers.
pub fn callback_contract() -> Contract {
    Contract::new()
        .query::<CallbackQuery>()
        .ok_empty(
            303,
            "Logged in: the session cookies are set and `Location` goes back to where the login started",
        )
        .error(400, "`code` and `state` are required")
        .error(401, "The provider refused the login, or the state or code is invalid or expired")
        .error(404, "No OIDC login is configured")
}

/// `GET /auth/callback`: completes the login, sets the session cookies and goes
/// back to where the login started.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<CallbackQuery>,
) -> ApiResult<Response> {
    let login = state
        .oidc_login
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no OIDC login is configured"))?;
    if let Some(error) = query.error {
        return Err(ApiError::unauthenticated(format!(
            "the identity provider refused the login: {error} {}",
            query.error_description.unwrap_or_default()
        )));
    }
    let (Some(code), Some(login_state)) = (query.code, query.state) else {
        return Err(ApiError::bad_request("code and state are required"));
    };
    let done = login
        .finish(&code, &login_state, binding_of(&headers))
        .await
        .map_err(login_error)?;
    let (id, session) = state
        .sessions
        .open(&done.subject, done.role, Some(done.tokens))
        .await?;
    // `ReturnTo` is always a valid header; the fallback only keeps a completed
    // login from ever ending in a 500.
    let location = HeaderValue::from_str(done.return_to.as_str())
        .unwrap_or_else(|_| HeaderValue::from_static("/"));
    session_redirect(&state, &id, &session.csrf, location)
}
