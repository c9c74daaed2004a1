//! `/api/v1/definitions`, `/api/v1/lablets` and `/api/v1/placement/preview`:
//! lablet definitions (create, list, get, activate/deactivate), lablets (book,
//! list, get, cancel, delete) and a placement dry run that writes nothing. Which
//! lablets a caller sees and acts on, and for whom they book, is `crate::ownership`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_core::definition::NewDefinition;
use ccm_core::ids::{DefinitionId, LabletId, WorkerId};
use ccm_core::lablet::{Lablet, LabletPhase, NewLablet, Timeslot};
use ccm_core::placement::{self, PlacementRequest, Policy, WorkerCandidate};
use ccm_core::ports::store::{DefinitionFilter, LabletFilter, PageRequest, WorkerFilter};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use super::page::{bounds, serve_page, Page};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::Principal;
use crate::ownership::{self, OwnerScope};
use crate::state::AppState;

/// Query of `GET /definitions`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionQuery {
    /// Only versions of this name.
    pub name: Option<String>,
    /// Only active ones.
    #[serde(default)]
    pub active_only: bool,
    /// Page size.
    pub limit: Option<usize>,
    /// Page start.
    pub offset: Option<usize>,
}

/// `GET /api/v1/definitions`.
pub async fn list_definitions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DefinitionQuery>,
) -> ApiResult<impl IntoResponse> {
    let (offset, limit) = bounds(query.limit, query.offset)?;
    let all = state
        .fleet
        .list_definitions(&DefinitionFilter {
            name: query.name,
            active_only: query.active_only,
        })
        .await?;
    Ok(Json(Page::of(all, offset, limit)))
}

/// `POST /api/v1/definitions`: a new definition or a new version of one.
pub async fn create_definition(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<NewDefinition>,
) -> ApiResult<impl IntoResponse> {
    let definition = state.fleet.create_definition(body).await?;
    Ok((StatusCode::CREATED, Json(definition)))
}

/// `GET /api/v1/definitions/{id}`.
pub async fn get_definition(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DefinitionId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.get_definition(id).await?))
}

/// Body of `PUT /definitions/{id}/active`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveBody {
    /// Accept new lablets or not.
    pub active: bool,
}

/// `PUT /api/v1/definitions/{id}/active`.
pub async fn set_definition_active(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DefinitionId>,
    ApiJson(body): ApiJson<ActiveBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        state.fleet.set_definition_active(id, body.active).await?,
    ))
}

/// Query of `GET /lablets`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabletQuery {
    /// Only these phases, comma-separated.
    pub phase: Option<String>,
    /// Only lablets on this worker.
    pub worker_id: Option<WorkerId>,
    /// Only this owner.
    pub owner: Option<String>,
    /// Only this definition.
    pub definition_id: Option<DefinitionId>,
    /// Page size.
    pub limit: Option<usize>,
    /// Page start.
    pub offset: Option<usize>,
}

fn parse_phases(text: &str) -> ApiResult<Vec<LabletPhase>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_value(serde_json::Value::String(s.to_owned()))
                .map_err(|_| ApiError::invalid("phase", format!("`{s}` is not a lablet phase")))
        })
        .collect()
}

/// `GET /api/v1/lablets`: a user's list holds their own lablets only.
pub async fn list_lablets(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiQuery(query): ApiQuery<LabletQuery>,
) -> ApiResult<impl IntoResponse> {
    let (offset, limit) = bounds(query.limit, query.offset)?;
    let owner = match ownership::list_scope(&who, query.owner) {
        OwnerScope::Owner(owner) => owner,
        OwnerScope::Nothing => {
            return Ok(Json(Page::<Lablet>::of(Vec::new(), offset, limit)).into_response())
        }
    };
    let filter = LabletFilter {
        phases: query
            .phase
            .as_deref()
            .map(parse_phases)
            .transpose()?
            .unwrap_or_default(),
        worker_id: query.worker_id,
        owner,
        definition_id: query.definition_id,
        starts_by: None,
    };
    // The page shows lablets only: their generation, read before the records,
    // says when it may be reused.
    let stamp = [state.store.generations().await?.lablet, 0];
    let key = format!("lablets|{filter:?}|{offset}|{limit}");
    serve_page(&state, key, stamp, async {
        let listed = state
            .fleet
            .list_lablets_page(&filter, PageRequest { offset, limit })
            .await?;
        Ok(Page::from_listed(listed, offset, limit))
    })
    .await
}

/// Body of `POST /lablets`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLabletBody {
    /// Definition version to instantiate.
    pub definition_id: DefinitionId,
    /// Owner (the caller when absent; a user may name only themselves).
    pub owner: Option<String>,
    /// When it runs.
    pub timeslot: Timeslot,
    /// External reservation id.
    pub reservation_id: Option<String>,
}

/// `POST /api/v1/lablets`: books a lablet (users: for themselves, with
/// self-service on).
pub async fn create_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<CreateLabletBody>,
) -> ApiResult<impl IntoResponse> {
    let owner = ownership::booking_owner(&who, body.owner, state.options.lablet_self_service)?;
    let lablet = state
        .fleet
        .create_lablet(
            body.definition_id,
            NewLablet {
                owner,
                timeslot: body.timeslot,
                reservation_id: body.reservation_id,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(lablet)))
}

/// The lablet `id` when `who` may see it; another's answers like a missing one.
async fn accessible_lablet(state: &AppState, who: &Principal, id: LabletId) -> ApiResult<Lablet> {
    let lablet = state.fleet.get_lablet(id).await?;
    if ownership::may_access(who, &lablet) {
        Ok(lablet)
    } else {
        Err(ownership::hidden_lablet(id))
    }
}

/// `GET /api/v1/lablets/{id}`.
pub async fn get_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<LabletId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(accessible_lablet(&state, &who, id).await?))
}

/// `POST /api/v1/lablets/{id}/cancel`: ends the lablet early.
pub async fn cancel_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<LabletId>,
) -> ApiResult<impl IntoResponse> {
    accessible_lablet(&state, &who, id).await?;
    Ok(Json(
        state.fleet.cancel_lablet(id, Some(who.subject)).await?,
    ))
}

/// `DELETE /api/v1/lablets/{id}`: cancels and removes the lablet once its lab is gone.
pub async fn delete_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<LabletId>,
) -> ApiResult<impl IntoResponse> {
    accessible_lablet(&state, &who, id).await?;
    Ok(Json(
        state.fleet.delete_lablet(id, Some(who.subject)).await?,
    ))
}

/// Body of `POST /placement/preview`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewBody {
    /// Definition whose lablets would be placed.
    pub definition_id: DefinitionId,
    /// How many lablets (1–1000).
    #[serde(default = "one")]
    pub count: usize,
    /// Placement policy (the configured one when absent).
    pub policy: Option<Policy>,
}

fn one() -> usize {
    1
}

/// One lablet of the preview placed on a worker.
#[derive(Debug, Serialize)]
pub struct PreviewPlaced {
    /// Position of the lablet in the request (0-based).
    pub index: usize,
    /// The worker.
    pub worker_id: WorkerId,
    /// The worker's name.
    pub worker_name: String,
    /// Ports that would be reserved.
    pub ports: Vec<u16>,
}

/// One worker's refusal.
#[derive(Debug, Serialize)]
pub struct PreviewRefusal {
    /// The worker.
    pub worker_id: WorkerId,
    /// The worker's name.
    pub worker_name: String,
    /// The first check it failed.
    pub reason: &'static str,
    /// For `missing-definitions`: the node definitions (and `image <id>`s) the
    /// worker's CML lacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// One lablet of the preview no worker could take, and why.
#[derive(Debug, Serialize)]
pub struct PreviewUnplaced {
    /// Position of the lablet in the request (0-based).
    pub index: usize,
    /// The most common reason.
    pub dominant_reason: Option<&'static str>,
    /// Workers per reason.
    pub reasons: BTreeMap<&'static str, usize>,
    /// Each worker's refusal.
    pub workers: Vec<PreviewRefusal>,
}

/// What placement would do.
#[derive(Debug, Serialize)]
pub struct PreviewPlan {
    /// Policy used.
    pub policy: Policy,
    /// Workers considered (not terminated).
    pub workers_considered: usize,
    /// Lablets placed.
    pub placed: Vec<PreviewPlaced>,
    /// Lablets left over.
    pub unplaced: Vec<PreviewUnplaced>,
    /// Workers that would be added for the left-over lablets.
    pub scale_up: Vec<ScaleUpLine>,
    /// Hourly cost of that scale-up, USD.
    pub scale_up_hourly_usd: f64,
}

/// One line of a scale-up suggestion.
#[derive(Debug, Serialize)]
pub struct ScaleUpLine {
    /// Instance type.
    pub instance_type: String,
    /// Workers.
    pub workers: u64,
    /// Lablets they would take.
    pub lablets: u64,
    /// Their hourly cost, USD.
    pub hourly_usd: f64,
}

/// `POST /api/v1/placement/preview`: where `count` lablets of a definition would
/// go now, with every refusal's reason. Writes nothing.
pub async fn preview(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> ApiResult<impl IntoResponse> {
    if body.count == 0 || body.count > 1000 {
        return Err(ApiError::invalid("count", "must be between 1 and 1000"));
    }
    let definition = state.fleet.get_definition(body.definition_id).await?;
    let workers = state.store.list_workers(&WorkerFilter::default()).await?;
    let names: BTreeMap<WorkerId, String> = workers
        .iter()
        .map(|w| (w.id, w.name().to_owned()))
        .collect();
    let candidates: Vec<WorkerCandidate> =
        workers.iter().map(WorkerCandidate::from_worker).collect();
    let requests: Vec<PlacementRequest> = (0..body.count)
        .map(|i| PlacementRequest::for_definition(LabletId::from_u128(i as u128 + 1), &definition))
        .collect();
    let settings = state.fleet.settings();
    let policy = body.policy.unwrap_or(settings.lablets.policy);
    let plan = placement::place(&candidates, &requests, policy);
    let name = |id: &WorkerId| names.get(id).cloned().unwrap_or_default();
    let placed = plan
        .assignments
        .iter()
        .map(|a| PreviewPlaced {
            index: a.request_index,
            worker_id: a.worker,
            worker_name: name(&a.worker),
            ports: a.ports.clone(),
        })
        .collect();
    let unplaced: Vec<PreviewUnplaced> = plan
        .unplaced
        .iter()
        .map(|u| PreviewUnplaced {
            index: u.request_index,
            dominant_reason: u.summary().dominant().map(|r| r.as_str()),
            reasons: u
                .summary()
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(r, n)| (r.as_str(), n))
                .collect(),
            workers: u
                .rejections
                .by_worker()
                .map(|w| PreviewRefusal {
                    worker_id: w.worker,
                    worker_name: name(&w.worker),
                    reason: w.reason.as_str(),
                    missing: u
                        .rejections
                        .missing_definitions(w.worker_index, &candidates),
                })
                .collect(),
        })
        .collect();
    let left: Vec<&PlacementRequest> = plan
        .unplaced
        .iter()
        .filter_map(|u| requests.get(u.request_index))
        .collect();
    let suggestion = placement::suggest_scale_up(
        left,
        &settings.instance_types,
        &settings.autoscaler.new_worker_profile,
    );
    Ok(Json(PreviewPlan {
        policy,
        workers_considered: candidates.len(),
        placed,
        unplaced,
        scale_up: suggestion
            .lines
            .iter()
            .map(|l| ScaleUpLine {
                instance_type: l.instance_type.clone(),
                workers: l.workers,
                lablets: l.lablets,
                hourly_usd: l.hourly_usd,
            })
            .collect(),
        scale_up_hourly_usd: suggestion.total_hourly_usd,
    }))
}
