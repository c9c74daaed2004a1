//! The REST API under `/api/v1` (JSON), the system endpoints and the router that
//! puts them together with authorisation, metrics, body limits and error bodies.

pub mod capacity;
pub mod contract;
pub mod error;
pub mod events;
pub mod jobs;
pub mod keys;
pub mod lablets;
pub mod labs;
pub mod login;
pub mod page;
pub mod page_cache;
pub mod routes;
pub mod settings;
pub mod system;
pub mod worker_tls;
pub mod workers;

use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;

use self::error::ApiError;
use crate::state::AppState;

/// JSON body extractor whose rejections are API error bodies.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Query extractor whose rejections are API error bodies.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// Path extractor whose rejections are API error bodies.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// Wakes the engine driver after a successful state-changing request, so the
/// controller it nudged runs now rather than at the next due time.
async fn nudge_driver(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let changing = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    let response = next.run(request).await;
    if changing && response.status().is_success() {
        state.nudge.notify_one();
    }
    response
}

/// Turns axum's bare 405 into an API error body.
async fn method_not_allowed(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not take that method",
        )
        .into_response();
    }
    response
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for spec in routes::ROUTES {
        router = router.route(spec.path, (spec.handler)());
    }
    router
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            crate::auth::middleware::authorize,
        ))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::limits::request_timeout::limit_request_time,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), nudge_driver))
        .layer(middleware::from_fn(method_not_allowed))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track_requests,
        ))
        .layer(middleware::from_fn(crate::telemetry::trace::trace_requests))
        .layer(DefaultBodyLimit::max(state.options.body_limit_bytes))
        .with_state(state)
}
