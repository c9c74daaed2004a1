//! `POST /api/v1/workers/{id}/cml-certificate/accept`: an admin vouches for the
//! changed CML certificate of a worker (trust on first use), so ccm talks to it
//! again. The fingerprint must be the one the worker presented.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_api::worker as wire;
use ccm_core::ids::WorkerId;

use super::contract::Contract;
use super::error::{ApiError, ApiResult};
use super::{ApiJson, ApiPath};
use crate::auth::Principal;
use crate::state::AppState;

/// Accepts the worker's presented CML certificate and answers with the worker.
pub async fn accept(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<wire::AcceptCmlCertificate>,
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
    Ok(Json(wire::Worker::from(&worker)))
}

/// `POST /api/v1/workers/{id}/cml-certificate/accept`.
pub fn accept_contract() -> Contract {
    Contract::new()
        .json_body::<wire::AcceptCmlCertificate>()
        .ok::<wire::Worker>(200, "The worker, trusting the presented certificate")
        .error(404, "No worker has this id")
        .error(409, "The worker changed concurrently; read it again and retry (`conflict`)")
        .error(
            422,
            "Not 64 hexadecimal digits, no changed certificate waits, or not the fingerprint the worker presented",
        )
}
