//! Classifying SDK failures (throttled, transient, fatal) and the backoff between
//! attempts: capped exponential with full jitter.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::operation::RequestId;

use crate::config::RetryPolicy;

/// Error codes AWS uses for throttling.
pub(crate) const THROTTLING_CODES: &[&str] = &[
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "EC2ThrottledException",
    "SlowDown",
    "PriorRequestNotComplete",
    "BandwidthLimitExceeded",
];

/// Error codes of transient server-side failures.
pub(crate) const TRANSIENT_CODES: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "Unavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether a failure is worth another attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FailureKind {
    /// Throttled: retry after a backoff.
    Throttled,
    /// 5xx, timeout, connection failure: retry after a backoff.
    Transient,
    /// Anything else: do not retry.
    Fatal,
}

/// One failed API call, reduced to what the error mapping needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub kind: FailureKind,
    /// AWS error code, when the service answered one.
    pub code: Option<String>,
    /// Message (the service's, or a description of the transport failure).
    pub message: String,
    /// AWS request id, when the service answered.
    pub request_id: Option<String>,
    /// HTTP status, when there was a response.
    pub status: Option<u16>,
    /// Attempts made, this one included.
    pub attempts: u32,
}

impl Failure {
    /// Classifies an SDK error of any operation.
    pub(crate) fn from_sdk<E>(err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut failure = Failure {
            kind: FailureKind::Fatal,
            code: None,
            message: DisplayErrorContext(err).to_string(),
            request_id: err.request_id().map(str::to_owned),
            status: None,
            attempts: 1,
        };
        match err {
            SdkError::ServiceError(ctx) => {
                let status = ctx.raw().status().as_u16();
                let service_err = ctx.err();
                failure.status = Some(status);
                failure.code = service_err.code().map(str::to_owned);
                if let Some(message) = service_err.message() {
                    failure.message = message.to_owned();
                }
                if failure.request_id.is_none() {
                    failure.request_id = service_err.meta().request_id().map(str::to_owned);
                }
                failure.kind = classify(failure.code.as_deref(), Some(status));
            }
            SdkError::ResponseError(ctx) => {
                let status = ctx.raw().status().as_u16();
                failure.status = Some(status);
                failure.kind = classify(None, Some(status));
            }
            SdkError::TimeoutError(_) => failure.kind = FailureKind::Transient,
            SdkError::DispatchFailure(dispatch) => {
                failure.kind = if dispatch.is_user() {
                    FailureKind::Fatal
                } else {
                    FailureKind::Transient
                };
            }
            SdkError::ConstructionFailure(_) => {
                failure.code = Some("ConstructionFailure".to_owned());
            }
            _ => {}
        }
        failure
    }

    /// Code, message, request id and attempts in one line.
    pub(crate) fn detail(&self) -> String {
        let mut text = match &self.code {
            Some(code) => format!("{code}: {}", self.message),
            None => self.message.clone(),
        };
        if let Some(status) = self.status {
            text.push_str(&format!(" (HTTP {status}"));
        } else {
            text.push_str(" (no response");
        }
        if let Some(id) = &self.request_id {
            text.push_str(&format!(", request {id}"));
        }
        text.push_str(&format!(
            ", {} attempt{})",
            self.attempts,
            if self.attempts == 1 { "" } else { "s" }
        ));
        text
    }
}

/// Throttling codes and 429 are throttling; transient codes and 5xx are transient.
pub(crate) fn classify(code: Option<&str>, status: Option<u16>) -> FailureKind {
    if let Some(code) = code {
        if THROTTLING_CODES.contains(&code) {
            return FailureKind::Throttled;
        }
        if TRANSIENT_CODES.contains(&code) {
            return FailureKind::Transient;
        }
    }
    match status {
        Some(429) => FailureKind::Throttled,
        Some(s) if s >= 500 => FailureKind::Transient,
        _ => FailureKind::Fatal,
    }
}

/// Backoff delays with full jitter from a small seeded generator (splitmix64).
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: RetryPolicy,
    state: Mutex<u64>,
}

impl Backoff {
    pub(crate) fn new(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            policy,
            state: Mutex::new(seed),
        }
    }

    pub(crate) fn max_attempts(&self) -> u32 {
        self.policy.max_attempts
    }

    /// Upper bound of the delay after `failed_attempts` failures (1-based).
    pub(crate) fn ceiling(&self, failed_attempts: u32) -> Duration {
        let exponent = failed_attempts.saturating_sub(1).min(30);
        let grown = self.policy.base_delay.saturating_mul(1u32 << exponent);
        grown.min(self.policy.max_delay)
    }

    /// The delay to sleep after `failed_attempts` failures: uniform in `[0, ceiling]`.
    pub(crate) fn delay(&self, failed_attempts: u32) -> Duration {
        let ceiling = self.ceiling(failed_attempts);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        let random = self.next_u64();
        Duration::from_nanos(random % (nanos + 1).max(1))
    }

    fn next_u64(&self) -> u64 {
        let mut state = match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_transient_codes_are_recognised() {
        for code in ["RequestLimitExceeded", "Throttling", "ThrottlingException"] {
            assert_eq!(classify(Some(code), Some(400)), FailureKind::Throttled);
        }
        assert_eq!(
            classify(Some("RequestLimitExceeded"), Some(503)),
            FailureKind::Throttled
        );
        assert_eq!(classify(None, Some(429)), FailureKind::Throttled);
        assert_eq!(
            classify(Some("InternalError"), Some(500)),
            FailureKind::Transient
        );
        assert_eq!(
            classify(Some("Unavailable"), Some(503)),
            FailureKind::Transient
        );
        assert_eq!(classify(None, Some(503)), FailureKind::Transient);
        assert_eq!(classify(None, Some(502)), FailureKind::Transient);
        assert_eq!(
            classify(Some("InvalidInstanceID.NotFound"), Some(400)),
            FailureKind::Fatal
        );
        assert_eq!(
            classify(Some("UnauthorizedOperation"), Some(403)),
            FailureKind::Fatal
        );
    }

    #[test]
    fn backoff_is_capped_exponential_with_full_jitter() {
        let backoff = Backoff::new(
            RetryPolicy {
                max_attempts: 10,
                base_delay: Duration::from_millis(100),
                max_delay: Duration::from_millis(1000),
            },
            42,
        );
        assert_eq!(backoff.ceiling(1), Duration::from_millis(100));
        assert_eq!(backoff.ceiling(2), Duration::from_millis(200));
        assert_eq!(backoff.ceiling(4), Duration::from_millis(800));
        assert_eq!(backoff.ceiling(5), Duration::from_millis(1000));
        assert_eq!(backoff.ceiling(64), Duration::from_millis(1000));
        let mut distinct = std::collections::BTreeSet::new();
        for attempt in 1..200 {
            let delay = backoff.delay(attempt % 6 + 1);
            assert!(delay <= backoff.ceiling(attempt % 6 + 1));
            distinct.insert(delay);
        }
        assert!(distinct.len() > 150, "jitter should spread delays");
    }

    #[test]
    fn detail_names_code_status_request_and_attempts() {
        let failure = Failure {
            kind: FailureKind::Throttled,
            code: Some("RequestLimitExceeded".into()),
            message: "Request limit exceeded.".into(),
            request_id: Some("abc-123".into()),
            status: Some(503),
            attempts: 4,
        };
        let text = failure.detail();
        for part in ["RequestLimitExceeded", "HTTP 503", "abc-123", "4 attempts"] {
            assert!(text.contains(part), "{text}");
        }
    }
}
