//! [`HttpCmlClient`]: one client for a whole fleet of CML servers — one reqwest
//! client per TLS mode (connection pools are shared across workers) or, trusting
//! on first use, per worker and pin; one cached token per endpoint.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use async_trait::async_trait;
use ccm_core::ids::{CmlLabId, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::ports::clock::{Clock, SystemClock};
use ccm_core::ports::cml::{
    CmlClient, CmlEndpoint, CmlError, CmlLab, ImageDefinition, LabImport, LabUsage, Licensing,
    NodeDefinition, SystemHealth, SystemInformation, SystemStats, TelemetryEvent,
};
use ccm_core::secret::Secret;
use ccm_core::time::Timestamp;
use ccm_core::version::SemVer;
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};

use crate::config::{CmlClientConfig, ConfigError, TlsMode};
use crate::parse;
use crate::pin::{self, Pin};
use crate::token::CachedToken;

/// A [`CmlClient`] over HTTPS (reqwest with rustls).
///
/// * Authenticates with `POST /authenticate`, caches the token per endpoint, renews
///   it before its `exp`, and on a 401 authenticates once more and retries once.
/// * 502/503 and refused or dropped connections are [`CmlError::Starting`] /
///   [`CmlError::Unreachable`] ([`CmlError::means_starting`]); a failed TLS
///   handshake is a [`CmlError::Protocol`] (it will not fix itself).
/// * 404 on a lab call is [`CmlError::NotFound`]; 400/403/409 (and other 4xx) are
///   [`CmlError::Rejected`] with CML's description; other 5xx are
///   [`CmlError::Server`]; a call past its timeout is [`CmlError::Timeout`].
/// * Trusting on first use, a certificate other than the pinned one is
///   [`CmlError::CertificateChanged`].
pub struct HttpCmlClient {
    config: CmlClientConfig,
    clock: Arc<dyn Clock>,
    clients: Mutex<HashMap<TlsMode, reqwest::Client>>,
    /// Trust-on-first-use clients: each worker's own pin and connection pool.
    pinned: Mutex<HashMap<WorkerId, PinnedHttp>>,
    overrides: RwLock<BTreeMap<WorkerId, TlsMode>>,
    tokens: Mutex<HashMap<String, TokenSlot>>,
}

/// The token of one endpoint; the async lock makes concurrent calls share one login.
type TokenSlot = Arc<tokio::sync::Mutex<Option<CachedToken>>>;

/// A worker's pin and the reqwest client whose handshakes it checks. A new pin
/// gets a new client, so no connection admitted under the old one is reused.
struct PinnedHttp {
    pin: Arc<Pin>,
    http: reqwest::Client,
}

impl std::fmt::Debug for HttpCmlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpCmlClient")
            .field("config", &self.config)
            .field("cached_tokens", &locked(&self.tokens).len())
            .finish_non_exhaustive()
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// A request body, re-sendable for the retry after a 401.
#[derive(Clone)]
enum Body {
    Json(Value),
    Text(String),
}

/// One call to CML.
struct Call<'a> {
    operation: &'static str,
    method: Method,
    /// Below `/api/v0/`.
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<Body>,
    /// Sends the bearer token (all but `system_information`).
    auth: bool,
    /// The lab the call is about: a 404 is then "lab not found".
    lab: Option<&'a CmlLabId>,
}

impl<'a> Call<'a> {
    fn new(operation: &'static str, method: Method, path: impl Into<String>) -> Self {
        Self {
            operation,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            auth: true,
            lab: None,
        }
    }

    fn with_query(mut self, name: &'static str, value: &str) -> Self {
        self.query.push((name, value.to_owned()));
        self
    }

    fn on_lab(operation: &'static str, method: Method, lab: &'a CmlLabId, rest: &str) -> Self {
        let mut path = format!("labs/{}", segment(lab.as_str()));
        if !rest.is_empty() {
            path.push('/');
            path.push_str(rest);
        }
        let mut call = Self::new(operation, method, path);
        call.lab = Some(lab);
        call
    }
}

/// An answer's content type and body.
struct Answer {
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self, operation: &str) -> Result<Value, CmlError> {
        serde_json::from_slice(&self.body).map_err(|e| CmlError::Protocol {
            operation: operation.to_owned(),
            message: format!("answer is not JSON: {e}"),
        })
    }
}

/// A path segment, percent-encoded beyond the unreserved characters.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `https://host[:port]` of an endpoint, without a trailing `/` or `/api/v0`.
fn base_of(ep: &CmlEndpoint) -> &str {
    let base = ep.base_url.trim_end_matches('/');
    base.strip_suffix("/api/v0").unwrap_or(base)
}

/// The rustls error somewhere in `err`'s chain, if the failure was TLS. I/O errors
/// wrap their cause without exposing it as a `source`, sometimes twice.
fn tls_failure<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut pending: Vec<&(dyn std::error::Error + 'static)> = vec![err];
    let mut seen = 0;
    while let Some(e) = pending.pop() {
        seen += 1;
        if seen > 32 {
            break;
        }
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            let inner: &(dyn std::error::Error + 'static) = inner;
            pending.push(inner);
        }
        if let Some(source) = e.source() {
            pending.push(source);
        }
    }
    None
}

/// The innermost message of an error chain (reqwest's outer ones are generic).
fn root_message(err: &(dyn std::error::Error + 'static)) -> String {
    let mut current = err;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

impl HttpCmlClient {
    /// A client on the system clock.
    pub fn new(config: CmlClientConfig) -> Result<Self, ConfigError> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A client whose token expiry follows `clock` (a simulation's virtual clock).
    pub fn with_clock(config: CmlClientConfig, clock: Arc<dyn Clock>) -> Result<Self, ConfigError> {
        if config.username.trim().is_empty() {
            return Err(ConfigError::EmptyUsername);
        }
        if config.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout("connect"));
        }
        if config.request_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout("request"));
        }
        let mut clients = HashMap::new();
        if config.tls != TlsMode::TrustOnFirstUse {
            let default = build_http(&config, &config.tls, None)?;
            clients.insert(config.tls.clone(), default);
        }
        for (worker, tls) in &config.tls_overrides {
            if *tls != TlsMode::TrustOnFirstUse && !clients.contains_key(tls) {
                let client = build_http(&config, tls, Some(*worker))?;
                clients.insert(tls.clone(), client);
            }
        }
        Ok(Self {
            overrides: RwLock::new(config.tls_overrides.clone()),
            config,
            clock,
            clients: Mutex::new(clients),
            pinned: Mutex::new(HashMap::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    /// The configuration it was built with (overrides set later are not in it).
    pub fn config(&self) -> &CmlClientConfig {
        &self.config
    }

    /// Sets (`Some`) or removes (`None`) the TLS override of one worker from now on.
    pub fn set_worker_tls(
        &self,
        worker: WorkerId,
        tls: Option<TlsMode>,
    ) -> Result<(), ConfigError> {
        match tls {
            Some(tls) => {
                if tls != TlsMode::TrustOnFirstUse && !locked(&self.clients).contains_key(&tls) {
                    let client = build_http(&self.config, &tls, Some(worker))?;
                    locked(&self.clients).insert(tls.clone(), client);
                }
                self.overrides
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(worker, tls);
            }
            None => {
                self.overrides
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&worker);
            }
        }
        Ok(())
    }

    /// Drops the cached token of `ep` (the next call authenticates again).
    pub fn forget_token(&self, ep: &CmlEndpoint) {
        locked(&self.tokens).remove(base_of(ep));
    }

    /// The CML version of `ep`, read tolerantly (`2.9.1+build.7` is 2.9.1).
    pub async fn version(&self, ep: &CmlEndpoint) -> Result<SemVer, CmlError> {
        let info = self.system_information(ep).await?;
        info.version.parse().map_err(|_| CmlError::Protocol {
            operation: "system_information".into(),
            message: format!("version `{}` is not X.Y.Z", info.version),
        })
    }

    /// Polls `GET /licensing` every `interval` (on the client's clock) until the
    /// registration is no longer `IN_PROGRESS` — `COMPLETED`, `FAILED` or whatever CML
    /// reports — and returns that status; [`CmlError::Timeout`] after `timeout`.
    pub async fn await_registration(
        &self,
        ep: &CmlEndpoint,
        timeout: std::time::Duration,
        interval: std::time::Duration,
    ) -> Result<Licensing, CmlError> {
        let seconds = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let deadline = self.clock.now() + chrono::Duration::milliseconds(seconds(timeout));
        loop {
            let licensing = self.licensing(ep).await?;
            if licensing.registration_status != "IN_PROGRESS" {
                return Ok(licensing);
            }
            let now = self.clock.now();
            if now >= deadline {
                return Err(CmlError::Timeout {
                    operation: "licence registration".into(),
                });
            }
            let next = now + chrono::Duration::milliseconds(seconds(interval).max(1));
            self.clock.sleep_until(next.min(deadline)).await;
        }
    }

    fn tls_for(&self, worker: &WorkerId) -> TlsMode {
        self.overrides
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(worker)
            .cloned()
            .unwrap_or_else(|| self.config.tls.clone())
    }

    fn http_for(&self, ep: &CmlEndpoint) -> Result<reqwest::Client, CmlError> {
        let tls = self.tls_for(&ep.worker_id);
        if tls == TlsMode::TrustOnFirstUse {
            return self.pinned_http(ep);
        }
        if let Some(client) = locked(&self.clients).get(&tls) {
            return Ok(client.clone());
        }
        let client =
            build_http(&self.config, &tls, Some(ep.worker_id)).map_err(|e| CmlError::Protocol {
                operation: "tls".into(),
                message: e.to_string(),
            })?;
        locked(&self.clients).insert(tls, client.clone());
        Ok(client)
    }

    /// The worker's trust-on-first-use client. The endpoint's pin (from the
    /// worker's record) wins; without one, what this client pinned at first
    /// contact stands until the record catches up.
    fn pinned_http(&self, ep: &CmlEndpoint) -> Result<reqwest::Client, CmlError> {
        let wanted = ep.pinned_sha256.as_deref().map(pin::normalise);
        let mut pinned = locked(&self.pinned);
        if let Some(entry) = pinned.get(&ep.worker_id) {
            if wanted.is_none() || wanted == entry.pin.trusted() {
                return Ok(entry.http.clone());
            }
        }
        let pin = Arc::new(Pin::new(wanted.as_deref()));
        let http =
            build_pinned_http(&self.config, pin.clone(), Some(ep.worker_id)).map_err(|e| {
                CmlError::Protocol {
                    operation: "tls".into(),
                    message: e.to_string(),
                }
            })?;
        pinned.insert(
            ep.worker_id,
            PinnedHttp {
                pin,
                http: http.clone(),
            },
        );
        Ok(http)
    }

    fn slot(&self, ep: &CmlEndpoint) -> TokenSlot {
        locked(&self.tokens)
            .entry(base_of(ep).to_owned())
            .or_default()
            .clone()
    }

    fn transport_error(&self, ep: &CmlEndpoint, operation: &str, e: &reqwest::Error) -> CmlError {
        if let Some(tls) = tls_failure(e) {
            if let Some(mismatch) = pin::mismatch_in(tls) {
                tracing::warn!(
                    endpoint = %ep.base_url,
                    worker = %ep.worker_id,
                    expected = %mismatch.expected,
                    presented = %mismatch.presented,
                    "CML presented a certificate other than the pinned one; refused"
                );
                return CmlError::CertificateChanged {
                    endpoint: ep.base_url.clone(),
                    expected: mismatch.expected.clone(),
                    presented: mismatch.presented.clone(),
                };
            }
            return CmlError::Protocol {
                operation: operation.to_owned(),
                message: format!("TLS handshake with {} failed: {tls}", ep.base_url),
            };
        }
        if e.is_timeout() && !e.is_connect() {
            return CmlError::Timeout {
                operation: operation.to_owned(),
            };
        }
        if e.is_builder() {
            return CmlError::Protocol {
                operation: operation.to_owned(),
                message: format!("bad request for {}: {}", ep.base_url, root_message(e)),
            };
        }
        // Refused, reset, closed without an answer, connect timeout: CML (or the
        // machine) is not answering yet.
        CmlError::Unreachable {
            endpoint: ep.base_url.clone(),
            message: root_message(e),
        }
    }

    /// Sends `call` once, with `token` when given; any status comes back.
    async fn send_once(
        &self,
        http: &reqwest::Client,
        ep: &CmlEndpoint,
        call: &Call<'_>,
        token: Option<&Secret>,
    ) -> Result<(StatusCode, Answer), CmlError> {
        let url = format!("{}/api/v0/{}", base_of(ep), call.path);
        let mut request = http
            .request(call.method.clone(), &url)
            .timeout(self.config.request_timeout)
            .header(header::ACCEPT, "application/json");
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token.expose());
        }
        request = match &call.body {
            Some(Body::Json(value)) => request.json(value),
            Some(Body::Text(text)) => request.body(text.clone()),
            None => request,
        };
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(ep, call.operation, &e))?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(ep, call.operation, &e))?
            .to_vec();
        tracing::debug!(
            operation = call.operation,
            method = %call.method,
            endpoint = %ep.base_url,
            path = %call.path,
            status = status.as_u16(),
            "CML call"
        );
        Ok((status, Answer { content_type, body }))
    }

    /// `POST /authenticate`.
    async fn authenticate(
        &self,
        http: &reqwest::Client,
        ep: &CmlEndpoint,
    ) -> Result<CachedToken, CmlError> {
        let mut call = Call::new("authenticate", Method::POST, "authenticate");
        call.auth = false;
        call.body = Some(Body::Json(json!({
            "username": self.config.username,
            "password": self.config.password.expose(),
        })));
        let (status, answer) = self.send_once(http, ep, &call, None).await?;
        if matches!(status.as_u16(), 401 | 403) {
            tracing::warn!(endpoint = %ep.base_url, "CML refused the credentials");
            return Err(CmlError::Unauthorized {
                endpoint: ep.base_url.clone(),
            });
        }
        let answer = self.classify(ep, &call, status, answer)?;
        let token = match serde_json::from_slice::<Value>(&answer.body) {
            Ok(Value::String(token)) => token,
            Ok(other) => other
                .get("token")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| CmlError::Protocol {
                    operation: "authenticate".into(),
                    message: "the answer holds no token".into(),
                })?,
            Err(_) => String::from_utf8_lossy(&answer.body).trim().to_owned(),
        };
        if token.is_empty() {
            return Err(CmlError::Protocol {
                operation: "authenticate".into(),
                message: "empty token".into(),
            });
        }
        let margin = i64::try_from(self.config.token_refresh_margin.as_secs()).unwrap_or(i64::MAX);
        let cached = CachedToken::new(token, self.clock.now(), margin);
        tracing::debug!(endpoint = %ep.base_url, expires_at = ?cached.expires_at, "authenticated to CML");
        Ok(cached)
    }

    /// The cached token of `ep`, or a new one.
    async fn token(&self, http: &reqwest::Client, ep: &CmlEndpoint) -> Result<Secret, CmlError> {
        let slot = self.slot(ep);
        let mut guard = slot.lock().await;
        if let Some(cached) = guard.as_ref() {
            if cached.is_fresh(self.clock.now()) {
                return Ok(cached.token.clone());
            }
        }
        let fresh = self.authenticate(http, ep).await?;
        let token = fresh.token.clone();
        *guard = Some(fresh);
        Ok(token)
    }

    /// Forgets `used` if it is still the cached token of `ep`.
    async fn invalidate(&self, ep: &CmlEndpoint, used: &Secret) {
        let slot = self.slot(ep);
        let mut guard = slot.lock().await;
        if guard.as_ref().is_some_and(|c| &c.token == used) {
            *guard = None;
        }
    }

    /// A non-2xx answer as the error it means.
    fn classify(
        &self,
        ep: &CmlEndpoint,
        call: &Call<'_>,
        status: StatusCode,
        answer: Answer,
    ) -> Result<Answer, CmlError> {
        if status.is_success() {
            return Ok(answer);
        }
        let code = status.as_u16();
        let description = parse::error_description(&answer.body);
        let operation = call.operation.to_owned();
        Err(match code {
            401 => CmlError::Unauthorized {
                endpoint: ep.base_url.clone(),
            },
            404 => match call.lab {
                Some(lab) => CmlError::NotFound {
                    what: "lab",
                    id: lab.to_string(),
                },
                None => CmlError::NotFound {
                    what: "path",
                    id: format!("/api/v0/{}", call.path),
                },
            },
            502 | 503 => CmlError::Starting {
                endpoint: ep.base_url.clone(),
            },
            400..=499 => CmlError::Rejected {
                operation,
                status: code,
                description,
            },
            _ => CmlError::Server {
                operation,
                status: code,
                description,
            },
        })
    }

    /// Runs `call` against `ep`: token, one re-authentication and retry on a 401.
    async fn call(&self, ep: &CmlEndpoint, call: Call<'_>) -> Result<Answer, CmlError> {
        let http = self.http_for(ep)?;
        if !call.auth {
            let (status, answer) = self.send_once(&http, ep, &call, None).await?;
            return self.classify(ep, &call, status, answer);
        }
        let token = self.token(&http, ep).await?;
        let (status, answer) = self.send_once(&http, ep, &call, Some(&token)).await?;
        if status != StatusCode::UNAUTHORIZED {
            return self.classify(ep, &call, status, answer);
        }
        tracing::debug!(endpoint = %ep.base_url, operation = call.operation, "401: authenticating again");
        self.invalidate(ep, &token).await;
        let token = self.token(&http, ep).await?;
        let (status, answer) = self.send_once(&http, ep, &call, Some(&token)).await?;
        if status == StatusCode::UNAUTHORIZED {
            self.invalidate(ep, &token).await;
        }
        self.classify(ep, &call, status, answer)
    }

    async fn json(&self, ep: &CmlEndpoint, call: Call<'_>) -> Result<Value, CmlError> {
        let operation = call.operation;
        self.call(ep, call).await?.json(operation)
    }
}

fn http_builder(config: &CmlClientConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .user_agent(config.user_agent.clone())
        .redirect(reqwest::redirect::Policy::limited(3))
}

/// A client whose handshakes only admit what `pin` trusts.
fn build_pinned_http(
    config: &CmlClientConfig,
    pin: Arc<Pin>,
    worker: Option<WorkerId>,
) -> Result<reqwest::Client, ConfigError> {
    let tls = pin::tls_config(pin).map_err(|e| {
        let whose = worker
            .map(|w| format!(" for worker {w}"))
            .unwrap_or_default();
        ConfigError::HttpClient(format!("trust-on-first-use TLS{whose}: {e}"))
    })?;
    http_builder(config)
        .use_preconfigured_tls(tls)
        .build()
        .map_err(|e| ConfigError::HttpClient(root_message(&e)))
}

fn build_http(
    config: &CmlClientConfig,
    tls: &TlsMode,
    worker: Option<WorkerId>,
) -> Result<reqwest::Client, ConfigError> {
    let mut builder = http_builder(config).use_rustls_tls();
    match tls {
        TlsMode::TrustOnFirstUse => {
            // Each worker gets its own pin; this one trusts the first certificate
            // it sees and is never reused across workers.
            let pin = Arc::new(Pin::new(None));
            return build_pinned_http(config, pin, worker);
        }
        TlsMode::Verify => {}
        TlsMode::Insecure => builder = builder.danger_accept_invalid_certs(true),
        TlsMode::CustomCa(pem) => {
            let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
                ConfigError::CaBundle {
                    worker,
                    message: e.to_string(),
                }
            })?;
            if certs.is_empty() {
                return Err(ConfigError::CaBundle {
                    worker,
                    message: "no certificate in the bundle".into(),
                });
            }
            builder = builder.tls_built_in_root_certs(false);
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
    }
    builder
        .build()
        .map_err(|e| ConfigError::HttpClient(root_message(&e)))
}

fn protocol(operation: &str) -> impl FnOnce(parse::ShapeError) -> CmlError + '_ {
    move |message| CmlError::Protocol {
        operation: operation.to_owned(),
        message,
    }
}

/// The most nodes a lab's node list may hold; beyond it the answer is
/// not a lab's, and is refused rather than summed.
const MAX_LAB_NODES: usize = 10_000;

/// CML node states whose nodes take CPUs and memory.
const RUNNING_NODE_STATES: [&str; 3] = ["QUEUED", "STARTED", "BOOTED"];

/// A node's figure `field`: what it runs with (`operational.<field>`) when CML
/// reports it, else what it is configured with; 0 when neither is a number.
fn node_figure(node: &Value, field: &str) -> u64 {
    parse::at(node, &["operational", field])
        .and_then(parse::as_u64)
        .or_else(|| parse::at(node, &[field]).and_then(parse::as_u64))
        .unwrap_or(0)
}

/// `GET /labs/{id}/nodes?data=true&operational=true` summed into [`LabUsage`]:
/// a list of `Node` objects (also accepted: an object whose `nodes` is such a list
/// or a map of them keyed by node id; missing or null means none). Real CML's
/// `simulation_stats` carries only usage counters, not states or sizes, so the
/// node list is where what a lab takes can be read. CPUs (`cpus`) and memory
/// (`ram`, MB) of nodes in a running state, disk (`boot_disk_size` plus
/// `data_volume`, GB) of every node, each read from `operational` first; nulls
/// count as 0, sums saturate, a state that is missing or not known counts as not
/// running. More than [`MAX_LAB_NODES`] nodes, or anything but objects as nodes,
/// is an error.
fn lab_usage_of(v: &Value) -> Result<LabUsage, parse::ShapeError> {
    let listed = match v {
        Value::Array(_) => Some(v),
        Value::Object(answer) => answer.get("nodes"),
        _ => return Err("neither a list nor an object".into()),
    };
    let nodes: Vec<&Value> = match listed {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) if list.len() <= MAX_LAB_NODES => list.iter().collect(),
        Some(Value::Object(map)) if map.len() <= MAX_LAB_NODES => map.values().collect(),
        Some(Value::Array(_) | Value::Object(_)) => {
            return Err(format!("more than {MAX_LAB_NODES} nodes"));
        }
        Some(_) => return Err("`nodes` is neither a list nor an object".into()),
    };
    let mut usage = LabUsage::default();
    for node in nodes {
        if !node.is_object() {
            return Err("a node is not an object".into());
        }
        let disk =
            node_figure(node, "boot_disk_size").saturating_add(node_figure(node, "data_volume"));
        usage.disk_gib = usage.disk_gib.saturating_add(disk);
        let runs = node
            .get("state")
            .and_then(Value::as_str)
            .is_some_and(|state| RUNNING_NODE_STATES.contains(&state));
        if runs {
            let cpus = u32::try_from(node_figure(node, "cpus")).unwrap_or(u32::MAX);
            usage.cpus = usage.cpus.saturating_add(cpus);
            usage.memory_mib = usage.memory_mib.saturating_add(node_figure(node, "ram"));
            usage.running_nodes = usage.running_nodes.saturating_add(1);
        }
    }
    Ok(usage)
}

#[async_trait]
impl CmlClient for HttpCmlClient {
    async fn system_information(&self, ep: &CmlEndpoint) -> Result<SystemInformation, CmlError> {
        let mut call = Call::new("system_information", Method::GET, "system_information");
        call.auth = false;
        let v = self.json(ep, call).await?;
        parse::system_information(&v).map_err(protocol("system_information"))
    }

    async fn system_stats(&self, ep: &CmlEndpoint) -> Result<SystemStats, CmlError> {
        let v = self
            .json(ep, Call::new("system_stats", Method::GET, "system_stats"))
            .await?;
        parse::system_stats(&v).map_err(protocol("system_stats"))
    }

    async fn system_health(&self, ep: &CmlEndpoint) -> Result<SystemHealth, CmlError> {
        let v = self
            .json(ep, Call::new("system_health", Method::GET, "system_health"))
            .await?;
        parse::system_health(&v).map_err(protocol("system_health"))
    }

    async fn licensing(&self, ep: &CmlEndpoint) -> Result<Licensing, CmlError> {
        let v = self
            .json(ep, Call::new("licensing", Method::GET, "licensing"))
            .await?;
        parse::licensing(&v).map_err(protocol("licensing"))
    }

    async fn register_licence(
        &self,
        ep: &CmlEndpoint,
        token: &Secret,
        reregister: bool,
    ) -> Result<(), CmlError> {
        let mut call = Call::new("register_licence", Method::POST, "licensing/registration");
        call.body = Some(Body::Json(
            json!({ "token": token.expose(), "reregister": reregister }),
        ));
        self.call(ep, call).await.map(|_| ())
    }

    async fn deregister_licence(&self, ep: &CmlEndpoint) -> Result<(), CmlError> {
        let call = Call::new(
            "deregister_licence",
            Method::DELETE,
            "licensing/deregistration",
        );
        self.call(ep, call).await.map(|_| ())
    }

    async fn list_labs(&self, ep: &CmlEndpoint) -> Result<Vec<CmlLabId>, CmlError> {
        let mut call = Call::new("list_labs", Method::GET, "labs");
        call.query.push(("show_all", "true".to_owned()));
        let v = self.json(ep, call).await?;
        parse::lab_ids(&v).map_err(protocol("list_labs"))
    }

    async fn get_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<CmlLab, CmlError> {
        let v = self
            .json(ep, Call::on_lab("get_lab", Method::GET, lab, ""))
            .await?;
        parse::lab(&v, lab).map_err(protocol("get_lab"))
    }

    async fn lab_state(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabState, CmlError> {
        let answer = self
            .call(ep, Call::on_lab("lab_state", Method::GET, lab, "state"))
            .await?;
        Ok(match serde_json::from_slice::<Value>(&answer.body) {
            Ok(v) => parse::lab_state(&v),
            Err(_) => LabState::from_cml(String::from_utf8_lossy(&answer.body).trim()),
        })
    }

    async fn start_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call(ep, Call::on_lab("start_lab", Method::PUT, lab, "start"))
            .await
            .map(|_| ())
    }

    async fn stop_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call(ep, Call::on_lab("stop_lab", Method::PUT, lab, "stop"))
            .await
            .map(|_| ())
    }

    async fn wipe_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call(ep, Call::on_lab("wipe_lab", Method::PUT, lab, "wipe"))
            .await
            .map(|_| ())
    }

    async fn delete_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call(ep, Call::on_lab("delete_lab", Method::DELETE, lab, ""))
            .await
            .map(|_| ())
    }

    async fn lab_usage(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabUsage, CmlError> {
        let v = self
            .json(
                ep,
                Call::on_lab("lab_usage", Method::GET, lab, "nodes")
                    .with_query("data", "true")
                    .with_query("operational", "true"),
            )
            .await?;
        lab_usage_of(&v).map_err(protocol("lab_usage"))
    }

    async fn check_if_converged(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<bool, CmlError> {
        let v = self
            .json(
                ep,
                Call::on_lab("check_if_converged", Method::GET, lab, "check_if_converged"),
            )
            .await?;
        parse::as_bool(&v).ok_or_else(|| CmlError::Protocol {
            operation: "check_if_converged".into(),
            message: format!("expected a boolean, got {v}"),
        })
    }

    async fn import_lab(
        &self,
        ep: &CmlEndpoint,
        topology_yaml: &str,
        title: Option<&str>,
    ) -> Result<LabImport, CmlError> {
        let mut call = Call::new("import_lab", Method::POST, "import");
        if let Some(title) = title {
            call.query.push(("title", title.to_owned()));
        }
        call.body = Some(Body::Text(topology_yaml.to_owned()));
        let v = self.json(ep, call).await?;
        parse::lab_import(&v).map_err(protocol("import_lab"))
    }

    async fn download_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<String, CmlError> {
        let answer = self
            .call(
                ep,
                Call::on_lab("download_lab", Method::GET, lab, "download"),
            )
            .await?;
        let is_json = answer
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json"));
        if is_json {
            if let Ok(Value::String(text)) = serde_json::from_slice::<Value>(&answer.body) {
                return Ok(text);
            }
        }
        String::from_utf8(answer.body).map_err(|_| CmlError::Protocol {
            operation: "download_lab".into(),
            message: "the topology is not UTF-8 text".into(),
        })
    }

    async fn node_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<NodeDefinition>, CmlError> {
        let v = self
            .json(
                ep,
                Call::new("node_definitions", Method::GET, "node_definitions"),
            )
            .await?;
        parse::node_definitions(&v).map_err(protocol("node_definitions"))
    }

    async fn image_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<ImageDefinition>, CmlError> {
        let v = self
            .json(
                ep,
                Call::new("image_definitions", Method::GET, "image_definitions"),
            )
            .await?;
        parse::image_definitions(&v).map_err(protocol("image_definitions"))
    }

    fn certificate_fingerprint(&self, ep: &CmlEndpoint) -> Option<String> {
        if self.tls_for(&ep.worker_id) != TlsMode::TrustOnFirstUse {
            return None;
        }
        locked(&self.pinned)
            .get(&ep.worker_id)
            .and_then(|entry| entry.pin.trusted())
    }

    async fn telemetry_events(
        &self,
        ep: &CmlEndpoint,
        after: Option<Timestamp>,
    ) -> Result<Vec<TelemetryEvent>, CmlError> {
        let v = self
            .json(
                ep,
                Call::new("telemetry_events", Method::GET, "telemetry/events"),
            )
            .await?;
        parse::telemetry_events(&v, after).map_err(protocol("telemetry_events"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_bases() {
        assert_eq!(segment("8e0a-41AB_x.y~z"), "8e0a-41AB_x.y~z");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        let ep = |url: &str| CmlEndpoint::new(WorkerId::from_u128(1), url);
        assert_eq!(base_of(&ep("https://10.0.0.5/")), "https://10.0.0.5");
        assert_eq!(base_of(&ep("https://10.0.0.5/api/v0/")), "https://10.0.0.5");
        assert_eq!(base_of(&ep("https://h:8443")), "https://h:8443");
    }

    #[test]
    fn configuration_errors() {
        let bad = CmlClientConfig::new(" ", Secret::new("x"));
        assert_eq!(
            HttpCmlClient::new(bad).unwrap_err(),
            ConfigError::EmptyUsername
        );
        let bad = CmlClientConfig::new("admin", Secret::new("x"))
            .with_timeouts(std::time::Duration::ZERO, std::time::Duration::from_secs(1));
        assert_eq!(
            HttpCmlClient::new(bad).unwrap_err(),
            ConfigError::ZeroTimeout("connect")
        );
        let bad = CmlClientConfig::new("admin", Secret::new("x"))
            .with_tls(TlsMode::CustomCa("not a certificate".into()));
        assert!(matches!(
            HttpCmlClient::new(bad).unwrap_err(),
            ConfigError::CaBundle { worker: None, .. }
        ));
        let client = HttpCmlClient::new(CmlClientConfig::new("admin", Secret::new("x"))).unwrap();
        let err = client
            .set_worker_tls(
                WorkerId::from_u128(7),
                Some(TlsMode::CustomCa(String::new())),
            )
            .unwrap_err();
        assert!(err.to_string().contains("worker"), "{err}");
    }

    fn usage(cpus: u32, memory_mib: u64, disk_gib: u64, running_nodes: u32) -> LabUsage {
        LabUsage {
            cpus,
            memory_mib,
            disk_gib,
            running_nodes,
        }
    }

    #[test]
    fn lab_usage_sums_a_list_of_nodes() {
        let v = json!({
            "nodes": [
                {"id": "a", "state": "BOOTED", "cpus": 2, "ram": 2048, "boot_disk_size": 16, "data_volume": 4},
                {"id": "b", "state": "STARTED", "cpus": 1.0, "ram": "512", "boot_disk_size": 8},
                {"id": "c", "state": "QUEUED", "cpus": 1, "ram": 256},
                {"id": "d", "state": "STOPPED", "cpus": 4, "ram": 8192, "boot_disk_size": 32},
                {"id": "e", "state": "DEFINED_ON_CORE", "cpus": 4, "ram": 8192, "boot_disk_size": 1}
            ],
            "links": []
        });
        assert_eq!(lab_usage_of(&v).unwrap(), usage(4, 2816, 61, 3));
        // What `GET /labs/{id}/nodes?data=true` answers: the list itself.
        assert_eq!(lab_usage_of(&v["nodes"]).unwrap(), usage(4, 2816, 61, 3));
        assert_eq!(lab_usage_of(&json!([])).unwrap(), LabUsage::default());
    }

    #[test]
    fn lab_usage_reads_nodes_keyed_by_id() {
        let v = json!({
            "nodes": {
                "n1": {"state": "BOOTED", "cpus": 1, "ram": 512, "boot_disk_size": 2},
                "n2": {"state": "STOPPED", "cpus": 1, "ram": 512, "boot_disk_size": 2}
            },
            "links": {}
        });
        assert_eq!(lab_usage_of(&v).unwrap(), usage(1, 512, 4, 1));
    }

    #[test]
    fn lab_usage_prefers_what_a_node_runs_with() {
        let v = json!({"nodes": [{
            "state": "BOOTED", "cpus": null, "ram": 1024, "boot_disk_size": null,
            "operational": {"cpus": 2, "ram": null, "boot_disk_size": 6, "data_volume": "x"}
        }]});
        assert_eq!(lab_usage_of(&v).unwrap(), usage(2, 1024, 6, 1));
    }

    #[test]
    fn lab_usage_counts_nulls_and_unknown_states_as_nothing() {
        let v = json!({"nodes": [
            {"state": "BOOTED", "cpus": null, "ram": null, "boot_disk_size": null, "data_volume": null},
            {"state": "SOMETHING_NEW", "cpus": 8, "ram": 8192, "boot_disk_size": 1},
            {"state": null, "cpus": 8, "ram": 8192},
            {"state": 3, "cpus": 8},
            {"cpus": 8, "ram": 8192, "cpu_usage": 50.0},
            {"state": "BOOTED", "cpus": -1, "ram": "lots"}
        ]});
        assert_eq!(lab_usage_of(&v).unwrap(), usage(0, 0, 1, 2));
        assert_eq!(lab_usage_of(&json!({})).unwrap(), LabUsage::default());
        assert_eq!(
            lab_usage_of(&json!({"nodes": null})).unwrap(),
            LabUsage::default()
        );
    }

    #[test]
    fn lab_usage_saturates() {
        let huge = json!({"state": "BOOTED", "cpus": u64::MAX, "ram": u64::MAX,
                          "boot_disk_size": u64::MAX, "data_volume": u64::MAX});
        let v = json!({ "nodes": [huge.clone(), huge] });
        assert_eq!(
            lab_usage_of(&v).unwrap(),
            usage(u32::MAX, u64::MAX, u64::MAX, 2)
        );
    }

    #[test]
    fn lab_usage_refuses_too_many_nodes() {
        let node = json!({"state": "BOOTED", "cpus": 1});
        let at_bound = json!({ "nodes": vec![node.clone(); MAX_LAB_NODES] });
        assert_eq!(lab_usage_of(&at_bound).unwrap().running_nodes, 10_000);
        let over = json!({ "nodes": vec![node.clone(); MAX_LAB_NODES + 1] });
        assert!(lab_usage_of(&over).unwrap_err().contains("10000"));
        let keyed: serde_json::Map<String, Value> = (0..=MAX_LAB_NODES)
            .map(|i| (format!("n{i}"), node.clone()))
            .collect();
        assert!(lab_usage_of(&json!({ "nodes": keyed })).is_err());
    }

    #[test]
    fn lab_usage_refuses_garbage() {
        for garbage in [
            json!([1]),
            json!([{"state": "BOOTED"}, "n2"]),
            json!("nodes"),
            json!(null),
            json!(42),
            json!({"nodes": "all of them"}),
            json!({"nodes": 3}),
            json!({"nodes": [1, 2]}),
            json!({"nodes": [null]}),
            json!({"nodes": {"n1": "BOOTED"}}),
        ] {
            assert!(lab_usage_of(&garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn debug_output_has_no_credentials() {
        let client =
            HttpCmlClient::new(CmlClientConfig::new("admin", Secret::new("s3cr3t-pa55"))).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("s3cr3t-pa55"), "{text}");
        assert!(text.contains("admin"), "{text}");
    }
}
