//! `/api/v1/definitions`, `/api/v1/lablets` and `/api/v1/placement/preview`:
//! lablet definitions (create, list, get, activate/deactivate), lablets (book,
//! list, get, cancel, delete) and a placement dry run that writes nothing. Which
//! lablets a caller sees and acts on, and for whom they book, is `crate::ownership`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_api::definition::{
    CreateDefinition, DefinitionListQuery, LabletDefinition, SetDefinitionActive,
};
use ccm_api::lablet::{CreateLablet, CreateOnDemandLablet, ExtendLablet, Lablet, LabletListQuery};
use ccm_api::placement::{PlacementPreview, PlacementPreviewRequest};
use ccm_core::definition::NewDefinition;
use ccm_core::fleet::OnDemandLablet;
use ccm_core::ids::{DefinitionId, LabletId, WorkerId};
use ccm_core::lablet::{LabletPhase, NewLablet};
use ccm_core::ports::store::{DefinitionFilter, LabletFilter, PageRequest};

use super::contract::Contract;
use super::error::{ApiError, ApiResult};
use super::page::{bounds, serve_page, Page};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::Principal;
use crate::ownership::{self, OwnerScope};
use crate::state::AppState;

/// `GET /api/v1/definitions`.
pub async fn list_definitions(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DefinitionListQuery>,
) -> ApiResult<impl IntoResponse> {
    let (offset, limit) = bounds(query.limit, query.offset)?;
    let all = state
        .fleet
        .list_definitions(&DefinitionFilter {
            name: query.name,
            active_only: query.active_only,
        })
        .await?;
    Ok(Json(
        Page::of(all, offset, limit).map(|d| LabletDefinition::from(&d)),
    ))
}

/// What `GET /api/v1/definitions` takes and answers.
pub fn list_definitions_contract() -> Contract {
    Contract::new()
        .query::<DefinitionListQuery>()
        .ok_page::<LabletDefinition>("One page of definitions, every version, by name and version")
        .error(422, "`limit` is not between 1 and 1000")
}

/// `POST /api/v1/definitions`: a new definition or a new version of one.
pub async fn create_definition(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateDefinition>,
) -> ApiResult<impl IntoResponse> {
    let definition = state
        .fleet
        .create_definition(NewDefinition::try_from(body)?)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(LabletDefinition::from(&definition)),
    ))
}

/// What `POST /api/v1/definitions` takes and answers.
pub fn create_definition_contract() -> Contract {
    Contract::new()
        .json_body::<CreateDefinition>()
        .ok::<LabletDefinition>(201, "The definition version was created (active)")
        .error(
            409,
            "The name already has this version or a newer one (`already_exists`)",
        )
        .error(422, "Invalid topology, empty name, zero duration or nodes")
}

/// `GET /api/v1/definitions/{id}`.
pub async fn get_definition(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DefinitionId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(LabletDefinition::from(
        &state.fleet.get_definition(id).await?,
    )))
}

/// What `GET /api/v1/definitions/{id}` answers.
pub fn get_definition_contract() -> Contract {
    Contract::new()
        .ok::<LabletDefinition>(200, "The definition version")
        .error(404, "No definition has this id")
}

/// `PUT /api/v1/definitions/{id}/active`.
pub async fn set_definition_active(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<DefinitionId>,
    ApiJson(body): ApiJson<SetDefinitionActive>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(LabletDefinition::from(
        &state.fleet.set_definition_active(id, body.active).await?,
    )))
}

/// What `PUT /api/v1/definitions/{id}/active` takes and answers.
pub fn set_definition_active_contract() -> Contract {
    Contract::new()
        .json_body::<SetDefinitionActive>()
        .ok::<LabletDefinition>(200, "The definition, activated or deactivated")
        .error(404, "No definition has this id")
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
    ApiQuery(query): ApiQuery<LabletListQuery>,
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
        worker_id: query.worker_id.map(WorkerId),
        owner,
        definition_id: query.definition_id.map(DefinitionId),
        starts_by: None,
        starts_from: None,
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
        Ok(Page::from_listed(listed, offset, limit).map(|l| Lablet::from(&l)))
    })
    .await
}

/// What `GET /api/v1/lablets` takes and answers.
pub fn list_lablets_contract() -> Contract {
    Contract::new()
        .query::<LabletListQuery>()
        .ok_page::<Lablet>("One page of lablets by timeslot start (users: their own only)")
        .error(
            422,
            "`limit` is not between 1 and 1000, or `phase` names no lablet phase",
        )
}

/// `POST /api/v1/lablets`: books a lablet (users: for themselves, with
/// self-service on).
pub async fn create_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<CreateLablet>,
) -> ApiResult<impl IntoResponse> {
    let owner = ownership::booking_owner(&who, body.owner, state.options.lablet_self_service)?;
    let lablet = state
        .fleet
        .create_lablet(
            DefinitionId(body.definition_id),
            NewLablet {
                owner,
                timeslot: body.timeslot.into(),
                reservation_id: body.reservation_id,
                on_demand: false,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Lablet::from(&lablet))))
}

/// What `POST /api/v1/lablets` takes and answers.
pub fn create_lablet_contract() -> Contract {
    Contract::new()
        .json_body::<CreateLablet>()
        .ok::<Lablet>(201, "The lablet was booked (pending placement)")
        .error(404, "No definition has this id")
        .error(
            422,
            "Inactive definition, empty owner, or a timeslot inverted, ended or longer than the definition allows",
        )
}

/// `POST /api/v1/lablets/on-demand`: books a lablet for as soon as possible.
pub async fn create_on_demand_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<CreateOnDemandLablet>,
) -> ApiResult<impl IntoResponse> {
    let owner = ownership::booking_owner(&who, body.owner, state.options.lablet_self_service)?;
    let lablet = state
        .fleet
        .create_on_demand_lablet(
            DefinitionId(body.definition_id),
            OnDemandLablet {
                owner,
                duration_minutes: body.duration_minutes,
                reservation_id: body.reservation_id,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(Lablet::from(&lablet))))
}

/// What `POST /api/v1/lablets/on-demand` takes and answers.
pub fn create_on_demand_lablet_contract() -> Contract {
    Contract::new()
        .json_body::<CreateOnDemandLablet>()
        .ok::<Lablet>(
            201,
            "The lablet was booked; its timeslot starts at the estimated ready time",
        )
        .error(404, "No definition has this id")
        .error(
            422,
            "Inactive definition, empty owner, or `duration_minutes` outside 1 to the definition's `max_duration_minutes`",
        )
}

/// The lablet `id` when `who` may see it; another's answers like a missing one.
async fn accessible_lablet(
    state: &AppState,
    who: &Principal,
    id: LabletId,
) -> ApiResult<ccm_core::lablet::Lablet> {
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
    Ok(Json(Lablet::from(
        &accessible_lablet(&state, &who, id).await?,
    )))
}

/// What `GET /api/v1/lablets/{id}` answers.
pub fn get_lablet_contract() -> Contract {
    Contract::new().ok::<Lablet>(200, "The lablet").error(
        404,
        "No lablet has this id (or, for a user, it is someone else's)",
    )
}

/// `POST /api/v1/lablets/{id}/cancel`: ends the lablet early.
pub async fn cancel_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<LabletId>,
) -> ApiResult<impl IntoResponse> {
    accessible_lablet(&state, &who, id).await?;
    Ok(Json(Lablet::from(
        &state.fleet.cancel_lablet(id, Some(who.subject)).await?,
    )))
}

/// What `POST /api/v1/lablets/{id}/cancel` answers.
pub fn cancel_lablet_contract() -> Contract {
    Contract::new()
        .ok::<Lablet>(200, "The lablet, its cancellation requested")
        .error(404, "No lablet has this id (or, for a user, it is someone else's)")
        .error(409, "The lablet has finished and cannot be cancelled (`invalid_transition`), or it kept changing concurrently (`conflict`)")
}

/// `POST /api/v1/lablets/{id}/extend`: moves the lablet's end later.
pub async fn extend_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<LabletId>,
    ApiJson(body): ApiJson<ExtendLablet>,
) -> ApiResult<impl IntoResponse> {
    accessible_lablet(&state, &who, id).await?;
    Ok(Json(Lablet::from(
        &state
            .fleet
            .extend_lablet(id, body.until, Some(who.subject))
            .await?,
    )))
}

/// What `POST /api/v1/lablets/{id}/extend` takes and answers.
pub fn extend_lablet_contract() -> Contract {
    Contract::new()
        .json_body::<ExtendLablet>()
        .ok::<Lablet>(200, "The lablet with its new end")
        .error(404, "No lablet has this id (or, for a user, it is someone else's)")
        .error(409, "The lablet has ended or was cancelled (`invalid_transition`), its worker is being taken down (`capacity_exceeded`), or it kept changing concurrently (`conflict`)")
        .error(422, "`until` is not after the current end and now, or the session would outlast the definition's `max_duration_minutes`")
}

/// `DELETE /api/v1/lablets/{id}`: cancels and removes the lablet once its lab is gone.
pub async fn delete_lablet(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<LabletId>,
) -> ApiResult<impl IntoResponse> {
    accessible_lablet(&state, &who, id).await?;
    Ok(Json(Lablet::from(
        &state.fleet.delete_lablet(id, Some(who.subject)).await?,
    )))
}

/// What `DELETE /api/v1/lablets/{id}` answers.
pub fn delete_lablet_contract() -> Contract {
    Contract::new()
        .ok::<Lablet>(200, "The lablet, its deletion requested (the record goes once its lab is gone)")
        .error(404, "No lablet has this id (or, for a user, it is someone else's)")
        .error(409, "The lablet cannot move towards deletion (`invalid_transition`), or it kept changing concurrently (`conflict`)")
}

/// `POST /api/v1/placement/preview`: where `count` lablets of a definition would
/// go now, with every refusal's reason, placed as the scheduler places
/// (`Fleet::preview_placement`). Writes nothing.
pub async fn preview(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<PlacementPreviewRequest>,
) -> ApiResult<impl IntoResponse> {
    let preview = state
        .fleet
        .preview_placement(
            DefinitionId(body.definition_id),
            body.count,
            body.policy.map(Into::into),
        )
        .await?;
    Ok(Json(PlacementPreview::from(&preview)))
}

/// What `POST /api/v1/placement/preview` takes and answers.
pub fn preview_contract() -> Contract {
    Contract::new()
        .json_body::<PlacementPreviewRequest>()
        .ok::<PlacementPreview>(
            200,
            "Where the lablets would go now, every refusal's reason, and the scale-up for the rest",
        )
        .error(404, "No definition has this id")
        .error(422, "`count` is not between 1 and 1000")
}
