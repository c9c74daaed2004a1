//! Shared helpers of the integration tests: a server on the simulator with a
//! virtual clock, API keys per role, requests through the router, and an SSE reader.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, Response};
use ccm_assembly::cloud::CloudParts;
use ccm_assembly::config::OidcConfig;
use ccm_core::fleet::FleetSettings;
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::runtime::LeaseSettings;
use ccm_core::store::MemoryStore;
use ccm_http::auth::{api_keys, Role};
use ccm_http::server::{Assembly, Server};
use ccm_http::state::HttpOptions;
use ccm_sim::{SimConfig, Simulation};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A key of each role, from [`TestServer::role_keys`].
pub struct RoleKeys {
    pub admin: String,
    pub manager: String,
    pub user: String,
}

impl RoleKeys {
    /// The three keys as the `Option<&str>` that [`TestServer::call`] takes.
    pub fn each(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        (Some(&self.admin), Some(&self.manager), Some(&self.user))
    }
}

/// The body of `POST /api/v1/definitions` for a definition of `topology` whose
/// lablets take `cpu_millis` and `memory_mib` and last at most `max_minutes`.
pub fn definition_body(
    name: &str,
    topology: &str,
    cpu_millis: u64,
    memory_mib: u64,
    max_minutes: u32,
) -> serde_json::Value {
    serde_json::json!({
        "name": name, "version": "1.0.0", "topology_yaml": topology,
        "needs": {"resources": {"cpu_millis": cpu_millis, "memory_mib": memory_mib, "storage_gib": 10}, "nodes": 0, "ports": 1},
        "licence_affinity": null, "min_cml_version": null,
        "max_duration_minutes": max_minutes, "warm_pool_depth": 0
    })
}

/// Knobs of a test server.
pub struct Options {
    pub store: Option<Arc<dyn Store>>,
    /// Key-value records (sessions, pending logins) shared with other servers.
    pub kv: Option<Arc<dyn ccm_core::ports::KeyValueStore>>,
    pub oidc: Option<OidcConfig>,
    pub heartbeat: Duration,
    pub body_limit: usize,
    pub holder: String,
    pub public_url: String,
    pub settings: FleetSettings,
    /// CML through this client instead of the simulation's; simulated instances
    /// then carry no endpoint tag, so workers need a `ccm:cml-endpoint` tag.
    pub cml: Option<Arc<dyn ccm_core::ports::CmlClient>>,
    pub lablet_self_service: bool,
    pub limits: ccm_http::limits::ServerLimits,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            store: None,
            kv: None,
            oidc: None,
            heartbeat: Duration::from_secs(30),
            body_limit: 64 * 1024,
            holder: "test-holder".into(),
            public_url: "http://127.0.0.1:8020".into(),
            settings: FleetSettings::default(),
            cml: None,
            lablet_self_service: false,
            limits: Default::default(),
        }
    }
}

pub struct TestServer {
    pub server: Server,
    pub store: Arc<dyn Store>,
    pub clock: VirtualClock,
    pub sim: Simulation,
}

pub async fn server(options: Options) -> TestServer {
    let mut config = SimConfig::default();
    config.cml.licensed_at_launch = true;
    config.tag_cml_endpoint = options.cml.is_none();
    let clock = VirtualClock::new(config.start);
    let sim = Simulation::with_virtual_clock(7, config, clock.clone());
    let store: Arc<dyn Store> = options
        .store
        .unwrap_or_else(|| Arc::new(MemoryStore::new()));
    let parts = CloudParts {
        cloud: Arc::new(sim.cloud()),
        cml: options.cml.unwrap_or_else(|| Arc::new(sim.cml())),
        clock: Arc::new(clock.clone()),
        calls: None,
        sim: Some(sim.clone()),
    };
    let server = Server::assemble(Assembly {
        store: store.clone(),
        kv: options
            .kv
            .unwrap_or_else(|| Arc::new(ccm_core::store::MemoryKeyValueStore::new())),
        series: Arc::new(ccm_core::store::MemoryMetricSeries::new()),
        parts,
        settings: options.settings,
        licence_token: None,
        options: HttpOptions {
            body_limit_bytes: options.body_limit,
            heartbeat: options.heartbeat,
            cookie_secure: false,
            regions: vec!["us-east-1".into(), "us-west-2".into()],
            limits: options.limits,
            lablet_self_service: options.lablet_self_service,
        },
        oidc: options.oidc,
        lease: LeaseSettings::default(),
        holder: options.holder,
        session_ttl: Duration::from_secs(3600),
        max_sessions: 10_000,
        shutdown_grace: Duration::from_secs(5),
        public_url: options.public_url,
    })
    .await
    .expect("server assembles");
    TestServer {
        server,
        store,
        clock,
        sim,
    }
}

impl TestServer {
    /// Checks that `GET path` is for admins only (401 without a key, 403 for a
    /// user and a manager) and returns an admin key.
    pub async fn admin_only(&self, path: &str) -> String {
        let (status, _) = self.call(Method::GET, path, None, None).await;
        assert_eq!(status, 401, "{path}");
        for role in [Role::User, Role::Manager] {
            let key = self.key(role).await;
            let (status, body) = self.call(Method::GET, path, Some(&key), None).await;
            assert_eq!(status, 403, "{path} as {role:?}: {body}");
        }
        self.key(Role::Admin).await
    }

    /// A fresh API key with `role`.
    pub async fn key(&self, role: Role) -> String {
        let (_, key) = api_keys::create_key(
            self.store.as_ref(),
            &format!("test-{}", role.as_str()),
            role,
            self.clock.now(),
        )
        .await
        .unwrap();
        key
    }

    /// One fresh key of each role: admin, manager and user.
    pub async fn role_keys(&self) -> RoleKeys {
        RoleKeys {
            admin: self.key(Role::Admin).await,
            manager: self.key(Role::Manager).await,
            user: self.key(Role::User).await,
        }
    }

    /// Sends a request through the router.
    pub async fn send(&self, request: Request<Body>) -> Response<Body> {
        self.server.router().oneshot(request).await.unwrap()
    }

    /// `method path` with an optional bearer token and JSON body; status and JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(json) => {
                builder = builder.header("content-type", "application/json");
                Body::from(json.to_string())
            }
            None => Body::empty(),
        };
        let response = self.send(builder.body(body).unwrap()).await;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, json)
    }

    /// Creates worker `worker` (idle detection off) and a definition `name`
    /// of `topology` (2 vCPU, 4 GiB, at most 120 minutes) with the admin key
    /// `admin`; returns both records.
    pub async fn worker_and_definition(
        &self,
        admin: Option<&str>,
        worker: &str,
        name: &str,
        topology: &str,
    ) -> (serde_json::Value, serde_json::Value) {
        let (s, w) = self
            .call(
                Method::POST,
                "/api/v1/workers",
                admin,
                Some(serde_json::json!({"name": worker, "idle_detection_disabled": true})),
            )
            .await;
        assert_eq!(s, 201, "{w}");
        let (s, d) = self
            .call(
                Method::POST,
                "/api/v1/definitions",
                admin,
                Some(definition_body(name, topology, 2000, 4096, 120)),
            )
            .await;
        assert_eq!(s, 201, "{d}");
        (w, d)
    }
}

/// Commits `count` fleet scaling decisions in one commit (filler for the event
/// log, visible to managers and admins); returns the last one's sequence.
pub async fn commit_fleet_events(ts: &TestServer, count: usize) -> u64 {
    use ccm_core::event::{DomainEvent, EventPayload, ResourceKind, ScalingAction, Subject};
    let events = (0..count).map(|n| {
        DomainEvent::new(
            Subject {
                kind: ResourceKind::Fleet,
                id: "fleet".into(),
            },
            EventPayload::FleetScalingDecided {
                action: ScalingAction::Blocked,
                workers: vec![],
                reason: format!("decision {n}"),
            },
            ts.clock.now(),
        )
    });
    let receipt = ts
        .store
        .commit(ccm_core::ports::store::ChangeSet::new().events(events))
        .await
        .unwrap();
    *receipt.sequences.last().unwrap()
}

/// One server-sent event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// Reads events from an SSE response body.
pub struct SseReader {
    body: Body,
    buffer: String,
}

impl SseReader {
    pub fn new(response: Response<Body>) -> Self {
        assert_eq!(
            response.status(),
            200,
            "stream answered {}",
            response.status()
        );
        Self {
            body: response.into_body(),
            buffer: String::new(),
        }
    }

    /// The next event, `None` when the stream ended. Panics after `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<SseEvent> {
        tokio::time::timeout(wait, self.next())
            .await
            .expect("an event within the wait")
    }

    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut data = Vec::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if event.event.is_empty() && data.is_empty() {
                    continue;
                }
                event.data = data.join("\n");
                return Some(event);
            }
            match self.body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(bytes) = frame.into_data() {
                        self.buffer.push_str(&String::from_utf8_lossy(&bytes));
                    }
                }
                _ => return None,
            }
        }
    }
}

/// Opens the event stream with optional query and `Last-Event-ID`.
pub async fn open_stream(
    ts: &TestServer,
    token: &str,
    query: &str,
    last_event_id: Option<u64>,
) -> SseReader {
    let mut builder = Request::builder()
        .uri(format!("/api/v1/events/stream{query}"))
        .header("authorization", format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        builder = builder.header("last-event-id", id.to_string());
    }
    SseReader::new(ts.send(builder.body(Body::empty()).unwrap()).await)
}

/// The `ccm` binary with none of the caller's `CCM_*` variables: the server
/// refuses unknown ones (a typo must not be ignored), and the test environment
/// sets its own (`CCM_TEST_POSTGRES_URL`, `CCM_MOTO_SERVER`).
pub fn ccm_binary() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_ccm"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CCM_") {
            command.env_remove(name);
        }
    }
    command
}
