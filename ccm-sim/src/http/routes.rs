//! The router: CML 2.9's paths under `/api/v0`, their handlers, the bearer-token
//! check and the front middleware (latency fault, 502 while booting, request log,
//! exchange recording).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ccm_core::ids::{CmlLabId, InstanceId};
use ccm_core::ports::cml::{CmlEndpoint, CmlError};
use ccm_core::secret::Secret;
use ccm_core::time::Timestamp;
use serde_json::{json, Value};

use super::auth::{Claims, TokenError, Tokens};
use super::error::ApiError;
use super::exchange::{Exchange, InFlight};
use super::json;
use super::CmlHttpOptions;
use crate::cml::server::CmlServer;
use crate::cml::sim_endpoint;
use crate::config::CmlConfig;
use crate::rng::SimRng;
use crate::simulation::Simulation;

type Answer = Result<Response, ApiError>;
type Shared = State<Arc<AppState>>;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct AppState {
    sim: Simulation,
    endpoint: CmlEndpoint,
    instance: InstanceId,
    username: String,
    password: Secret,
    user_id: String,
    compute_id: String,
    started_at: Timestamp,
    tokens: Mutex<Tokens>,
    token_lifetime: AtomicI64,
    latency: Mutex<Option<Duration>>,
    exchanges: Option<Mutex<Vec<Exchange>>>,
    /// Requests received and not answered yet, by arrival number (kept with
    /// the exchanges, when recording).
    in_flight: Option<Mutex<BTreeMap<u64, InFlight>>>,
    arrivals: AtomicU64,
    log_requests: bool,
}

/// Keeps a request among the ones in flight until it is answered or its
/// handler is dropped (a client that goes away mid-request).
struct InFlightEntry {
    state: Arc<AppState>,
    arrival: u64,
}

impl Drop for InFlightEntry {
    fn drop(&mut self) {
        if let Some(in_flight) = &self.state.in_flight {
            locked(in_flight).remove(&self.arrival);
        }
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl AppState {
    pub(crate) fn new(sim: Simulation, instance: InstanceId, options: &CmlHttpOptions) -> Self {
        let worker = ccm_core::ids::WorkerId::from_u128(u128::from(options.seed));
        Self {
            endpoint: sim_endpoint(worker, &instance),
            compute_id: json::name_uuid(&format!("compute:{instance}")),
            user_id: json::name_uuid(&format!("user:{}", options.username)),
            started_at: sim.now(),
            sim,
            instance,
            username: options.username.clone(),
            password: options.password.clone(),
            tokens: Mutex::new(Tokens::new()),
            token_lifetime: AtomicI64::new(options.token_lifetime_seconds.max(1)),
            latency: Mutex::new(options.latency),
            exchanges: options.record_exchanges.then(|| Mutex::new(Vec::new())),
            in_flight: options
                .record_exchanges
                .then(|| Mutex::new(BTreeMap::new())),
            arrivals: AtomicU64::new(0),
            log_requests: options.log_requests,
        }
    }

    pub(crate) fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges
            .as_ref()
            .map(|e| locked(e).clone())
            .unwrap_or_default()
    }

    pub(crate) fn in_flight(&self) -> Vec<InFlight> {
        self.in_flight
            .as_ref()
            .map(|i| locked(i).values().cloned().collect())
            .unwrap_or_default()
    }

    fn arrived(self: &Arc<Self>, request: InFlight) -> Option<InFlightEntry> {
        let in_flight = self.in_flight.as_ref()?;
        let arrival = self.arrivals.fetch_add(1, Ordering::Relaxed);
        locked(in_flight).insert(arrival, request);
        Some(InFlightEntry {
            state: self.clone(),
            arrival,
        })
    }

    pub(crate) fn set_latency(&self, latency: Option<Duration>) {
        *locked(&self.latency) = latency;
    }

    pub(crate) fn set_token_lifetime(&self, seconds: i64) {
        self.token_lifetime.store(seconds.max(1), Ordering::Relaxed);
    }

    fn now(&self) -> Timestamp {
        self.sim.now()
    }

    /// Runs `operation` on the served CML server: counts it, checks availability and
    /// the error-rate fault, catches the server up to now.
    fn model<T>(
        &self,
        operation: &str,
        f: impl FnOnce(&mut CmlServer, &CmlConfig, &mut SimRng, Timestamp) -> Result<T, CmlError>,
    ) -> Result<T, ApiError> {
        let (mut world, now) = self
            .sim
            .shared
            .lock_at()
            .map_err(|e| ApiError::from(e.into_cml(operation)))?;
        world
            .with_server(operation, &self.endpoint, now, |server, config, rng| {
                f(server, config, rng, now)
            })
            .map_err(ApiError::from)
    }

    /// 502 while CML boots (nginx in front answers), 503 if it is cut off.
    fn availability(&self) -> Result<(), ApiError> {
        let (world, now) = self
            .sim
            .shared
            .lock_at()
            .map_err(|e| ApiError::from(e.into_cml("availability")))?;
        world
            .cml_availability(&self.endpoint, &self.instance, now)
            .map_err(ApiError::from)
    }

    /// The bearer token's claims, or the 401.
    fn authorize(&self, headers: &HeaderMap) -> Result<Claims, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::unauthorized(TokenError::Missing.description()))?;
        locked(&self.tokens)
            .verify(token, self.now().timestamp())
            .map_err(|e| ApiError::unauthorized(e.description()))
    }

    fn owner_id(&self, owner: &str) -> String {
        if owner == self.username {
            self.user_id.clone()
        } else {
            json::name_uuid(&format!("user:{owner}"))
        }
    }

    /// Checks credentials and issues a token.
    fn login(&self, body: &[u8]) -> Result<String, ApiError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::validation(
                &["body"],
                &format!("JSON decode error: {e}"),
                "json_invalid",
            )
        })?;
        let field = |name: &str| -> Result<String, ApiError> {
            value
                .get(name)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
                .ok_or_else(|| ApiError::validation(&["body", name], "Field required", "missing"))
        };
        let (username, password) = (field("username")?, field("password")?);
        if username != self.username || password != self.password.expose() {
            return Err(ApiError::new(403, "Authentication failed!"));
        }
        let lifetime = self.token_lifetime.load(Ordering::Relaxed);
        Ok(locked(&self.tokens).issue(&self.user_id, self.now().timestamp(), lifetime))
    }
}

/// CML's lab id shape, else the 400 FastAPI would answer.
fn lab_id(raw: &str) -> Result<CmlLabId, ApiError> {
    if json::is_uuid4(raw) {
        Ok(CmlLabId::new(raw))
    } else {
        Err(ApiError::validation(
            &["path", "lab_id"],
            "String should match pattern '^[\\da-f]{8}-[\\da-f]{4}-4[\\da-f]{3}-[89ab][\\da-f]{3}-[\\da-f]{12}(?!\\n)$'",
            "string_pattern_mismatch",
        ))
    }
}

/// A boolean query parameter as FastAPI reads it.
fn bool_param(query: &BTreeMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    match query.get(name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) => match v.as_str() {
            "true" | "1" | "yes" | "on" | "t" | "y" => Ok(Some(true)),
            "false" | "0" | "no" | "off" | "f" | "n" => Ok(Some(false)),
            _ => Err(ApiError::validation(
                &["query", name],
                "Input should be a valid boolean, unable to interpret input",
                "bool_parsing",
            )),
        },
    }
}

fn ok_json(value: Value) -> Answer {
    Ok(Json(value).into_response())
}

fn no_content() -> Answer {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The router for `state`'s server.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/authenticate", post(authenticate))
        .route("/auth_extended", post(auth_extended))
        .route("/authok", get(authok))
        .route("/logout", axum::routing::delete(logout))
        .route("/system_information", get(system_information))
        .route("/system_stats", get(system_stats))
        .route("/system_health", get(system_health))
        .route("/licensing", get(licensing))
        .route("/licensing/registration", post(register))
        .route(
            "/licensing/deregistration",
            axum::routing::delete(deregister),
        )
        .route("/labs", get(list_labs).post(create_lab))
        .route("/labs/{lab_id}", get(get_lab).delete(delete_lab))
        .route("/labs/{lab_id}/state", get(lab_state))
        .route("/labs/{lab_id}/start", put(start_lab))
        .route("/labs/{lab_id}/stop", put(stop_lab))
        .route("/labs/{lab_id}/wipe", put(wipe_lab))
        .route("/labs/{lab_id}/check_if_converged", get(check_if_converged))
        .route("/labs/{lab_id}/download", get(download_lab))
        .route("/labs/{lab_id}/topology", get(lab_topology))
        .route("/labs/{lab_id}/nodes", get(lab_nodes))
        .route("/labs/{lab_id}/lab_element_state", get(lab_element_state))
        .route("/labs/{lab_id}/simulation_stats", get(simulation_stats))
        .route("/labs/{lab_id}/layer3_addresses", get(layer3_addresses))
        .route("/labs/{lab_id}/events", get(lab_events))
        .route("/import", post(import_lab))
        .route("/populate_lab_tiles", get(populate_lab_tiles))
        .route("/node_definitions", get(node_definitions))
        .route(
            "/simplified_node_definitions",
            get(simplified_node_definitions),
        )
        .route("/image_definitions", get(image_definitions))
        .route("/telemetry/events", get(telemetry_events))
        .route("/users", get(users))
        .route("/users/{username}/id", get(user_id))
        .route_layer(middleware::from_fn(mark_route))
        .method_not_allowed_fallback(method_not_allowed);
    Router::new()
        .nest("/api/v0", api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), front))
        .with_state(state)
}

/// The matched route, passed from the inner to the front middleware.
#[derive(Clone, Debug)]
struct RouteTemplate(String);

async fn mark_route(request: Request, next: Next) -> Response {
    let template = request.extensions().get::<MatchedPath>().map(|m| {
        let path = m.as_str();
        path.strip_prefix("/api/v0").unwrap_or(path).to_owned()
    });
    let mut response = next.run(request).await;
    if let Some(template) = template {
        response.extensions_mut().insert(RouteTemplate(template));
    }
    response
}

async fn front(State(s): Shared, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let received_at = SystemTime::now();
    let in_flight = s.arrived(InFlight {
        method: method.clone(),
        path: path.clone(),
        received_at,
    });
    let latency = *locked(&s.latency);
    if let Some(latency) = latency {
        tokio::time::sleep(latency).await;
    }
    let response = match s.availability() {
        Ok(()) => next.run(request).await,
        Err(e) => e.into_response(),
    };
    let status = response.status().as_u16();
    if s.log_requests {
        eprintln!("{method} {path} -> {status}");
    }
    let Some(store) = &s.exchanges else {
        return response;
    };
    let template = response
        .extensions()
        .get::<RouteTemplate>()
        .map(|t| t.0.clone());
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    locked(store).push(Exchange {
        method,
        path,
        template,
        status,
        content_type,
        body: bytes.to_vec(),
        received_at,
    });
    // Only now: a request is always among the exchanges or the ones in flight.
    drop(in_flight);
    Response::from_parts(parts, Body::from(bytes))
}

async fn not_found() -> ApiError {
    ApiError::new(404, "Not Found")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, "Method Not Allowed")
}

// --- authentication -------------------------------------------------------------

async fn authenticate(State(s): Shared, body: Bytes) -> Answer {
    ok_json(json!(s.login(&body)?))
}

async fn auth_extended(State(s): Shared, body: Bytes) -> Answer {
    let token = s.login(&body)?;
    ok_json(json!({
        "username": s.username,
        "id": s.user_id,
        "token": token,
        "admin": true,
        "error": Value::Null,
    }))
}

async fn authok(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(json!("OK"))
}

async fn logout(
    State(s): Shared,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let claims = s.authorize(&headers)?;
    let mut tokens = locked(&s.tokens);
    if bool_param(&query, "clear_all_sessions")?.unwrap_or(false) {
        tokens.revoke_all(&claims.sub);
    } else {
        tokens.revoke(&claims.jti);
    }
    ok_json(json!(true))
}

// --- system ---------------------------------------------------------------------

async fn system_information(State(s): Shared) -> Answer {
    ok_json(s.model("system_information", |server, _, _, _| {
        Ok(json::system_information(server))
    })?)
}

async fn system_stats(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("system_stats", |server, config, _, now| {
        Ok(json::system_stats(server, config, now, &s.compute_id))
    })?)
}

async fn system_health(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("system_health", |server, _, _, now| {
        Ok(json::system_health(server, now, &s.compute_id))
    })?)
}

// --- licensing ------------------------------------------------------------------

async fn licensing(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("licensing", |server, config, _, now| {
        Ok(json::licensing(server, config, now))
    })?)
}

fn token_is_well_formed(token: &str) -> bool {
    (1..=256).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/%=-".contains(&b))
}

async fn register(State(s): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    s.authorize(&headers)?;
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::validation(
            &["body"],
            &format!("JSON decode error: {e}"),
            "json_invalid",
        )
    })?;
    let token = value
        .get("token")
        .and_then(|v| v.as_str())
        .ok_or_else(|| ApiError::validation(&["body", "token"], "Field required", "missing"))?;
    if !token_is_well_formed(token) {
        return Err(ApiError::validation(
            &["body", "token"],
            "String should match pattern '^[a-zA-Z\\d+/%=-]{1,256}$'",
            "string_pattern_mismatch",
        ));
    }
    let reregister = match value.get("reregister") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::validation(
                &["body", "reregister"],
                "Input should be a valid boolean",
                "bool_type",
            ))
        }
    };
    s.model("register_licence", |server, config, _, now| {
        server
            .licence
            .register(token, reregister, now, config.registration_seconds)
    })?;
    no_content()
}

async fn deregister(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    s.model("deregister_licence", |server, _, _, _| {
        server.licence.deregister()
    })?;
    no_content()
}

// --- labs -----------------------------------------------------------------------

async fn list_labs(
    State(s): Shared,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    s.authorize(&headers)?;
    let show_all = bool_param(&query, "show_all")?.unwrap_or(false);
    let ids = s.model("list_labs", |server, _, _, _| {
        Ok(server
            .labs_in_order()
            .into_iter()
            .filter(|l| show_all || l.owner == s.username)
            .map(|l| l.id.to_string())
            .collect::<Vec<_>>())
    })?;
    ok_json(json!(ids))
}

/// Adds a lab from topology text with a fresh id; returns the id and warnings.
fn import_text(
    s: &AppState,
    operation: &str,
    text: &str,
    title: Option<&str>,
) -> Result<(CmlLabId, Vec<String>), ApiError> {
    s.model(operation, |server, config, rng, now| {
        let id = loop {
            let id = CmlLabId::new(rng.uuid().to_string());
            if !server.labs.contains_key(&id) {
                break id;
            }
        };
        let imported = server.import(id, text, title, &s.username, now, config)?;
        Ok((imported.id, imported.warnings))
    })
}

async fn create_lab(State(s): Shared, headers: HeaderMap, body: Bytes) -> Answer {
    s.authorize(&headers)?;
    let value: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::validation(
                &["body"],
                &format!("JSON decode error: {e}"),
                "json_invalid",
            )
        })?
    };
    let text_field = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_owned);
    let title = text_field("title");
    let topology = json!({
        "lab": {
            "description": text_field("description").unwrap_or_default(),
            "notes": text_field("notes").unwrap_or_default(),
        },
        "nodes": [],
        "links": [],
    });
    let (id, _) = import_text(&s, "create_lab", &topology.to_string(), title.as_deref())?;
    ok_json(s.model("get_lab", |server, _, _, _| {
        let lab = server.lab(&id)?;
        Ok(json::lab(lab, &s.owner_id(&lab.owner)))
    })?)
}

async fn get_lab(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    ok_json(s.model("get_lab", |server, _, _, _| {
        let lab = server.lab(&id)?;
        Ok(json::lab(lab, &s.owner_id(&lab.owner)))
    })?)
}

async fn delete_lab(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    s.model("delete_lab", |server, _, _, _| server.delete_lab(&id))?;
    no_content()
}

async fn lab_state(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    let state = s.model("lab_state", |server, _, _, _| Ok(server.lab(&id)?.state))?;
    ok_json(json!(json::state_text(state)))
}

async fn start_lab(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    s.model("start_lab", |server, config, _, now| {
        server.start_lab(&id, &s.username, now, config)
    })?;
    no_content()
}

async fn stop_lab(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    s.model("stop_lab", |server, config, _, now| {
        server.stop_lab(&id, &s.username, now, config)
    })?;
    no_content()
}

async fn wipe_lab(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    s.model("wipe_lab", |server, config, _, now| {
        server.wipe_lab(&id, &s.username, now, config)
    })?;
    no_content()
}

async fn check_if_converged(
    State(s): Shared,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    let settled = s.model("check_if_converged", |server, _, _, now| {
        Ok(server.lab(&id)?.settled(now))
    })?;
    ok_json(json!(settled))
}

async fn download_lab(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    let text = s.model("download_lab", |server, _, _, _| {
        Ok(server.lab(&id)?.topology.clone())
    })?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response())
}

async fn lab_topology(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    ok_json(s.model("lab_topology", |server, _, _, _| {
        let lab = server.lab(&id)?;
        Ok(json::topology(lab, &s.owner_id(&lab.owner)))
    })?)
}

async fn lab_nodes(
    State(s): Shared,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    let data = bool_param(&query, "data")?.unwrap_or(false);
    bool_param(&query, "operational")?;
    bool_param(&query, "exclude_configurations")?;
    ok_json(s.model("lab_nodes", |server, config, _, now| {
        let lab = server.lab(&id)?;
        let nodes: Vec<Value> = if data {
            (0..lab.layout.nodes.len())
                .map(|i| json::node(lab, i, now, &s.compute_id, config))
                .collect()
        } else {
            lab.layout.nodes.iter().map(|n| json!(n.id)).collect()
        };
        Ok(json!(nodes))
    })?)
}

async fn lab_element_state(
    State(s): Shared,
    headers: HeaderMap,
    Path(raw): Path<String>,
) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    ok_json(s.model("lab_element_state", |server, _, _, now| {
        Ok(json::element_states(server.lab(&id)?, now))
    })?)
}

async fn simulation_stats(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    ok_json(s.model("simulation_stats", |server, _, _, now| {
        Ok(json::simulation_stats(server.lab(&id)?, now))
    })?)
}

async fn layer3_addresses(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    // Simulated nodes have no addresses: CML's answer for a lab without any.
    s.model("layer3_addresses", |server, _, _, _| {
        server.lab(&id).map(|_| ())
    })?;
    ok_json(json!({}))
}

async fn lab_events(State(s): Shared, headers: HeaderMap, Path(raw): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = lab_id(&raw)?;
    s.model("lab_events", |server, _, _, _| server.lab(&id).map(|_| ()))?;
    ok_json(json!([]))
}

async fn import_lab(
    State(s): Shared,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
    body: Bytes,
) -> Answer {
    s.authorize(&headers)?;
    let text = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::new(400, "Import failed. The topology is not UTF-8 text."))?;
    let title = query.get("title").map(String::as_str);
    let (id, warnings) = import_text(&s, "import_lab", &text, title)?;
    ok_json(json!({ "id": id.as_str(), "warnings": warnings }))
}

async fn populate_lab_tiles(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("populate_lab_tiles", |server, _, _, _| {
        let tiles: serde_json::Map<String, Value> = server
            .labs_in_order()
            .into_iter()
            .map(|lab| {
                let tile = json::lab_tile(lab, &s.owner_id(&lab.owner), server);
                (lab.id.to_string(), tile)
            })
            .collect();
        Ok(json!({ "lab_tiles": tiles }))
    })?)
}

// --- users ----------------------------------------------------------------------

/// The administrator and every other user that owns a lab, in name order.
fn known_users(s: &AppState, server: &CmlServer) -> Vec<(String, String, Vec<String>)> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    users.entry(s.username.clone()).or_default();
    for lab in server.labs_in_order() {
        users
            .entry(lab.owner.clone())
            .or_default()
            .push(lab.id.to_string());
    }
    users
        .into_iter()
        .map(|(name, labs)| (s.owner_id(&name), name, labs))
        .collect()
}

async fn users(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("users", |server, _, _, _| {
        let list: Vec<Value> = known_users(&s, server)
            .into_iter()
            .map(|(id, name, labs)| json::user(&id, &name, name == s.username, &labs, s.started_at))
            .collect();
        Ok(json!(list))
    })?)
}

async fn user_id(State(s): Shared, headers: HeaderMap, Path(name): Path<String>) -> Answer {
    s.authorize(&headers)?;
    let id = s.model("users", |server, _, _, _| {
        known_users(&s, server)
            .into_iter()
            .find(|(_, n, _)| *n == name)
            .map(|(id, _, _)| id)
            .ok_or(CmlError::NotFound {
                what: "user",
                id: name.clone(),
            })
    })?;
    ok_json(json!(id))
}

// --- definitions and telemetry ----------------------------------------------------

async fn node_definitions(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("node_definitions", |_, config, _, _| {
        Ok(json!(config
            .node_definitions
            .iter()
            .map(json::node_definition)
            .collect::<Vec<_>>()))
    })?)
}

async fn simplified_node_definitions(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("simplified_node_definitions", |_, config, _, _| {
        Ok(json!(config
            .node_definitions
            .iter()
            .map(json::simplified_node_definition)
            .collect::<Vec<_>>()))
    })?)
}

async fn image_definitions(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("image_definitions", |_, config, _, _| {
        Ok(json!(json::image_definitions(config)))
    })?)
}

async fn telemetry_events(State(s): Shared, headers: HeaderMap) -> Answer {
    s.authorize(&headers)?;
    ok_json(s.model("telemetry_events", |server, _, _, _| {
        Ok(json!(server
            .telemetry
            .after(None)
            .iter()
            .map(json::telemetry_event)
            .collect::<Vec<_>>()))
    })?)
}
