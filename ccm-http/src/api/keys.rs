//! `/api/v1/api-keys` (admins): create (the key is in the answer, once), list
//! (never the key nor its hash) and revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use ccm_api::api_key::{ApiKey, CreateApiKey, CreatedApiKey};
use ccm_api::system::Role as WireRole;
use ccm_core::api_key::ApiKeyId;

use super::contract::Contract;
use super::error::{ApiError, ApiResult};
use super::{ApiJson, ApiPath};
use crate::auth::{api_keys, Role};
use crate::state::AppState;

/// The caller role a key of the wire role grants.
fn role_of(role: WireRole) -> Role {
    match role {
        WireRole::User => Role::User,
        WireRole::Manager => Role::Manager,
        WireRole::Admin => Role::Admin,
    }
}

/// `GET /api/v1/api-keys`.
pub async fn list(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let keys: Vec<ApiKey> = state
        .store
        .list_api_keys()
        .await?
        .iter()
        .map(ApiKey::from)
        .collect();
    Ok(Json(keys))
}

/// What `GET /api/v1/api-keys` answers.
pub fn list_contract() -> Contract {
    Contract::new().ok_list::<ApiKey>(
        200,
        "Every API key, revoked ones included (never the key nor its hash)",
    )
}

/// `POST /api/v1/api-keys`.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateApiKey>,
) -> ApiResult<impl IntoResponse> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "must be 1–100 characters"));
    }
    let now = state.fleet.clock().now();
    let (record, key) =
        api_keys::create_key(state.store.as_ref(), name, role_of(body.role), now).await?;
    Ok((StatusCode::CREATED, Json(CreatedApiKey::new(key, &record))))
}

/// What `POST /api/v1/api-keys` takes and answers.
pub fn create_contract() -> Contract {
    Contract::new()
        .json_body::<CreateApiKey>()
        .ok::<CreatedApiKey>(
            201,
            "The key was created; the answer holds the key, shown this once",
        )
        .error(
            409,
            "A key with the same hash already exists (`already_exists`)",
        )
}

/// `DELETE /api/v1/api-keys/{id}`: revokes the key at once.
pub async fn revoke(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<impl IntoResponse> {
    let now = state.fleet.clock().now();
    match state.store.revoke_api_key(id, now).await? {
        Some(record) => Ok(Json(ApiKey::from(&record))),
        None => Err(ApiError::not_found(format!("API key `{id}` not found"))),
    }
}

/// What `DELETE /api/v1/api-keys/{id}` answers.
pub fn revoke_contract() -> Contract {
    Contract::new()
        .ok::<ApiKey>(
            200,
            "The key is revoked (revoking it again answers it unchanged)",
        )
        .error(404, "No API key has this id")
}
