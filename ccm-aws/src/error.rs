//! The crate's own error type, and how AWS failures become [`CloudError`]s.

use ccm_core::ports::cloud::CloudError;

use crate::retry::{Failure, FailureKind};

/// Errors at the crate boundary that are not a cloud call's: configuration.
/// Cloud calls answer [`CloudError`], the port's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// A configuration field is out of range or malformed.
    #[error("invalid AWS configuration `{field}`: {reason}")]
    InvalidConfig {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

/// What a call was about, so errors can name it.
#[derive(Clone, Debug, Default)]
pub(crate) struct CallContext<'a> {
    /// Region of the call.
    pub region: &'a str,
    /// Instance ids concerned (for `NotFound`).
    pub instance_ids: &'a [String],
    /// Image concerned (id or pattern).
    pub image: Option<&'a str>,
    /// Instance type (for capacity errors).
    pub instance_type: Option<&'a str>,
}

/// EC2 error codes meaning "this instance id does not exist / is not an id".
const UNKNOWN_INSTANCE_CODES: &[&str] =
    &["InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"];
/// EC2 error codes meaning "this image does not exist".
const UNKNOWN_IMAGE_CODES: &[&str] = &["InvalidAMIID.NotFound", "InvalidAMIID.Unavailable"];
/// EC2 error codes meaning "no capacity right now".
const CAPACITY_CODES: &[&str] = &[
    "InsufficientInstanceCapacity",
    "InsufficientHostCapacity",
    "InsufficientReservedInstanceCapacity",
    "InsufficientCapacity",
    "InsufficientCapacityOnHost",
];
/// Error codes of requests refused as invalid (beyond the `Invalid*` family).
const INVALID_REQUEST_CODES: &[&str] = &[
    "ValidationError",
    "MissingParameter",
    "UnknownParameter",
    "IncorrectInstanceState",
    "IncorrectState",
    "IdempotentParameterMismatch",
    "FilterLimitExceeded",
    "OperationNotPermitted",
    "UnsupportedOperation",
    "Unsupported",
    "ConstructionFailure",
];

/// True for EC2's "this instance id is unknown or malformed" errors.
pub(crate) fn is_unknown_instance(failure: &Failure) -> bool {
    failure
        .code
        .as_deref()
        .is_some_and(|c| UNKNOWN_INSTANCE_CODES.contains(&c))
}

/// Maps a final (non-retried or retries exhausted) failure to the port's error.
pub(crate) fn to_cloud_error(
    operation: &str,
    failure: Failure,
    ctx: &CallContext<'_>,
) -> CloudError {
    let code = failure.code.clone().unwrap_or_default();
    let detail = failure.detail();
    match failure.kind {
        FailureKind::Throttled => CloudError::Throttled {
            operation: operation.to_owned(),
            message: detail,
        },
        FailureKind::Transient => CloudError::Unavailable {
            operation: operation.to_owned(),
            message: detail,
        },
        FailureKind::Fatal => {
            // `InvalidID` is CreateTags' / DeleteTags' word for a malformed resource id.
            if UNKNOWN_INSTANCE_CODES.contains(&code.as_str())
                || (code == "InvalidID" && !ctx.instance_ids.is_empty())
            {
                CloudError::NotFound {
                    what: "instance",
                    id: ctx.instance_ids.join(","),
                }
            } else if UNKNOWN_IMAGE_CODES.contains(&code.as_str()) {
                CloudError::NotFound {
                    what: "image",
                    id: ctx.image.unwrap_or_default().to_owned(),
                }
            } else if CAPACITY_CODES.contains(&code.as_str()) {
                CloudError::InsufficientCapacity {
                    region: ctx.region.to_owned(),
                    instance_type: ctx.instance_type.unwrap_or_default().to_owned(),
                    message: detail,
                }
            } else if code.starts_with("Invalid")
                || code.starts_with("Malformed")
                || INVALID_REQUEST_CODES.contains(&code.as_str())
            {
                CloudError::InvalidRequest {
                    operation: operation.to_owned(),
                    code,
                    message: detail,
                }
            } else {
                CloudError::Api {
                    operation: operation.to_owned(),
                    code: if code.is_empty() {
                        "Unknown".to_owned()
                    } else {
                        code
                    },
                    message: failure.message,
                    request_id: failure.request_id,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fatal(code: &str) -> Failure {
        Failure {
            kind: FailureKind::Fatal,
            code: Some(code.to_owned()),
            message: "boom".to_owned(),
            request_id: Some("req-1".to_owned()),
            status: Some(400),
            attempts: 1,
        }
    }

    fn ctx() -> CallContext<'static> {
        CallContext {
            region: "eu-west-1",
            instance_ids: &[],
            image: Some("ami-1"),
            instance_type: Some("m5zn.metal"),
        }
    }

    #[test]
    fn ec2_codes_map_to_port_errors() {
        let ids = ["i-1".to_owned()];
        let with_ids = CallContext {
            instance_ids: &ids,
            ..ctx()
        };
        assert_eq!(
            to_cloud_error(
                "StopInstances",
                fatal("InvalidInstanceID.NotFound"),
                &with_ids
            ),
            CloudError::NotFound {
                what: "instance",
                id: "i-1".into()
            }
        );
        assert!(matches!(
            to_cloud_error(
                "StopInstances",
                fatal("InvalidInstanceID.Malformed"),
                &with_ids
            ),
            CloudError::NotFound {
                what: "instance",
                ..
            }
        ));
        assert_eq!(
            to_cloud_error("RunInstances", fatal("InvalidAMIID.NotFound"), &ctx()),
            CloudError::NotFound {
                what: "image",
                id: "ami-1".into()
            }
        );
        assert!(matches!(
            to_cloud_error("CreateTags", fatal("InvalidID"), &with_ids),
            CloudError::NotFound {
                what: "instance",
                ..
            }
        ));
        assert!(matches!(
            to_cloud_error("RunInstances", fatal("InvalidID"), &ctx()),
            CloudError::InvalidRequest { .. }
        ));
        assert!(matches!(
            to_cloud_error("RunInstances", fatal("InvalidAMIID.Malformed"), &ctx()),
            CloudError::InvalidRequest { code, .. } if code == "InvalidAMIID.Malformed"
        ));
        assert!(matches!(
            to_cloud_error("RunInstances", fatal("InsufficientInstanceCapacity"), &ctx()),
            CloudError::InsufficientCapacity { region, instance_type, .. }
                if region == "eu-west-1" && instance_type == "m5zn.metal"
        ));
        assert!(matches!(
            to_cloud_error("StopInstances", fatal("IncorrectInstanceState"), &ctx()),
            CloudError::InvalidRequest { .. }
        ));
        match to_cloud_error("RunInstances", fatal("UnauthorizedOperation"), &ctx()) {
            CloudError::Api {
                operation,
                code,
                request_id,
                ..
            } => {
                assert_eq!(operation, "RunInstances");
                assert_eq!(code, "UnauthorizedOperation");
                assert_eq!(request_id.as_deref(), Some("req-1"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn retry_kinds_map_to_throttled_and_unavailable() {
        let throttled = Failure {
            kind: FailureKind::Throttled,
            ..fatal("RequestLimitExceeded")
        };
        match to_cloud_error("DescribeInstances", throttled, &ctx()) {
            CloudError::Throttled { operation, message } => {
                assert_eq!(operation, "DescribeInstances");
                assert!(message.contains("RequestLimitExceeded"), "{message}");
                assert!(message.contains("req-1"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let transient = Failure {
            kind: FailureKind::Transient,
            ..fatal("InternalError")
        };
        assert!(to_cloud_error("DescribeInstances", transient, &ctx()).is_retryable());
    }
}
