//! `/api/v1/workers/{id}/labs`: the labs of a worker — list, refresh (sync from
//! CML), start, stop, wipe, delete, download (YAML) and import (YAML upload).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_core::fleet::{LabAction, WhenLabletsBound};
use ccm_core::ids::{CmlLabId, WorkerId};
use ccm_core::DomainError;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::{ApiPath, ApiQuery};
use crate::auth::Principal;
use crate::ownership;
use crate::state::AppState;

/// Query of `GET /workers/{id}/labs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Include labs gone from CML.
    #[serde(default)]
    pub include_gone: bool,
}

/// `GET /api/v1/workers/{id}/labs`.
pub async fn list(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    state.fleet.get_worker(id).await?;
    Ok(Json(state.fleet.list_labs(id, query.include_gone).await?))
}

/// `POST /api/v1/workers/{id}/labs/refresh`: mirrors the worker's labs from CML now.
pub async fn refresh(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    state.fleet.sync_worker_labs(id, None).await?;
    Ok(Json(state.fleet.list_labs(id, false).await?))
}

/// Query of the lab operations that destroy what a student works on (wipe,
/// delete).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceQuery {
    /// Go ahead with the lab of a lablet (409 `lab_in_use` otherwise); the
    /// lablet is cancelled.
    #[serde(default)]
    pub force: bool,
}

async fn act(
    state: &AppState,
    who: Principal,
    id: WorkerId,
    lab: String,
    action: LabAction,
    force: bool,
) -> ApiResult<impl IntoResponse> {
    let labs = state
        .fleet
        .lab_action(
            id,
            &CmlLabId::new(lab),
            action,
            WhenLabletsBound::forced(force),
            Some(who.subject),
        )
        .await?;
    Ok(Json(labs))
}

/// `POST /api/v1/workers/{id}/labs/{lab}/start`.
pub async fn start(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath((id, lab)): ApiPath<(WorkerId, String)>,
) -> ApiResult<impl IntoResponse> {
    act(&state, who, id, lab, LabAction::Start, false).await
}

/// `POST /api/v1/workers/{id}/labs/{lab}/stop`.
pub async fn stop(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath((id, lab)): ApiPath<(WorkerId, String)>,
) -> ApiResult<impl IntoResponse> {
    act(&state, who, id, lab, LabAction::Stop, false).await
}

/// `POST /api/v1/workers/{id}/labs/{lab}/wipe?force=`.
pub async fn wipe(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath((id, lab)): ApiPath<(WorkerId, String)>,
    ApiQuery(query): ApiQuery<ForceQuery>,
) -> ApiResult<impl IntoResponse> {
    act(&state, who, id, lab, LabAction::Wipe, query.force).await
}

/// `DELETE /api/v1/workers/{id}/labs/{lab}?force=`: stops, wipes and deletes the lab.
pub async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath((id, lab)): ApiPath<(WorkerId, String)>,
    ApiQuery(query): ApiQuery<ForceQuery>,
) -> ApiResult<impl IntoResponse> {
    act(&state, who, id, lab, LabAction::Delete, query.force).await
}

/// `GET /api/v1/workers/{id}/labs/{lab}/topology`: the lab as CML exports it
/// (YAML). A topology can carry device credentials, so a user downloads only the
/// lab of one of their own lablets; any other answers like a missing lab.
pub async fn download(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath((id, lab)): ApiPath<(WorkerId, String)>,
) -> ApiResult<impl IntoResponse> {
    let cml_lab = CmlLabId::new(lab.clone());
    if !ownership::may_access_lab(state.store.as_ref(), &who, id, &cml_lab).await? {
        return Err(DomainError::NotFound {
            kind: "lab",
            id: lab,
        }
        .into());
    }
    let yaml = state.fleet.download_lab(id, &cml_lab).await?;
    let safe: String = lab
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    Ok((
        [
            (header::CONTENT_TYPE, "application/yaml".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"lab-{safe}.yaml\""),
            ),
        ],
        yaml,
    ))
}

/// Query of `POST /workers/{id}/labs`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Lab title (the topology's when absent).
    pub title: Option<String>,
}

/// `POST /api/v1/workers/{id}/labs?title=`: imports the YAML topology in the body.
pub async fn import(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<ImportQuery>,
    body: Bytes,
) -> ApiResult<impl IntoResponse> {
    let limits = &state.fleet.settings().topology_limits;
    limits.check_size(body.len()).map_err(|e| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.to_string(),
        )
    })?;
    let yaml = std::str::from_utf8(&body)
        .map_err(|_| ApiError::invalid("topology", "must be UTF-8 YAML text"))?;
    if let Err(error) = ccm_core::topology::validate_topology_within(yaml, limits) {
        return Err(ApiError::invalid("topology", error.to_string()));
    }
    let lab = state
        .fleet
        .import_lab(id, yaml, query.title.as_deref(), Some(who.subject))
        .await?;
    Ok((StatusCode::CREATED, Json(lab)))
}
