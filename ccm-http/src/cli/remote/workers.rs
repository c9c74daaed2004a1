//! `ccm workers …`: list, show, create, delete, start, stop, refresh and import
//! (one instance or every instance of an AMI), with `--wait` until the worker
//! (or every imported one) settles. A worker's settings (tags, CML endpoint,
//! licence, monitoring, idle detection, certificate) are `worker_admin`.

use ccm_api::worker as wire;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::worker_admin::{self, WorkerAdminAction};
use super::{client, pair, pairs, wire_body, Listing};
use crate::cli::client::{Client, Endpoint, Query};
use crate::cli::output::{at, cell, fields, items, print, rows, table};
use crate::cli::progress::{Deadline, Progress};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/workers`.
pub const LIST: Endpoint = Endpoint::get("/api/v1/workers");
/// `POST /api/v1/workers`.
pub const CREATE: Endpoint = Endpoint::post("/api/v1/workers");
/// `GET /api/v1/workers/{id}`.
pub const GET: Endpoint = Endpoint::get("/api/v1/workers/{id}");
/// `DELETE /api/v1/workers/{id}`.
pub const DELETE: Endpoint = Endpoint::delete("/api/v1/workers/{id}");
/// `POST /api/v1/workers/{id}/start`.
pub const START: Endpoint = Endpoint::post("/api/v1/workers/{id}/start");
/// `POST /api/v1/workers/{id}/stop`.
pub const STOP: Endpoint = Endpoint::post("/api/v1/workers/{id}/stop");
/// `POST /api/v1/workers/{id}/refresh`.
pub const REFRESH: Endpoint = Endpoint::post("/api/v1/workers/{id}/refresh");
/// `POST /api/v1/workers/import`.
pub const IMPORT: Endpoint = Endpoint::post("/api/v1/workers/import");
/// `POST /api/v1/workers/import-matching`.
pub const IMPORT_MATCHING: Endpoint = Endpoint::post("/api/v1/workers/import-matching");

/// `--wait` and `--timeout`.
#[derive(Debug, Clone, Copy, Args)]
pub struct Wait {
    /// Wait until it is done, with progress on a terminal.
    #[arg(long)]
    pub wait: bool,
    /// Longest wait in seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
}

/// Which instances `import-matching` adopts.
#[derive(Debug, Clone, Args)]
pub struct Matching {
    /// Region (the server's first when absent).
    #[arg(long)]
    pub region: Option<String>,
    /// Every instance of this AMI.
    #[arg(long)]
    pub image_id: Option<String>,
    /// Every instance of an AMI whose name matches (`*` wildcards).
    #[arg(long)]
    pub image_name_pattern: Option<String>,
    /// Only instances carrying this tag (`key=value`, repeatable).
    #[arg(long = "tag", value_parser = pair)]
    pub tags: Vec<(String, String)>,
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
    /// Create a worker: its instance is launched (admins). `--wait` waits until
    /// it runs.
    Create {
        /// Worker name.
        #[arg(long)]
        name: String,
        /// Region (the server's first when absent).
        #[arg(long)]
        region: Option<String>,
        /// Instance type (the launch template's when absent).
        #[arg(long)]
        instance_type: Option<String>,
        /// A configured image by name (the default image when absent).
        #[arg(long)]
        image: Option<String>,
        /// A label (`key=value`, repeatable).
        #[arg(long = "label", value_parser = pair)]
        labels: Vec<(String, String)>,
        /// An extra EC2 tag (`key=value`, repeatable).
        #[arg(long = "tag", value_parser = pair)]
        tags: Vec<(String, String)>,
        /// Turn idle detection off for this worker.
        #[arg(long)]
        no_idle_detection: bool,
        /// Waiting.
        #[command(flatten)]
        wait: Wait,
    },
    /// Delete a worker (admins). Its instance keeps running unmanaged unless
    /// `--terminate-instance`.
    Delete {
        /// Worker id.
        id: String,
        /// Terminate the instance first.
        #[arg(long)]
        terminate_instance: bool,
        /// Delete it even with lablets bound to it.
        #[arg(long)]
        force: bool,
    },
    /// Start a worker. `--wait` waits until it runs.
    Start {
        /// Worker id.
        id: String,
        /// Waiting.
        #[command(flatten)]
        wait: Wait,
    },
    /// Stop a worker. `--wait` waits until it is stopped.
    Stop {
        /// Worker id.
        id: String,
        /// Stop it even with lablets bound to it (refused otherwise, naming
        /// them): lablets not started yet are placed again, started ones end.
        #[arg(long)]
        force: bool,
        /// Waiting.
        #[command(flatten)]
        wait: Wait,
    },
    /// Observe a worker now (its instance, CML, licence and metrics).
    Refresh {
        /// Worker id.
        id: String,
    },
    /// Import one instance (`--instance-id`) or every instance launched from an AMI
    /// (`--image-id` or `--image-name-pattern`, as `import-matching`) (admins).
    Import {
        /// One instance.
        #[arg(long, conflicts_with_all = ["image_id", "image_name_pattern", "tags"])]
        instance_id: Option<String>,
        /// Worker name for a single import.
        #[arg(long, requires = "instance_id")]
        name: Option<String>,
        /// Which instances, without `--instance-id`.
        #[command(flatten)]
        matching: Matching,
        /// Waiting (for the imported workers to settle).
        #[command(flatten)]
        wait: Wait,
    },
    /// Import every instance launched from an AMI (admins). `--wait` waits until
    /// every imported worker is running or stopped, with a bar of them.
    ImportMatching {
        /// Which instances.
        #[command(flatten)]
        matching: Matching,
        /// Waiting.
        #[command(flatten)]
        wait: Wait,
    },
    /// A worker's settings.
    #[command(flatten)]
    Admin(WorkerAdminAction),
}

/// Table columns of a worker.
pub const HEADERS: [&str; 7] = ["ID", "NAME", "REGION", "STATUS", "CML", "INSTANCE", "TYPE"];
const COLUMNS: [&str; 7] = [
    "id",
    "meta.name",
    "region",
    "status.lifecycle",
    "status.cml.state",
    "instance_id",
    "instance_type",
];

/// A worker as a table.
pub fn worker_rows(list: &[Value]) -> Vec<Vec<String>> {
    rows(list, &COLUMNS)
}

/// A worker as `key: value` lines.
pub fn details(w: &Value) -> String {
    fields(
        w,
        &[
            ("id", "id"),
            ("name", "meta.name"),
            ("region", "region"),
            ("status", "status.lifecycle"),
            ("desired", "spec.desired_status"),
            ("instance", "instance_id"),
            ("type", "instance_type"),
            ("cml", "status.cml.state"),
            ("cml version", "status.cml.version"),
            ("licence", "status.licence.state"),
            ("next refresh", "status.next_refresh_at"),
        ],
    )
}

fn lifecycle(w: &Value) -> String {
    cell(at(w, "status.lifecycle"))
}

/// Polls the worker until its lifecycle is `want`; an error when it fails, is
/// terminated or the deadline passes.
pub async fn wait_for(c: &Client, id: &str, want: &str, timeout: u64) -> Result<Value, Error> {
    let progress = Progress::spinner(&format!("waiting for worker {id} to be {want}"));
    let deadline = Deadline::after(timeout);
    loop {
        let worker = c.call(GET, &[id], &Query::new()).await?;
        let status = lifecycle(&worker);
        progress.message(format!("worker {id}: {status} (waiting for {want})"));
        if status == want {
            return Ok(worker);
        }
        if status == "failed" || (status == "terminated" && want != "terminated") {
            return Err(Error::Usage(format!("worker {id} is {status}, not {want}")));
        }
        deadline
            .tick(|| format!("worker {id} is {status}, not {want}"))
            .await?;
    }
}

/// States a worker rests in: nothing happens to it until someone acts.
const SETTLED: [&str; 4] = ["running", "stopped", "terminated", "failed"];

/// Polls every worker until each is settled, with a bar of them.
async fn wait_settled(c: &Client, ids: &[String], timeout: u64) -> Result<Vec<Value>, Error> {
    let progress = Progress::bar(ids.len() as u64, "imported workers settled");
    let deadline = Deadline::after(timeout);
    loop {
        let mut workers = Vec::with_capacity(ids.len());
        for id in ids {
            workers.push(c.call(GET, &[id.as_str()], &Query::new()).await?);
        }
        let settled = workers
            .iter()
            .filter(|w| SETTLED.contains(&lifecycle(w).as_str()))
            .count();
        progress.position(settled as u64);
        if settled == ids.len() {
            return Ok(workers);
        }
        deadline
            .tick(|| format!("{settled} of {} imported workers settled", ids.len()))
            .await?;
    }
}

fn import_report(r: &Value) -> String {
    let imported = items(r.get("imported").unwrap_or(&Value::Null));
    let skipped = items(r.get("skipped").unwrap_or(&Value::Null));
    let mut out = format!(
        "found {}, imported {}, skipped {}",
        cell(r.get("found")),
        imported.len(),
        skipped.len()
    );
    if !imported.is_empty() {
        out.push('\n');
        out.push_str(&table(&HEADERS, &worker_rows(&imported)));
    }
    for s in &skipped {
        out.push_str(&format!(
            "\nskipped {}: {}",
            cell(s.get("instance_id")),
            cell(s.get("reason"))
        ));
    }
    out
}

async fn import_matching(
    c: &Client,
    m: &Matching,
    wait: Wait,
    json_out: bool,
) -> Result<(), Error> {
    if m.image_id.is_none() && m.image_name_pattern.is_none() {
        return Err(Error::Usage(
            "give --instance-id, --image-id or --image-name-pattern".into(),
        ));
    }
    let body = wire_body(&wire::ImportMatching {
        region: m.region.clone(),
        image_id: m.image_id.clone(),
        image_name_pattern: m.image_name_pattern.clone(),
        tags: pairs(&m.tags),
    })?;
    let mut report = {
        let _progress = Progress::spinner("importing matching instances");
        c.send(IMPORT_MATCHING, &[], &Query::new(), body).await?
    };
    if wait.wait {
        let ids: Vec<String> = items(report.get("imported").unwrap_or(&Value::Null))
            .iter()
            .map(|w| cell(w.get("id")))
            .collect();
        let settled = wait_settled(c, &ids, wait.timeout).await?;
        if let Some(slot) = report.get_mut("imported") {
            *slot = Value::Array(settled);
        }
    }
    print(json_out, &report, import_report);
    Ok(())
}

/// Runs `ccm workers …`.
pub async fn run(remote: &RemoteArgs, action: &WorkersAction) -> Result<(), Error> {
    let c = client(remote)?;
    let json_out = remote.json;
    let none = Query::new();
    let show = |w: &Value| print(json_out, w, details);
    match action {
        WorkersAction::List {
            region,
            status,
            label,
            all,
        } => {
            let query = Query::new()
                .add("include_terminated", all)
                .add("limit", 1000)
                .opt("region", region.as_deref())
                .opt("status", status.as_deref())
                .opt("label", label.as_deref());
            let listing = Listing {
                endpoint: LIST,
                args: &[],
                query,
                headers: &HEADERS,
                columns: &COLUMNS,
            };
            listing.print(&c, json_out).await?;
        }
        WorkersAction::Show { id } => show(&c.call(GET, &[id.as_str()], &none).await?),
        WorkersAction::Create {
            name,
            region,
            instance_type,
            image,
            labels,
            tags,
            no_idle_detection,
            wait,
        } => {
            let body = wire_body(&wire::CreateWorker {
                name: name.clone(),
                region: region.clone(),
                instance_type: instance_type.clone(),
                labels: pairs(labels),
                tags: pairs(tags),
                idle_detection_disabled: *no_idle_detection,
                image: image.clone(),
            })?;
            let mut w = c.send(CREATE, &[], &none, body).await?;
            if wait.wait {
                let id = cell(w.get("id"));
                w = wait_for(&c, &id, "running", wait.timeout).await?;
            }
            show(&w);
        }
        WorkersAction::Delete {
            id,
            terminate_instance,
            force,
        } => {
            let query = Query::new()
                .flag("terminate_instance", *terminate_instance)
                .flag("force", *force);
            show(&c.call(DELETE, &[id.as_str()], &query).await?);
        }
        WorkersAction::Start { id, wait } => {
            let mut w = c.send(START, &[id.as_str()], &none, json!({})).await?;
            if wait.wait {
                w = wait_for(&c, id, "running", wait.timeout).await?;
            }
            show(&w);
        }
        WorkersAction::Stop { id, force, wait } => {
            let query = Query::new().flag("force", *force);
            let mut w = c.send(STOP, &[id.as_str()], &query, json!({})).await?;
            if wait.wait {
                w = wait_for(&c, id, "stopped", wait.timeout).await?;
            }
            show(&w);
        }
        WorkersAction::Refresh { id } => {
            let answer = c.send(REFRESH, &[id.as_str()], &none, json!({})).await?;
            print(json_out, &answer, |a| {
                if a.get("status").is_some() {
                    details(a)
                } else {
                    crate::cli::output::flat(a)
                }
            });
        }
        WorkersAction::Import {
            instance_id: Some(instance),
            name,
            matching,
            wait,
        } => {
            let body = wire_body(&wire::ImportWorker {
                region: matching.region.clone(),
                instance_id: instance.clone(),
                name: name.clone(),
            })?;
            let mut w = c.send(IMPORT, &[], &none, body).await?;
            if wait.wait {
                let ids = [cell(w.get("id"))];
                if let Some(settled) = wait_settled(&c, &ids, wait.timeout).await?.pop() {
                    w = settled;
                }
            }
            show(&w);
        }
        WorkersAction::Import {
            instance_id: None,
            matching,
            wait,
            ..
        }
        | WorkersAction::ImportMatching { matching, wait } => {
            import_matching(&c, matching, *wait, json_out).await?;
        }
        WorkersAction::Admin(action) => worker_admin::run(&c, json_out, action).await?,
    }
    Ok(())
}
