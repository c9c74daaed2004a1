//! Assembling and running the server: the engine, its driver, the outbox relay and
//! the HTTP application within the server's limits (`crate::limits`), with
//! graceful shutdown — on the signal the server stops
//! accepting connections, SSE clients get a `shutdown` event, in-flight requests
//! and the engine step in flight finish (within the grace period), and the lease
//! is resigned. [`build`] and [`serve`] make one from a configuration, as
//! `ccm serve` does.

use std::sync::Arc;
use std::time::Duration;

use ccm_assembly::cloud::CloudParts;
use ccm_assembly::config::OidcConfig;
use ccm_assembly::engine::build_engine;
use ccm_core::fleet::FleetSettings;
use ccm_core::ports::{Clock, KeyValueStore, MetricSeries, Store, SystemClock};
use ccm_core::runtime::relay::LeaderRelay;
use ccm_core::runtime::{EventRelay, LeaderElector, LeaseSettings};
use ccm_core::secret::Secret;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::api::page_cache::PageCache;
use crate::auth::jwt::JwtVerifier;
use crate::auth::oidc_login::OidcLogin;
use crate::auth::session::Sessions;
use crate::auth::Role;
use crate::driver::Driver;
use crate::error::Error;
use crate::limits::stream_slots::StreamSlots;
use crate::metrics::Metrics;
use crate::sse::hub::EventHub;
use crate::state::{AppState, HttpOptions};

mod from_config;

pub use from_config::{build, http_options, serve};

/// Everything a server is made of.
pub struct Assembly {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Shared small records (sessions, cursors) on the same backend.
    pub kv: Arc<dyn KeyValueStore>,
    /// The metrics time series on the same backend.
    pub series: Arc<dyn MetricSeries>,
    /// Cloud, CML and clock.
    pub parts: CloudParts,
    /// Engine settings.
    pub settings: FleetSettings,
    /// Licence token for registrations.
    pub licence_token: Option<Secret>,
    /// HTTP behaviour.
    pub options: HttpOptions,
    /// OIDC, when configured.
    pub oidc: Option<OidcConfig>,
    /// Lease timing.
    pub lease: LeaseSettings,
    /// This process's identity in the lease.
    pub holder: String,
    /// Browser session lifetime.
    pub session_ttl: Duration,
    /// Most browser sessions live at once (`auth.max_sessions`).
    pub max_sessions: usize,
    /// Time allowed for in-flight work on shutdown.
    pub shutdown_grace: Duration,
    /// The URL users reach the server at (OIDC redirect URLs derive from it).
    pub public_url: String,
}

impl std::fmt::Debug for Assembly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assembly")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// A server ready to run. Clones share everything (state, shutdown signal), so a
/// test can keep one to inspect while another runs.
#[derive(Clone)]
pub struct Server {
    state: AppState,
    shutdown: watch::Sender<bool>,
    grace: Duration,
    sim: Option<ccm_sim::Simulation>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl Server {
    /// Builds the engine and the HTTP state.
    pub async fn assemble(a: Assembly) -> Result<Self, Error> {
        let engine = build_engine(
            a.store.clone(),
            a.series,
            a.kv.clone(),
            &a.parts,
            a.settings,
            a.licence_token,
        )
        .await?;
        let elector = Arc::new(LeaderElector::new(
            a.store.clone(),
            a.parts.clock.clone(),
            a.holder,
            a.lease,
        ));
        let oidc_error = |e: reqwest::Error| Error::Adapter {
            adapter: "oidc",
            message: e.to_string(),
        };
        // Browser sessions and logins run on wall-clock time (cookies expire by
        // it), also when the engine runs on a virtual clock.
        let wall_clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (jwt, oidc_login) = match a.oidc {
            Some(oidc) => {
                let verifier = Arc::new(JwtVerifier::new(oidc.clone()).map_err(oidc_error)?);
                let login = OidcLogin::new(
                    oidc,
                    &a.public_url,
                    verifier.clone(),
                    a.kv.clone(),
                    wall_clock.clone(),
                )
                .map_err(oidc_error)?
                .map(Arc::new);
                (Some(verifier), login)
            }
            None => (None, None),
        };
        let (shutdown, shutdown_rx) = watch::channel(false);
        let sessions = Sessions::new(a.kv.clone(), wall_clock, a.session_ttl, a.max_sessions);
        let metrics = Arc::new(Metrics::default());
        let events = Arc::new(EventHub::new(
            a.store.clone(),
            metrics.clone(),
            shutdown_rx.clone(),
            a.options.limits.sse_buffer_events,
        ));
        let state = AppState {
            fleet: engine.fleet,
            store: a.store,
            kv: a.kv,
            jobs: engine.jobs,
            elector,
            jwt,
            oidc_login,
            sessions: Arc::new(sessions),
            metrics,
            cloud_calls: a.parts.calls,
            shutdown: shutdown_rx,
            nudge: Arc::new(Notify::new()),
            options: Arc::new(a.options),
            webhooks: None,
            streams: Arc::new(StreamSlots::default()),
            events,
            pages: Arc::new(PageCache::default()),
        };
        Ok(Self {
            state,
            shutdown,
            grace: a.shutdown_grace,
            sim: a.parts.sim,
        })
    }

    /// Sends worker alerts to `webhooks` while the server runs and leads (a relay
    /// per URL, so a slow receiver holds back nothing else).
    pub fn with_webhooks(mut self, webhooks: Arc<crate::webhook::WebhookSink>) -> Self {
        self.state.webhooks = Some(webhooks);
        self
    }

    /// The shared state (tests call the router directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The simulation, when the cloud is simulated.
    pub fn simulation(&self) -> Option<&ccm_sim::Simulation> {
        self.sim.as_ref()
    }

    /// The HTTP application.
    pub fn router(&self) -> axum::Router {
        crate::api::router(self.state.clone())
    }

    /// A one-time admin login token (exchange at `/login/once?token=` on any
    /// process sharing the store), valid for `valid_for`.
    pub async fn admin_login_token(&self, valid_for: Duration) -> Result<String, Error> {
        self.state
            .sessions
            .grant_login("admin (login link)", Role::Admin, valid_for)
            .await
            .map_err(|e| Error::Adapter {
                adapter: "sessions",
                message: e.to_string(),
            })
    }

    /// A handle that stops the server when sent `true`.
    pub fn shutdown_handle(&self) -> watch::Sender<bool> {
        self.shutdown.clone()
    }

    /// Serves on `listener` with the engine driver and the relay until the
    /// shutdown handle is triggered, then shuts down gracefully.
    pub async fn run(self, listener: TcpListener) -> Result<(), Error> {
        self.run_serving(Some(listener)).await
    }

    /// Runs everything [`Server::run`] runs except the HTTP listener — the engine
    /// driver, the outbox relay, the purge of expired records, the saving of a
    /// kept simulated world and the webhook relays — until the shutdown handle is
    /// triggered, then stops them as `run` does. For a program that serves
    /// [`Server::router`] inside its own application (mounted with
    /// `axum::Router::nest`) on a listener of its own; that listener's limits
    /// (header-read and idle timeouts, the connection cap) are then the program's.
    pub async fn run_engine(self) -> Result<(), Error> {
        self.run_serving(None).await
    }

    async fn run_serving(self, listener: Option<TcpListener>) -> Result<(), Error> {
        let state = self.state.clone();
        let driver = Driver {
            fleet: state.fleet.clone(),
            jobs: state.jobs.clone(),
            elector: state.elector.clone(),
            nudge: state.nudge.clone(),
            metrics: state.metrics.clone(),
        };
        let driver = tokio::spawn(driver.run(state.shutdown.clone()));
        let cursor = state.store.last_sequence().await?;
        let mut relay = EventRelay::new(state.store.clone(), state.metrics.clone(), cursor);
        let relay_shutdown = state.shutdown.clone();
        let relay = tokio::spawn(async move { relay.run(relay_shutdown).await });
        let purger = tokio::spawn(purge_expired_records(
            state.kv.clone(),
            state.fleet.clock().clone(),
            state.shutdown.clone(),
        ));
        let kept_world = self.sim.clone().filter(|sim| sim.world_file().is_some());
        let world_saver = kept_world
            .clone()
            .map(|sim| tokio::spawn(keep_world_saved(sim, state.shutdown.clone())));
        // Webhooks get each alert once per deployment: only the leader relays,
        // from a cursor per URL in the key-value store (see `crate::webhook`).
        let webhook_relays: Vec<_> = state
            .webhooks
            .iter()
            .flat_map(|sink| sink.receivers())
            .map(|receiver| {
                let mut relay = LeaderRelay::new(
                    state.store.clone(),
                    state.kv.clone(),
                    state.elector.clone(),
                    state.fleet.clock().clone(),
                    receiver.cursor_key().to_owned(),
                    Arc::new(receiver),
                )
                .only(crate::webhook::is_alert);
                let shutdown = state.shutdown.clone();
                tokio::spawn(async move { relay.run(shutdown).await })
            })
            .collect();

        let mut stopped = state.shutdown.clone();
        let serve = async {
            match listener {
                Some(listener) => {
                    let app = crate::api::router(state.clone());
                    crate::limits::listener::serve(
                        listener,
                        app,
                        state.options.limits,
                        state.shutdown.clone(),
                    )
                    .await;
                }
                // Another program serves the router: the engine runs until the signal.
                None => {
                    let _ = state.shutdown.clone().wait_for(|s| *s).await;
                }
            }
        };
        let grace = self.grace;
        let outcome = tokio::select! {
            () = serve => Ok(()),
            () = async {
                let _ = stopped.wait_for(|s| *s).await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "connections still open after the grace period; closing them");
                Ok(())
            }
        };
        let _ = self.shutdown.send(true);
        if tokio::time::timeout(grace, driver).await.is_err() {
            tracing::warn!("the engine step in flight did not finish within the grace period");
        }
        // After the engine's last step, so the saved world has every call it made.
        if let (Some(sim), Some(saver)) = (kept_world, world_saver) {
            let _ = saver.await;
            save_world(sim).await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), relay).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), purger).await;
        for webhook_relay in webhook_relays {
            let _ = tokio::time::timeout(Duration::from_secs(2), webhook_relay).await;
        }
        outcome
    }
}

/// How often expired key-value records (sessions, pending logins, login links,
/// …) are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Deletes expired key-value records every [`PURGE_EVERY`] until shutdown, so
/// they cannot pile up. Every process runs it; a purge that finds nothing is
/// cheap, and records read as absent once expired whether purged or not.
async fn purge_expired_records(
    kv: Arc<dyn KeyValueStore>,
    clock: Arc<dyn Clock>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(PURGE_EVERY) => {}
        }
        match kv.purge_expired(clock.now()).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "purged expired key-value records"),
            Err(error) => tracing::warn!(%error, "purging expired key-value records failed"),
        }
    }
}

/// How often a simulated world kept in a file is saved (when it changed): what a
/// `kill -9` can lose. A graceful stop saves once more after the engine stopped.
const WORLD_SAVE_EVERY: Duration = Duration::from_secs(2);

/// Saves the simulated world every [`WORLD_SAVE_EVERY`] until shutdown.
async fn keep_world_saved(sim: ccm_sim::Simulation, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => return,
            () = tokio::time::sleep(WORLD_SAVE_EVERY) => {}
        }
        save_world(sim.clone()).await;
    }
}

/// Writes the simulated world to its file if it changed, off the async threads; a
/// failure is logged and the next save tries again.
async fn save_world(sim: ccm_sim::Simulation) {
    match tokio::task::spawn_blocking(move || sim.save()).await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::warn!(%error, "saving the simulated world failed"),
        Err(error) => tracing::warn!(%error, "saving the simulated world did not finish"),
    }
}

/// Resolves when SIGINT or SIGTERM arrives.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
