//! The authorisation layer: every routed request is looked up in the route table by
//! its method and matched path; public routes pass, every other one needs an
//! authenticated caller with at least the route's role. A route missing from the
//! table is refused (fail closed).

use axum::extract::{MatchedPath, NestedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api_keys::{self, KEY_PREFIX};
use super::jwt::JwtError;
use super::session::{cookie, same_secret, Session, CSRF_HEADER, SESSION_COOKIE};
use super::{Access, AuthMethod, Principal};
use crate::api::error::ApiError;
use crate::api::routes;
use crate::state::AppState;

fn unauthenticated(message: &str) -> Response {
    ApiError::unauthenticated(message).into_response()
}

/// The caller of a request, `Ok(None)` when it carries no credentials.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Response> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        let text = value
            .to_str()
            .map_err(|_| unauthenticated("unreadable Authorization header"))?;
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or_else(|| unauthenticated("Authorization must be `Bearer <token>`"))?;
        if token.starts_with(KEY_PREFIX) {
            let now = state.fleet.clock().now();
            return match api_keys::authenticate(state.store.as_ref(), token, now).await {
                Ok(Some(principal)) => Ok(Some(principal)),
                Ok(None) => Err(unauthenticated("unknown or revoked API key")),
                Err(error) => Err(ApiError::from(error).into_response()),
            };
        }
        let Some(jwt) = &state.jwt else {
            return Err(unauthenticated(
                "the bearer token is not an API key and no OIDC provider is configured",
            ));
        };
        return match jwt.verify(token).await {
            Ok(principal) => Ok(Some(principal)),
            Err(JwtError::Invalid(reason)) => {
                tracing::debug!(%reason, "JWT refused");
                Err(unauthenticated(&format!("invalid token: {reason}")))
            }
            Err(JwtError::NoRole) => {
                Err(ApiError::forbidden("the token grants no ccm role").into_response())
            }
            Err(error @ JwtError::KeysUnavailable(_)) => {
                Err(ApiError::unavailable(&error).into_response())
            }
        };
    }
    let session_id = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie(h, SESSION_COOKIE));
    if let Some(id) = session_id {
        return current_session(state, id)
            .await
            .map(|session| Some(session.principal()));
    }
    Ok(None)
}

/// The live session `id`, its OIDC tokens refreshed first when due (once for
/// all concurrent requests of every process, `super::session_refresh`).
async fn current_session(state: &AppState, id: &str) -> Result<Session, Response> {
    let found = match &state.oidc_login {
        Some(login) => super::session_refresh::current(&state.sessions, login, id).await,
        None => state.sessions.get(id).await,
    };
    match found {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(unauthenticated("the session has expired; log in again")),
        Err(error) => Err(ApiError::from(error).into_response()),
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The route-table path of a matched request: its matched path without the path
/// the router is nested at. A program that mounts ccm's router inside its own
/// (`axum::Router::nest("/ccm", server.router())`) sees `/ccm/api/v1/workers`
/// matched where the table says `/api/v1/workers`. Both come from route
/// templates, never from the request, so a caller cannot choose the answer.
pub fn table_path<'a>(matched: &'a MatchedPath, nested: Option<&NestedPath>) -> &'a str {
    let full = matched.as_str();
    let Some(prefix) = nested.map(|n| n.as_str().trim_end_matches('/')) else {
        return full;
    };
    match full.strip_prefix(prefix) {
        // The router's own `/`, nested at `/ccm`, matches as `/ccm`.
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => full,
    }
}

/// The authorisation middleware (installed with `route_layer`).
pub async fn authorize(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = matched
        .as_ref()
        .map(|m| table_path(m, request.extensions().get::<NestedPath>()));
    let access = path.and_then(|path| routes::access(&method, path));
    let Some(access) = access else {
        // A known path with another method: axum answers 405 without calling any
        // handler. Anything else is not in the table: refused.
        if path.is_some_and(routes::is_known_path) {
            return next.run(request).await;
        }
        return ApiError::forbidden("this route is not in the access table").into_response();
    };
    let needed = match access {
        Access::Public => return next.run(request).await,
        Access::AtLeast(role) => role,
    };
    let principal = match authenticate(&state, request.headers()).await {
        Ok(Some(principal)) => principal,
        Ok(None) => return unauthenticated("authentication required (Bearer token or session)"),
        Err(response) => return response,
    };
    if let AuthMethod::Session { csrf } = &principal.method {
        if !is_safe(&method) {
            let sent = request
                .headers()
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !same_secret(sent, csrf) {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "state-changing requests on a session need the x-csrf-token header",
                )
                .into_response();
            }
        }
    }
    if principal.role < needed {
        return ApiError::forbidden(format!(
            "this needs the {} role; you have {}",
            needed.as_str(),
            principal.role.as_str()
        ))
        .into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::body::Body;
    use axum::extract::{MatchedPath, NestedPath, Request};
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    use super::table_path;

    /// What `table_path` says for `uri` on `app`.
    async fn seen(app: Router, uri: &str) -> String {
        let response = app
            .oneshot(Request::builder().uri(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    fn ccm_like() -> Router {
        let answer = |request: Request| async move {
            let matched = request.extensions().get::<MatchedPath>().unwrap();
            let table = table_path(matched, request.extensions().get::<NestedPath>());
            format!("{} {table}", matched.as_str())
        };
        Router::new()
            .route("/", get(answer))
            .route("/api/v1/workers/{id}", get(answer))
    }

    #[tokio::test]
    async fn the_table_path_is_the_same_wherever_the_router_is_mounted() {
        // Each answer is "matched-path table-path": nested, axum's matched path
        // carries the mount, which the route table does not know.
        let path = "/api/v1/workers/{id}";
        assert_eq!(
            seen(ccm_like(), "/api/v1/workers/w1").await,
            format!("{path} {path}")
        );
        let nested = Router::new().nest("/ccm", ccm_like());
        assert_eq!(
            seen(nested.clone(), "/ccm/api/v1/workers/w1").await,
            format!("/ccm{path} {path}")
        );
        assert_eq!(seen(nested, "/ccm").await, "/ccm /");
        let deeper =
            Router::new().nest("/tenants/{tenant}", Router::new().nest("/ccm", ccm_like()));
        assert_eq!(
            seen(deeper, "/tenants/t1/ccm/api/v1/workers/w1").await,
            format!("/tenants/{{tenant}}/ccm{path} {path}")
        );
        let as_service = Router::new().nest_service("/ccm/", ccm_like());
        assert_eq!(
            seen(as_service, "/ccm/api/v1/workers/w1").await,
            format!("/ccm{path} {path}")
        );
    }
}
