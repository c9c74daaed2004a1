//! `/api/v1/workers/{id}/labs`: the labs of a worker — list, refresh (sync from
//! CML), start, stop, wipe, delete, download (YAML) and import (YAML upload).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_api::lab as wire;
use ccm_core::fleet::{LabAction, WhenLabletsBound};
use ccm_core::ids::{CmlLabId, WorkerId};
use ccm_core::DomainError;

use super::contract::{self, Contract};
use super::error::{ApiError, ApiResult};
use super::{ApiPath, ApiQuery};
use crate::auth::Principal;
use crate::ownership;
use crate::state::AppState;

/// The labs as answered.
fn labs_answer(labs: Vec<ccm_core::lab::LabRecord>) -> Json<Vec<wire::LabRecord>> {
    Json(labs.iter().map(wire::LabRecord::from).collect())
}

/// `GET /api/v1/workers/{id}/labs`.
pub async fn list(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<wire::LabListQuery>,
) -> ApiResult<impl IntoResponse> {
    state.fleet.get_worker(id).await?;
    Ok(labs_answer(
        state.fleet.list_labs(id, query.include_gone).await?,
    ))
}

/// `POST /api/v1/workers/{id}/labs/refresh`: mirrors the worker's labs from CML now.
pub async fn refresh(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    state.fleet.sync_worker_labs(id, None).await?;
    Ok(labs_answer(state.fleet.list_labs(id, false).await?))
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
    Ok(labs_answer(labs))
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
    ApiQuery(query): ApiQuery<wire::LabForceQuery>,
) -> ApiResult<impl IntoResponse> {
    act(&state, who, id, lab, LabAction::Wipe, query.force).await
}

/// `DELETE /api/v1/workers/{id}/labs/{lab}?force=`: stops, wipes and deletes the lab.
pub async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath((id, lab)): ApiPath<(WorkerId, String)>,
    ApiQuery(query): ApiQuery<wire::LabForceQuery>,
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

/// `POST /api/v1/workers/{id}/labs?title=`: imports the YAML topology in the body.
pub async fn import(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<wire::LabImportQuery>,
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
    Ok((StatusCode::CREATED, Json(wire::LabRecord::from(&lab))))
}

const UNKNOWN_WORKER: &str = "No worker has this id";
const CML_CONFLICT: &str = "The worker's CML refused the operation in the lab's state (`cml_rejected`), or the lab record changed concurrently (`conflict`)";
const CML_FAILED: &str =
    "The worker's CML failed (`cml_error`) or presented a changed certificate (`cml_certificate_changed`)";
const CML_UNAVAILABLE: &str =
    "The worker's CML is not reachable or still starting (`cml_unavailable`)";
const NO_ENDPOINT: &str =
    "The worker cannot take lab operations now (`validation_failed`): it has no CML endpoint to reach or its endpoint is not allowed, it is not running with CML available, or it is being stopped or terminated";

/// `GET /api/v1/workers/{id}/labs`.
pub fn list_contract() -> Contract {
    Contract::new()
        .query::<wire::LabListQuery>()
        .ok_list::<wire::LabRecord>(200, "The worker's labs as last synchronised")
        .error(404, UNKNOWN_WORKER)
}

/// `POST /api/v1/workers/{id}/labs/refresh`.
pub fn refresh_contract() -> Contract {
    Contract::new()
        .ok_list::<wire::LabRecord>(200, "The worker's labs, synchronised from its CML now")
        .error(404, UNKNOWN_WORKER)
        .error(409, CML_CONFLICT)
        .error(422, NO_ENDPOINT)
        .error(502, CML_FAILED)
        .error(503, CML_UNAVAILABLE)
}

/// A lab operation: the worker's labs after it, 404 for an unknown worker or lab.
fn operation(description: &'static str) -> Contract {
    Contract::new()
        .ok_list::<wire::LabRecord>(200, description)
        .error(404, "No worker has this id, or its CML has no such lab")
        .error(422, NO_ENDPOINT)
        .error(502, CML_FAILED)
        .error(503, CML_UNAVAILABLE)
}

/// `POST /api/v1/workers/{id}/labs/{lab}/start`.
pub fn start_contract() -> Contract {
    operation("The worker's labs, the lab started").error(409, CML_CONFLICT)
}

/// `POST /api/v1/workers/{id}/labs/{lab}/stop`.
pub fn stop_contract() -> Contract {
    operation("The worker's labs, the lab stopped").error(409, CML_CONFLICT)
}

const LAB_IN_USE: &str = "The lab is a lablet's and `force` is not set (`lab_in_use`), the worker's CML refused (`cml_rejected`), or a record changed concurrently (`conflict`)";

/// `POST /api/v1/workers/{id}/labs/{lab}/wipe`.
pub fn wipe_contract() -> Contract {
    operation("The worker's labs, the lab wiped (a lablet's lab: the lablet cancelled)")
        .query::<wire::LabForceQuery>()
        .error(409, LAB_IN_USE)
}

/// `DELETE /api/v1/workers/{id}/labs/{lab}`.
pub fn delete_contract() -> Contract {
    operation("The worker's labs, the lab stopped, wiped and deleted (a lablet's lab: the lablet cancelled)")
        .query::<wire::LabForceQuery>()
        .error(409, LAB_IN_USE)
}

/// `GET /api/v1/workers/{id}/labs/{lab}/topology`.
pub fn download_contract() -> Contract {
    Contract::new()
        .ok_as(
            200,
            "The lab's topology as CML exports it (an attachment `lab-<id>.yaml`)",
            "application/yaml",
            Some(contract::text()),
        )
        .error(
            404,
            "No worker has this id, its CML has no such lab, or (users) the lab is not one of their lablets'",
        )
        .error(409, "The worker's CML refused the export (`cml_rejected`)")
        .error(422, NO_ENDPOINT)
        .error(502, CML_FAILED)
        .error(503, CML_UNAVAILABLE)
}

/// `POST /api/v1/workers/{id}/labs`.
pub fn import_contract() -> Contract {
    Contract::new()
        .query::<wire::LabImportQuery>()
        .body_as("application/yaml", contract::text())
        .ok::<wire::LabRecord>(201, "The imported lab")
        .error(404, UNKNOWN_WORKER)
        .error(409, "The worker's CML refused the topology (`cml_rejected`), or a record changed concurrently (`conflict`)")
        .error(413, "The topology is larger than `topology_limits` allow")
        .error(
            422,
            "The body is not UTF-8 YAML or not a valid topology within the limits (nodes, links, depth), or the worker has no CML endpoint to reach",
        )
        .error(502, CML_FAILED)
        .error(503, CML_UNAVAILABLE)
}
