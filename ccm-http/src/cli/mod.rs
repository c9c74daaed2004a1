//! The `ccm` command line: `serve`, `config check|env`, `api-key create` (local),
//! `probe` (a container's health check), `doctor` (what is wrong with a deployment
//! and how to fix it), and the operator subcommands (`workers`, `lablets`, `jobs`)
//! that call a server with an API key, with `--json` output and a progress bar on
//! a terminal.

pub mod client;
pub mod doctor;
mod doctor_cloud;
mod doctor_cml;
mod doctor_oidc;
mod doctor_store;
pub mod output;
pub mod probe;
pub mod remote;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// Manage API keys directly in the configured store (no server needed).
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
    /// Workers (calls a server).
    Workers {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: WorkersAction,
    },
    /// Lablets and their definitions (calls a server).
    Lablets {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: LabletsAction,
    },
    /// Jobs (calls a server).
    Jobs {
        /// Server and output.
        #[command(flatten)]
        remote: RemoteArgs,
        /// What to do.
        #[command(subcommand)]
        action: JobsAction,
    },
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
    /// Create a key; it is printed once.
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
    /// API key (`ccm api-key create` or `POST /api/v1/api-keys`).
    #[arg(long, env = "CCM_API_KEY", hide_env_values = true, global = true)]
    pub api_key: Option<String>,
    /// Print the server's JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `ccm workers …`.
#[derive(Debug, Subcommand)]
pub enum WorkersAction {
    /// List workers.
    List {
        /// Only this region.
        #[arg(long)]
        region: Option<String>,
        /// Only these statuses (comma-separated).
        #[arg(long)]
        status: Option<String>,
        /// Only workers with these labels (`k=v,k2=v2`).
        #[arg(long)]
        label: Option<String>,
        /// Include terminated workers.
        #[arg(long)]
        all: bool,
    },
    /// Show one worker.
    Show {
        /// Worker id.
        id: String,
    },
    /// Start a worker.
    Start {
        /// Worker id.
        id: String,
        /// Wait until it runs.
        #[arg(long)]
        wait: bool,
        /// Longest wait in seconds.
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
    },
    /// Stop a worker.
    Stop {
        /// Worker id.
        id: String,
        /// Stop it even with lablets bound to it (refused otherwise, naming
        /// them): lablets not started yet are placed again, started ones end.
        #[arg(long)]
        force: bool,
        /// Wait until it is stopped.
        #[arg(long)]
        wait: bool,
        /// Longest wait in seconds.
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
    },
    /// Set how often a worker is observed (admins).
    MonitoringInterval {
        /// Worker id.
        id: String,
        /// Seconds between observations, 60 to 86400.
        #[arg(
            long,
            required_unless_present = "fleet_default",
            conflicts_with = "fleet_default"
        )]
        seconds: Option<u32>,
        /// Back to the fleet's `engine.monitoring_interval_seconds`.
        #[arg(long = "default")]
        fleet_default: bool,
    },
    /// Import one instance (`--instance-id`) or every instance launched from an AMI
    /// (`--image-id` or `--image-name-pattern`).
    Import {
        /// Region.
        #[arg(long)]
        region: Option<String>,
        /// One instance.
        #[arg(long, conflicts_with_all = ["image_id", "image_name_pattern"])]
        instance_id: Option<String>,
        /// Worker name for a single import.
        #[arg(long, requires = "instance_id")]
        name: Option<String>,
        /// Every instance of this AMI.
        #[arg(long)]
        image_id: Option<String>,
        /// Every instance of an AMI whose name matches (`*` wildcards).
        #[arg(long)]
        image_name_pattern: Option<String>,
    },
}

/// `ccm lablets …`.
#[derive(Debug, Subcommand)]
pub enum LabletsAction {
    /// List lablets.
    List {
        /// Only these phases (comma-separated).
        #[arg(long)]
        phase: Option<String>,
        /// Only this owner.
        #[arg(long)]
        owner: Option<String>,
    },
    /// Show one lablet.
    Show {
        /// Lablet id.
        id: String,
    },
    /// Book a lablet.
    Create {
        /// Definition id.
        #[arg(long)]
        definition: String,
        /// Start: RFC 3339 time, or `+MINUTES` from now.
        #[arg(long)]
        start: String,
        /// End: RFC 3339 time, or `+MINUTES` from now.
        #[arg(long)]
        end: String,
        /// Owner (the key's name when absent).
        #[arg(long)]
        owner: Option<String>,
    },
    /// End a lablet early.
    Cancel {
        /// Lablet id.
        id: String,
    },
    /// Cancel and remove a lablet.
    Delete {
        /// Lablet id.
        id: String,
    },
    /// List lablet definitions.
    Definitions,
}

/// `ccm jobs …`.
#[derive(Debug, Subcommand)]
pub enum JobsAction {
    /// List jobs with next and last run.
    List,
    /// Run a job now.
    Trigger {
        /// Job name.
        name: String,
    },
    /// Pause a job.
    Pause {
        /// Job name.
        name: String,
    },
    /// Resume a job.
    Resume {
        /// Job name.
        name: String,
    },
}
