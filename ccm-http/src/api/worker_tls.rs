//! `POST /api/v1/workers/{id}/cml-certificate/accept`: an admin vouches for the
//! changed CML certificate of a worker (trust on first use), so ccm talks to it
//! again. The fingerprint must be the one the worker presented.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_core::ids::WorkerId;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::{ApiJson, ApiPath};
use crate::auth::Principal;
use crate::state::AppState;

/// Body of the acceptance.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptBody {
    /// SHA-256 fingerprint (hex, colons allowed) of the certificate to trust.
    pub sha256: String,
}

/// Accepts the worker's presented CML certificate and answers with the worker.
pub async fn accept(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<AcceptBody>,
) -> ApiResult<impl IntoResponse> {
    let hex = body.sha256.trim().replace(':', "");
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::invalid(
            "sha256",
            "must be a SHA-256 fingerprint: 64 hexadecimal digits",
        ));
    }
    let worker = state
        .fleet
        .accept_cml_certificate(id, &hex, Some(who.subject.clone()))
        .await?;
    tracing::info!(worker = %id, sha256 = %hex, by = %who.subject, "CML certificate accepted");
    Ok(Json(worker))
}
