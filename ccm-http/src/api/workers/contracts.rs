//! What each `/api/v1/workers…` route takes and answers (its OpenAPI operation).

use ccm_api::worker as wire;

use crate::api::contract::Contract;

const UNKNOWN_WORKER: &str = "No worker has this id";
const CLOUD_REJECTED: &str =
    "The cloud refused the request (`cloud_rejected`), or a field is invalid (`validation_failed`)";
const CLOUD_FAILED: &str = "The cloud provider failed (`cloud_error`)";
const CLOUD_UNAVAILABLE: &str =
    "The cloud provider throttled or is unavailable, or the store is unavailable (`unavailable`)";
const CML_REJECTED: &str =
    "The worker's CML refused the request (`cml_rejected`), or the worker changed concurrently (`conflict`)";
const CML_FAILED: &str =
    "The worker's CML failed (`cml_error`) or presented a changed certificate (`cml_certificate_changed`)";
const CML_UNAVAILABLE: &str =
    "The worker's CML is not reachable or still starting (`cml_unavailable`)";
const CONCURRENT: &str = "The worker changed concurrently; read it again and retry (`conflict`)";

/// A route answering the worker, with 404 for an unknown id.
fn worker_answer(description: &'static str) -> Contract {
    Contract::new()
        .ok::<wire::Worker>(200, description)
        .error(404, UNKNOWN_WORKER)
}

/// `GET /api/v1/workers`.
pub fn list_contract() -> Contract {
    Contract::new()
        .query::<wire::WorkerListQuery>()
        .ok_page::<wire::Worker>("One page of workers (recent activity hidden from users)")
        .error(
            422,
            "`status` names no worker status, a `label` is not `key=value`, or `limit` is not 1 to 1000",
        )
}

/// `POST /api/v1/workers`.
pub fn create_contract() -> Contract {
    Contract::new()
        .json_body::<wire::CreateWorker>()
        .ok::<wire::Worker>(201, "The worker, recorded; its instance is launched next")
        .error(409, "A worker of this name already exists (`already_exists`)")
        .error(
            422,
            "Invalid name, tags or instance type, a region that is not configured, or an image that is not configured",
        )
}

/// `POST /api/v1/workers/import`.
pub fn import_one_contract() -> Contract {
    Contract::new()
        .json_body::<wire::ImportWorker>()
        .ok::<wire::Worker>(201, "The worker made of the instance")
        .error(404, "The cloud has no such instance")
        .error(
            409,
            "The instance is already a worker (`already_exists`) or the cloud lacks capacity",
        )
        .error(422, CLOUD_REJECTED)
        .error(502, CLOUD_FAILED)
        .error(503, CLOUD_UNAVAILABLE)
}

/// `POST /api/v1/workers/import-matching`.
pub fn import_matching_contract() -> Contract {
    Contract::new()
        .json_body::<wire::ImportMatching>()
        .ok::<wire::ImportReport>(200, "What was imported and what was skipped, with reasons")
        .error(404, "The cloud knows no such image")
        .error(409, CONCURRENT)
        .error(
            422,
            "Neither `image_id` nor `image_name_pattern` given, a region that is not configured, or the cloud refused the search",
        )
        .error(502, CLOUD_FAILED)
        .error(503, CLOUD_UNAVAILABLE)
}

/// `GET /api/v1/workers/{id}`.
pub fn get_contract() -> Contract {
    worker_answer("The worker (recent activity hidden from users)")
}

/// `POST /api/v1/workers/{id}/start`.
pub fn start_contract() -> Contract {
    worker_answer("The worker, wanted running")
        .error(409, "The worker cannot be started in its state (`invalid_transition`), or changed concurrently (`conflict`)")
}

/// `POST /api/v1/workers/{id}/stop`.
pub fn stop_contract() -> Contract {
    Contract::new()
        .query::<wire::StopWorkerQuery>()
        .ok::<wire::Worker>(200, "The worker, wanted stopped")
        .error(404, UNKNOWN_WORKER)
        .error(
            409,
            "Lablets are bound to the worker and `force` is not set (`worker_in_use`, naming them), the state allows no stop (`invalid_transition`), or it changed concurrently (`conflict`)",
        )
}

/// `POST /api/v1/workers/{id}/refresh`.
pub fn refresh_contract() -> Contract {
    Contract::new()
        .ok::<wire::RefreshOutcome>(200, "Observed now, or merged into the coming sweep")
        .error(404, UNKNOWN_WORKER)
        .error(409, CONCURRENT)
        .error(503, "The store is unavailable (`unavailable`)")
}

/// `DELETE /api/v1/workers/{id}`.
pub fn delete_contract() -> Contract {
    Contract::new()
        .query::<wire::DeleteWorkerQuery>()
        .ok::<wire::WorkerDeletion>(200, "The worker is gone (and its instance terminated when asked)")
        .error(404, "No worker has this id, or the cloud no longer knows its instance")
        .error(
            409,
            "Lablets are bound to the worker and `force` is not set (`worker_in_use`, naming them), or it changed concurrently (`conflict`)",
        )
        .error(422, "The cloud refused the termination (`cloud_rejected`)")
        .error(502, CLOUD_FAILED)
        .error(503, CLOUD_UNAVAILABLE)
}

/// `PUT /api/v1/workers/{id}/tags`.
pub fn set_tags_contract() -> Contract {
    Contract::new()
        .json_body::<wire::SetWorkerTags>()
        .ok::<wire::Worker>(200, "The worker with its tags")
        .error(404, "No worker has this id, or its instance is gone")
        .error(409, CONCURRENT)
        .error(
            422,
            "A reserved key (`ccm:`, `aws:`), a key or value over EC2's limits, too many tags, or the cloud refused them",
        )
        .error(502, CLOUD_FAILED)
        .error(503, CLOUD_UNAVAILABLE)
}

/// `DELETE /api/v1/workers/{id}/tags/{key}`.
pub fn remove_tag_contract() -> Contract {
    Contract::new()
        .ok::<wire::Worker>(200, "The worker without the tag")
        .error(404, "No worker has this id, or its instance is gone")
        .error(409, CONCURRENT)
        .error(
            422,
            "A reserved key (`ccm:`, `aws:`), or the cloud refused the removal",
        )
        .error(502, CLOUD_FAILED)
        .error(503, CLOUD_UNAVAILABLE)
}

/// `PUT /api/v1/workers/{id}/cml-endpoint`.
pub fn set_cml_endpoint_contract() -> Contract {
    Contract::new()
        .json_body::<wire::SetCmlEndpoint>()
        .ok::<wire::Worker>(200, "The worker with its CML endpoint")
        .error(404, UNKNOWN_WORKER)
        .error(409, CONCURRENT)
        .error(
            422,
            "Not an `http(s)://host[:port]` URL, or a host neither the instance's nor within `cml.endpoint_allow`",
        )
}

/// `POST /api/v1/workers/{id}/monitoring`.
pub fn enable_monitoring_contract() -> Contract {
    Contract::new()
        .ok::<wire::Worker>(200, "The worker with detailed monitoring on")
        .error(404, "No worker has this id, or its instance is gone")
        .error(409, "The worker has no instance (`invalid_transition`), or changed concurrently (`conflict`)")
        .error(422, CLOUD_REJECTED)
        .error(502, CLOUD_FAILED)
        .error(503, CLOUD_UNAVAILABLE)
}

/// `POST /api/v1/workers/{id}/licence`.
pub fn register_licence_contract() -> Contract {
    Contract::new()
        .json_body::<wire::RegisterLicence>()
        .ok::<wire::Worker>(200, "The worker, its registration requested")
        .error(404, "No worker has this id")
        .error(409, CML_REJECTED)
        .error(
            422,
            "The body is not a licence body, no token was given and none is configured, a registration is in progress, or the worker has no CML endpoint to reach",
        )
        .error(502, CML_FAILED)
        .error(503, CML_UNAVAILABLE)
}

/// `DELETE /api/v1/workers/{id}/licence`.
pub fn deregister_licence_contract() -> Contract {
    Contract::new()
        .ok::<wire::Worker>(200, "The worker, its licence deregistered")
        .error(404, "No worker has this id")
        .error(409, CML_REJECTED)
        .error(
            422,
            "The worker has no CML endpoint to reach, or its endpoint is not allowed",
        )
        .error(502, CML_FAILED)
        .error(503, CML_UNAVAILABLE)
}

/// `GET /api/v1/workers/{id}/metrics`.
pub fn metrics_series_contract() -> Contract {
    Contract::new()
        .query::<wire::MetricsSeriesQuery>()
        .ok_list::<wire::MetricPoint>(
            200,
            "The worker's points since `since`, averaged per `step`",
        )
        .error(404, UNKNOWN_WORKER)
        .error(422, "`since` is in the future, or `step` is over 86400")
}

/// `GET /api/v1/workers/{id}/idle`.
pub fn idle_status_contract() -> Contract {
    Contract::new()
        .ok::<wire::IdleStatus>(200, "The idle verdict and the facts behind it")
        .error(404, UNKNOWN_WORKER)
}

/// `PUT /api/v1/workers/{id}/idle-detection`.
pub fn set_idle_detection_contract() -> Contract {
    Contract::new()
        .json_body::<wire::SetIdleDetection>()
        .ok::<wire::Worker>(200, "The worker with idle detection on or off")
        .error(404, UNKNOWN_WORKER)
        .error(409, CONCURRENT)
}

/// `PUT /api/v1/workers/{id}/monitoring-interval`.
pub fn set_monitoring_interval_contract() -> Contract {
    Contract::new()
        .json_body::<wire::SetMonitoringInterval>()
        .ok::<wire::Worker>(200, "The worker with its observation interval")
        .error(404, UNKNOWN_WORKER)
        .error(409, CONCURRENT)
        .error(422, "`seconds` is missing, or not 60 to 86400")
}
