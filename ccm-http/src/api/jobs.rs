//! `/api/v1/jobs`: the recurrent jobs with their next and last run and outcome;
//! trigger, pause and resume.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::{Extension, Json};

use ccm_api::job as wire;

use super::contract::Contract;
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
    Ok(Json(
        jobs.iter().map(wire::JobRecord::from).collect::<Vec<_>>(),
    ))
}

/// `POST /api/v1/jobs/{name}/trigger`: a run now (merged into one due within 10 s).
pub async fn trigger(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(wire::TriggerOutcome::from(
        &state.jobs.trigger(&name).await?,
    )))
}

/// `POST /api/v1/jobs/{name}/pause`.
pub async fn pause(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(wire::JobRecord::from(
        &state.jobs.set_paused(&name, true).await?,
    )))
}

/// `POST /api/v1/jobs/{name}/resume`.
pub async fn resume(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(wire::JobRecord::from(
        &state.jobs.set_paused(&name, false).await?,
    )))
}

const UNKNOWN_JOB: &str = "No job has this name";
const CONCURRENT: &str = "The job kept changing under concurrent writers (`unavailable`); retry";

/// `GET /api/v1/jobs`.
pub fn list_contract() -> Contract {
    Contract::new().ok_list::<wire::JobRecord>(
        200,
        "Every job with its next and last run and outcome (users: failures without their text)",
    )
}

/// `POST /api/v1/jobs/{name}/trigger`.
pub fn trigger_contract() -> Contract {
    Contract::new()
        .ok::<wire::TriggerOutcome>(200, "Scheduled now, or merged into a run due within 10 s")
        .error(404, UNKNOWN_JOB)
        .error(503, CONCURRENT)
}

/// `POST /api/v1/jobs/{name}/pause`.
pub fn pause_contract() -> Contract {
    Contract::new()
        .ok::<wire::JobRecord>(200, "The job, paused")
        .error(404, UNKNOWN_JOB)
        .error(503, CONCURRENT)
}

/// `POST /api/v1/jobs/{name}/resume`.
pub fn resume_contract() -> Contract {
    Contract::new()
        .ok::<wire::JobRecord>(200, "The job, resumed")
        .error(404, UNKNOWN_JOB)
        .error(503, CONCURRENT)
}
