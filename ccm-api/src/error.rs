//! The error body of every 4xx and 5xx answer.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::Example;

/// An error answer: `{"error": {"code", "message", "details"?}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and people (`message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code: `not_found`, `validation_failed`,
    /// `worker_in_use`, `already_exists`, `unauthenticated`, …
    pub code: String,
    /// Human-readable explanation; never carries internals (those go to the log).
    pub message: String,
    /// Structured context where the code has some (the invalid field, the lablets
    /// that hold a worker, where to resume a compacted log, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = details_schema)]
    pub details: Option<Value>,
}

/// `details`: an object whose members depend on `code` (absent when empty).
fn details_schema() -> utoipa::openapi::schema::Object {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Object)
        .additional_properties(Some(utoipa::openapi::schema::AdditionalProperties::<
            utoipa::openapi::schema::Schema,
        >::FreeForm(true)))
        .build()
}

impl Example for ErrorBody {
    fn example() -> Self {
        Self {
            error: ErrorDetail {
                code: "validation_failed".into(),
                message: "invalid name: must be 1 to 64 characters".into(),
                details: Some(serde_json::json!({
                    "field": "name",
                    "reason": "must be 1 to 64 characters"
                })),
            },
        }
    }
}
