//! How an [`crate::AwsCloud`] reaches AWS: endpoint, credentials, retries, batching.

use std::time::Duration;

use ccm_core::secret::Secret;

use crate::error::AwsError;

/// Static credentials (tests, emulators, break-glass setups). Normal deployments
/// leave [`AwsConfig::credentials`] empty and use the standard AWS chain
/// (environment, profile, web identity, ECS / EC2 instance roles).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaticCredentials {
    /// Access key id (not secret on its own).
    pub access_key_id: String,
    /// Secret access key; `Debug` prints `***`.
    pub secret_access_key: Secret,
    /// Session token of temporary credentials; `Debug` prints `***`.
    pub session_token: Option<Secret>,
}

impl StaticCredentials {
    /// Long-term credentials without a session token.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: Secret::new(secret_access_key),
            session_token: None,
        }
    }
}

/// Retries of throttled and transient failures: capped exponential backoff with
/// full jitter. The delay before retry `n` (1-based) is uniform in
/// `[0, min(max_delay, base_delay * 2^(n-1))]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per API call, the first included (1 = never retry).
    pub max_attempts: u32,
    /// Backoff base.
    pub base_delay: Duration,
    /// Backoff cap.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// Configuration of [`crate::AwsCloud`]. `Default` is the standard AWS chain with
/// production batching; tests set [`AwsConfig::endpoint_url`] and
/// [`AwsConfig::credentials`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsConfig {
    /// Region used to load the shared configuration (STS for web identity and the
    /// like). Every API call names its own region; `None` takes the standard region
    /// chain.
    pub region: Option<String>,
    /// Named profile of the shared config files (`AWS_PROFILE` otherwise).
    pub profile: Option<String>,
    /// Explicit endpoint for EC2 and CloudWatch alike (moto, LocalStack, VPC
    /// endpoints). `None` uses the regional AWS endpoints.
    pub endpoint_url: Option<String>,
    /// Static credentials instead of the standard chain.
    pub credentials: Option<StaticCredentials>,
    /// Retry policy (the SDK's own retries are disabled so each attempt is counted).
    pub retry: RetryPolicy,
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one attempt (request sent to response read); a timed-out attempt
    /// is retried like a 5xx.
    pub attempt_timeout: Duration,
    /// `MaxResults` of `DescribeInstances` / `DescribeImages` pages (5–1,000).
    pub page_size: u32,
    /// Most values put in one EC2 filter (instance ids, image ids); EC2 refuses more
    /// than 200 values in a call (`FilterLimitExceeded`), so 1–200.
    pub max_filter_values: usize,
    /// Most instance ids per `Start/Stop/TerminateInstances`, `CreateTags`,
    /// `DeleteTags` and `MonitorInstances` call (1–1,000).
    pub max_ids_per_call: usize,
    /// Owners searched when an image is chosen by name pattern (`self`, `amazon`,
    /// account ids). Empty searches every image the account can see, which for a
    /// pattern includes public images of strangers: keep it narrow.
    pub image_owners: Vec<String>,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region: None,
            profile: None,
            endpoint_url: None,
            credentials: None,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(30),
            page_size: 1000,
            max_filter_values: 200,
            max_ids_per_call: 1000,
            image_owners: vec!["self".to_owned()],
        }
    }
}

/// EC2's hard limits on the batching knobs.
pub(crate) const MAX_PAGE_SIZE: u32 = 1000;
pub(crate) const MIN_PAGE_SIZE: u32 = 5;
pub(crate) const MAX_FILTER_VALUES: usize = 200;
pub(crate) const MAX_IDS_PER_CALL: usize = 1000;
/// `DescribeInstanceStatus` takes at most 100 instance ids.
pub(crate) const STATUS_IDS_PER_CALL: usize = 100;
/// `GetMetricData` takes at most 500 queries.
pub(crate) const METRIC_QUERIES_PER_CALL: usize = 500;

impl AwsConfig {
    /// A configuration for an emulator such as moto: explicit endpoint, static
    /// dummy credentials, a fixed loading region, and quick retries.
    pub fn for_endpoint(endpoint_url: impl Into<String>, region: impl Into<String>) -> Self {
        Self {
            region: Some(region.into()),
            endpoint_url: Some(endpoint_url.into()),
            credentials: Some(StaticCredentials::new("testing", "testing")),
            retry: RetryPolicy {
                max_attempts: 4,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(50),
            },
            ..Self::default()
        }
    }

    /// Checks every field against EC2's limits.
    pub fn validate(&self) -> Result<(), AwsError> {
        let invalid =
            |field: &'static str, reason: String| AwsError::InvalidConfig { field, reason };
        if self.retry.max_attempts == 0 {
            return Err(invalid("retry.max_attempts", "must be at least 1".into()));
        }
        if self.retry.base_delay > self.retry.max_delay {
            return Err(invalid(
                "retry.base_delay",
                format!(
                    "{:?} is above retry.max_delay {:?}",
                    self.retry.base_delay, self.retry.max_delay
                ),
            ));
        }
        if !(MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(invalid(
                "page_size",
                format!(
                    "{} is outside {MIN_PAGE_SIZE}..={MAX_PAGE_SIZE}",
                    self.page_size
                ),
            ));
        }
        if !(1..=MAX_FILTER_VALUES).contains(&self.max_filter_values) {
            return Err(invalid(
                "max_filter_values",
                format!(
                    "{} is outside 1..={MAX_FILTER_VALUES}",
                    self.max_filter_values
                ),
            ));
        }
        if !(1..=MAX_IDS_PER_CALL).contains(&self.max_ids_per_call) {
            return Err(invalid(
                "max_ids_per_call",
                format!(
                    "{} is outside 1..={MAX_IDS_PER_CALL}",
                    self.max_ids_per_call
                ),
            ));
        }
        if self.connect_timeout.is_zero() || self.attempt_timeout.is_zero() {
            return Err(invalid("timeouts", "must be above zero".into()));
        }
        if let Some(url) = &self.endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid(
                    "endpoint_url",
                    format!("`{url}` is not an http(s) URL"),
                ));
            }
        }
        if let Some(creds) = &self.credentials {
            if creds.access_key_id.is_empty() || creds.secret_access_key.expose().is_empty() {
                return Err(invalid(
                    "credentials",
                    "key id and secret must be set".into(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_secrets_stay_hidden() {
        assert!(AwsConfig::default().validate().is_ok());
        let mut config = AwsConfig::for_endpoint("http://127.0.0.1:5000", "us-east-1");
        assert!(config.validate().is_ok());
        config.credentials = Some(StaticCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG"),
            session_token: Some(Secret::new("session-token-value")),
        });
        let shown = format!("{config:?}");
        assert!(shown.contains("AKIDEXAMPLE"));
        assert!(!shown.contains("wJalrXUtnFEMI"));
        assert!(!shown.contains("session-token-value"));
    }

    #[test]
    fn limits_are_enforced() {
        let bad = [
            AwsConfig {
                page_size: 1001,
                ..AwsConfig::default()
            },
            AwsConfig {
                page_size: 4,
                ..AwsConfig::default()
            },
            AwsConfig {
                max_filter_values: 201,
                ..AwsConfig::default()
            },
            AwsConfig {
                max_ids_per_call: 0,
                ..AwsConfig::default()
            },
            AwsConfig {
                retry: RetryPolicy {
                    max_attempts: 0,
                    ..RetryPolicy::default()
                },
                ..AwsConfig::default()
            },
            AwsConfig {
                endpoint_url: Some("127.0.0.1:5000".into()),
                ..AwsConfig::default()
            },
            AwsConfig {
                credentials: Some(StaticCredentials::new("AKID", "")),
                ..AwsConfig::default()
            },
        ];
        for config in bad {
            assert!(
                matches!(config.validate(), Err(AwsError::InvalidConfig { .. })),
                "{config:?} was accepted"
            );
        }
    }
}
