//! The API's error body, `{"error": {"code", "message", "details"?}}`, and how
//! engine errors map onto status codes: client mistakes are 400/404/409/422, a
//! missing or refusing upstream 502/503, and internal failures a 500 whose body
//! says nothing about internals (the cause goes to the log).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use ccm_core::ports::cloud::CloudError;
use ccm_core::ports::cml::CmlError;
use ccm_core::ports::store::StoreError;
use ccm_core::CoreError;
use ccm_core::DomainError;
use serde::Serialize;
use serde_json::Value;

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`not_found`, `validation_failed`, …).
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Extra structured details.
    pub details: Option<Value>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a Value>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
        }
    }

    /// Adds details.
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 401.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 422 for a field.
    pub fn invalid(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("invalid {field}: {reason}"),
        )
        .with_details(serde_json::json!({ "field": field, "reason": reason }))
    }

    /// 500 with nothing internal in the body; the cause is logged.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server log",
        )
    }

    /// 503 with nothing internal in the body; the cause is logged.
    pub fn unavailable(cause: &dyn std::fmt::Display) -> Self {
        tracing::warn!(%cause, "service unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "temporarily unavailable; try again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                details: self.details.as_ref(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        // RFC 9110 §11.6.1: a 401 names the scheme that would be accepted.
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::Conflict { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "the resource changed concurrently; read it again and retry",
        ),
        StoreError::AlreadyExists { kind, id } => ApiError::new(
            StatusCode::CONFLICT,
            "already_exists",
            format!("{kind} `{id}` already exists"),
        ),
        StoreError::Unavailable(_)
        | StoreError::Fenced { .. }
        | StoreError::LeaseNotHeld { .. } => ApiError::unavailable(&error),
        // A store that finds the reader behind its compacted log says so itself.
        StoreError::EventsGone {
            after,
            first_sequence,
        } => super::events::gone(after, first_sequence),
        other => ApiError::internal(&other),
    }
}

fn cloud_error(error: CloudError) -> ApiError {
    match &error {
        CloudError::NotFound { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
        }
        CloudError::InvalidRequest { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cloud_rejected",
            error.to_string(),
        ),
        CloudError::InsufficientCapacity { .. } => ApiError::new(
            StatusCode::CONFLICT,
            "insufficient_capacity",
            error.to_string(),
        ),
        CloudError::Throttled { .. } | CloudError::Unavailable { .. } => {
            ApiError::unavailable(&error)
        }
        _ => {
            tracing::warn!(%error, "cloud call failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "cloud_error",
                "the cloud provider failed; see the server log",
            )
        }
    }
}

fn cml_error(error: CmlError) -> ApiError {
    match &error {
        CmlError::NotFound { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
        }
        CmlError::Rejected { .. } => {
            ApiError::new(StatusCode::CONFLICT, "cml_rejected", error.to_string())
        }
        // Fingerprints are public; the operator needs them to act (accept or not).
        CmlError::CertificateChanged { .. } => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "cml_certificate_changed",
            error.to_string(),
        ),
        CmlError::Unreachable { .. } | CmlError::Starting { .. } | CmlError::Timeout { .. } => {
            tracing::warn!(%error, "CML not available");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "cml_unavailable",
                "the worker's CML is not available right now",
            )
        }
        _ => {
            tracing::warn!(%error, "CML call failed");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "cml_error",
                "the worker's CML failed; see the server log",
            )
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        match error {
            CoreError::Domain(e) => e.into(),
            CoreError::Store(e) => store_error(e),
            CoreError::Cloud(e) => cloud_error(e),
            CoreError::Cml(e) => cml_error(e),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Validation { field, reason } => ApiError::invalid(&field, reason),
            DomainError::NotFound { kind, id } => {
                ApiError::not_found(format!("{kind} `{id}` not found"))
                    .with_details(serde_json::json!({ "kind": kind, "id": id }))
            }
            DomainError::InvalidTransition(t) => {
                ApiError::new(StatusCode::CONFLICT, "invalid_transition", t.to_string())
            }
            DomainError::AlreadyExists { kind, ref id, .. } => {
                let message = error.to_string();
                ApiError::new(StatusCode::CONFLICT, "already_exists", message)
                    .with_details(serde_json::json!({ "kind": kind, "id": id }))
            }
            DomainError::CapacityExceeded { .. } => {
                ApiError::new(StatusCode::CONFLICT, "capacity_exceeded", error.to_string())
            }
            DomainError::WorkerInUse {
                ref worker,
                ref lablets,
            } => {
                let details = serde_json::json!({ "worker": worker, "lablets": lablets });
                ApiError::new(StatusCode::CONFLICT, "worker_in_use", error.to_string())
                    .with_details(details)
            }
            DomainError::LabInUse {
                ref worker,
                ref lab,
                ref lablet,
            } => {
                let details = serde_json::json!({ "worker": worker, "lab": lab, "lablet": lablet });
                ApiError::new(StatusCode::CONFLICT, "lab_in_use", error.to_string())
                    .with_details(details)
            }
            DomainError::Replay(e) => ApiError::internal(&e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        store_error(error)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = rejection.status();
        let code = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::UNPROCESSABLE_ENTITY => "validation_failed",
            _ => "bad_request",
        };
        ApiError::new(status, code, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compacted_log_is_a_410_naming_where_to_resume_not_a_500() {
        let error = ApiError::from(StoreError::EventsGone {
            after: 3,
            first_sequence: 40,
        });
        assert_eq!(error.status, StatusCode::GONE);
        assert_eq!(error.code, "gone");
        assert_eq!(
            error
                .details
                .as_ref()
                .and_then(|d| d["resume_after"].as_u64()),
            Some(39)
        );
    }

    #[test]
    fn every_401_names_the_bearer_scheme() {
        for error in [
            ApiError::unauthenticated("authentication required"),
            ApiError::new(StatusCode::UNAUTHORIZED, "login_failed", "login failed"),
        ] {
            let response = error.into_response();
            assert_eq!(
                response
                    .headers()
                    .get(axum::http::header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer")
            );
        }
        let response = ApiError::forbidden("no").into_response();
        assert!(response
            .headers()
            .get(axum::http::header::WWW_AUTHENTICATE)
            .is_none());
    }

    #[test]
    fn a_store_failure_hides_its_cause() {
        let error = ApiError::from(StoreError::Unavailable("password=hunter2".into()));
        assert_eq!(error.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!error.message.contains("hunter2"));
    }
}
