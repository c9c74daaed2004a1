//! `ccm labs …`: the CML labs of a worker — list, import (a YAML topology from a
//! file or standard input), refresh from CML, start, stop, wipe, delete and
//! download a topology.

use clap::Subcommand;
use serde_json::{json, Value};

use super::{client, read_input};
use crate::cli::client::{Endpoint, Payload, Query};
use crate::cli::output::{emit, fields, items, print, rows, table};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/workers/{id}/labs`.
pub const LIST: Endpoint = Endpoint::get("/api/v1/workers/{id}/labs");
/// `POST /api/v1/workers/{id}/labs`.
pub const IMPORT: Endpoint = Endpoint::post("/api/v1/workers/{id}/labs");
/// `POST /api/v1/workers/{id}/labs/refresh`.
pub const REFRESH: Endpoint = Endpoint::post("/api/v1/workers/{id}/labs/refresh");
/// `POST /api/v1/workers/{id}/labs/{lab}/start`.
pub const START: Endpoint = Endpoint::post("/api/v1/workers/{id}/labs/{lab}/start");
/// `POST /api/v1/workers/{id}/labs/{lab}/stop`.
pub const STOP: Endpoint = Endpoint::post("/api/v1/workers/{id}/labs/{lab}/stop");
/// `POST /api/v1/workers/{id}/labs/{lab}/wipe`.
pub const WIPE: Endpoint = Endpoint::post("/api/v1/workers/{id}/labs/{lab}/wipe");
/// `DELETE /api/v1/workers/{id}/labs/{lab}`.
pub const DELETE: Endpoint = Endpoint::delete("/api/v1/workers/{id}/labs/{lab}");
/// `GET /api/v1/workers/{id}/labs/{lab}/topology`.
pub const TOPOLOGY: Endpoint = Endpoint::get("/api/v1/workers/{id}/labs/{lab}/topology");

/// `ccm labs …`.
#[derive(Debug, Subcommand)]
pub enum LabsAction {
    /// List the labs of a worker.
    List {
        /// Worker id.
        worker: String,
        /// Include labs gone from CML.
        #[arg(long)]
        all: bool,
    },
    /// Import a lab from a YAML topology file (`-`: standard input) (managers).
    Import {
        /// Worker id.
        worker: String,
        /// Topology file, or `-`.
        file: String,
        /// Lab title (the topology's when absent).
        #[arg(long)]
        title: Option<String>,
    },
    /// Mirror the worker's labs from CML now (managers).
    Refresh {
        /// Worker id.
        worker: String,
    },
    /// Start a lab (managers).
    Start {
        /// Worker id.
        worker: String,
        /// CML lab id.
        lab: String,
    },
    /// Stop a lab (managers).
    Stop {
        /// Worker id.
        worker: String,
        /// CML lab id.
        lab: String,
    },
    /// Wipe a lab (managers); a lablet's lab only with `--force`, which cancels
    /// the lablet.
    Wipe {
        /// Worker id.
        worker: String,
        /// CML lab id.
        lab: String,
        /// Go ahead with a lablet's lab.
        #[arg(long)]
        force: bool,
    },
    /// Stop, wipe and delete a lab (managers); a lablet's lab only with
    /// `--force`, which cancels the lablet.
    Delete {
        /// Worker id.
        worker: String,
        /// CML lab id.
        lab: String,
        /// Go ahead with a lablet's lab.
        #[arg(long)]
        force: bool,
    },
    /// Download a lab's topology (YAML) to standard output or a file (`--json`
    /// changes nothing: the answer is YAML).
    Topology {
        /// Worker id.
        worker: String,
        /// CML lab id.
        lab: String,
        /// Write it to this file.
        #[arg(long, short)]
        output: Option<String>,
    },
}

const HEADERS: [&str; 6] = ["LAB", "TITLE", "STATE", "NODES", "OWNER", "GONE"];
const COLUMNS: [&str; 6] = [
    "cml_lab_id",
    "title",
    "state",
    "node_count",
    "owner",
    "gone",
];

/// A list of labs, or one lab, as a table.
fn lab_table(v: &Value) -> String {
    let list = if v.is_object() {
        vec![v.clone()]
    } else {
        items(v)
    };
    table(&HEADERS, &rows(&list, &COLUMNS))
}

/// Runs `ccm labs …`.
pub async fn run(remote: &RemoteArgs, action: &LabsAction) -> Result<(), Error> {
    let c = client(remote)?;
    let none = Query::new();
    let labs = |v: &Value| print(remote.json, v, lab_table);
    match action {
        LabsAction::List { worker, all } => {
            let query = Query::new().flag("include_gone", *all);
            labs(&c.call(LIST, &[worker.as_str()], &query).await?);
        }
        LabsAction::Import {
            worker,
            file,
            title,
        } => {
            let payload = Payload::Text {
                content_type: "application/yaml",
                text: read_input(file)?,
            };
            let query = Query::new().opt("title", title.as_deref());
            let lab = c.json(IMPORT, &[worker.as_str()], &query, payload).await?;
            print(remote.json, &lab, |l| {
                fields(
                    l,
                    &[
                        ("lab", "cml_lab_id"),
                        ("title", "title"),
                        ("state", "state"),
                        ("nodes", "node_count"),
                        ("links", "link_count"),
                        ("worker", "worker_id"),
                    ],
                )
            });
        }
        LabsAction::Refresh { worker } => {
            labs(
                &c.send(REFRESH, &[worker.as_str()], &none, json!({}))
                    .await?,
            );
        }
        LabsAction::Start { worker, lab } => {
            labs(
                &c.send(START, &[worker.as_str(), lab.as_str()], &none, json!({}))
                    .await?,
            );
        }
        LabsAction::Stop { worker, lab } => {
            labs(
                &c.send(STOP, &[worker.as_str(), lab.as_str()], &none, json!({}))
                    .await?,
            );
        }
        LabsAction::Wipe { worker, lab, force } => {
            let query = Query::new().flag("force", *force);
            labs(
                &c.send(WIPE, &[worker.as_str(), lab.as_str()], &query, json!({}))
                    .await?,
            );
        }
        LabsAction::Delete { worker, lab, force } => {
            let query = Query::new().flag("force", *force);
            labs(
                &c.call(DELETE, &[worker.as_str(), lab.as_str()], &query)
                    .await?,
            );
        }
        LabsAction::Topology {
            worker,
            lab,
            output,
        } => {
            let yaml = c
                .text(
                    TOPOLOGY,
                    &[worker.as_str(), lab.as_str()],
                    &none,
                    Payload::Empty,
                )
                .await?;
            match output {
                Some(path) => std::fs::write(path, yaml).map_err(|source| Error::Io {
                    what: format!("writing {path}"),
                    source,
                })?,
                None => emit(&yaml),
            }
        }
    }
    Ok(())
}
