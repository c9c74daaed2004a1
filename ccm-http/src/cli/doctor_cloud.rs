//! `ccm doctor`'s cloud check: for AWS, one cheap read per configured region
//! through the adapter the server builds — looking up the launch image — which
//! proves the credentials, the endpoint and the image at once.

use std::time::Duration;

use ccm_core::ids::{ImageId, Region};
use ccm_core::ports::cloud::{CloudError, Image};
use ccm_core::ports::CloudProvider;
use futures_util::future::join_all;

use super::doctor::{setting, within, Check};
use ccm_assembly::config::{CloudKind, Config};

/// The check's name.
pub(super) const NAME: &str = "cloud";

/// EC2 codes meaning the credentials themselves were refused.
const CREDENTIAL_CODES: &[&str] = &[
    "AuthFailure",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "InvalidToken",
];
/// EC2 codes meaning the credentials are good but may not make the call.
const PERMISSION_CODES: &[&str] = &[
    "UnauthorizedOperation",
    "AccessDenied",
    "AccessDeniedException",
];

/// One check per configured region (one in all for the simulator).
pub(super) async fn check(config: &Config, limit: Duration) -> Vec<Check> {
    if config.cloud.provider == CloudKind::Sim {
        return vec![Check::ok(
            NAME,
            format!(
                "simulated fleet in {} (no AWS account is used)",
                config.cloud.regions.join(", ")
            ),
        )];
    }
    let cloud = match ccm_aws::AwsCloud::new(ccm_assembly::config::aws::adapter_config(config)) {
        Ok(cloud) => cloud,
        Err(error) => {
            return vec![Check::fail(
                NAME,
                error.to_string(),
                "correct that field of [cloud.aws]; `ccm config check` names it",
            )]
        }
    };
    join_all(config.cloud.regions.iter().map(|region| {
        let cloud = &cloud;
        async move {
            let found = within(limit, find_launch_image(cloud, config, region)).await;
            let check = match found {
                Ok(Ok(images)) => images_found(config, region, &images),
                Ok(Err(error)) => advice(config, region, &error),
                Err(timed_out) => Check::fail(
                    NAME,
                    format!("EC2 in {region}: {timed_out}"),
                    unreachable_fix(config, region),
                ),
            };
            check.about(region.clone())
        }
    }))
    .await
}

async fn find_launch_image(
    cloud: &ccm_aws::AwsCloud,
    config: &Config,
    region: &str,
) -> Result<Vec<Image>, CloudError> {
    let region = Region::new(region);
    let launch = &config.cloud.launch;
    match &launch.image_id {
        Some(id) => {
            cloud
                .describe_images(&region, &[ImageId::new(id.clone())])
                .await
        }
        None => cloud.find_images(&region, &launch.image_name_pattern).await,
    }
}

fn images_found(config: &Config, region: &str, images: &[Image]) -> Check {
    let launch = &config.cloud.launch;
    let wanted = match &launch.image_id {
        Some(id) => format!("image `{id}`"),
        None => format!("image named like `{}`", launch.image_name_pattern),
    };
    match images.first() {
        Some(newest) => Check::ok(
            NAME,
            format!(
                "EC2 answered; {} image(s) found, launching {} ({})",
                images.len(),
                newest.id,
                newest.name.as_deref().unwrap_or("no name")
            ),
        ),
        None => missing_image(config, region, &wanted),
    }
}

fn missing_image(config: &Config, region: &str, wanted: &str) -> Check {
    let owners = config.cloud.aws.image_owners.join(", ");
    let fix = match &config.cloud.launch.image_id {
        Some(_) => format!(
            "AMI ids belong to one region: copy the image to {region} or use \
             cloud.launch.image_name_pattern; an image of another account must be shared \
             with this one"
        ),
        None => format!(
            "if the image belongs to another account that shares it with this one, add that \
             account's 12-digit id to {}; otherwise correct {}",
            setting("cloud.aws.image_owners"),
            setting("cloud.launch.image_name_pattern")
        ),
    };
    Check::warn(
        NAME,
        format!(
            "EC2 answered, but no {wanted} is visible among the image owners [{owners}]: \
             launches in {region} will fail (imports still work)"
        ),
        fix,
    )
}

/// What to do about `error` from the image lookup in `region`.
fn advice(config: &Config, region: &str, error: &CloudError) -> Check {
    let said = concise(&error.to_string());
    let code = match error {
        CloudError::Api { code, .. } | CloudError::InvalidRequest { code, .. } => code.as_str(),
        _ => "",
    };
    match error {
        CloudError::NotFound { id, .. } => missing_image(config, region, &format!("image `{id}`")),
        CloudError::Throttled { .. } => Check::warn(
            NAME,
            format!("EC2 throttled the check: {said}"),
            "other tools share the account's API rate; run ccm doctor again in a minute",
        ),
        CloudError::Unavailable { message, .. } if mentions_credentials(message) => Check::fail(
            NAME,
            format!("no AWS credentials were found: {said}"),
            credentials_fix(config),
        ),
        CloudError::Unavailable { .. } => Check::fail(
            NAME,
            format!("the EC2 endpoint is unreachable: {said}"),
            unreachable_fix(config, region),
        ),
        _ if CREDENTIAL_CODES.contains(&code) => Check::fail(
            NAME,
            format!("AWS refused the credentials ({code}): {said}"),
            credentials_fix(config),
        ),
        _ if PERMISSION_CODES.contains(&code) => Check::fail(
            NAME,
            format!("the credentials may not describe images ({code}): {said}"),
            "grant the IAM principal ccm runs as ec2:DescribeImages (and the rest of ccm's \
             EC2 and CloudWatch permissions)",
        ),
        _ if code == "OptInRequired" => Check::fail(
            NAME,
            format!("the account cannot use {region}: {said}"),
            format!(
                "enable {region} for the account, or remove it from {}",
                setting("cloud.regions")
            ),
        ),
        _ => Check::fail(
            NAME,
            said,
            "see AWS's message above; `ccm config check` validates [cloud.aws]",
        ),
    }
}

/// `message` without the SDK's `Debug` dump of its error chain (` (DispatchFailure(…`),
/// keeping the closing `(no response, 6 attempts)` or `(HTTP 403, …)`.
fn concise(message: &str) -> String {
    let dump = message.match_indices(" (").map(|(at, _)| at).find(|&at| {
        let rest = &message[at + 2..];
        let word_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .unwrap_or(rest.len());
        rest.starts_with(|c: char| c.is_ascii_uppercase())
            && rest[word_len..].starts_with(['(', '{'])
    });
    let Some(at) = dump else {
        return message.to_owned();
    };
    let mut out = message[..at].to_owned();
    let outcome = [" (no response", " (HTTP "]
        .iter()
        .filter_map(|start| message.rfind(start))
        .max();
    if let Some(tail) = outcome.filter(|&tail| tail > at) {
        out.push_str(&message[tail..]);
    }
    out
}

/// True for the SDK's "no credentials could be loaded" failures, which it reports
/// before anything is sent.
fn mentions_credentials(message: &str) -> bool {
    let message = message.to_lowercase();
    message.contains("credential") || message.contains("no identity")
}

fn credentials_fix(config: &Config) -> String {
    let aws = &config.cloud.aws;
    if aws.access_key_id.is_some() {
        format!(
            "replace the key pair in {} and {} (add {} for temporary credentials)",
            setting("cloud.aws.access_key_id"),
            setting("cloud.aws.secret_access_key"),
            setting("cloud.aws.session_token")
        )
    } else if let Some(profile) = &aws.profile {
        format!(
            "profile `{profile}` ({}) has no valid credentials in ~/.aws: run `aws configure \
             --profile {profile}` or `aws sso login --profile {profile}`",
            setting("cloud.aws.profile")
        )
    } else {
        format!(
            "ccm uses the standard AWS chain: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
             or AWS_PROFILE / {}, or run with an instance or pod role; or set {} and {}",
            setting("cloud.aws.profile"),
            setting("cloud.aws.access_key_id"),
            setting("cloud.aws.secret_access_key")
        )
    }
}

fn unreachable_fix(config: &Config, region: &str) -> String {
    match &config.cloud.aws.endpoint_url {
        Some(url) => format!(
            "nothing answers at {url}: correct or remove {}",
            setting("cloud.aws.endpoint_url")
        ),
        None => format!(
            "check this host's access to ec2.{region}.amazonaws.com (DNS, firewall, \
             HTTPS_PROXY, VPC endpoint) and that `{region}` is a region name"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::doctor::Status;
    use super::*;

    fn aws() -> Config {
        let mut config = Config::default();
        config.cloud.provider = CloudKind::Aws;
        config
    }

    fn api(code: &str) -> CloudError {
        CloudError::Api {
            operation: "DescribeImages".into(),
            code: code.into(),
            message: "no".into(),
            request_id: None,
        }
    }

    #[test]
    fn no_image_names_the_owners_setting() {
        let check = images_found(&aws(), "us-east-1", &[]);
        assert_eq!(check.status, Status::Warn);
        assert!(check.detail.contains("[self]"), "{}", check.detail);
        assert!(check
            .fix
            .unwrap()
            .contains("cloud.aws.image_owners (CCM_AWS_IMAGE_OWNERS)"));
        let not_found = advice(
            &aws(),
            "us-east-1",
            &CloudError::NotFound {
                what: "image",
                id: "ami-1".into(),
            },
        );
        assert_eq!(not_found.status, Status::Warn);
    }

    #[test]
    fn refused_credentials_say_which_settings() {
        let mut config = aws();
        let chain = advice(&config, "us-east-1", &api("AuthFailure"));
        assert_eq!(chain.status, Status::Fail);
        assert!(chain.fix.unwrap().contains("AWS_ACCESS_KEY_ID"));
        config.cloud.aws.profile = Some("ops".into());
        let invalid = CloudError::InvalidRequest {
            operation: "DescribeImages".into(),
            code: "InvalidClientTokenId".into(),
            message: "bad".into(),
        };
        assert!(advice(&config, "us-east-1", &invalid)
            .fix
            .unwrap()
            .contains("--profile ops"));
        config.cloud.aws.access_key_id = Some("AKIA".into());
        assert!(advice(&config, "us-east-1", &api("SignatureDoesNotMatch"))
            .fix
            .unwrap()
            .contains("CCM_AWS_SECRET_ACCESS_KEY"));
        let missing = CloudError::Unavailable {
            operation: "DescribeImages".into(),
            message: "dispatch failure: no credentials in the property bag".into(),
        };
        let check = advice(&aws(), "us-east-1", &missing);
        assert!(
            check.detail.starts_with("no AWS credentials"),
            "{}",
            check.detail
        );
    }

    #[test]
    fn the_sdks_debug_dump_is_left_out() {
        let sdk = "DescribeImages unavailable: dispatch failure: io error: tcp connect error: \
                   Connection refused (os error 111) (DispatchFailure(DispatchFailure { source: \
                   ConnectorError { kind: Io } })) (no response, 6 attempts)";
        assert_eq!(
            concise(sdk),
            "DescribeImages unavailable: dispatch failure: io error: tcp connect error: \
             Connection refused (os error 111) (no response, 6 attempts)"
        );
        let plain = "DescribeImages failed (AuthFailure, request None): denied";
        assert_eq!(concise(plain), plain);
    }

    #[test]
    fn unreachable_endpoints_and_missing_permissions() {
        let down = CloudError::Unavailable {
            operation: "DescribeImages".into(),
            message: "connection refused".into(),
        };
        let mut config = aws();
        let check = advice(&config, "eu-west-1", &down);
        assert!(check.detail.contains("unreachable"));
        assert!(check.fix.unwrap().contains("ec2.eu-west-1.amazonaws.com"));
        config.cloud.aws.endpoint_url = Some("http://127.0.0.1:1".into());
        assert!(advice(&config, "eu-west-1", &down)
            .fix
            .unwrap()
            .contains("CCM_AWS_ENDPOINT_URL"));
        let denied = advice(&config, "eu-west-1", &api("UnauthorizedOperation"));
        assert!(denied.fix.unwrap().contains("ec2:DescribeImages"));
        let throttled = CloudError::Throttled {
            operation: "DescribeImages".into(),
            message: "slow down".into(),
        };
        assert_eq!(
            advice(&config, "eu-west-1", &throttled).status,
            Status::Warn
        );
    }
}
