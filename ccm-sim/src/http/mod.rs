//! The HTTP face of one simulated CML server (feature `http`): an axum router that
//! serves CML 2.9's REST paths, status codes, error bodies and JSON shapes under
//! `/api/v0/` on top of the same model [`crate::SimCml`] uses, so any CML client —
//! ccm's own `ccm-cml`, the official Python `virl2_client`, curl — can be pointed at
//! it.
//!
//! One process (one [`CmlHttpServer`]) serves one CML server: a [`Simulation`] with a
//! single running instance whose CML is that server. The clock is the system clock
//! (a simulator that runs in real time, like the `cml-sim` binary) or a
//! [`VirtualClock`] the caller moves (tests: node boot and licence registration then
//! take no real time).
//!
//! What it speaks (see `CML_API.md` for the contract):
//! * **Auth**: `POST /authenticate` answers a bare JSON string, an HS256 JWT (`iss`
//!   `com.cisco.virl`, `iat`, `exp`, `sub` = user id, `jti`) signed with a per-process
//!   key; `POST /auth_extended`, `GET /authok`, `DELETE /logout`. Every other call
//!   but `GET /system_information` needs `Authorization: Bearer`; a missing, bad,
//!   expired or logged-out token is a 401. Wrong credentials are a 403.
//! * **System**: information, stats (per compute, floats, `dominfo`), health.
//! * **Licensing**: status, registration (asynchronous: `IN_PROGRESS`, then
//!   `COMPLETED` or `FAILED` for a token containing `invalid`), deregistration.
//! * **Labs**: list (`show_all`), create, get, delete, state, start/stop/wipe (204s),
//!   convergence, import (`POST /import?title=` with YAML or JSON text), download
//!   (YAML text), topology (nodes, interfaces and links under CML-style UUIDs),
//!   nodes, element states, layer-3 addresses, simulation stats, events and lab
//!   tiles — what the official client calls while it imports, starts, stops, wipes
//!   and removes a lab. `check_if_converged` answers as CML does: true when no node
//!   is on its way to another state (a stopped or wiped lab at once, a started one
//!   once its nodes booted); [`crate::SimCml`] keeps its stricter "started and
//!   booted".
//! * **Users** (`GET /users`, `GET /users/{username}/id`): the administrator and the
//!   owners of labs (the official client resolves lab owners through them).
//! * **Definitions** (node, simplified node, image) and **telemetry events**.
//! * Errors are `{"code": <status>, "description": "<text>"}`: 404 `Lab not found:
//!   <id>`, 400 `Cannot start lab.` over the licence node limit, 400 for wiping a
//!   started lab or deleting an unwiped one, 400 for a malformed lab id. While CML
//!   boots ([`CmlHttpOptions::boot_seconds`]) every path answers nginx's 502 page.
//!
//! Fault switches: real latency before every answer, a probability of a 500 for
//! every model call, and the token lifetime. Optionally it serves HTTPS with a
//! self-signed certificate made at start-up ([`CmlHttpServer::certificate_pem`]).

mod auth;
mod error;
mod exchange;
mod json;
mod routes;
mod tls;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ccm_core::ids::{InstanceId, Region, WorkerId};
use ccm_core::ports::clock::{SystemClock, VirtualClock};
use ccm_core::ports::cloud::{CloudProvider, ImageSelector, LaunchRequest};
use ccm_core::ports::cml::CmlEndpoint;
use ccm_core::secret::Secret;
use tokio::task::JoinHandle;

use crate::config::{CmlConfig, SimConfig};
use crate::error::SimError;
use crate::simulation::Simulation;

pub use exchange::{Exchange, InFlight};

/// How to run a [`CmlHttpServer`].
#[derive(Clone, Debug)]
pub struct CmlHttpOptions {
    /// Address to listen on; port 0 picks a free one (default `127.0.0.1:0`).
    pub listen: SocketAddr,
    /// The one CML user (an administrator).
    pub username: String,
    /// Its password.
    pub password: Secret,
    /// The server starts out registered (a pre-licensed CML).
    pub licensed: bool,
    /// Serve HTTPS with a self-signed certificate made at start-up.
    pub tls: bool,
    /// Lifetime of issued tokens, seconds (CML's sample: 24 h).
    pub token_lifetime_seconds: i64,
    /// Real delay before every answer (fault switch).
    pub latency: Option<Duration>,
    /// Probability (0–1) that a call reaching the model answers 500 (fault switch).
    pub error_rate: f64,
    /// After start-up, CML answers 502 this long (clock seconds), as while it boots.
    pub boot_seconds: i64,
    /// Seed of the simulation (lab ids and fault decisions).
    pub seed: u64,
    /// `None`: the system clock. `Some`: a virtual clock the caller moves.
    pub clock: Option<VirtualClock>,
    /// The simulated CML (version, delays, node limits, definitions). Its
    /// `boot_seconds` and `licensed_at_launch` are taken from the fields above.
    pub cml: CmlConfig,
    /// Keep every request/answer pair for [`CmlHttpServer::exchanges`] and the
    /// requests in flight for [`CmlHttpServer::in_flight`] (tests).
    pub record_exchanges: bool,
    /// Print one line per request to standard error.
    pub log_requests: bool,
}

impl Default for CmlHttpOptions {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            username: "admin".to_owned(),
            password: Secret::new("admin"),
            licensed: false,
            tls: false,
            token_lifetime_seconds: 24 * 3600,
            latency: None,
            error_rate: 0.0,
            boot_seconds: 0,
            seed: 1,
            clock: None,
            cml: CmlConfig::default(),
            record_exchanges: false,
            log_requests: false,
        }
    }
}

/// A running HTTP CML simulator. Dropping it stops the server (without waiting);
/// [`CmlHttpServer::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct CmlHttpServer {
    base_url: String,
    local_addr: SocketAddr,
    certificate_pem: Option<String>,
    sim: Simulation,
    instance: InstanceId,
    state: Arc<routes::AppState>,
    handle: axum_server::Handle,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl CmlHttpServer {
    /// Builds the simulation (one running instance whose CML is the served server),
    /// binds the listener and starts serving on the current tokio runtime.
    pub async fn start(options: CmlHttpOptions) -> Result<Self, SimError> {
        let mut config = SimConfig::default();
        config.delays.boot_seconds = 0;
        config.delays.boot_metal_seconds = 0;
        config.delays.status_init_seconds = 0;
        config.tag_cml_endpoint = false;
        config.cml = options.cml.clone();
        config.cml.boot_seconds = options.boot_seconds.max(0);
        config.cml.licensed_at_launch = options.licensed;
        let region = config
            .regions
            .first()
            .map(|r| r.name.clone())
            .unwrap_or_else(|| Region::new("us-east-1"));
        let sim = match &options.clock {
            Some(clock) => Simulation::with_virtual_clock(options.seed, config, clock.clone()),
            None => Simulation::with_clock(options.seed, config, Arc::new(SystemClock)),
        };
        sim.update_faults(|f| f.cml_error_rate = options.error_rate.clamp(0.0, 1.0))?;
        let worker = WorkerId::from_u128(u128::from(options.seed));
        let request = LaunchRequest {
            worker_id: worker,
            region,
            name: "cml-sim".to_owned(),
            image: ImageSelector::NamePattern("cml-*".to_owned()),
            instance_type: "m5zn.metal".to_owned(),
            subnet_id: None,
            security_group_ids: vec![],
            key_name: None,
            iam_instance_profile: None,
            tags: BTreeMap::new(),
            detailed_monitoring: false,
        };
        let instance = sim
            .cloud()
            .launch(&request)
            .await
            .map_err(SimError::Cloud)?
            .instance_id;

        let listener = std::net::TcpListener::bind(options.listen)
            .map_err(|e| SimError::Http(format!("cannot listen on {}: {e}", options.listen)))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| SimError::Http(format!("listener: {e}")))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| SimError::Http(format!("listener: {e}")))?;

        let state = Arc::new(routes::AppState::new(
            sim.clone(),
            instance.clone(),
            &options,
        ));
        let app = routes::router(state.clone()).into_make_service();
        let handle = axum_server::Handle::new();
        let (scheme, certificate_pem, task) = if options.tls {
            let (pem, config) = tls::self_signed(local_addr)?;
            let server = axum_server::from_tcp_rustls(listener, config).handle(handle.clone());
            ("https", Some(pem), tokio::spawn(server.serve(app)))
        } else {
            let server = axum_server::from_tcp(listener).handle(handle.clone());
            ("http", None, tokio::spawn(server.serve(app)))
        };
        let host = if local_addr.ip().is_unspecified() {
            "127.0.0.1".to_owned()
        } else if local_addr.is_ipv6() {
            format!("[{}]", local_addr.ip())
        } else {
            local_addr.ip().to_string()
        };
        Ok(Self {
            base_url: format!("{scheme}://{host}:{}", local_addr.port()),
            local_addr,
            certificate_pem,
            sim,
            instance,
            state,
            handle,
            task: Some(task),
        })
    }

    /// The URL clients use (`https://127.0.0.1:PORT`, without `/api/v0`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The self-signed certificate (PEM) when serving HTTPS: a client's CA bundle.
    pub fn certificate_pem(&self) -> Option<&str> {
        self.certificate_pem.as_deref()
    }

    /// The simulation behind it (hooks: user activity, clock, faults, labs).
    pub fn simulation(&self) -> &Simulation {
        &self.sim
    }

    /// The simulated instance whose CML this is (for [`Simulation`] hooks).
    pub fn instance_id(&self) -> &InstanceId {
        &self.instance
    }

    /// The endpoint of this server for `worker`, as ccm would store it.
    pub fn endpoint(&self, worker: WorkerId) -> CmlEndpoint {
        CmlEndpoint::new(worker, self.base_url.clone())
    }

    /// Request/answer pairs so far (when [`CmlHttpOptions::record_exchanges`]).
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.exchanges()
    }

    /// Requests received and not answered yet, e.g. held by the latency switch
    /// (when [`CmlHttpOptions::record_exchanges`]).
    pub fn in_flight(&self) -> Vec<InFlight> {
        self.state.in_flight()
    }

    /// Sets the real latency before every answer (requests already waiting keep
    /// the latency they arrived with).
    pub fn set_latency(&self, latency: Option<Duration>) {
        self.state.set_latency(latency);
    }

    /// Sets the lifetime of tokens issued from now on, seconds.
    pub fn set_token_lifetime(&self, seconds: i64) {
        self.state.set_token_lifetime(seconds);
    }

    /// Stops serving (open connections get a second to finish) and waits.
    pub async fn shutdown(mut self) -> Result<(), SimError> {
        self.handle.graceful_shutdown(Some(Duration::from_secs(1)));
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => result.map_err(|e| SimError::Http(format!("server: {e}"))),
                Err(e) => Err(SimError::Http(format!("server task: {e}"))),
            },
            None => Ok(()),
        }
    }

    /// Serves until the task ends (the binary: until the process is stopped).
    pub async fn wait(mut self) -> Result<(), SimError> {
        match self.task.take() {
            Some(task) => match task.await {
                Ok(result) => result.map_err(|e| SimError::Http(format!("server: {e}"))),
                Err(e) => Err(SimError::Http(format!("server task: {e}"))),
            },
            None => Ok(()),
        }
    }
}

impl Drop for CmlHttpServer {
    fn drop(&mut self) {
        if self.task.is_some() {
            self.handle.shutdown();
        }
    }
}
