//! A Rust service that embeds ccm: its own axum application with its own routes
//! (`/healthz`, `/hello`) and its own authentication (the `x-service-token`
//! header), with ccm's whole HTTP API mounted under `/ccm` behind it. ccm keeps
//! its own authorisation too: callers also send a ccm API key, and the service
//! makes sure one exists (`examples/src/embed.rs`).
//!
//! ```text
//! cargo run -p ccm-examples --example embed_server -- [--listen 127.0.0.1:0] [--database memory]
//! ```
//!
//! The service token comes from `EMBED_SERVICE_TOKEN` (a random one otherwise)
//! and ccm's admin key from `EMBED_CCM_ADMIN_KEY` (a fresh one otherwise); both
//! are printed at start. The listen address may also come from `EMBED_LISTEN`.
//! ccm runs on the simulated fleet with a few demo workers; `--database` takes
//! what `CCM_DATABASE_URL` does (`memory`, `sqlite://path`, `postgres://…`).
//! Stop with Ctrl-C.

use std::process::ExitCode;

use ccm_core::secret::Secret;
use ccm_examples::embed::{self, HostSettings, CCM_MOUNT, SERVICE_TOKEN_HEADER};
use tokio::net::TcpListener;

struct Options {
    listen: String,
    database: String,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        listen: std::env::var("EMBED_LISTEN").unwrap_or_else(|_| "127.0.0.1:0".to_owned()),
        database: "memory".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => options.listen = value,
            "--database" => options.database = value,
            other => return Err(format!("unknown option {other} (use --listen, --database)")),
        }
    }
    Ok(options)
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let token = std::env::var("EMBED_SERVICE_TOKEN")
        .unwrap_or_else(|_| uuid::Uuid::new_v4().simple().to_string());
    let mut settings = HostSettings::in_memory(Secret::new(token));
    settings.ccm.database.url = Secret::new(options.database);
    settings.admin_key = std::env::var("EMBED_CCM_ADMIN_KEY").ok().map(Secret::new);

    let listener = TcpListener::bind(&options.listen).await?;
    let host = embed::start(listener, settings.clone()).await?;
    let url = format!("http://{}", host.addr());
    // Straight to the terminal, never to logs: both are credentials.
    println!("a host service embedding ccm is serving at {url}");
    println!("{}", host.about());
    println!("  its own routes:  {url}/healthz  {url}/hello");
    println!("  ccm's API under: {url}{CCM_MOUNT}/api/v1/… (header {SERVICE_TOKEN_HEADER}, then ccm's Bearer key)");
    println!("  service token:   {}", settings.service_token.expose());
    println!("  ccm admin key:   {}", host.admin_key().expose());
    println!(
        "try:\n  curl -H '{SERVICE_TOKEN_HEADER}: {}' -H 'authorization: Bearer {}' {url}{CCM_MOUNT}/api/v1/workers",
        settings.service_token.expose(),
        host.admin_key().expose()
    );
    println!("stop with Ctrl-C");
    ccm_http::server::shutdown_signal().await;
    println!("stopping: requests in flight finish, then ccm's engine");
    host.stop().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("embed_server: {message}");
            return ExitCode::from(2);
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("embed_server: {error}");
            ExitCode::FAILURE
        }
    }
}
