//! The browser login with the OIDC provider: `GET /auth/login` sends the browser
//! to the provider (authorization code + PKCE), `GET /auth/callback` completes the
//! login and sets the session cookies. Logout is `POST /logout` (see `system`).

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::system::session_redirect;
use super::ApiQuery;
use crate::auth::oidc_login::LoginError;
use crate::state::AppState;

fn login_error(error: LoginError) -> ApiError {
    match error {
        LoginError::Refused(reason) => {
            tracing::info!(%reason, "browser login refused");
            ApiError::unauthenticated(format!("login failed: {reason}"))
        }
        unavailable @ LoginError::Unavailable(_) => ApiError::unavailable(&unavailable),
    }
}

/// Query of `/auth/login`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginQuery {
    /// Local path to return to after login.
    pub return_to: Option<String>,
    /// Passed to the provider as `login_hint`.
    pub login_hint: Option<String>,
}

/// `GET /auth/login`: redirects to the provider.
pub async fn login(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<LoginQuery>,
) -> ApiResult<Response> {
    let login = state
        .oidc_login
        .as_ref()
        .ok_or_else(|| ApiError::not_found("no OIDC login is configured (auth.oidc.client_id)"))?;
    let url = login
        .start(query.return_to.as_deref(), query.login_hint.as_deref())
        .await
        .map_err(login_error)?;
    let location = HeaderValue::from_str(&url).map_err(|e| ApiError::internal(&e))?;
    let mut response = StatusCode::SEE_OTHER.into_response();
    response.headers_mut().insert(LOCATION, location);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Query of `/auth/callback`.
#[derive(Debug, Default, Deserialize)]
pub struct CallbackQuery {
    /// Authorization code.
    pub code: Option<String>,
    /// The state sent at login.
    pub state: Option<String>,
    /// Error reported by the provider.
    pub error: Option<String>,
    /// Its description.
    pub error_description: Option<String>,
}

/// `GET /auth/callback`: completes the login, sets the session cookies and goes
/// back to where the login started.
pub async fn callback(
    State(state): State<AppState>,
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
        .finish(&code, &login_state)
        .await
        .map_err(login_error)?;
    let (id, session) = state
        .sessions
        .open_with(&done.subject, done.role, Some(done.tokens));
    let location = HeaderValue::from_str(&done.return_to).map_err(|e| ApiError::internal(&e))?;
    session_redirect(&state, &id, &session.csrf, location)
}
