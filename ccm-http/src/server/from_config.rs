//! A server from a configuration, as `ccm serve` runs it: store, engine, demo
//! seed, HTTP, with the URL printed at start and a one-time admin login link when
//! there is no other way in (no OIDC provider) or when asked.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use ccm_assembly::cloud::serve_cloud_parts;
use ccm_assembly::config::{CloudKind, CmlTls, Config};
use ccm_assembly::engine::holder_name;
use ccm_assembly::settings::{fleet_settings, lease_settings};
use ccm_assembly::store::open_store;
use ccm_sim::WorldOrigin;

use super::{shutdown_signal, Assembly, Server};
use crate::error::Error;
use crate::state::HttpOptions;
use crate::webhook::{WebhookSettings, WebhookSink};

/// How long the printed admin login link works.
pub const LOGIN_LINK_VALIDITY: Duration = Duration::from_secs(3600);

/// The HTTP options of a configuration.
pub fn http_options(config: &Config) -> HttpOptions {
    HttpOptions {
        body_limit_bytes: config.server.body_limit_bytes,
        heartbeat: Duration::from_secs(config.server.sse_heartbeat_seconds.max(1)),
        cookie_secure: config.cookie_secure(),
        regions: config.cloud.regions.clone(),
        limits: crate::limits::ServerLimits {
            header_read_timeout: Duration::from_secs(config.server.header_read_timeout_seconds),
            request_timeout: Duration::from_secs(config.server.request_timeout_seconds),
            idle_timeout: Duration::from_secs(config.server.idle_timeout_seconds),
            max_connections: config.server.max_connections,
            sse_streams_per_principal: config.server.sse_streams_per_principal,
            sse_buffer_events: config.server.sse_buffer_events,
        },
        lablet_self_service: config.lablets.self_service,
    }
}

/// The alert webhooks of `config`, if any URL is configured.
pub fn webhook_sink(config: &Config) -> Result<Option<Arc<WebhookSink>>, Error> {
    let a = &config.alerts;
    if a.webhook_urls.is_empty() {
        return Ok(None);
    }
    let sink = WebhookSink::new(WebhookSettings {
        urls: a.webhook_urls.clone(),
        timeout: Duration::from_secs(a.webhook_timeout_seconds.max(1)),
        attempts: a.webhook_attempts.max(1),
        first_retry_delay: Duration::from_secs(1),
    })
    .map_err(|e| Error::Adapter {
        adapter: "webhook",
        message: e.to_string(),
    })?;
    Ok(Some(Arc::new(sink)))
}

/// Builds a server from `config` (store opened, engine built, demo seeded).
pub async fn build(config: &Config) -> Result<(Server, String), Error> {
    let opened = open_store(config).await?;
    let store_kind = opened.kind.clone();
    let (parts, world) = serve_cloud_parts(config, opened.sim_world_file())?;
    let world_file = parts
        .sim
        .as_ref()
        .and_then(|sim| sim.world_file())
        .map(|path| path.display().to_string());
    let cloud = match config.cloud.provider {
        CloudKind::Sim => "the simulated fleet (real time, short delays)",
        CloudKind::Aws => "AWS EC2",
    };
    let server = Server::assemble(Assembly {
        store: opened.store,
        kv: opened.kv,
        series: opened.series,
        parts,
        settings: fleet_settings(config),
        licence_token: config.cml.licence_token.clone(),
        options: http_options(config),
        oidc: config.auth.oidc.clone(),
        lease: lease_settings(config),
        holder: holder_name(),
        session_ttl: Duration::from_secs(config.auth.session_ttl_seconds),
        max_sessions: config.auth.max_sessions,
        shutdown_grace: Duration::from_secs(config.server.shutdown_grace_seconds),
        public_url: config.public_url(),
    })
    .await?;
    let server = match webhook_sink(config)? {
        Some(sink) => server.with_webhooks(sink),
        None => server,
    };
    let mut about = format!("store: {store_kind}\ncloud: {cloud}");
    match (world, &world_file) {
        (Some(WorldOrigin::Restored { instances }), Some(file)) => about.push_str(&format!(
            "\nsimulated cloud restored from {file} ({instances} instances)"
        )),
        (Some(WorldOrigin::Created), Some(file)) => {
            about.push_str(&format!("\nsimulated cloud kept in {file}"));
        }
        _ => {}
    }
    if config.cloud.provider == CloudKind::Sim && config.cloud.sim.seed_demo {
        let seeded = crate::seed::seed_demo(
            &server.state().fleet,
            &config.cloud.regions,
            config.cloud.sim.demo_workers,
        )
        .await?;
        if seeded.workers > 0 {
            about.push_str(&format!(
                "\nseeded a demo fleet: {} workers, {} lablet definitions, {} lablets",
                seeded.workers, seeded.definitions, seeded.lablets
            ));
        } else {
            // Workers from an earlier run: fine when their simulated cloud came back.
            let why = match world {
                Some(WorldOrigin::Restored { .. }) => None,
                Some(WorldOrigin::Created) => Some("no simulated cloud was saved with them"),
                None => Some("the simulated cloud is kept only beside a SQLite file"),
            };
            if let Some(why) = why {
                about.push_str(&format!(
                    "\nnote: this database holds workers from an earlier run and {why}, so \
                     they will turn terminated; delete the database (./ccm-data by default) \
                     or set CCM_DATABASE_URL=memory for a fresh demo"
                ));
            }
        }
    }
    Ok((server, about))
}

/// Whether `ccm serve` prints the one-time admin login link: when `asked` on the
/// command line, otherwise only while no OIDC provider is configured (then it is
/// the only way for an admin to log in from a browser) and the setting allows it.
pub fn prints_login_link(config: &Config, asked: bool) -> bool {
    asked || (config.server.admin_login_link && config.auth.oidc.is_none())
}

/// Runs the server until SIGINT/SIGTERM; `login_link` is `--admin-login-link`.
pub async fn serve(config: Config, login_link: bool) -> Result<(), Error> {
    if config.cml.tls == CmlTls::Insecure {
        tracing::warn!(
            "cml.tls = \"insecure\": CML certificates are not checked, so anyone on the path \
             can impersonate a worker and read the CML password; use \"tofu\" (the default), \
             \"verify\" or \"ca\""
        );
    }
    let (server, about) = build(&config).await?;
    let listener = TcpListener::bind(&config.server.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.server.listen.clone(),
            source,
        })?;
    let url = match &config.server.public_url {
        Some(_) => config.public_url(),
        None => match listener.local_addr() {
            Ok(addr) => format!("http://{addr}"),
            Err(_) => config.public_url(),
        },
    };
    println!("ccm is serving at {url}\n{about}");
    // Straight to the terminal, never through `tracing`: the token is a
    // credential, and logs may go to files and collectors.
    if prints_login_link(&config, login_link) {
        let token = server.admin_login_token(LOGIN_LINK_VALIDITY).await?;
        println!(
            "one-time admin login link (valid for {} minutes, works once):\n  {url}/login/once?token={token}",
            LOGIN_LINK_VALIDITY.as_secs() / 60
        );
    }
    println!("stop with Ctrl-C");
    let stop = server.shutdown_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: no new requests; finishing work in flight");
        let _ = stop.send(true);
    });
    server.run(listener).await
}
