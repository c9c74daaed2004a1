//! `/api/v1/workers`: list, get, create, import (one or bulk), start, stop, refresh,
//! delete, tags, detailed monitoring, licence, idle status and idle detection.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_core::fleet::{CreateWorker, ImportMatching, WhenLabletsBound};
use ccm_core::ids::{ImageId, InstanceId, Region, WorkerId};
use ccm_core::ports::store::{PageRequest, WorkerFilter};
use ccm_core::secret::Secret;
use ccm_core::worker::LifecycleState;
use serde::Deserialize;

use super::error::{ApiError, ApiResult};
use super::page::{bounds, serve_page, Page};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::Principal;
use crate::state::AppState;
use crate::visibility::{redact_worker, sees_details};

/// Filters and page of `GET /workers`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only this region.
    pub region: Option<String>,
    /// Only these lifecycle states, comma-separated (`running,stopped`).
    pub status: Option<String>,
    /// Only workers with all these labels, comma-separated `key=value` pairs.
    pub label: Option<String>,
    /// Include terminated workers.
    #[serde(default)]
    pub include_terminated: bool,
    /// Page size.
    pub limit: Option<usize>,
    /// Page start.
    pub offset: Option<usize>,
}

fn parse_statuses(text: &str) -> ApiResult<Vec<LifecycleState>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
                ApiError::invalid(
                    "status",
                    format!("`{s}` is not a worker status (pending, provisioning, running, stopping, stopped, shutting-down, terminated, failed, unknown)"),
                )
            })
        })
        .collect()
}

fn parse_labels(text: &str) -> ApiResult<BTreeMap<String, String>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .filter(|(k, _)| !k.is_empty())
                .ok_or_else(|| ApiError::invalid("label", format!("`{pair}` is not key=value")))
        })
        .collect()
}

/// `GET /api/v1/workers`.
pub async fn list(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    let (offset, limit) = bounds(query.limit, query.offset)?;
    let filter = WorkerFilter {
        region: query.region.as_deref().map(Region::new),
        lifecycle: query
            .status
            .as_deref()
            .map(parse_statuses)
            .transpose()?
            .unwrap_or_default(),
        labels: query
            .label
            .as_deref()
            .map(parse_labels)
            .transpose()?
            .unwrap_or_default(),
        include_terminated: query.include_terminated,
    };
    // The page shows workers and, through `next_refresh_at`, the sweep job:
    // their generations, read before the records, say when it may be reused.
    let generations = state.store.generations().await?;
    let stamp = [generations.worker, generations.job];
    let key = format!(
        "workers|{}|{filter:?}|{offset}|{limit}",
        sees_details(who.role)
    );
    // The page's workers and one read of the sweep's schedule.
    serve_page(&state, key, stamp, async {
        let listed = state
            .fleet
            .list_workers_page(&filter, PageRequest { offset, limit })
            .await?;
        Ok(Page::from_listed(listed, offset, limit).map(|mut worker| {
            redact_worker(who.role, &mut worker);
            worker
        }))
    })
    .await
}

/// Body of `POST /workers`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Name.
    pub name: String,
    /// Region (the first configured region when absent).
    pub region: Option<String>,
    /// Instance type (the launch template's when absent).
    pub instance_type: Option<String>,
    /// Labels.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Extra EC2 tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Turn idle detection off.
    #[serde(default)]
    pub idle_detection_disabled: bool,
    /// A configured image by name (`cloud.launch.images`); the default image
    /// when absent (422 naming the configured ones for another name).
    pub image: Option<String>,
}

fn region_or_default(state: &AppState, region: Option<String>) -> ApiResult<Region> {
    let region = region
        .or_else(|| state.options.regions.first().cloned())
        .ok_or_else(|| ApiError::invalid("region", "no region given and none configured"))?;
    if !state.options.regions.contains(&region) {
        return Err(ApiError::invalid(
            "region",
            format!(
                "`{region}` is not a configured region ({})",
                state.options.regions.join(", ")
            ),
        ));
    }
    Ok(Region::new(region))
}

/// `POST /api/v1/workers`.
pub async fn create(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<CreateBody>,
) -> ApiResult<impl IntoResponse> {
    let region = region_or_default(&state, body.region)?;
    let worker = state
        .fleet
        .create_worker(CreateWorker {
            name: body.name,
            region,
            instance_type: body.instance_type,
            labels: body.labels,
            tags: body.tags,
            idle_detection_disabled: body.idle_detection_disabled,
            created_by: Some(who.subject),
            image: body.image,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(worker)))
}

/// Body of `POST /workers/import`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportBody {
    /// Region of the instance.
    pub region: Option<String>,
    /// The instance.
    pub instance_id: String,
    /// Worker name (the `Name` tag or the instance id when absent).
    pub name: Option<String>,
}

/// `POST /api/v1/workers/import`: adopts one instance.
pub async fn import_one(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<ImportBody>,
) -> ApiResult<impl IntoResponse> {
    let region = region_or_default(&state, body.region)?;
    if body.instance_id.trim().is_empty() {
        return Err(ApiError::invalid("instance_id", "must not be empty"));
    }
    let worker = state
        .fleet
        .import_instance(
            region,
            InstanceId::new(body.instance_id.trim()),
            body.name,
            Some(who.subject),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(worker)))
}

/// Body of `POST /workers/import-matching`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportMatchingBody {
    /// Region to search.
    pub region: Option<String>,
    /// Launched from this AMI.
    pub image_id: Option<String>,
    /// Launched from an AMI whose name matches (`*` wildcards).
    pub image_name_pattern: Option<String>,
    /// Carrying all these tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `POST /api/v1/workers/import-matching`: adopts every matching instance.
pub async fn import_matching(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<ImportMatchingBody>,
) -> ApiResult<impl IntoResponse> {
    let region = region_or_default(&state, body.region)?;
    if body.image_id.is_none() && body.image_name_pattern.is_none() {
        return Err(ApiError::invalid(
            "image_id",
            "give image_id or image_name_pattern",
        ));
    }
    let report = state
        .fleet
        .import_matching(ImportMatching {
            region,
            image_id: body.image_id.map(ImageId::new),
            image_name_pattern: body.image_name_pattern,
            tags: body.tags,
            by: Some(who.subject),
        })
        .await?;
    Ok(Json(report))
}

/// `GET /api/v1/workers/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    let mut worker = state.fleet.get_worker(id).await?;
    redact_worker(who.role, &mut worker);
    Ok(Json(worker))
}

/// `POST /api/v1/workers/{id}/start`.
pub async fn start(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.start_worker(id).await?))
}

/// Query of `POST /workers/{id}/stop`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopQuery {
    /// Stop even with lablets bound to the worker (409 `worker_in_use` otherwise).
    #[serde(default)]
    pub force: bool,
}

/// `POST /api/v1/workers/{id}/stop?force=`.
pub async fn stop(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<StopQuery>,
) -> ApiResult<impl IntoResponse> {
    let bound = WhenLabletsBound::forced(query.force);
    Ok(Json(state.fleet.stop_worker(id, bound).await?))
}

/// `POST /api/v1/workers/{id}/refresh`: observes the worker now (or says when the
/// coming sweep will).
pub async fn refresh(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.refresh_now(id).await?))
}

/// Query of `DELETE /workers/{id}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// Terminate the instance first (otherwise it keeps running unmanaged).
    #[serde(default)]
    pub terminate_instance: bool,
    /// Delete even with lablets bound to the worker (409 `worker_in_use` otherwise).
    #[serde(default)]
    pub force: bool,
}

/// `DELETE /api/v1/workers/{id}?terminate_instance=&force=`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<DeleteQuery>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        state
            .fleet
            .delete_worker(
                id,
                query.terminate_instance,
                WhenLabletsBound::forced(query.force),
                Some(who.subject),
            )
            .await?,
    ))
}

/// Body of `PUT /workers/{id}/tags`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    /// Tags to add or overwrite.
    pub tags: BTreeMap<String, String>,
}

/// `PUT /api/v1/workers/{id}/tags`: adds or overwrites tags.
pub async fn set_tags(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<TagsBody>,
) -> ApiResult<impl IntoResponse> {
    // Reserved keys and EC2's limits are the core's rules (`worker::limits`).
    Ok(Json(state.fleet.set_tags(id, body.tags).await?))
}

/// `DELETE /api/v1/workers/{id}/tags/{key}`.
pub async fn remove_tag(
    State(state): State<AppState>,
    ApiPath((id, key)): ApiPath<(WorkerId, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.remove_tags(id, vec![key]).await?))
}

/// Body of `PUT /workers/{id}/cml-endpoint`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CmlEndpointBody {
    /// `https://host[:port]`, or `null` for the instance's tag or address.
    pub url: Option<String>,
}

/// `PUT /api/v1/workers/{id}/cml-endpoint`: sets where ccm reaches the worker's CML
/// (admins only: that host receives the fleet's CML credentials).
pub async fn set_cml_endpoint(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<CmlEndpointBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.set_cml_endpoint(id, body.url).await?))
}

/// `POST /api/v1/workers/{id}/monitoring`: turns on detailed CloudWatch monitoring.
pub async fn enable_monitoring(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.enable_detailed_monitoring(id).await?))
}

/// Body of `POST /workers/{id}/licence`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceBody {
    /// Token (the configured one when absent).
    pub token: Option<Secret>,
}

/// `POST /api/v1/workers/{id}/licence`: registers the CML licence.
pub async fn register_licence(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let token = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<LicenceBody>(&body)
            .map_err(|e| ApiError::invalid("body", e.to_string()))?
            .token
    };
    Ok(Json(state.fleet.register_licence(id, token).await?))
}

/// `DELETE /api/v1/workers/{id}/licence`: deregisters the CML licence.
pub async fn deregister_licence(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.deregister_licence(id).await?))
}

/// `GET /api/v1/workers/{id}/idle`.
pub async fn idle_status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(state.fleet.idle_status(id).await?))
}

/// Body of `PUT /workers/{id}/idle-detection`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleDetectionBody {
    /// On or off.
    pub enabled: bool,
}

/// `PUT /api/v1/workers/{id}/idle-detection`.
pub async fn set_idle_detection(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<IdleDetectionBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        state.fleet.set_idle_detection(id, body.enabled).await?,
    ))
}

/// Body of `PUT /workers/{id}/monitoring-interval`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitoringIntervalBody {
    /// Seconds between observations (60 to 86,400), or `null` for the fleet's
    /// setting. Required: an absent field is a 422, not a reset.
    #[serde(deserialize_with = "required_nullable")]
    pub seconds: Option<u32>,
}

/// `Option<T>` that must be present (as a value or `null`).
fn required_nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// `PUT /api/v1/workers/{id}/monitoring-interval`.
pub async fn set_monitoring_interval(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<MonitoringIntervalBody>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        state
            .fleet
            .set_monitoring_interval(id, body.seconds)
            .await?,
    ))
}

/// Query of `GET /workers/{id}/metrics`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    /// Start (RFC 3339); one hour ago when absent.
    pub since: Option<ccm_core::time::Timestamp>,
    /// Bucket length in seconds (0: raw points; default 60).
    pub step: Option<u32>,
}

/// `GET /api/v1/workers/{id}/metrics?since=&step=`: the worker's CPU, memory, disk
/// and running-node series, averaged per `step`.
pub async fn metrics_series(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<SeriesQuery>,
) -> ApiResult<impl IntoResponse> {
    let now = state.fleet.clock().now();
    let since = query
        .since
        .unwrap_or_else(|| ccm_core::time::plus_seconds(now, -3600));
    if since > now {
        return Err(ApiError::invalid("since", "is in the future"));
    }
    let step = query.step.unwrap_or(60);
    if step > 86_400 {
        return Err(ApiError::invalid("step", "must be at most 86400 seconds"));
    }
    Ok(Json(state.fleet.metrics_series(id, since, step).await?))
}
