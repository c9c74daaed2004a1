//! [`AwsCloud`]: the [`CloudProvider`] over EC2 and CloudWatch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{Credentials, Region as AwsRegion};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types as ec2;
use aws_smithy_http_client::tls;
use ccm_core::ids::{ImageId, InstanceId, Region};
use ccm_core::ports::cloud::{
    name_matches, CloudError, CloudProvider, DiscoveryFilter, Image, ImageSelector, Instance,
    InstanceState, InstanceStatusCheck, LaunchRequest, MetricSample, MetricsQuery, StateChange,
    WORKER_ID_TAG,
};
use tokio::sync::OnceCell;

use crate::calls::CallCounter;
use crate::config::{AwsConfig, METRIC_QUERIES_PER_CALL, STATUS_IDS_PER_CALL};
use crate::convert;
use crate::error::{is_unknown_instance, to_cloud_error, AwsError, CallContext};
use crate::metrics;
use crate::retry::{Backoff, Failure, FailureKind};

/// Operation names, as counted by [`AwsCloud::call_counts`].
pub mod ops {
    /// `ec2:RunInstances`.
    pub const RUN_INSTANCES: &str = "RunInstances";
    /// `ec2:StartInstances`.
    pub const START_INSTANCES: &str = "StartInstances";
    /// `ec2:StopInstances`.
    pub const STOP_INSTANCES: &str = "StopInstances";
    /// `ec2:TerminateInstances`.
    pub const TERMINATE_INSTANCES: &str = "TerminateInstances";
    /// `ec2:DescribeInstances`.
    pub const DESCRIBE_INSTANCES: &str = "DescribeInstances";
    /// `ec2:DescribeInstanceStatus`.
    pub const DESCRIBE_INSTANCE_STATUS: &str = "DescribeInstanceStatus";
    /// `ec2:DescribeImages`.
    pub const DESCRIBE_IMAGES: &str = "DescribeImages";
    /// `ec2:CreateTags`.
    pub const CREATE_TAGS: &str = "CreateTags";
    /// `ec2:DeleteTags`.
    pub const DELETE_TAGS: &str = "DeleteTags";
    /// `ec2:MonitorInstances`.
    pub const MONITOR_INSTANCES: &str = "MonitorInstances";
    /// `cloudwatch:GetMetricData`.
    pub const GET_METRIC_DATA: &str = "GetMetricData";
}

/// The clients of one region.
#[derive(Clone, Debug)]
struct RegionClients {
    ec2: aws_sdk_ec2::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
}

/// [`CloudProvider`] over `aws-sdk-ec2` and `aws-sdk-cloudwatch`. One value serves
/// every region: the clients of a region are made on its first use and cached.
pub struct AwsCloud {
    config: AwsConfig,
    http: aws_sdk_ec2::config::SharedHttpClient,
    base: OnceCell<SdkConfig>,
    regions: Mutex<HashMap<String, RegionClients>>,
    calls: CallCounter,
    backoff: Backoff,
}

impl std::fmt::Debug for AwsCloud {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCloud")
            .field("config", &self.config)
            .field("regions", &self.region_names())
            .finish_non_exhaustive()
    }
}

fn jitter_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    // Truncation is fine: this only seeds the jitter.
    (nanos as u64) ^ u64::from(std::process::id()).rotate_left(32)
}

impl AwsCloud {
    /// A provider for `config`. Nothing is contacted until the first call: the
    /// credential chain is resolved then, and each region's clients on its first use.
    pub fn new(config: AwsConfig) -> Result<Self, AwsError> {
        config.validate()?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let backoff = Backoff::new(config.retry.clone(), jitter_seed());
        Ok(Self {
            config,
            http,
            base: OnceCell::new(),
            regions: Mutex::new(HashMap::new()),
            calls: CallCounter::default(),
            backoff,
        })
    }

    /// A provider over an already loaded shared configuration (credentials, HTTP
    /// client, endpoint). Retries and timeouts still come from `config`.
    pub fn with_sdk_config(sdk: SdkConfig, config: AwsConfig) -> Result<Self, AwsError> {
        let cloud = Self::new(config)?;
        // A fresh cell: setting it cannot fail.
        let _ = cloud.base.set(sdk);
        Ok(cloud)
    }

    /// The configuration.
    pub fn config(&self) -> &AwsConfig {
        &self.config
    }

    /// Attempts per API operation since creation (or the last reset): every page and
    /// every retry counts once.
    pub fn call_counts(&self) -> BTreeMap<String, u64> {
        self.calls.attempts()
    }

    /// Retries (attempts after the first) per API operation.
    pub fn retry_counts(&self) -> BTreeMap<String, u64> {
        self.calls.retries()
    }

    /// All attempts of all operations.
    pub fn total_calls(&self) -> u64 {
        self.calls.attempts().values().sum()
    }

    /// Zeroes the counters.
    pub fn reset_call_counts(&self) {
        self.calls.reset();
    }

    /// Regions whose clients exist.
    pub fn region_names(&self) -> Vec<String> {
        let mut names: Vec<String> = match self.regions.lock() {
            Ok(map) => map.keys().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().keys().cloned().collect(),
        };
        names.sort();
        names
    }

    /// The EC2 client of a region, for what the port does not cover (tests register
    /// images with it). Calls through it are neither counted nor retried.
    pub async fn ec2_client(&self, region: &Region) -> Result<aws_sdk_ec2::Client, CloudError> {
        Ok(self.clients(region).await?.ec2)
    }

    /// The CloudWatch client of a region (tests publish datapoints with it). Calls
    /// through it are neither counted nor retried.
    pub async fn cloudwatch_client(
        &self,
        region: &Region,
    ) -> Result<aws_sdk_cloudwatch::Client, CloudError> {
        Ok(self.clients(region).await?.cloudwatch)
    }

    async fn load_base(&self) -> SdkConfig {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(self.http.clone())
            .retry_config(RetryConfig::disabled())
            .timeout_config(self.timeouts());
        if let Some(region) = &self.config.region {
            loader = loader.region(AwsRegion::new(region.clone()));
        }
        if let Some(profile) = &self.config.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(url) = &self.config.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        if let Some(creds) = &self.config.credentials {
            loader = loader.credentials_provider(Credentials::new(
                creds.access_key_id.clone(),
                creds.secret_access_key.expose().to_owned(),
                creds.session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "ccm-static",
            ));
        }
        loader.load().await
    }

    fn timeouts(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.config.connect_timeout)
            .operation_attempt_timeout(self.config.attempt_timeout)
            .build()
    }

    async fn clients(&self, region: &Region) -> Result<RegionClients, CloudError> {
        let name = region.as_str();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(CloudError::InvalidRequest {
                operation: "SelectRegion".to_owned(),
                code: "InvalidRegion".to_owned(),
                message: format!("`{name}` is not a region name"),
            });
        }
        if let Some(found) = self.lock_regions().get(name) {
            return Ok(found.clone());
        }
        let base = self.base.get_or_init(|| self.load_base()).await;
        let aws_region = AwsRegion::new(name.to_owned());
        let ec2 = aws_sdk_ec2::config::Builder::from(base)
            .region(aws_region.clone())
            .retry_config(RetryConfig::disabled())
            .timeout_config(self.timeouts())
            .build();
        let cloudwatch = aws_sdk_cloudwatch::config::Builder::from(base)
            .region(aws_region)
            .retry_config(RetryConfig::disabled())
            .timeout_config(self.timeouts())
            .build();
        let made = RegionClients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch),
        };
        tracing::debug!(region = name, "created AWS clients");
        Ok(self
            .lock_regions()
            .entry(name.to_owned())
            .or_insert(made)
            .clone())
    }

    fn lock_regions(&self) -> std::sync::MutexGuard<'_, HashMap<String, RegionClients>> {
        match self.regions.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Sends one API call, retrying throttled and transient failures with backoff;
    /// counts every attempt.
    async fn call<T, E, Fut>(
        &self,
        operation: &'static str,
        mut send: impl FnMut() -> Fut,
    ) -> Result<T, Failure>
    where
        Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.calls.record(operation, attempt > 1);
            let err = match send().await {
                Ok(out) => return Ok(out),
                Err(err) => err,
            };
            let mut failure = Failure::from_sdk(&err);
            failure.attempts = attempt;
            if failure.kind == FailureKind::Fatal {
                return Err(failure);
            }
            if attempt >= self.backoff.max_attempts() {
                tracing::warn!(
                    operation,
                    attempts = attempt,
                    code = ?failure.code,
                    status = ?failure.status,
                    request_id = ?failure.request_id,
                    "AWS call failed after retries"
                );
                return Err(failure);
            }
            let delay = self.backoff.delay(attempt);
            tracing::debug!(
                operation,
                attempt,
                ?delay,
                kind = ?failure.kind,
                code = ?failure.code,
                status = ?failure.status,
                "retrying AWS call"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// `DescribeInstances` with filters, every page.
    async fn describe_filtered(
        &self,
        region: &Region,
        ec2_client: &aws_sdk_ec2::Client,
        filters: Vec<ec2::Filter>,
    ) -> Result<Vec<Instance>, CloudError> {
        let page_size = i32::try_from(self.config.page_size).unwrap_or(1000);
        let mut token: Option<String> = None;
        let mut found = Vec::new();
        loop {
            let page = self
                .call(ops::DESCRIBE_INSTANCES, || {
                    ec2_client
                        .describe_instances()
                        .set_filters(Some(filters.clone()))
                        .max_results(page_size)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|f| {
                    to_cloud_error(
                        ops::DESCRIBE_INSTANCES,
                        f,
                        &CallContext {
                            region: region.as_str(),
                            ..CallContext::default()
                        },
                    )
                })?;
            for reservation in page.reservations() {
                found.extend(
                    reservation
                        .instances()
                        .iter()
                        .map(|i| convert::instance(region, i)),
                );
            }
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(found),
            }
        }
    }

    /// Describes `ids` through `instance-id` filters (unknown ids match nothing),
    /// `max_filter_values` ids per filter.
    async fn describe_ids(
        &self,
        region: &Region,
        ec2_client: &aws_sdk_ec2::Client,
        ids: &[InstanceId],
    ) -> Result<Vec<Instance>, CloudError> {
        let ids = dedup(ids);
        let mut found = Vec::new();
        for chunk in ids.chunks(self.config.max_filter_values) {
            let filter = filter("instance-id", chunk.iter().cloned());
            found.extend(
                self.describe_filtered(region, ec2_client, vec![filter])
                    .await?,
            );
        }
        Ok(found)
    }

    /// Images by filters, every page, newest first.
    async fn images_filtered(
        &self,
        region: &Region,
        ec2_client: &aws_sdk_ec2::Client,
        filters: Vec<ec2::Filter>,
        owners: Option<Vec<String>>,
        context: &str,
    ) -> Result<Vec<Image>, CloudError> {
        let page_size = i32::try_from(self.config.page_size).unwrap_or(1000);
        let mut token: Option<String> = None;
        let mut images = Vec::new();
        loop {
            let page = self
                .call(ops::DESCRIBE_IMAGES, || {
                    ec2_client
                        .describe_images()
                        .set_filters(Some(filters.clone()))
                        .set_owners(owners.clone())
                        .max_results(page_size)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
                .map_err(|f| {
                    to_cloud_error(
                        ops::DESCRIBE_IMAGES,
                        f,
                        &CallContext {
                            region: region.as_str(),
                            image: Some(context),
                            ..CallContext::default()
                        },
                    )
                })?;
            images.extend(page.images().iter().map(convert::image));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        convert::sort_newest_first(&mut images);
        Ok(images)
    }

    async fn find_images_with(
        &self,
        region: &Region,
        ec2_client: &aws_sdk_ec2::Client,
        pattern: &str,
    ) -> Result<Vec<Image>, CloudError> {
        let owners =
            (!self.config.image_owners.is_empty()).then(|| self.config.image_owners.clone());
        let filters = vec![
            filter("name", [pattern.to_owned()]),
            filter("state", ["available".to_owned()]),
        ];
        let mut images = self
            .images_filtered(region, ec2_client, filters, owners, pattern)
            .await?;
        images.retain(|i| i.name.as_deref().is_some_and(|n| name_matches(pattern, n)));
        Ok(images)
    }

    /// One state-changing call (`Start/Stop/TerminateInstances`) per id batch.
    async fn change_state(
        &self,
        operation: &'static str,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        let ids = dedup(ids);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let clients = self.clients(region).await?;
        let mut changes = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(self.config.max_ids_per_call) {
            let chunk = chunk.to_vec();
            let ec2_client = &clients.ec2;
            let fail = |f: Failure| {
                to_cloud_error(
                    operation,
                    f,
                    &CallContext {
                        region: region.as_str(),
                        instance_ids: &chunk,
                        ..CallContext::default()
                    },
                )
            };
            let answered: Vec<StateChange> = match operation {
                ops::START_INSTANCES => self
                    .call(operation, || {
                        ec2_client
                            .start_instances()
                            .set_instance_ids(Some(chunk.clone()))
                            .send()
                    })
                    .await
                    .map_err(fail)?
                    .starting_instances()
                    .iter()
                    .map(convert::state_change)
                    .collect(),
                ops::STOP_INSTANCES => self
                    .call(operation, || {
                        ec2_client
                            .stop_instances()
                            .set_instance_ids(Some(chunk.clone()))
                            .send()
                    })
                    .await
                    .map_err(fail)?
                    .stopping_instances()
                    .iter()
                    .map(convert::state_change)
                    .collect(),
                _ => self
                    .call(operation, || {
                        ec2_client
                            .terminate_instances()
                            .set_instance_ids(Some(chunk.clone()))
                            .send()
                    })
                    .await
                    .map_err(fail)?
                    .terminating_instances()
                    .iter()
                    .map(convert::state_change)
                    .collect(),
            };
            changes.extend(answered);
        }
        Ok(changes)
    }

    /// `DescribeInstanceStatus` of up to 100 ids, every page. `Ok(None)` when EC2
    /// refused an id of the chunk as unknown.
    async fn status_chunk(
        &self,
        region: &Region,
        ec2_client: &aws_sdk_ec2::Client,
        chunk: &[String],
    ) -> Result<Option<Vec<InstanceStatusCheck>>, CloudError> {
        let mut token: Option<String> = None;
        let mut checks = Vec::new();
        loop {
            let page = match self
                .call(ops::DESCRIBE_INSTANCE_STATUS, || {
                    ec2_client
                        .describe_instance_status()
                        .set_instance_ids(Some(chunk.to_vec()))
                        .include_all_instances(false)
                        .set_next_token(token.clone())
                        .send()
                })
                .await
            {
                Ok(page) => page,
                Err(f) if is_unknown_instance(&f) => return Ok(None),
                Err(f) => {
                    return Err(to_cloud_error(
                        ops::DESCRIBE_INSTANCE_STATUS,
                        f,
                        &CallContext {
                            region: region.as_str(),
                            instance_ids: chunk,
                            ..CallContext::default()
                        },
                    ))
                }
            };
            checks.extend(
                page.instance_statuses()
                    .iter()
                    .filter(|s| {
                        s.instance_state().is_none_or(|st| {
                            convert::instance_state(Some(st)) == InstanceState::Running
                        })
                    })
                    .map(convert::status_check),
            );
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => return Ok(Some(checks)),
            }
        }
    }

    /// Applies one tag call (`CreateTags` / `DeleteTags`) per id batch.
    async fn tag_call(
        &self,
        operation: &'static str,
        region: &Region,
        ids: &[InstanceId],
        tags: Vec<ec2::Tag>,
    ) -> Result<(), CloudError> {
        let ids = dedup(ids);
        if ids.is_empty() || tags.is_empty() {
            return Ok(());
        }
        let clients = self.clients(region).await?;
        for chunk in ids.chunks(self.config.max_ids_per_call) {
            let chunk = chunk.to_vec();
            let ec2_client = &clients.ec2;
            let fail = |f: Failure| {
                to_cloud_error(
                    operation,
                    f,
                    &CallContext {
                        region: region.as_str(),
                        instance_ids: &chunk,
                        ..CallContext::default()
                    },
                )
            };
            if operation == ops::CREATE_TAGS {
                self.call(operation, || {
                    ec2_client
                        .create_tags()
                        .set_resources(Some(chunk.clone()))
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await
                .map_err(fail)?;
            } else {
                self.call(operation, || {
                    ec2_client
                        .delete_tags()
                        .set_resources(Some(chunk.clone()))
                        .set_tags(Some(tags.clone()))
                        .send()
                })
                .await
                .map_err(fail)?;
            }
        }
        Ok(())
    }

    /// `RunInstances` for a request whose image is resolved.
    async fn run_instance(
        &self,
        request: &LaunchRequest,
        ec2_client: &aws_sdk_ec2::Client,
        image_id: &str,
        client_token: &str,
    ) -> Result<Instance, CloudError> {
        let mut tags = request.tags.clone();
        tags.insert("Name".to_owned(), request.name.clone());
        tags.insert(WORKER_ID_TAG.to_owned(), request.worker_id.to_string());
        let sdk_tags: Vec<ec2::Tag> = tags
            .iter()
            .map(|(k, v)| ec2::Tag::builder().key(k).value(v).build())
            .collect();
        let tag_specs: Vec<ec2::TagSpecification> =
            [ec2::ResourceType::Instance, ec2::ResourceType::Volume]
                .into_iter()
                .map(|kind| {
                    ec2::TagSpecification::builder()
                        .resource_type(kind)
                        .set_tags(Some(sdk_tags.clone()))
                        .build()
                })
                .collect();
        let security_groups =
            (!request.security_group_ids.is_empty()).then(|| request.security_group_ids.clone());
        let profile = request.iam_instance_profile.as_ref().map(|name| {
            ec2::IamInstanceProfileSpecification::builder()
                .name(name)
                .build()
        });
        let monitoring = ec2::RunInstancesMonitoringEnabled::builder()
            .enabled(request.detailed_monitoring)
            .build();
        let launched = self
            .call(ops::RUN_INSTANCES, || {
                ec2_client
                    .run_instances()
                    .image_id(image_id)
                    .instance_type(ec2::InstanceType::from(request.instance_type.as_str()))
                    .min_count(1)
                    .max_count(1)
                    .client_token(client_token)
                    .set_subnet_id(request.subnet_id.clone())
                    .set_security_group_ids(security_groups.clone())
                    .set_key_name(request.key_name.clone())
                    .set_iam_instance_profile(profile.clone())
                    .monitoring(monitoring.clone())
                    .set_tag_specifications(Some(tag_specs.clone()))
                    .send()
            })
            .await
            .map_err(|f| {
                to_cloud_error(
                    ops::RUN_INSTANCES,
                    f,
                    &CallContext {
                        region: request.region.as_str(),
                        image: Some(image_id),
                        instance_type: Some(&request.instance_type),
                        ..CallContext::default()
                    },
                )
            })?;
        let raw = launched
            .instances()
            .first()
            .ok_or_else(|| CloudError::Api {
                operation: ops::RUN_INSTANCES.to_owned(),
                code: "EmptyResponse".to_owned(),
                message: "RunInstances answered no instance".to_owned(),
                request_id: None,
            })?;
        let mut instance = convert::instance(&request.region, raw);
        // The tags were part of the launch request; some answers omit them.
        for (k, v) in tags {
            instance.tags.entry(k).or_insert(v);
        }
        Ok(instance)
    }

    async fn resolve_image(
        &self,
        request: &LaunchRequest,
        ec2_client: &aws_sdk_ec2::Client,
    ) -> Result<String, CloudError> {
        match &request.image {
            ImageSelector::Id(id) => Ok(id.as_str().to_owned()),
            ImageSelector::NamePattern(pattern) => self
                .find_images_with(&request.region, ec2_client, pattern)
                .await?
                .into_iter()
                .next()
                .map(|image| image.id.0)
                .ok_or_else(|| CloudError::NotFound {
                    what: "image",
                    id: pattern.clone(),
                }),
        }
    }
}

/// An EC2 filter.
fn filter(name: &str, values: impl IntoIterator<Item = String>) -> ec2::Filter {
    ec2::Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// Ids as strings, first occurrence kept, order kept.
fn dedup(ids: &[InstanceId]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    ids.iter()
        .filter(|id| seen.insert(id.as_str()))
        .map(|id| id.as_str().to_owned())
        .collect()
}

#[async_trait]
impl CloudProvider for AwsCloud {
    async fn launch(&self, request: &LaunchRequest) -> Result<Instance, CloudError> {
        let clients = self.clients(&request.region).await?;
        // The worker tag, not the client token, makes a retried launch idempotent:
        // moto ignores tokens and AWS forgets them.
        let mut mine = self
            .describe_filtered(
                &request.region,
                &clients.ec2,
                vec![filter(
                    &format!("tag:{WORKER_ID_TAG}"),
                    [request.worker_id.to_string()],
                )],
            )
            .await?;
        mine.sort_by_key(|i| i.launched_at);
        let dead = mine.iter().filter(|i| i.state.is_gone()).count();
        if let Some(live) = mine.into_iter().find(|i| !i.state.is_gone()) {
            tracing::info!(
                worker = %request.worker_id,
                instance = %live.instance_id,
                "worker already has an instance; not launching another"
            );
            return Ok(live);
        }
        let image_id = self.resolve_image(request, &clients.ec2).await?;
        // A token already spent on an instance that has died would make EC2 answer
        // that dead instance again: count the dead ones into the token.
        let base_token = request.client_token();
        let token = if dead == 0 {
            base_token.clone()
        } else {
            format!("{base_token}-{dead}")
        };
        let instance = self
            .run_instance(request, &clients.ec2, &image_id, &token)
            .await?;
        if !instance.state.is_gone() {
            tracing::info!(
                worker = %request.worker_id,
                instance = %instance.instance_id,
                image = %image_id,
                "launched instance"
            );
            return Ok(instance);
        }
        // EC2 replayed a token whose instance is gone (it no longer shows in
        // DescribeInstances): launch under a token nobody used.
        let stamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        tracing::warn!(
            worker = %request.worker_id,
            replayed = %instance.instance_id,
            "client token replayed a dead instance; launching with a fresh token"
        );
        self.run_instance(
            request,
            &clients.ec2,
            &image_id,
            &format!("{base_token}-{dead}-{stamp}"),
        )
        .await
    }

    async fn start(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.change_state(ops::START_INSTANCES, region, ids).await
    }

    async fn stop(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.change_state(ops::STOP_INSTANCES, region, ids).await
    }

    async fn terminate(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<StateChange>, CloudError> {
        self.change_state(ops::TERMINATE_INSTANCES, region, ids)
            .await
    }

    async fn describe(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<Instance>, CloudError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let clients = self.clients(region).await?;
        self.describe_ids(region, &clients.ec2, ids).await
    }

    async fn status_checks(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<Vec<InstanceStatusCheck>, CloudError> {
        let ids = dedup(ids);
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let clients = self.clients(region).await?;
        let mut checks = Vec::new();
        for chunk in ids.chunks(STATUS_IDS_PER_CALL) {
            if let Some(found) = self.status_chunk(region, &clients.ec2, chunk).await? {
                checks.extend(found);
                continue;
            }
            // EC2 refuses the whole call for one unknown id: keep the ids that exist
            // and ask again (unknown ids are simply left out of the answer).
            let as_ids: Vec<InstanceId> =
                chunk.iter().map(|s| InstanceId::new(s.as_str())).collect();
            let known: Vec<String> = self
                .describe_ids(region, &clients.ec2, &as_ids)
                .await?
                .into_iter()
                .map(|i| i.instance_id.0)
                .collect();
            if known.is_empty() {
                continue;
            }
            match self.status_chunk(region, &clients.ec2, &known).await? {
                Some(found) => checks.extend(found),
                None => {
                    return Err(CloudError::NotFound {
                        what: "instance",
                        id: known.join(","),
                    })
                }
            }
        }
        Ok(checks)
    }

    async fn metrics(
        &self,
        region: &Region,
        query: &MetricsQuery,
    ) -> Result<Vec<MetricSample>, CloudError> {
        let invalid = |message: String| CloudError::InvalidRequest {
            operation: ops::GET_METRIC_DATA.to_owned(),
            code: "InvalidParameterValue".to_owned(),
            message,
        };
        // CloudWatch periods: 1, 5, 10, 20, 30 (high resolution) or a multiple of 60.
        let period = i32::try_from(query.period_seconds).unwrap_or(0);
        if !(matches!(period, 1 | 5 | 10 | 20 | 30) || (period > 0 && period % 60 == 0)) {
            return Err(invalid(format!(
                "period {}s is not 1, 5, 10, 20, 30 or a multiple of 60",
                query.period_seconds
            )));
        }
        if query.start >= query.end {
            return Err(invalid(format!(
                "window start {} is not before its end {}",
                query.start, query.end
            )));
        }
        let plan = metrics::plan(query);
        if plan.is_empty() {
            return Ok(Vec::new());
        }
        let clients = self.clients(region).await?;
        let cw = &clients.cloudwatch;
        let start = convert::to_aws_time(query.start);
        let end = convert::to_aws_time(query.end);
        let mut latest: Vec<Option<(f64, ccm_core::time::Timestamp)>> = vec![None; plan.len()];
        for (batch_no, batch) in plan.chunks(METRIC_QUERIES_PER_CALL).enumerate() {
            let offset = batch_no * METRIC_QUERIES_PER_CALL;
            let queries: Vec<_> = batch
                .iter()
                .enumerate()
                .map(|(i, (id, metric))| metrics::data_query(offset + i, id, *metric, period))
                .collect();
            let mut token: Option<String> = None;
            loop {
                let page = self
                    .call(ops::GET_METRIC_DATA, || {
                        cw.get_metric_data()
                            .set_metric_data_queries(Some(queries.clone()))
                            .start_time(start)
                            .end_time(end)
                            .scan_by(aws_sdk_cloudwatch::types::ScanBy::TimestampDescending)
                            .set_next_token(token.clone())
                            .send()
                    })
                    .await
                    .map_err(|f| {
                        to_cloud_error(
                            ops::GET_METRIC_DATA,
                            f,
                            &CallContext {
                                region: region.as_str(),
                                ..CallContext::default()
                            },
                        )
                    })?;
                for result in page.metric_data_results() {
                    let Some(index) = result.id().and_then(metrics::query_index) else {
                        continue;
                    };
                    if let Some(slot) = latest.get_mut(index) {
                        *slot = metrics::keep_latest(
                            *slot,
                            metrics::latest(result.timestamps(), result.values()),
                        );
                    }
                }
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(metrics::samples(&plan, &latest))
    }

    async fn find_images(
        &self,
        region: &Region,
        name_pattern: &str,
    ) -> Result<Vec<Image>, CloudError> {
        let clients = self.clients(region).await?;
        self.find_images_with(region, &clients.ec2, name_pattern)
            .await
    }

    async fn describe_images(
        &self,
        region: &Region,
        ids: &[ImageId],
    ) -> Result<Vec<Image>, CloudError> {
        let mut seen = BTreeSet::new();
        let ids: Vec<String> = ids
            .iter()
            .filter(|id| seen.insert(id.as_str()))
            .map(|id| id.as_str().to_owned())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let clients = self.clients(region).await?;
        let mut images = Vec::new();
        for chunk in ids.chunks(self.config.max_filter_values) {
            let context = chunk.join(",");
            images.extend(
                self.images_filtered(
                    region,
                    &clients.ec2,
                    vec![filter("image-id", chunk.iter().cloned())],
                    None,
                    &context,
                )
                .await?,
            );
        }
        convert::sort_newest_first(&mut images);
        Ok(images)
    }

    async fn discover(
        &self,
        region: &Region,
        discovery: &DiscoveryFilter,
    ) -> Result<Vec<Instance>, CloudError> {
        let clients = self.clients(region).await?;
        let mut image_ids: Option<Vec<String>> = (!discovery.image_ids.is_empty())
            .then(|| discovery.image_ids.iter().map(|i| i.0.clone()).collect());
        if let Some(pattern) = &discovery.image_name_pattern {
            let by_name: BTreeSet<String> = self
                .find_images_with(region, &clients.ec2, pattern)
                .await?
                .into_iter()
                .map(|i| i.id.0)
                .collect();
            image_ids = Some(match image_ids {
                Some(ids) => ids.into_iter().filter(|i| by_name.contains(i)).collect(),
                None => by_name.into_iter().collect(),
            });
        }
        let mut filters: Vec<ec2::Filter> = discovery
            .tags
            .iter()
            .map(|(k, v)| filter(&format!("tag:{k}"), [v.clone()]))
            .collect();
        if !discovery.include_terminated {
            filters.push(filter(
                "instance-state-name",
                InstanceState::LIVE.iter().map(|s| s.as_str().to_owned()),
            ));
        }
        let Some(image_ids) = image_ids else {
            return self.describe_filtered(region, &clients.ec2, filters).await;
        };
        let mut seen = BTreeSet::new();
        let image_ids: Vec<String> = image_ids
            .into_iter()
            .filter(|i| seen.insert(i.clone()))
            .collect();
        let mut found = Vec::new();
        for chunk in image_ids.chunks(self.config.max_filter_values) {
            let mut with_images = filters.clone();
            with_images.push(filter("image-id", chunk.iter().cloned()));
            found.extend(
                self.describe_filtered(region, &clients.ec2, with_images)
                    .await?,
            );
        }
        Ok(found)
    }

    async fn set_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        tags: &BTreeMap<String, String>,
    ) -> Result<(), CloudError> {
        let tags = tags
            .iter()
            .map(|(k, v)| ec2::Tag::builder().key(k).value(v).build())
            .collect();
        self.tag_call(ops::CREATE_TAGS, region, ids, tags).await
    }

    async fn remove_tags(
        &self,
        region: &Region,
        ids: &[InstanceId],
        keys: &[String],
    ) -> Result<(), CloudError> {
        let tags = keys
            .iter()
            .map(|k| ec2::Tag::builder().key(k).build())
            .collect();
        self.tag_call(ops::DELETE_TAGS, region, ids, tags).await
    }

    async fn enable_detailed_monitoring(
        &self,
        region: &Region,
        ids: &[InstanceId],
    ) -> Result<(), CloudError> {
        let ids = dedup(ids);
        if ids.is_empty() {
            return Ok(());
        }
        let clients = self.clients(region).await?;
        for chunk in ids.chunks(self.config.max_ids_per_call) {
            let chunk = chunk.to_vec();
            self.call(ops::MONITOR_INSTANCES, || {
                clients
                    .ec2
                    .monitor_instances()
                    .set_instance_ids(Some(chunk.clone()))
                    .send()
            })
            .await
            .map_err(|f| {
                to_cloud_error(
                    ops::MONITOR_INSTANCES,
                    f,
                    &CallContext {
                        region: region.as_str(),
                        instance_ids: &chunk,
                        ..CallContext::default()
                    },
                )
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_first_occurrences_in_order() {
        let ids = [
            InstanceId::new("i-2"),
            InstanceId::new("i-1"),
            InstanceId::new("i-2"),
        ];
        assert_eq!(dedup(&ids), ["i-2", "i-1"]);
    }

    #[test]
    fn construction_validates_and_debug_hides_secrets() {
        let mut config = AwsConfig::for_endpoint("http://127.0.0.1:1", "us-east-1");
        config.credentials = Some(crate::StaticCredentials::new("AKIDTEST", "very-secret-key"));
        let cloud = AwsCloud::new(config).expect("valid config");
        let shown = format!("{cloud:?}");
        assert!(
            shown.contains("AKIDTEST") && !shown.contains("very-secret-key"),
            "{shown}"
        );
        assert!(cloud.call_counts().is_empty());
        let bad = AwsConfig {
            page_size: 0,
            ..AwsConfig::default()
        };
        assert!(AwsCloud::new(bad).is_err());
    }

    #[tokio::test]
    async fn regions_get_their_own_cached_clients() {
        let cloud = AwsCloud::new(AwsConfig::for_endpoint("http://127.0.0.1:1", "us-east-1"))
            .expect("config");
        cloud
            .ec2_client(&Region::new("eu-west-1"))
            .await
            .expect("client");
        cloud
            .ec2_client(&Region::new("us-east-1"))
            .await
            .expect("client");
        cloud
            .cloudwatch_client(&Region::new("eu-west-1"))
            .await
            .expect("client");
        assert_eq!(cloud.region_names(), ["eu-west-1", "us-east-1"]);
        let bad = cloud.ec2_client(&Region::new("")).await;
        assert!(matches!(bad, Err(CloudError::InvalidRequest { .. })));
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_unavailable_after_counted_retries() {
        // Port 1 on loopback refuses connections: a dispatch failure, retried.
        let cloud = AwsCloud::new(AwsConfig::for_endpoint("http://127.0.0.1:1", "us-east-1"))
            .expect("config");
        let result = cloud
            .describe(&Region::new("us-east-1"), &[InstanceId::new("i-1")])
            .await;
        assert!(
            matches!(&result, Err(CloudError::Unavailable { operation, .. }) if operation == "DescribeInstances"),
            "{result:?}"
        );
        assert_eq!(cloud.call_counts()["DescribeInstances"], 4);
        assert_eq!(cloud.retry_counts()["DescribeInstances"], 3);
    }
}
