//! The route table: every route with its method, path, handler and the least role
//! it needs. The router is built from it and the authorisation layer reads it, so
//! a route cannot exist without an access rule; the router tests walk the same
//! table for every role.

use axum::http::Method;
use axum::routing::{delete, get, post, put, MethodRouter};

use super::{events, jobs, keys, lablets, labs, login, settings, system, worker_tls, workers};
use crate::auth::{Access, Role};
use crate::state::AppState;

/// One route.
#[derive(Clone)]
pub struct RouteSpec {
    /// HTTP method.
    pub method: Method,
    /// Path as axum matches it (`/api/v1/workers/{id}`).
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
    /// What it does (the OpenAPI summary).
    pub summary: &'static str,
    /// The handler.
    pub handler: fn() -> MethodRouter<AppState>,
}

impl std::fmt::Debug for RouteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {:?}", self.method, self.path, self.access)
    }
}

const PUBLIC: Access = Access::Public;
const USER: Access = Access::AtLeast(Role::User);
const MANAGER: Access = Access::AtLeast(Role::Manager);
const ADMIN: Access = Access::AtLeast(Role::Admin);

macro_rules! routes {
    ($( $method:ident $path:literal $access:ident $summary:literal => $router:ident($handler:path) ),* $(,)?) => {
        /// Every route of the server.
        pub static ROUTES: &[RouteSpec] = &[
            $( RouteSpec {
                method: Method::$method,
                path: $path,
                access: $access,
                summary: $summary,
                handler: || $router($handler),
            }, )*
        ];
    };
}

routes! {
    GET "/livez" PUBLIC
        "Liveness probe: the process is up (no store call; status only)" => get(system::livez),
    GET "/healthz" PUBLIC
        "Alias of /livez" => get(system::livez),
    GET "/readyz" PUBLIC
        "Readiness probe: the store answers within 2 s (status only; 503 otherwise)" => get(system::readyz),
    GET "/login/once" PUBLIC
        "Exchange the one-time admin login token for a session cookie" => get(system::login_once),
    GET "/auth/login" PUBLIC
        "Start the browser login at the OIDC provider" => get(login::login),
    GET "/auth/callback" PUBLIC
        "Complete the browser login (the provider redirects here)" => get(login::callback),
    POST "/logout" PUBLIC
        "End the browser session" => post(system::logout),
    GET "/" PUBLIC
        "The web dashboard (a page that loads its data from the API)" => get(crate::dashboard::index),
    GET "/assets/{*path}" PUBLIC
        "The dashboard's embedded static assets (scripts, styles, icon)" => get(crate::dashboard::asset_handler),
    GET "/metrics" USER
        "Prometheus metrics" => get(system::metrics),
    GET "/api/v1/settings" ADMIN
        "The settings this process runs with: the engine's and the server's bounds (no secret; whether a licence token is configured)" => get(settings::get),
    GET "/api/v1/system/leadership" ADMIN
        "This process's holder name and leadership, the stored lease, the log's last sequence and the relay cursors with their lag" => get(system::leadership),
    GET "/api/v1/session" USER
        "Who the caller is (and the CSRF token of a browser session)" => get(system::session),
    GET "/api/v1/openapi.json" USER
        "This OpenAPI document" => get(crate::openapi::document_json),
    GET "/api/v1/docs" USER
        "API documentation page" => get(crate::openapi::docs_page),

    GET "/api/v1/workers" USER
        "List workers (filters: region, status, label, include_terminated; paginated)" => get(workers::list),
    POST "/api/v1/workers" ADMIN
        "Create a worker (its instance is launched)" => post(workers::create),
    POST "/api/v1/workers/import" ADMIN
        "Import one existing instance as a worker" => post(workers::import_one),
    POST "/api/v1/workers/import-matching" ADMIN
        "Import every instance launched from an AMI (id or name pattern)" => post(workers::import_matching),
    GET "/api/v1/workers/{id}" USER
        "Get a worker" => get(workers::get),
    DELETE "/api/v1/workers/{id}" ADMIN
        "Delete a worker (terminate_instance=true terminates its instance first; force=true even with lablets bound, 409 worker_in_use otherwise)" => delete(workers::delete),
    POST "/api/v1/workers/{id}/start" MANAGER
        "Start a worker" => post(workers::start),
    POST "/api/v1/workers/{id}/stop" MANAGER
        "Stop a worker (force=true even with lablets bound, 409 worker_in_use otherwise)" => post(workers::stop),
    POST "/api/v1/workers/{id}/refresh" MANAGER
        "Observe a worker now" => post(workers::refresh),
    PUT "/api/v1/workers/{id}/tags" MANAGER
        "Add or overwrite tags" => put(workers::set_tags),
    DELETE "/api/v1/workers/{id}/tags/{key}" MANAGER
        "Remove a tag" => delete(workers::remove_tag),
    PUT "/api/v1/workers/{id}/cml-endpoint" ADMIN
        "Set the CML base URL (url: https://host[:port] within cml.endpoint_allow, or null)" => put(workers::set_cml_endpoint),
    POST "/api/v1/workers/{id}/monitoring" ADMIN
        "Turn on detailed CloudWatch monitoring" => post(workers::enable_monitoring),
    POST "/api/v1/workers/{id}/licence" ADMIN
        "Register the CML licence" => post(workers::register_licence),
    DELETE "/api/v1/workers/{id}/licence" ADMIN
        "Deregister the CML licence" => delete(workers::deregister_licence),
    GET "/api/v1/workers/{id}/metrics" USER
        "Metrics series of a worker (since, step; CPU, memory, disk, running nodes)" => get(workers::metrics_series),
    GET "/api/v1/workers/{id}/idle" USER
        "Idle status: eligible for an idle pause, and when" => get(workers::idle_status),
    PUT "/api/v1/workers/{id}/idle-detection" ADMIN
        "Turn idle detection on or off" => put(workers::set_idle_detection),
    PUT "/api/v1/workers/{id}/monitoring-interval" ADMIN
        "Set how often the worker is observed (seconds: 60 to 86400, or null for the fleet's setting)" => put(workers::set_monitoring_interval),
    POST "/api/v1/workers/{id}/cml-certificate/accept" ADMIN
        "Trust the worker's changed CML certificate (body: the presented sha256)" => post(worker_tls::accept),

    GET "/api/v1/workers/{id}/labs" USER
        "List the labs of a worker" => get(labs::list),
    POST "/api/v1/workers/{id}/labs" MANAGER
        "Import a lab (YAML topology in the body)" => post(labs::import),
    POST "/api/v1/workers/{id}/labs/refresh" MANAGER
        "Mirror the worker's labs from CML now" => post(labs::refresh),
    POST "/api/v1/workers/{id}/labs/{lab}/start" MANAGER
        "Start a lab" => post(labs::start),
    POST "/api/v1/workers/{id}/labs/{lab}/stop" MANAGER
        "Stop a lab" => post(labs::stop),
    POST "/api/v1/workers/{id}/labs/{lab}/wipe" MANAGER
        "Wipe a lab (a lablet's lab: force=true, 409 lab_in_use otherwise; the lablet is cancelled)" => post(labs::wipe),
    DELETE "/api/v1/workers/{id}/labs/{lab}" MANAGER
        "Stop, wipe and delete a lab (a lablet's lab: force=true, 409 lab_in_use otherwise; the lablet is cancelled)" => delete(labs::delete),
    GET "/api/v1/workers/{id}/labs/{lab}/topology" USER
        "Download a lab topology (YAML; users: their own lablets' labs)" => get(labs::download),

    GET "/api/v1/definitions" USER
        "List lablet definitions (paginated)" => get(lablets::list_definitions),
    POST "/api/v1/definitions" ADMIN
        "Create a lablet definition (or a new version)" => post(lablets::create_definition),
    GET "/api/v1/definitions/{id}" USER
        "Get a lablet definition" => get(lablets::get_definition),
    PUT "/api/v1/definitions/{id}/active" ADMIN
        "Activate or deactivate a definition" => put(lablets::set_definition_active),
    GET "/api/v1/lablets" USER
        "List lablets (filters: phase, worker_id, owner, definition_id; paginated; users see their own)" => get(lablets::list_lablets),
    POST "/api/v1/lablets" USER
        "Book a lablet (users: for themselves, when lablets.self_service is on)" => post(lablets::create_lablet),
    GET "/api/v1/lablets/{id}" USER
        "Get a lablet (users: their own)" => get(lablets::get_lablet),
    POST "/api/v1/lablets/{id}/cancel" USER
        "End a lablet early (users: their own)" => post(lablets::cancel_lablet),
    DELETE "/api/v1/lablets/{id}" USER
        "Cancel and remove a lablet (users: their own)" => delete(lablets::delete_lablet),
    POST "/api/v1/placement/preview" USER
        "Placement preview: where lablets would go, with reasons (writes nothing)" => post(lablets::preview),

    GET "/api/v1/jobs" USER
        "List jobs with next and last run and outcome" => get(jobs::list),
    POST "/api/v1/jobs/{name}/trigger" ADMIN
        "Run a job now" => post(jobs::trigger),
    POST "/api/v1/jobs/{name}/pause" ADMIN
        "Pause a job" => post(jobs::pause),
    POST "/api/v1/jobs/{name}/resume" ADMIN
        "Resume a job" => post(jobs::resume),

    GET "/api/v1/events" USER
        "Event history from a cursor (filters: worker, type)" => get(events::history),
    GET "/api/v1/events/stream" USER
        "Live events (Server-Sent Events, resumable with Last-Event-ID)" => get(crate::sse::stream),

    GET "/api/v1/api-keys" ADMIN
        "List API keys" => get(keys::list),
    POST "/api/v1/api-keys" ADMIN
        "Create an API key (shown once)" => post(keys::create),
    DELETE "/api/v1/api-keys/{id}" ADMIN
        "Revoke an API key" => delete(keys::revoke),
}

/// The access rule of a matched route (`HEAD` follows `GET`); `None` when the
/// route is not in the table.
pub fn access(method: &Method, path: &str) -> Option<Access> {
    let method = if *method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    ROUTES
        .iter()
        .find(|r| r.path == path && r.method == *method)
        .map(|r| r.access)
}

/// True when some route of the table has this path (with any method).
pub fn is_known_path(path: &str) -> bool {
    ROUTES.iter().any(|r| r.path == path)
}
