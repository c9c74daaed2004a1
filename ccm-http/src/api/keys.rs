//! `/api/v1/api-keys` (admins): create (the key is in the answer, once), list
//! (never the key nor its hash) and revoke.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use ccm_core::api_key::{ApiKeyId, ApiKeyRecord};
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use super::error::{ApiError, ApiResult};
use super::{ApiJson, ApiPath};
use crate::auth::{api_keys, Role};
use crate::state::AppState;

/// An API key as the API shows it: everything but the key and its hash.
#[derive(Debug, Serialize)]
pub struct KeyView {
    /// Id.
    pub id: ApiKeyId,
    /// Name.
    pub name: String,
    /// Role granted.
    pub role: Role,
    /// Created.
    pub created_at: Timestamp,
    /// Revoked, if so.
    pub revoked_at: Option<Timestamp>,
    /// Last used.
    pub last_used_at: Option<Timestamp>,
}

impl From<ApiKeyRecord> for KeyView {
    fn from(r: ApiKeyRecord) -> Self {
        Self {
            id: r.id,
            name: r.name,
            role: Role::from_key_role(r.role),
            created_at: r.created_at,
            revoked_at: r.revoked_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// Body of `POST /api-keys`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Name (`ci`, `grafana`).
    pub name: String,
    /// Role granted.
    pub role: Role,
}

/// Answer of `POST /api-keys`.
#[derive(Debug, Serialize)]
pub struct Created {
    /// The key; shown this once, never again.
    pub key: String,
    /// Its record.
    #[serde(flatten)]
    pub record: KeyView,
}

/// `GET /api/v1/api-keys`.
pub async fn list(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let keys: Vec<KeyView> = state
        .store
        .list_api_keys()
        .await?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(Json(keys))
}

/// `POST /api/v1/api-keys`.
pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<impl IntoResponse> {
    let name = body.name.trim();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "must be 1–100 characters"));
    }
    let now = state.fleet.clock().now();
    let (record, key) = api_keys::create_key(state.store.as_ref(), name, body.role, now).await?;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            key,
            record: record.into(),
        }),
    ))
}

/// `DELETE /api/v1/api-keys/{id}`: revokes the key at once.
pub async fn revoke(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<ApiKeyId>,
) -> ApiResult<impl IntoResponse> {
    let now = state.fleet.clock().now();
    match state.store.revoke_api_key(id, now).await? {
        Some(record) => Ok(Json(KeyView::from(record))),
        None => Err(ApiError::not_found(format!("API key `{id}` not found"))),
    }
}
