//! The route table: every route with its method, path, handler and the least role
//! it needs. The router is built from it and the authorisation layer reads it, so
//! a route cannot exist without an access rule; the router tests walk the same
//! table for every role.

use axum::http::Method;
use axum::routing::{delete, get, post, put, MethodRouter};

use super::contract::Contract;
use super::{
    capacity, events, jobs, keys, lablets, labs, login, settings, system, worker_tls, workers,
};
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
    /// What it takes and answers (the OpenAPI operation).
    pub contract: Option<fn() -> Contract>,
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
    ($( $method:ident $path:literal $access:ident $summary:literal => $router:ident($handler:path) $(with $contract:path)? ),* $(,)?) => {
        /// Every route of the server.
        pub static ROUTES: &[RouteSpec] = &[
            $( RouteSpec {
                method: Method::$method,
                path: $path,
                access: $access,
                summary: $summary,
                handler: || $router($handler),
                contract: routes!(@contract $($contract)?),
            }, )*
        ];
    };
    (@contract $contract:path) => { Some($contract) };
    (@contract) => { None };
}

routes! {
    GET "/livez" PUBLIC
        "Liveness probe: the process is up (no store call; status only)" => get(system::livez) with system::livez_contract,
    GET "/healthz" PUBLIC
        "Alias of /livez" => get(system::livez) with system::livez_contract,
    GET "/readyz" PUBLIC
        "Readiness probe: the store answers within 2 s (status only; 503 otherwise)" => get(system::readyz) with system::readyz_contract,
    GET "/login/once" PUBLIC
        "Exchange the one-time admin login token for a session cookie" => get(system::login_once) with system::login_once_contract,
    GET "/auth/login" PUBLIC
        "Start the browser login at the OIDC provider" => get(login::login) with login::login_contract,
    GET "/auth/callback" PUBLIC
        "Complete the browser login (the provider redirects here)" => get(login::callback) with login::callback_contract,
    POST "/logout" PUBLIC
        "End the browser session" => post(system::logout) with system::logout_contract,
    GET "/" PUBLIC
        "The web dashboard (a page that loads its data from the API)" => get(crate::dashboard::index) with crate::dashboard::index_contract,
    GET "/assets/{*path}" PUBLIC
        "The dashboard's embedded static assets (scripts, styles, icon)" => get(crate::dashboard::asset_handler) with crate::dashboard::asset_contract,
    GET "/metrics" USER
        "Prometheus metrics" => get(system::metrics) with system::metrics_contract,
    GET "/api/v1/settings" ADMIN
        "The settings this process runs with: the engine's and the server's bounds (no secret; whether a licence token is configured)" => get(settings::get) with settings::get_contract,
    GET "/api/v1/system/leadership" ADMIN
        "This process's holder name and leadership, the stored lease, the log's last sequence and the relay cursors with their lag" => get(system::leadership) with system::leadership_contract,
    GET "/api/v1/session" USER
        "Who the caller is (and the CSRF token of a browser session)" => get(system::session) with system::session_contract,
    GET "/api/v1/openapi.json" USER
        "This OpenAPI document" => get(crate::openapi::document_json) with crate::openapi::document_contract,
    GET "/api/v1/docs" USER
        "API documentation page" => get(crate::openapi::docs_page) with crate::openapi::docs_page_contract,

    GET "/api/v1/workers" USER
        "List workers (filters: region, status, label, include_terminated; paginated)" => get(workers::list) with workers::list_contract,
    POST "/api/v1/workers" ADMIN
        "Create a worker (its instance is launched)" => post(workers::create) with workers::create_contract,
    POST "/api/v1/workers/import" ADMIN
        "Import one existing instance as a worker" => post(workers::import_one) with workers::import_one_contract,
    POST "/api/v1/workers/import-matching" ADMIN
        "Import every instance launched from an AMI (id or name pattern)" => post(workers::import_matching) with workers::import_matching_contract,
    GET "/api/v1/workers/{id}" USER
        "Get a worker" => get(workers::get) with workers::get_contract,
    DELETE "/api/v1/workers/{id}" ADMIN
        "Delete a worker (terminate_instance=true terminates its instance first; force=true even with lablets bound, 409 worker_in_use otherwise)" => delete(workers::delete) with workers::delete_contract,
    POST "/api/v1/workers/{id}/start" MANAGER
        "Start a worker" => post(workers::start) with workers::start_contract,
    POST "/api/v1/workers/{id}/stop" MANAGER
        "Stop a worker (force=true even with lablets bound, 409 worker_in_use otherwise)" => post(workers::stop) with workers::stop_contract,
    POST "/api/v1/workers/{id}/refresh" MANAGER
        "Observe a worker now" => post(workers::refresh) with workers::refresh_contract,
    PUT "/api/v1/workers/{id}/tags" MANAGER
        "Add or overwrite tags" => put(workers::set_tags) with workers::set_tags_contract,
    DELETE "/api/v1/workers/{id}/tags/{key}" MANAGER
        "Remove a tag" => delete(workers::remove_tag) with workers::remove_tag_contract,
    PUT "/api/v1/workers/{id}/cml-endpoint" ADMIN
        "Set the CML base URL (url: https://host[:port] within cml.endpoint_allow, or null)" => put(workers::set_cml_endpoint) with workers::set_cml_endpoint_contract,
    POST "/api/v1/workers/{id}/monitoring" ADMIN
        "Turn on detailed CloudWatch monitoring" => post(workers::enable_monitoring) with workers::enable_monitoring_contract,
    POST "/api/v1/workers/{id}/licence" ADMIN
        "Register the CML licence" => post(workers::register_licence) with workers::register_licence_contract,
    DELETE "/api/v1/workers/{id}/licence" ADMIN
        "Deregister the CML licence" => delete(workers::deregister_licence) with workers::deregister_licence_contract,
    GET "/api/v1/workers/{id}/metrics" USER
        "Metrics series of a worker (since, step; CPU, memory, disk, running nodes)" => get(workers::metrics_series) with workers::metrics_series_contract,
    GET "/api/v1/workers/{id}/idle" USER
        "Idle status: eligible for an idle pause, and when" => get(workers::idle_status) with workers::idle_status_contract,
    PUT "/api/v1/workers/{id}/idle-detection" ADMIN
        "Turn idle detection on or off" => put(workers::set_idle_detection) with workers::set_idle_detection_contract,
    PUT "/api/v1/workers/{id}/monitoring-interval" ADMIN
        "Set how often the worker is observed (seconds: 60 to 86400, or null for the fleet's setting)" => put(workers::set_monitoring_interval) with workers::set_monitoring_interval_contract,
    POST "/api/v1/workers/{id}/cml-certificate/accept" ADMIN
        "Trust the worker's changed CML certificate (body: the presented sha256)" => post(worker_tls::accept) with worker_tls::accept_contract,

    GET "/api/v1/workers/{id}/labs" USER
        "List the labs of a worker" => get(labs::list) with labs::list_contract,
    POST "/api/v1/workers/{id}/labs" MANAGER
        "Import a lab (YAML topology in the body)" => post(labs::import) with labs::import_contract,
    POST "/api/v1/workers/{id}/labs/refresh" MANAGER
        "Mirror the worker's labs from CML now" => post(labs::refresh) with labs::refresh_contract,
    POST "/api/v1/workers/{id}/labs/{lab}/start" MANAGER
        "Start a lab" => post(labs::start) with labs::start_contract,
    POST "/api/v1/workers/{id}/labs/{lab}/stop" MANAGER
        "Stop a lab" => post(labs::stop) with labs::stop_contract,
    POST "/api/v1/workers/{id}/labs/{lab}/wipe" MANAGER
        "Wipe a lab (a lablet's lab: force=true, 409 lab_in_use otherwise; the lablet is cancelled)" => post(labs::wipe) with labs::wipe_contract,
    DELETE "/api/v1/workers/{id}/labs/{lab}" MANAGER
        "Stop, wipe and delete a lab (a lablet's lab: force=true, 409 lab_in_use otherwise; the lablet is cancelled)" => delete(labs::delete) with labs::delete_contract,
    GET "/api/v1/workers/{id}/labs/{lab}/topology" USER
        "Download a lab topology (YAML; users: their own lablets' labs)" => get(labs::download) with labs::download_contract,

    GET "/api/v1/definitions" USER
        "List lablet definitions (paginated)" => get(lablets::list_definitions) with lablets::list_definitions_contract,
    POST "/api/v1/definitions" ADMIN
        "Create a lablet definition (or a new version)" => post(lablets::create_definition) with lablets::create_definition_contract,
    GET "/api/v1/definitions/{id}" USER
        "Get a lablet definition" => get(lablets::get_definition) with lablets::get_definition_contract,
    PUT "/api/v1/definitions/{id}/active" ADMIN
        "Activate or deactivate a definition" => put(lablets::set_definition_active) with lablets::set_definition_active_contract,
    GET "/api/v1/lablets" USER
        "List lablets (filters: phase, worker_id, owner, definition_id; paginated; users see their own)" => get(lablets::list_lablets) with lablets::list_lablets_contract,
    POST "/api/v1/lablets" USER
        "Book a lablet (users: for themselves, when lablets.self_service is on)" => post(lablets::create_lablet) with lablets::create_lablet_contract,
    POST "/api/v1/lablets/on-demand" USER
        "Book a lablet for as soon as possible: its timeslot starts at the estimated ready time, moved (lablet.rescheduled.v1) until the lab is ready (users: for themselves, when lablets.self_service is on)" => post(lablets::create_on_demand_lablet) with lablets::create_on_demand_lablet_contract,
    GET "/api/v1/lablets/{id}" USER
        "Get a lablet (users: their own)" => get(lablets::get_lablet) with lablets::get_lablet_contract,
    POST "/api/v1/lablets/{id}/cancel" USER
        "End a lablet early (users: their own)" => post(lablets::cancel_lablet) with lablets::cancel_lablet_contract,
    POST "/api/v1/lablets/{id}/extend" USER
        "Move a lablet's end later, within its definition's longest session (users: their own)" => post(lablets::extend_lablet) with lablets::extend_lablet_contract,
    DELETE "/api/v1/lablets/{id}" USER
        "Cancel and remove a lablet (users: their own)" => delete(lablets::delete_lablet) with lablets::delete_lablet_contract,
    GET "/api/v1/capacity/forecast" MANAGER
        "Workers the bookings need over the next hours (hours=48, step_minutes=15), the planned starts and stops, and the lead time in force" => get(capacity::forecast) with capacity::forecast_contract,
    GET "/api/v1/cost" USER
        "What the fleet costs: burn rate now, today and this week (UTC) by region and instance type, and the saving against always-on" => get(capacity::cost) with capacity::cost_contract,
    POST "/api/v1/placement/preview" USER
        "Placement preview: where lablets would go, with reasons (writes nothing)" => post(lablets::preview) with lablets::preview_contract,

    GET "/api/v1/jobs" USER
        "List jobs with next and last run and outcome" => get(jobs::list) with jobs::list_contract,
    POST "/api/v1/jobs/{name}/trigger" ADMIN
        "Run a job now" => post(jobs::trigger) with jobs::trigger_contract,
    POST "/api/v1/jobs/{name}/pause" ADMIN
        "Pause a job" => post(jobs::pause) with jobs::pause_contract,
    POST "/api/v1/jobs/{name}/resume" ADMIN
        "Resume a job" => post(jobs::resume) with jobs::resume_contract,

    GET "/api/v1/events" USER
        "Event history from a cursor (filters: worker, type)" => get(events::history) with events::history_contract,
    GET "/api/v1/events/stream" USER
        "Live events (Server-Sent Events, resumable with Last-Event-ID)" => get(crate::sse::stream) with crate::sse::stream_contract,

    GET "/api/v1/api-keys" ADMIN
        "List API keys" => get(keys::list) with keys::list_contract,
    POST "/api/v1/api-keys" ADMIN
        "Create an API key (shown once)" => post(keys::create) with keys::create_contract,
    DELETE "/api/v1/api-keys/{id}" ADMIN
        "Revoke an API key" => delete(keys::revoke) with keys::revoke_contract,
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
