//! ccm's HTTP API inside another Rust service: a host application with routes and
//! authentication of its own that mounts ccm's router under [`CCM_MOUNT`].
//!
//! What a host does, in order (see [`start`]):
//! 1. builds ccm as `ccm serve` does ([`ccm_http::server::build`]: store, engine,
//!    simulated or AWS cloud, from a [`Config`]);
//! 2. makes sure an admin API key of ccm's exists ([`ensure_admin_key`]), because
//!    ccm's routes keep their own authorisation behind the host's;
//! 3. composes its own [`axum::Router`] with ccm's nested under `/ccm`, behind a
//!    layer that checks [`SERVICE_TOKEN_HEADER`] ([`compose`]);
//! 4. serves that on its own listener and runs ccm's engine beside it
//!    ([`ccm_http::server::Server::run_engine`]), both stopped by one signal.
//!
//! A request to `/ccm/…` so passes two doors: the host's token, then ccm's own
//! `Authorization: Bearer ccm_…` key (or OIDC token), which the host passes through
//! untouched. The API works under the mount; ccm's browser pages (dashboard, login)
//! link to absolute paths and expect to be served at the root.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ccm_assembly::config::Config;
use ccm_core::api_key::{ApiKeyId, ApiKeyRecord};
use ccm_core::ports::store::{StoreError, WorkerFilter};
use ccm_core::secret::Secret;
use ccm_http::auth::api_keys::{self, KEY_PREFIX};
use ccm_http::auth::Role;
use ccm_http::server::Server;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Where the host mounts ccm's router: ccm's `/api/v1/workers` answers at
/// `/ccm/api/v1/workers`, its `/healthz` at `/ccm/healthz`.
pub const CCM_MOUNT: &str = "/ccm";

/// The header the host authenticates its callers by, in front of everything
/// under [`CCM_MOUNT`].
pub const SERVICE_TOKEN_HEADER: &str = "x-service-token";

/// The body of the host's own 401, plain text so that it cannot be mistaken for
/// one of ccm's (`{"error": {"code": "unauthenticated", …}}`).
pub const SERVICE_REFUSAL: &str = "this service needs its x-service-token header";

/// The name of the API key the host seeds in ccm's store.
pub const ADMIN_KEY_NAME: &str = "embedding-service";

/// Shortest accepted part of a given admin key after `ccm_`: keys ccm makes
/// carry 64 hex digits, and a short one could be guessed.
const MIN_KEY_SECRET_CHARS: usize = 32;

/// What can go wrong building or running the host.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// ccm could not be built or its engine failed.
    #[error("ccm: {0}")]
    Ccm(#[from] ccm_http::Error),
    /// ccm's store refused the admin key.
    #[error("ccm's store: {0}")]
    Store(#[from] StoreError),
    /// A setting cannot be used.
    #[error("{0}")]
    Settings(String),
    /// The listener failed.
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
    /// The task serving the host or running the engine ended abnormally.
    #[error("a background task: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How to build the host.
#[derive(Clone, Debug)]
pub struct HostSettings {
    /// ccm's own configuration (store, cloud, engine settings), exactly as
    /// `ccm serve` reads it; its `server.listen` is unused, the host listens.
    pub ccm: Config,
    /// The token callers must send in [`SERVICE_TOKEN_HEADER`].
    pub service_token: Secret,
    /// An admin key for ccm to accept (`ccm_` and at least 32 more characters),
    /// stored if it is not yet; `None` makes a fresh one at every start.
    pub admin_key: Option<Secret>,
}

impl HostSettings {
    /// ccm on an in-memory store with the simulated fleet (real time, short
    /// delays, demo workers), guarded by `service_token`: nothing is written to
    /// disk and nothing is asked of AWS.
    pub fn in_memory(service_token: Secret) -> Self {
        let mut ccm = Config::default();
        ccm.database.url = Secret::new("memory");
        Self {
            ccm,
            service_token,
            admin_key: None,
        }
    }
}

/// Makes sure ccm accepts an admin API key and returns it: `given` is stored
/// (by its hash, as ccm stores every key) unless already there; without one a
/// fresh key is made. A given key that was revoked is refused rather than
/// silently replaced, since an operator revoked it on purpose.
pub async fn ensure_admin_key(
    server: &Server,
    given: Option<&Secret>,
) -> Result<Secret, EmbedError> {
    let store = server.state().store.as_ref();
    let now = server.state().fleet.clock().now();
    let Some(given) = given else {
        let (_, key) = api_keys::create_key(store, ADMIN_KEY_NAME, Role::Admin, now).await?;
        return Ok(Secret::new(key));
    };
    let key = given.expose();
    let secret_part = key.strip_prefix(KEY_PREFIX).unwrap_or_default();
    // ccm reads a bearer token as an API key only by this prefix; anything else
    // would be tried as an OIDC token and refused.
    if !key.starts_with(KEY_PREFIX) || secret_part.chars().count() < MIN_KEY_SECRET_CHARS {
        return Err(EmbedError::Settings(format!(
            "the ccm admin key must be `{KEY_PREFIX}` followed by at least \
             {MIN_KEY_SECRET_CHARS} characters"
        )));
    }
    let hash = api_keys::hash_key(key);
    match store.find_api_key_by_hash(&hash).await? {
        Some(record) if record.is_active() => {}
        Some(_) => {
            return Err(EmbedError::Settings(
                "the given ccm admin key was revoked; give another".into(),
            ))
        }
        None => {
            let record = ApiKeyRecord::new(
                ApiKeyId::new(),
                ADMIN_KEY_NAME,
                Role::Admin.key_role(),
                hash,
                now,
            );
            store.insert_api_key(&record).await?;
        }
    }
    Ok(given.clone())
}

/// The host's state: the ccm server, which its own routes may use in process.
#[derive(Clone)]
struct HostState {
    ccm: Server,
}

/// The host's whole application: its own `/healthz` and `/hello`, and ccm's
/// router under [`CCM_MOUNT`] behind the service-token layer. The layer wraps
/// ccm's router, fallback included, so no path under the mount escapes it;
/// the host's own routes are not behind it.
pub fn compose(ccm: &Server, service_token: Secret) -> Router {
    let guard = middleware::from_fn_with_state(Arc::new(service_token), require_service_token);
    Router::new()
        .route("/healthz", get(host_health))
        .route("/hello", get(hello))
        .with_state(HostState { ccm: ccm.clone() })
        .nest(CCM_MOUNT, ccm.router().layer(guard))
}

async fn host_health() -> &'static str {
    "ok"
}

/// A route of the host's that reads ccm in process, without HTTP.
async fn hello(State(host): State<HostState>) -> Response {
    match host
        .ccm
        .state()
        .fleet
        .list_workers(&WorkerFilter::default())
        .await
    {
        Ok(workers) => Json(serde_json::json!({
            "message": "hello from the host service",
            "ccm_workers": workers.len(),
        }))
        .into_response(),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("ccm did not answer: {error}"),
        )
            .into_response(),
    }
}

/// The host's authentication: refuses a request without the right
/// [`SERVICE_TOKEN_HEADER`], and removes the header from the ones it lets through
/// so the host's credential never travels further into ccm. ccm's own
/// `Authorization` header is left as it is.
async fn require_service_token(
    State(expected): State<Arc<Secret>>,
    mut request: Request,
    next: Next,
) -> Response {
    let accepted = request
        .headers()
        .get(SERVICE_TOKEN_HEADER)
        .is_some_and(|given| same_secret(given.as_bytes(), expected.expose().as_bytes()));
    if !accepted {
        let mut refusal = (StatusCode::UNAUTHORIZED, SERVICE_REFUSAL).into_response();
        refusal.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("x-service-token"),
        );
        return refusal;
    }
    request.headers_mut().remove(SERVICE_TOKEN_HEADER);
    next.run(request).await
}

/// Equality whose time does not depend on where the inputs differ, so the
/// token cannot be found a byte at a time by timing refusals (the length may
/// show; it is no secret).
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    given.len() == expected.len()
        && given
            .iter()
            .zip(expected)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// A host serving on its listener with ccm's engine running beside it.
#[derive(Debug)]
pub struct RunningHost {
    addr: SocketAddr,
    admin_key: Secret,
    about: String,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), EmbedError>>,
}

impl RunningHost {
    /// The address the host listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin API key ccm accepts (see [`ensure_admin_key`]).
    pub fn admin_key(&self) -> &Secret {
        &self.admin_key
    }

    /// What ccm was built on (store, cloud), as `ccm serve` prints it.
    pub fn about(&self) -> &str {
        &self.about
    }

    /// Stops taking connections, lets requests in flight finish, stops ccm's
    /// engine (its step in flight finishes), and reports the first failure.
    pub async fn stop(self) -> Result<(), EmbedError> {
        let _ = self.stop.send(true);
        self.task.await?
    }
}

/// Builds the host from `settings` and serves it on `listener` until
/// [`RunningHost::stop`].
pub async fn start(
    listener: TcpListener,
    settings: HostSettings,
) -> Result<RunningHost, EmbedError> {
    let (server, about) = ccm_http::server::build(&settings.ccm).await?;
    let admin_key = ensure_admin_key(&server, settings.admin_key.as_ref()).await?;
    let app = compose(&server, settings.service_token);
    let addr = listener.local_addr()?;
    // One signal for both: ccm's shutdown handle also ends ccm's event streams,
    // which would otherwise hold the host's graceful shutdown open.
    let stop = server.shutdown_handle();
    let mut stopped = stop.subscribe();
    let engine = tokio::spawn(server.run_engine());
    let stop_engine = stop.clone();
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await;
        // The listener may also end by failing; the engine must not outlive it.
        let _ = stop_engine.send(true);
        let engine = engine.await?;
        served?;
        engine?;
        Ok(())
    });
    Ok(RunningHost {
        addr,
        admin_key,
        about,
        stop,
        task,
    })
}

#[cfg(test)]
mod tests {
    use super::same_secret;

    #[test]
    fn same_secret_compares_whole_values() {
        assert!(same_secret(b"token", b"token"));
        assert!(!same_secret(b"token", b"tokem"));
        assert!(!same_secret(b"token", b"token2"));
        assert!(!same_secret(b"", b"token"));
    }
}
