//! `ccm workers …` on one worker's settings and readings: tags, CML endpoint,
//! detailed monitoring, licence, metrics series, idle status and detection,
//! monitoring interval and accepting a changed CML certificate.

use ccm_api::worker as wire;
use ccm_core::secret::Secret;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::workers::details;
use super::{pair, pairs, read_input, wire_body};
use crate::cli::client::{Client, Endpoint, Query};
use crate::cli::output::{fields, print, rows, table};
use crate::error::Error;

/// `PUT /api/v1/workers/{id}/tags`.
pub const SET_TAGS: Endpoint = Endpoint::put("/api/v1/workers/{id}/tags");
/// `DELETE /api/v1/workers/{id}/tags/{key}`.
pub const REMOVE_TAG: Endpoint = Endpoint::delete("/api/v1/workers/{id}/tags/{key}");
/// `PUT /api/v1/workers/{id}/cml-endpoint`.
pub const CML_ENDPOINT: Endpoint = Endpoint::put("/api/v1/workers/{id}/cml-endpoint");
/// `POST /api/v1/workers/{id}/monitoring`.
pub const MONITORING: Endpoint = Endpoint::post("/api/v1/workers/{id}/monitoring");
/// `POST /api/v1/workers/{id}/licence`.
pub const LICENCE_REGISTER: Endpoint = Endpoint::post("/api/v1/workers/{id}/licence");
/// `DELETE /api/v1/workers/{id}/licence`.
pub const LICENCE_DEREGISTER: Endpoint = Endpoint::delete("/api/v1/workers/{id}/licence");
/// `GET /api/v1/workers/{id}/metrics`.
pub const METRICS: Endpoint = Endpoint::get("/api/v1/workers/{id}/metrics");
/// `GET /api/v1/workers/{id}/idle`.
pub const IDLE: Endpoint = Endpoint::get("/api/v1/workers/{id}/idle");
/// `PUT /api/v1/workers/{id}/idle-detection`.
pub const IDLE_DETECTION: Endpoint = Endpoint::put("/api/v1/workers/{id}/idle-detection");
/// `PUT /api/v1/workers/{id}/monitoring-interval`.
pub const MONITORING_INTERVAL: Endpoint = Endpoint::put("/api/v1/workers/{id}/monitoring-interval");
/// `POST /api/v1/workers/{id}/cml-certificate/accept`.
pub const CERTIFICATE_ACCEPT: Endpoint =
    Endpoint::post("/api/v1/workers/{id}/cml-certificate/accept");

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// A worker's settings and readings.
#[derive(Debug, Subcommand)]
pub enum WorkerAdminAction {
    /// Add, overwrite or remove a worker's EC2 tags (managers).
    Tags {
        /// What to do.
        #[command(subcommand)]
        action: TagsAction,
    },
    /// Set where ccm reaches the worker's CML: `https://host[:port]` within
    /// `cml.endpoint_allow`, or `--clear` for the instance's tag or address
    /// (admins).
    CmlEndpoint {
        /// Worker id.
        id: String,
        /// The CML base URL.
        #[arg(required_unless_present = "clear", conflicts_with = "clear")]
        url: Option<String>,
        /// Back to the instance's tag or address.
        #[arg(long)]
        clear: bool,
    },
    /// Turn on detailed (1-minute) CloudWatch monitoring of the instance (admins).
    Monitoring {
        /// Worker id.
        id: String,
    },
    /// Register or deregister the worker's CML licence (admins).
    Licence {
        /// What to do.
        #[command(subcommand)]
        action: LicenceAction,
    },
    /// The worker's metric series: CPU, memory, disk, running nodes.
    Metrics {
        /// Worker id.
        id: String,
        /// Start (RFC 3339); one hour ago when absent.
        #[arg(long)]
        since: Option<String>,
        /// Bucket length in seconds (0: raw points; default 60).
        #[arg(long)]
        step: Option<u32>,
    },
    /// Whether the worker is eligible for an idle pause, and when.
    Idle {
        /// Worker id.
        id: String,
    },
    /// Turn idle detection on or off (admins).
    IdleDetection {
        /// Worker id.
        id: String,
        /// `on` or `off`.
        #[arg(value_enum)]
        state: Switch,
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
    /// Trust the worker's changed CML certificate (admins).
    Certificate {
        /// What to do.
        #[command(subcommand)]
        action: CertificateAction,
    },
}

/// `ccm workers tags …`.
#[derive(Debug, Subcommand)]
pub enum TagsAction {
    /// Add or overwrite tags.
    Set {
        /// Worker id.
        id: String,
        /// Tags (`key=value`, one or more).
        #[arg(required = true, value_parser = pair)]
        tags: Vec<(String, String)>,
    },
    /// Remove a tag.
    Remove {
        /// Worker id.
        id: String,
        /// Tag key.
        key: String,
    },
}

/// `ccm workers licence …`.
#[derive(Debug, Subcommand)]
pub enum LicenceAction {
    /// Register the CML licence with the configured token, or one read from a
    /// file (`-`: standard input; never on the command line, where `ps` shows it).
    Register {
        /// Worker id.
        id: String,
        /// File holding the token.
        #[arg(long)]
        token_file: Option<String>,
    },
    /// Deregister the CML licence.
    Deregister {
        /// Worker id.
        id: String,
    },
}

/// `ccm workers certificate …`.
#[derive(Debug, Subcommand)]
pub enum CertificateAction {
    /// Accept the certificate the worker's CML presents now.
    Accept {
        /// Worker id.
        id: String,
        /// Its SHA-256 fingerprint (64 hex digits, colons allowed), as the
        /// worker's `status.cml` or the certificate event shows it.
        sha256: String,
    },
}

fn idle_details(v: &Value) -> String {
    fields(
        v,
        &[
            ("verdict", "verdict"),
            ("enabled", "enabled"),
            ("timeout minutes", "timeout_minutes"),
            ("last activity", "last_activity_at"),
            ("idle since", "idle_since"),
            ("pause at", "pause_at"),
            ("pauses", "pause_count"),
        ],
    )
}

fn series_table(v: &Value) -> String {
    let points = v.as_array().cloned().unwrap_or_default();
    let columns = [
        "at",
        "cpu_percent",
        "memory_percent",
        "disk_percent",
        "running_nodes",
    ];
    table(
        &["AT", "CPU %", "MEMORY %", "DISK %", "NODES"],
        &rows(&points, &columns),
    )
}

/// Runs the worker-settings subcommands.
pub async fn run(c: &Client, json_out: bool, action: &WorkerAdminAction) -> Result<(), Error> {
    let none = Query::new();
    let show = |w: &Value| print(json_out, w, details);
    match action {
        WorkerAdminAction::Tags {
            action: TagsAction::Set { id, tags },
        } => show(
            &c.send(
                SET_TAGS,
                &[id.as_str()],
                &none,
                wire_body(&wire::SetWorkerTags { tags: pairs(tags) })?,
            )
            .await?,
        ),
        WorkerAdminAction::Tags {
            action: TagsAction::Remove { id, key },
        } => show(
            &c.call(REMOVE_TAG, &[id.as_str(), key.as_str()], &none)
                .await?,
        ),
        WorkerAdminAction::CmlEndpoint { id, url, .. } => {
            show(
                &c.send(
                    CML_ENDPOINT,
                    &[id.as_str()],
                    &none,
                    wire_body(&wire::SetCmlEndpoint { url: url.clone() })?,
                )
                .await?,
            );
        }
        WorkerAdminAction::Monitoring { id } => {
            show(&c.send(MONITORING, &[id.as_str()], &none, json!({})).await?);
        }
        WorkerAdminAction::Licence {
            action: LicenceAction::Register { id, token_file },
        } => {
            let token = match token_file {
                Some(path) => Some(Secret::new(read_input(path)?.trim())),
                None => None,
            };
            let body = wire_body(&wire::RegisterLicence { token })?;
            show(
                &c.send(LICENCE_REGISTER, &[id.as_str()], &none, body)
                    .await?,
            );
        }
        WorkerAdminAction::Licence {
            action: LicenceAction::Deregister { id },
        } => show(&c.call(LICENCE_DEREGISTER, &[id.as_str()], &none).await?),
        WorkerAdminAction::Metrics { id, since, step } => {
            let query = Query::new()
                .opt("since", since.as_deref())
                .opt("step", *step);
            print(
                json_out,
                &c.call(METRICS, &[id.as_str()], &query).await?,
                series_table,
            );
        }
        WorkerAdminAction::Idle { id } => {
            print(
                json_out,
                &c.call(IDLE, &[id.as_str()], &none).await?,
                idle_details,
            );
        }
        WorkerAdminAction::IdleDetection { id, state } => {
            let body = wire_body(&wire::SetIdleDetection {
                enabled: *state == Switch::On,
            })?;
            show(&c.send(IDLE_DETECTION, &[id.as_str()], &none, body).await?);
        }
        WorkerAdminAction::MonitoringInterval { id, seconds, .. } => {
            let body = wire_body(&wire::SetMonitoringInterval { seconds: *seconds })?;
            show(
                &c.send(MONITORING_INTERVAL, &[id.as_str()], &none, body)
                    .await?,
            );
        }
        WorkerAdminAction::Certificate {
            action: CertificateAction::Accept { id, sha256 },
        } => {
            let body = wire_body(&wire::AcceptCmlCertificate {
                sha256: sha256.clone(),
            })?;
            show(
                &c.send(CERTIFICATE_ACCEPT, &[id.as_str()], &none, body)
                    .await?,
            );
        }
    }
    Ok(())
}
