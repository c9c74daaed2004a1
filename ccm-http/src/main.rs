//! The `ccm` binary: see `ccm --help`.

use std::process::ExitCode;

use ccm_assembly::config::{self, LogFormat};
use ccm_http::cli::{ApiKeyAction, Cli, Command, ConfigAction};
use ccm_http::Error;
use clap::Parser;

async fn run(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Serve { .. } => Err(Error::Usage(
            "`serve` is started by main, before the runtime".into(),
        )),
        Command::Config { action } => match action {
            ConfigAction::Check { config } => match config::load(config.as_deref()) {
                Ok(loaded) => {
                    println!(
                        "configuration OK: listen {}, cloud {:?}, regions {}, OIDC {}",
                        loaded.server.listen,
                        loaded.cloud.provider,
                        loaded.cloud.regions.join(","),
                        if loaded.auth.oidc.is_some() {
                            "on"
                        } else {
                            "off"
                        }
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    Ok(ExitCode::from(1))
                }
            },
            ConfigAction::Env => {
                for (name, path, kind) in config::ENV_VARS.iter() {
                    println!("{name:<34} {path:<40} {kind:?}");
                }
                println!("(secrets also accept <NAME>_FILE; the CLI reads CCM_CONFIG, CCM_SERVER, CCM_API_KEY)");
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::ApiKey { action } => match action {
            ApiKeyAction::Create { config, name, role } => {
                let role = role.parse().map_err(Error::Usage)?;
                let config = config::load(config.as_deref())?;
                // Only warnings: the command prints the key, logs would bury it.
                let quiet = config::LogConfig {
                    level: "warn".into(),
                    format: LogFormat::Text,
                };
                ccm_http::telemetry::init(&quiet, &config::TelemetryConfig::default())?;
                let opened = ccm_assembly::store::open_store_for_command(&config).await?;
                let (store, kind) = (opened.store, opened.kind);
                let now = chrono::Utc::now();
                let (record, key) =
                    ccm_http::auth::api_keys::create_key(store.as_ref(), &name, role, now).await?;
                println!(
                    "created API key `{}` ({}) in {kind}",
                    record.name,
                    role.as_str()
                );
                println!("id:  {}", record.id);
                println!("key: {key}");
                println!("(shown once; use it as `Authorization: Bearer <key>` or CCM_API_KEY)");
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Probe {
            url,
            timeout,
            probe,
        } => {
            let timeout = std::time::Duration::from_secs(timeout);
            match ccm_http::cli::probe::ask(&url, probe, timeout).await {
                Ok(body) => {
                    println!("{}", body.trim());
                    Ok(ExitCode::SUCCESS)
                }
                Err(error) => {
                    eprintln!("ccm probe: {error}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        Command::Doctor {
            config,
            json,
            sample,
            timeout,
        } => {
            let options = ccm_http::cli::doctor::Options {
                config,
                sample,
                timeout: std::time::Duration::from_secs(timeout),
            };
            Ok(ccm_http::cli::doctor::report(&options, json).await)
        }
        Command::Completions { shell } => {
            ccm_http::cli::completions::write(shell, &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Remote(command) => {
            ccm_http::cli::remote::run(&command).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| Error::Io {
            what: "starting the async runtime".into(),
            source,
        })
}

/// `ccm serve`: logs and trace export are set up before the runtime starts and
/// flushed after it stops (the exporter's HTTP client is a blocking one).
fn serve(config_path: Option<&std::path::Path>, login_link: bool) -> Result<ExitCode, Error> {
    let config = config::load(config_path)?;
    let telemetry = ccm_http::telemetry::init(&config.log, &config.telemetry)?;
    let outcome = runtime()?.block_on(ccm_http::server::serve(config, login_link));
    telemetry.shutdown();
    outcome.map(|()| ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Serve {
            config,
            admin_login_link,
        } => serve(config.as_deref(), *admin_login_link),
        _ => runtime().and_then(|rt| rt.block_on(run(cli))),
    };
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("ccm: {error}");
            ExitCode::FAILURE
        }
    }
}
