//! `[cloud.aws]` turned into the AWS adapter's own configuration: one mapping used
//! both to build the adapter and by `ccm config check`, so a value the check lets
//! through is the value the adapter gets, and the adapter's own limits are the
//! ones checked.

use std::time::Duration;

use super::{Config, Problem};

/// The adapter configuration for `config` (the loading region falls back to the
/// first configured region).
pub fn adapter_config(config: &Config) -> ccm_aws::AwsConfig {
    let a = &config.cloud.aws;
    let credentials = match (&a.access_key_id, &a.secret_access_key) {
        (Some(id), Some(secret)) => Some(ccm_aws::StaticCredentials {
            access_key_id: id.clone(),
            secret_access_key: secret.clone(),
            session_token: a.session_token.clone(),
        }),
        _ => None,
    };
    ccm_aws::AwsConfig {
        region: a
            .region
            .clone()
            .or_else(|| config.cloud.regions.first().cloned()),
        profile: a.profile.clone(),
        endpoint_url: a.endpoint_url.clone(),
        credentials,
        retry: ccm_aws::RetryPolicy {
            max_attempts: a.max_attempts,
            base_delay: Duration::from_millis(a.retry_base_delay_ms),
            max_delay: Duration::from_millis(a.retry_max_delay_ms),
        },
        connect_timeout: Duration::from_secs(a.connect_timeout_seconds),
        attempt_timeout: Duration::from_secs(a.attempt_timeout_seconds),
        page_size: a.page_size,
        max_filter_values: a.max_filter_values,
        max_ids_per_call: a.max_ids_per_call,
        image_owners: a.image_owners.clone(),
    }
}

/// What the adapter would refuse in `config`, named by the configuration's paths.
pub(super) fn problems(config: &Config) -> Vec<Problem> {
    let mut problems = Vec::new();
    if let Err(ccm_aws::AwsError::InvalidConfig { field, reason }) =
        adapter_config(config).validate()
    {
        problems.push(Problem::new(setting_of(field), reason));
    }
    let owners = &config.cloud.aws.image_owners;
    if owners.is_empty() {
        // Empty means every visible image, strangers' public ones included.
        problems.push(Problem::new(
            "cloud.aws.image_owners",
            "must name at least one owner (`self`, `amazon` or an account id)",
        ));
    }
    for (i, owner) in owners.iter().enumerate() {
        if !is_owner(owner) {
            problems.push(Problem::new(
                format!("cloud.aws.image_owners[{i}]"),
                format!(
                    "`{owner}` is not `self`, `amazon`, `aws-marketplace` or a 12-digit account id"
                ),
            ));
        }
    }
    problems
}

fn is_owner(owner: &str) -> bool {
    matches!(owner, "self" | "amazon" | "aws-marketplace")
        || (owner.len() == 12 && owner.bytes().all(|b| b.is_ascii_digit()))
}

/// The configuration path of an adapter field.
fn setting_of(field: &str) -> &'static str {
    match field {
        "retry.max_attempts" => "cloud.aws.max_attempts",
        "retry.base_delay" => "cloud.aws.retry_base_delay_ms",
        "page_size" => "cloud.aws.page_size",
        "max_filter_values" => "cloud.aws.max_filter_values",
        "max_ids_per_call" => "cloud.aws.max_ids_per_call",
        "timeouts" => "cloud.aws.connect_timeout_seconds / attempt_timeout_seconds",
        "endpoint_url" => "cloud.aws.endpoint_url",
        "credentials" => "cloud.aws.access_key_id / secret_access_key",
        _ => "cloud.aws",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CloudConfig, CloudKind};

    fn aws() -> Config {
        Config {
            cloud: CloudConfig {
                provider: CloudKind::Aws,
                ..CloudConfig::default()
            },
            ..Config::default()
        }
    }

    #[test]
    fn the_defaults_are_the_adapters_own() {
        let expected = ccm_aws::AwsConfig {
            region: aws().cloud.regions.first().cloned(),
            ..ccm_aws::AwsConfig::default()
        };
        assert_eq!(adapter_config(&aws()), expected);
        assert!(problems(&aws()).is_empty());
    }

    #[test]
    fn every_field_reaches_the_adapter() {
        let mut config = aws();
        let a = &mut config.cloud.aws;
        a.image_owners = vec!["self".into(), "123456789012".into()];
        a.max_attempts = 3;
        a.retry_base_delay_ms = 50;
        a.retry_max_delay_ms = 900;
        a.connect_timeout_seconds = 2;
        a.attempt_timeout_seconds = 9;
        a.page_size = 100;
        a.max_filter_values = 50;
        a.max_ids_per_call = 20;
        let adapter = adapter_config(&config);
        assert_eq!(adapter.image_owners, ["self", "123456789012"]);
        assert_eq!(adapter.retry.max_attempts, 3);
        assert_eq!(adapter.retry.base_delay, Duration::from_millis(50));
        assert_eq!(adapter.retry.max_delay, Duration::from_millis(900));
        assert_eq!(adapter.connect_timeout, Duration::from_secs(2));
        assert_eq!(adapter.attempt_timeout, Duration::from_secs(9));
        assert_eq!(
            (
                adapter.page_size,
                adapter.max_filter_values,
                adapter.max_ids_per_call
            ),
            (100, 50, 20)
        );
        assert!(problems(&config).is_empty());
    }

    #[test]
    fn values_outside_the_adapters_limits_are_named_by_their_setting() {
        let mut config = aws();
        config.cloud.aws.page_size = 2000;
        let found = problems(&config);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].path, "cloud.aws.page_size");

        let mut config = aws();
        config.cloud.aws.image_owners = vec!["everyone".into()];
        assert_eq!(problems(&config)[0].path, "cloud.aws.image_owners[0]");

        let mut config = aws();
        config.cloud.aws.image_owners.clear();
        assert_eq!(problems(&config)[0].path, "cloud.aws.image_owners");
    }
}
