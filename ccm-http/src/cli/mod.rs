//! The `ccm` command line: `serve`, `config check|env`, `api-key create` (local),
//! `probe` (a container's health check), `doctor` (what is wrong with a deployment
//! and how to fix it), `completions` (shell scripts), and the operator
//! subcommands that call a server with an API key (`remote`: workers, labs,
//! definitions, lablets, placement, jobs, keys, events, settings, leadership,
//! session, metrics, openapi), with `--json` output and progress on a terminal.
//! `coverage` maps every subcommand to the routes it calls and tests that every
//! route of the server has one (or a reason not to).

pub mod client;
pub mod completions;
pub mod coverage;
pub mod doctor;
mod doctor_cloud;
mod doctor_cml;
mod doctor_oidc;
mod doctor_store;
pub mod output;
pub mod probe;
pub mod progress;
pub mod remote;
pub mod sse;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub use remote::RemoteCommand;

/// ccm — CML cloud manager.
#[derive(Debug, Parser)]
#[command(
    name = "ccm",
    version,
    about = "ccm — CML cloud manager: server and command line"
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (API, event stream, engine). No configuration: the embedded
    /// default (SQLite in ./ccm-data, the simulated fleet, 127.0.0.1:8020).
    Serve {
        /// TOML configuration file.
        #[arg(long, env = "CCM_CONFIG")]
        config: Option<PathBuf>,
        /// Print a one-time admin login link on standard output even when an OIDC
        /// provider is configured (without one it is printed anyway).
        #[arg(long)]
        admin_login_link: bool,
    },
    /// Check or describe the configuration.
    Config {
        /// What to do.
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Manage API keys directly in the configured store (no server needed; the
    /// way to the first key). `ccm keys` manages them through a server.
    ApiKey {
        /// What to do.
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Ask a running server's probe; exit 0 when it answers 200, 1 otherwise (the
    /// container image's health check: it has no curl).
    Probe {
        /// Server URL.
        #[arg(long, env = "CCM_SERVER", default_value = "http://127.0.0.1:8020")]
        url: String,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
        /// Which probe: `livez` (the process is up) or `readyz` (the store answers).
        #[arg(value_enum, default_value = "livez")]
        probe: probe::Probe,
    },
    /// Check the configuration, the store, AWS in each region, the CML of a few
    /// running workers and the OIDC issuer; say what is wrong and how to fix it.
    /// Exit 0 when nothing failed (warnings allowed), 1 otherwise.
    Doctor {
        /// TOML configuration file.
        #[arg(long, env = "CCM_CONFIG")]
        config: Option<PathBuf>,
        /// Print `{"ok": bool, "checks": [...]}`.
        #[arg(long)]
        json: bool,
        /// Running workers whose CML is called, at most.
        #[arg(long, default_value_t = 3)]
        sample: usize,
        /// Seconds to wait for each network check.
        #[arg(long, default_value_t = 10)]
        timeout: u64,
    },
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The subcommands that call a server.
    #[command(flatten)]
    Remote(RemoteCommand),
}

/// `ccm config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Validate a configuration (file + environment) and say exactly what is wrong.
    Check {
        /// TOML configuration file.
        #[arg(long, env = "CCM_CONFIG")]
        config: Option<PathBuf>,
    },
    /// List the CCM_* environment variables and the fields they set.
    Env,
}

/// `ccm api-key …`.
#[derive(Debug, Subcommand)]
pub enum ApiKeyAction {
    /// Create a key straight in the store (no server needed: the first key);
    /// it is printed once. Over the API: `ccm keys create`.
    Create {
        /// TOML configuration file (for the database URL).
        #[arg(long, env = "CCM_CONFIG")]
        config: Option<PathBuf>,
        /// Key name.
        #[arg(long)]
        name: String,
        /// Role: user, manager or admin.
        #[arg(long, default_value = "user")]
        role: String,
    },
}

/// Where the server is and how to print.
#[derive(Debug, Clone, Args)]
pub struct RemoteArgs {
    /// Server URL.
    #[arg(
        long,
        env = "CCM_SERVER",
        default_value = "http://127.0.0.1:8020",
        global = true
    )]
    pub server: String,
    /// API key (`ccm api-key create`, or `ccm keys create` with an admin key).
    #[arg(long, env = "CCM_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Print the server's JSON.
    #[arg(long, global = true)]
    pub json: bool,
}
