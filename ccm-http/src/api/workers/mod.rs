//! `/api/v1/workers`: list, get, create, import (one or bulk), start, stop, refresh,
//! delete, tags, detailed monitoring, licence, idle status and idle detection.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use ccm_api::worker as wire;
use ccm_core::fleet::WhenLabletsBound;
use ccm_core::ids::{InstanceId, Region, WorkerId};
use ccm_core::ports::store::{PageRequest, WorkerFilter};
use ccm_core::worker::LifecycleState;

use super::error::{ApiError, ApiResult};
use super::page::{bounds, serve_page, Page};
use super::{ApiJson, ApiPath, ApiQuery};
use crate::auth::Principal;
use crate::state::AppState;
use crate::visibility::{redact_worker, sees_details};

mod contracts;

pub use contracts::*;

/// A worker as the operations on one answer it.
fn answer(worker: ccm_core::worker::Worker) -> ApiResult<Json<wire::Worker>> {
    Ok(Json(wire::Worker::from(&worker)))
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
    ApiQuery(query): ApiQuery<wire::WorkerListQuery>,
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
            wire::Worker::from(&worker)
        }))
    })
    .await
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
    ApiJson(body): ApiJson<wire::CreateWorker>,
) -> ApiResult<impl IntoResponse> {
    let region = region_or_default(&state, body.region.clone())?;
    let worker = state
        .fleet
        .create_worker(body.into_domain(region, Some(who.subject)))
        .await?;
    Ok((StatusCode::CREATED, Json(wire::Worker::from(&worker))))
}

/// `POST /api/v1/workers/import`: adopts one instance.
pub async fn import_one(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::ImportWorker>,
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
    Ok((StatusCode::CREATED, Json(wire::Worker::from(&worker))))
}

/// `POST /api/v1/workers/import-matching`: adopts every matching instance.
pub async fn import_matching(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiJson(body): ApiJson<wire::ImportMatching>,
) -> ApiResult<impl IntoResponse> {
    let region = region_or_default(&state, body.region.clone())?;
    if body.image_id.is_none() && body.image_name_pattern.is_none() {
        return Err(ApiError::invalid(
            "image_id",
            "give image_id or image_name_pattern",
        ));
    }
    let report = state
        .fleet
        .import_matching(body.into_domain(region, Some(who.subject)))
        .await?;
    Ok(Json(wire::ImportReport::from(&report)))
}

/// `GET /api/v1/workers/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    let mut worker = state.fleet.get_worker(id).await?;
    redact_worker(who.role, &mut worker);
    Ok(Json(wire::Worker::from(&worker)))
}

/// `POST /api/v1/workers/{id}/start`.
pub async fn start(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    answer(state.fleet.start_worker(id).await?)
}

/// `POST /api/v1/workers/{id}/stop?force=`.
pub async fn stop(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<wire::StopWorkerQuery>,
) -> ApiResult<impl IntoResponse> {
    let bound = WhenLabletsBound::forced(query.force);
    answer(state.fleet.stop_worker(id, bound).await?)
}

/// `POST /api/v1/workers/{id}/refresh`: observes the worker now (or says when the
/// coming sweep will).
pub async fn refresh(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(wire::RefreshOutcome::from(
        &state.fleet.refresh_now(id).await?,
    )))
}

/// `DELETE /api/v1/workers/{id}?terminate_instance=&force=`.
pub async fn delete(
    State(state): State<AppState>,
    Extension(who): Extension<Principal>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<wire::DeleteWorkerQuery>,
) -> ApiResult<impl IntoResponse> {
    let outcome = state
        .fleet
        .delete_worker(
            id,
            query.terminate_instance,
            WhenLabletsBound::forced(query.force),
            Some(who.subject),
        )
        .await?;
    Ok(Json(wire::WorkerDeletion::from(&outcome)))
}

/// `PUT /api/v1/workers/{id}/tags`: adds or overwrites tags.
pub async fn set_tags(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<wire::SetWorkerTags>,
) -> ApiResult<impl IntoResponse> {
    // Reserved keys and EC2's limits are the core's rules (`worker::limits`).
    answer(state.fleet.set_tags(id, body.tags).await?)
}

/// `DELETE /api/v1/workers/{id}/tags/{key}`.
pub async fn remove_tag(
    State(state): State<AppState>,
    ApiPath((id, key)): ApiPath<(WorkerId, String)>,
) -> ApiResult<impl IntoResponse> {
    answer(state.fleet.remove_tags(id, vec![key]).await?)
}

/// `PUT /api/v1/workers/{id}/cml-endpoint`: sets where ccm reaches the worker's CML
/// (admins only: that host receives the fleet's CML credentials).
pub async fn set_cml_endpoint(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<wire::SetCmlEndpoint>,
) -> ApiResult<impl IntoResponse> {
    answer(state.fleet.set_cml_endpoint(id, body.url).await?)
}

/// `POST /api/v1/workers/{id}/monitoring`: turns on detailed CloudWatch monitoring.
pub async fn enable_monitoring(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    answer(state.fleet.enable_detailed_monitoring(id).await?)
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
        serde_json::from_slice::<wire::RegisterLicence>(&body)
            .map_err(|e| ApiError::invalid("body", e.to_string()))?
            .token
    };
    answer(state.fleet.register_licence(id, token).await?)
}

/// `DELETE /api/v1/workers/{id}/licence`: deregisters the CML licence.
pub async fn deregister_licence(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    answer(state.fleet.deregister_licence(id).await?)
}

/// `GET /api/v1/workers/{id}/idle`.
pub async fn idle_status(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(wire::IdleStatus::from(
        &state.fleet.idle_status(id).await?,
    )))
}

/// `PUT /api/v1/workers/{id}/idle-detection`.
pub async fn set_idle_detection(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<wire::SetIdleDetection>,
) -> ApiResult<impl IntoResponse> {
    answer(state.fleet.set_idle_detection(id, body.enabled).await?)
}

/// `PUT /api/v1/workers/{id}/monitoring-interval`.
pub async fn set_monitoring_interval(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiJson(body): ApiJson<wire::SetMonitoringInterval>,
) -> ApiResult<impl IntoResponse> {
    answer(
        state
            .fleet
            .set_monitoring_interval(id, body.seconds)
            .await?,
    )
}

/// `GET /api/v1/workers/{id}/metrics?since=&step=`: the worker's CPU, memory, disk
/// and running-node series, averaged per `step`.
pub async fn metrics_series(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<WorkerId>,
    ApiQuery(query): ApiQuery<wire::MetricsSeriesQuery>,
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
    let points = state.fleet.metrics_series(id, since, step).await?;
    Ok(Json(
        points
            .iter()
            .map(wire::MetricPoint::from)
            .collect::<Vec<_>>(),
    ))
}
