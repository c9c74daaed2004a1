//! `/api/v1/jobs`: the recurrent jobs with their next and last run and outcome;
//! trigger, pause and resume.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::{Extension, Json};

use super::error::ApiResult;
use super::ApiPath;
use crate::auth::Principal;
use crate::state::AppState;
use crate::visibility::redact_job;

/// `GET /api/v1/jobs`: users see that a job failed, not its error text.
pub async fn list(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
) -> ApiResult<impl IntoResponse> {
    let mut jobs = state.jobs.list().await?;
    for job in &mut jobs {
        redact_job(who.role, job);
    }
    Ok(Json(jobs))
}

/// `POST /api/v1/jobs/{name}/trigger`: a run now (merged into one due within 10 s).
pub async fn trigger(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.jobs.trigger(&name).await?))
}

/// `POST /api/v1/jobs/{name}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.jobs.set_paused(&name, true).await?))
}

/// `POST /api/v1/jobs/{name}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.jobs.set_paused(&name, false).await?))
}
