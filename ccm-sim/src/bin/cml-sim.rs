//! `cml-sim`: one simulated CML 2.9 server over HTTP(S), in real time, for pointing
//! any CML client at (ccm, the official Python `virl2_client`, curl). Prints the URL
//! it serves on the first line of standard output, then serves until interrupted.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use ccm_core::secret::Secret;
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};

const USAGE: &str = "\
cml-sim: a simulated Cisco Modeling Labs 2.9 server (REST API under /api/v0)

USAGE: cml-sim [OPTIONS]

OPTIONS:
  --listen ADDR               address to listen on [default: 127.0.0.1:0, a free port]
  --username NAME             the administrator's user name [default: admin]
  --password TEXT             its password [default: admin; or env CML_SIM_PASSWORD]
  --licensed                  start out registered (20 nodes instead of 5)
  --tls                       serve HTTPS with a self-signed certificate
  --cert-out PATH             with --tls: write the certificate (PEM) to PATH
  --latency-ms N              delay every answer by N ms (fault)
  --error-rate P              answer 500 to a call with probability P, 0..1 (fault)
  --token-lifetime-secs N     lifetime of issued tokens [default: 86400]
  --boot-secs N               answer 502 for the first N seconds, as while CML boots
  --node-boot-secs N          nodes of a started lab boot in N seconds [default: 5]
  --registration-secs N       licence registration completes in N seconds [default: 3]
  --unlicensed-node-limit N   nodes an unregistered server runs [default: 5]
  --version TEXT              version to report [default: 2.9.1+build.7]
  --seed N                    seed of lab ids and fault decisions [default: 1]
  --log-requests              print one line per request to standard error
  -h, --help                  print this help
";

fn value<'a>(args: &mut impl Iterator<Item = &'a String>, flag: &str) -> Result<&'a str, String> {
    args.next()
        .map(String::as_str)
        .ok_or_else(|| format!("{flag} needs a value"))
}

fn number<T: std::str::FromStr>(text: &str, flag: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: `{text}` is not a valid number"))
}

/// What the command line asks for; `None` when it asked for help.
fn parse(args: &[String]) -> Result<Option<(CmlHttpOptions, Option<String>)>, String> {
    let mut options = CmlHttpOptions::default();
    options.cml.node_boot_seconds = 5;
    options.cml.registration_seconds = 3;
    if let Ok(password) = std::env::var("CML_SIM_PASSWORD") {
        options.password = Secret::new(password);
    }
    let mut cert_out = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--listen" => {
                let text = value(&mut it, flag)?;
                options.listen = text.parse::<SocketAddr>().map_err(|_| {
                    format!("--listen: `{text}` is not an address like 127.0.0.1:8443")
                })?;
            }
            "--username" => options.username = value(&mut it, flag)?.to_owned(),
            "--password" => options.password = Secret::new(value(&mut it, flag)?),
            "--licensed" => options.licensed = true,
            "--tls" => options.tls = true,
            "--cert-out" => cert_out = Some(value(&mut it, flag)?.to_owned()),
            "--latency-ms" => {
                let ms: u64 = number(value(&mut it, flag)?, flag)?;
                options.latency = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "--error-rate" => {
                let rate: f64 = number(value(&mut it, flag)?, flag)?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err("--error-rate must be between 0 and 1".to_owned());
                }
                options.error_rate = rate;
            }
            "--token-lifetime-secs" => {
                options.token_lifetime_seconds = number(value(&mut it, flag)?, flag)?;
            }
            "--boot-secs" => options.boot_seconds = number(value(&mut it, flag)?, flag)?,
            "--node-boot-secs" => {
                options.cml.node_boot_seconds = number(value(&mut it, flag)?, flag)?;
            }
            "--registration-secs" => {
                options.cml.registration_seconds = number(value(&mut it, flag)?, flag)?;
            }
            "--unlicensed-node-limit" => {
                options.cml.unlicensed_node_limit = number(value(&mut it, flag)?, flag)?;
            }
            "--version" => options.cml.version = value(&mut it, flag)?.to_owned(),
            "--seed" => options.seed = number(value(&mut it, flag)?, flag)?,
            "--log-requests" => options.log_requests = true,
            other => return Err(format!("unknown option `{other}` (see --help)")),
        }
    }
    if cert_out.is_some() && !options.tls {
        return Err("--cert-out needs --tls".to_owned());
    }
    Ok(Some((options, cert_out)))
}

async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn run(options: CmlHttpOptions, cert_out: Option<String>) -> Result<(), String> {
    let version = options.cml.version.clone();
    let username = options.username.clone();
    let server = CmlHttpServer::start(options)
        .await
        .map_err(|e| e.to_string())?;
    if let (Some(path), Some(pem)) = (&cert_out, server.certificate_pem()) {
        std::fs::write(path, pem).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    println!("{}", server.base_url());
    eprintln!(
        "cml-sim: CML {version} at {}/api/v0/ (user `{username}`); Ctrl-C stops",
        server.base_url()
    );
    tokio::select! {
        result = server.wait() => result.map_err(|e| e.to_string()),
        () = stopped() => Ok(()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (options, cert_out) = match parse(&args) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("cml-sim: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cml-sim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options, cert_out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cml-sim: {message}");
            ExitCode::FAILURE
        }
    }
}
