//! What every request handler shares: the engine, the store, the job runner,
//! authentication, metrics, and the signals of the process (shutdown, nudges).

use std::sync::Arc;
use std::time::Duration;

use ccm_assembly::cloud::CallCounter;
use ccm_core::fleet::Fleet;
use ccm_core::ports::Store;
use ccm_core::runtime::{JobRunner, LeaderElector};
use tokio::sync::{watch, Notify};

use crate::auth::jwt::JwtVerifier;
use crate::auth::session::Sessions;
use crate::metrics::Metrics;

/// HTTP behaviour.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Largest request body.
    pub body_limit_bytes: usize,
    /// Time between SSE heartbeats.
    pub heartbeat: Duration,
    /// Session cookies carry `Secure`.
    pub cookie_secure: bool,
    /// Regions workers may be created in (the first is the default).
    pub regions: Vec<String>,
    /// Timeouts, connection and stream caps.
    pub limits: crate::limits::ServerLimits,
    /// Users may book lablets for themselves (`[lablets] self_service`).
    pub lablet_self_service: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            body_limit_bytes: 2 * 1024 * 1024,
            heartbeat: Duration::from_secs(30),
            cookie_secure: false,
            regions: vec!["us-east-1".into()],
            limits: crate::limits::ServerLimits::default(),
            lablet_self_service: false,
        }
    }
}

/// Shared state of the HTTP layer. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub fleet: Arc<Fleet>,
    /// The store (the engine's).
    pub store: Arc<dyn Store>,
    /// Shared small records: sessions, pending logins, cursors.
    pub kv: Arc<dyn ccm_core::ports::KeyValueStore>,
    /// The job runner (the driver runs it; handlers list, trigger, pause).
    pub jobs: Arc<JobRunner>,
    /// Leader election of this process.
    pub elector: Arc<LeaderElector>,
    /// OIDC token verification, when configured.
    pub jwt: Option<Arc<JwtVerifier>>,
    /// The browser login, when an OIDC client is configured.
    pub oidc_login: Option<Arc<crate::auth::oidc_login::OidcLogin>>,
    /// Browser sessions.
    pub sessions: Arc<Sessions>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// Cloud call counts, when the provider exposes them.
    pub cloud_calls: Option<CallCounter>,
    /// Turns true when the server stops.
    pub shutdown: watch::Receiver<bool>,
    /// Wakes the engine driver after a change.
    pub nudge: Arc<Notify>,
    /// HTTP behaviour.
    pub options: Arc<HttpOptions>,
    /// Alert webhooks, when configured (fed by their own relay).
    pub webhooks: Option<Arc<crate::webhook::WebhookSink>>,
    /// Event streams open per caller.
    pub streams: Arc<crate::limits::stream_slots::StreamSlots>,
    /// The one reader of the event log that feeds every event stream.
    pub events: Arc<crate::sse::hub::EventHub>,
    /// Serialised list pages, reused while the store generations are unchanged.
    pub pages: Arc<crate::api::page_cache::PageCache>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}
