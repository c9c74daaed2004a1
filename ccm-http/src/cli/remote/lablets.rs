//! `ccm lablets …` (list, show, book with `--wait` until it runs, book-now for
//! as soon as possible, cancel, extend, delete) and `ccm placement preview` (where lablets of a definition would go,
//! with every refusal's reason; writes nothing).

use ccm_api::lablet::{CreateLablet, CreateOnDemandLablet, ExtendLablet, Timeslot};
use ccm_api::placement::PlacementPreviewRequest;
use ccm_core::time::plus_seconds;
use clap::Subcommand;
use serde_json::{json, Value};

use super::{client, uuid_arg, wire_body, wire_enum, Listing};
use crate::cli::client::{Client, Endpoint, Query};
use crate::cli::output::{at, cell, print, rows, table};
use crate::cli::progress::{Deadline, Progress};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/lablets`.
pub const LIST: Endpoint = Endpoint::get("/api/v1/lablets");
/// `POST /api/v1/lablets`.
pub const BOOK: Endpoint = Endpoint::post("/api/v1/lablets");
/// `POST /api/v1/lablets/on-demand`.
pub const BOOK_NOW: Endpoint = Endpoint::post("/api/v1/lablets/on-demand");
/// `GET /api/v1/lablets/{id}`.
pub const GET: Endpoint = Endpoint::get("/api/v1/lablets/{id}");
/// `POST /api/v1/lablets/{id}/cancel`.
pub const CANCEL: Endpoint = Endpoint::post("/api/v1/lablets/{id}/cancel");
/// `POST /api/v1/lablets/{id}/extend`.
pub const EXTEND: Endpoint = Endpoint::post("/api/v1/lablets/{id}/extend");
/// `DELETE /api/v1/lablets/{id}`.
pub const DELETE: Endpoint = Endpoint::delete("/api/v1/lablets/{id}");
/// `POST /api/v1/placement/preview`.
pub const PREVIEW: Endpoint = Endpoint::post("/api/v1/placement/preview");

/// `ccm lablets …`.
#[derive(Debug, Subcommand)]
pub enum LabletsAction {
    /// List lablets (a user's key sees its own).
    List {
        /// Only these phases (comma-separated).
        #[arg(long)]
        phase: Option<String>,
        /// Only this owner.
        #[arg(long)]
        owner: Option<String>,
        /// Only lablets on this worker.
        #[arg(long)]
        worker: Option<String>,
        /// Only lablets of this definition.
        #[arg(long)]
        definition: Option<String>,
    },
    /// Show one lablet.
    Show {
        /// Lablet id.
        id: String,
    },
    /// Book a lablet. `--wait` waits until it runs (its timeslot has started and
    /// its lab is up), with a bar of its phases.
    #[command(visible_alias = "create")]
    Book {
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
        /// External reservation id.
        #[arg(long)]
        reservation_id: Option<String>,
        /// Wait until it runs.
        #[arg(long)]
        wait: bool,
        /// Longest wait in seconds.
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
    },
    /// Book a lablet for as soon as possible: it answers with the estimated
    /// ready time (the timeslot's start), which the engine keeps true.
    BookNow {
        /// Definition id.
        #[arg(long)]
        definition: String,
        /// How long the session lasts once ready, minutes.
        #[arg(long)]
        minutes: u32,
        /// Owner (the key's name when absent).
        #[arg(long)]
        owner: Option<String>,
        /// External reservation id.
        #[arg(long)]
        reservation_id: Option<String>,
        /// Wait until it runs.
        #[arg(long)]
        wait: bool,
        /// Longest wait in seconds.
        #[arg(long, default_value_t = 3600)]
        timeout: u64,
    },
    /// End a lablet early.
    Cancel {
        /// Lablet id.
        id: String,
    },
    /// Move a lablet's end later (within its definition's longest session).
    Extend {
        /// Lablet id.
        id: String,
        /// New end: RFC 3339 time, or `+MINUTES` from now.
        #[arg(long)]
        until: String,
    },
    /// Cancel and remove a lablet.
    Delete {
        /// Lablet id.
        id: String,
    },
    /// List lablet definitions (as `ccm definitions list`).
    #[command(hide = true)]
    Definitions,
}

/// `ccm placement …`.
#[derive(Debug, Subcommand)]
pub enum PlacementAction {
    /// Where lablets of a definition would be placed now, with each worker's
    /// reason when none can take one, and the scale-up it would take.
    Preview {
        /// Definition id.
        #[arg(long)]
        definition: String,
        /// How many lablets (1–1000).
        #[arg(long, default_value_t = 1)]
        count: usize,
        /// Placement policy: pack or spread (the configured one when absent).
        #[arg(long)]
        policy: Option<String>,
    },
}

/// `+MINUTES` from now, or an RFC 3339 time.
pub fn time_arg(text: &str) -> Result<String, Error> {
    time_value(text).map(|at| at.to_rfc3339())
}

/// [`time_arg`] as a time.
pub fn time_value(text: &str) -> Result<chrono::DateTime<chrono::Utc>, Error> {
    if let Some(minutes) = text.strip_prefix('+') {
        let minutes: i64 = minutes.parse().map_err(|_| {
            Error::Usage(format!("`{text}`: expected +MINUTES or an RFC 3339 time"))
        })?;
        return Ok(plus_seconds(chrono::Utc::now(), minutes.saturating_mul(60)));
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| Error::Usage(format!("`{text}` is not an RFC 3339 time: {e}")))
}

const HEADERS: [&str; 6] = ["ID", "OWNER", "PHASE", "START", "END", "WORKER"];
const COLUMNS: [&str; 6] = [
    "id",
    "spec.owner",
    "status.phase",
    "spec.timeslot.start",
    "spec.timeslot.end",
    "status.worker_id",
];

fn one(l: &Value) -> String {
    table(&HEADERS, &rows(std::slice::from_ref(l), &COLUMNS))
}

/// The phases on the way to `running`, in order.
const ROAD: [&str; 5] = ["pending", "scheduled", "instantiating", "ready", "running"];

/// Polls the lablet until it runs; an error when it ends first or the deadline
/// passes.
async fn wait_running(c: &Client, id: &str, timeout: u64) -> Result<Value, Error> {
    let progress = Progress::bar(ROAD.len() as u64 - 1, &format!("lablet {id}"));
    let deadline = Deadline::after(timeout);
    loop {
        let lablet = c.call(GET, &[id], &Query::new()).await?;
        let phase = cell(at(&lablet, "status.phase"));
        if let Some(step) = ROAD.iter().position(|p| *p == phase) {
            progress.position(step as u64);
        }
        progress.message(format!("lablet {id}: {phase}"));
        if phase == "running" {
            return Ok(lablet);
        }
        if !ROAD.contains(&phase.as_str()) {
            return Err(Error::Usage(format!(
                "lablet {id} is {phase}: it will not run"
            )));
        }
        deadline
            .tick(|| format!("lablet {id} is {phase}, not running"))
            .await?;
    }
}

/// Books through `endpoint`, waits until the lablet runs when asked, and shows it.
async fn book(
    c: &Client,
    endpoint: Endpoint,
    body: Value,
    (wait, timeout): (bool, u64),
    json: bool,
) -> Result<(), Error> {
    let mut l = c.send(endpoint, &[], &Query::new(), body).await?;
    if wait {
        l = wait_running(c, &cell(l.get("id")), timeout).await?;
    }
    print(json, &l, one);
    Ok(())
}

/// Runs `ccm lablets …`.
pub async fn run(remote: &RemoteArgs, action: &LabletsAction) -> Result<(), Error> {
    let c = client(remote)?;
    let none = Query::new();
    let show = |l: &Value| print(remote.json, l, one);
    match action {
        LabletsAction::List {
            phase,
            owner,
            worker,
            definition,
        } => {
            let query = Query::new()
                .add("limit", 1000)
                .opt("phase", phase.as_deref())
                .opt("owner", owner.as_deref())
                .opt("worker_id", worker.as_deref())
                .opt("definition_id", definition.as_deref());
            let listing = Listing {
                endpoint: LIST,
                args: &[],
                query,
                headers: &HEADERS,
                columns: &COLUMNS,
            };
            listing.print(&c, remote.json).await?;
        }
        LabletsAction::Show { id } => show(&c.call(GET, &[id.as_str()], &none).await?),
        LabletsAction::Book {
            definition,
            start,
            end,
            owner,
            reservation_id,
            wait,
            timeout,
        } => {
            let body = wire_body(&CreateLablet {
                definition_id: uuid_arg("--definition", definition)?,
                owner: owner.clone(),
                timeslot: Timeslot {
                    start: time_value(start)?,
                    end: time_value(end)?,
                },
                reservation_id: reservation_id.clone(),
            })?;
            book(&c, BOOK, body, (*wait, *timeout), remote.json).await?;
        }
        LabletsAction::BookNow {
            definition,
            minutes,
            owner,
            reservation_id,
            wait,
            timeout,
        } => {
            let body = wire_body(&CreateOnDemandLablet {
                definition_id: uuid_arg("--definition", definition)?,
                owner: owner.clone(),
                duration_minutes: *minutes,
                reservation_id: reservation_id.clone(),
            })?;
            book(&c, BOOK_NOW, body, (*wait, *timeout), remote.json).await?;
        }
        LabletsAction::Cancel { id } => {
            show(&c.send(CANCEL, &[id.as_str()], &none, json!({})).await?)
        }
        LabletsAction::Extend { id, until } => {
            let body = wire_body(&ExtendLablet {
                until: time_value(until)?,
            })?;
            show(&c.send(EXTEND, &[id.as_str()], &none, body).await?)
        }
        LabletsAction::Delete { id } => show(&c.call(DELETE, &[id.as_str()], &none).await?),
        LabletsAction::Definitions => {
            let listing = Listing {
                endpoint: super::definitions::LIST,
                args: &[],
                query: Query::new().add("limit", 1000),
                headers: &super::definitions::HEADERS,
                columns: &super::definitions::COLUMNS,
            };
            listing.print(&c, remote.json).await?;
        }
    }
    Ok(())
}

fn plan(p: &Value) -> String {
    let mut out = format!(
        "policy {}, {} workers considered",
        cell(p.get("policy")),
        cell(p.get("workers_considered"))
    );
    let placed = p
        .get("placed")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !placed.is_empty() {
        out.push_str("\n\nplaced:\n");
        let columns = ["index", "worker_name", "worker_id", "ports"];
        out.push_str(&table(
            &["#", "WORKER", "ID", "PORTS"],
            &rows(&placed, &columns),
        ));
    }
    let unplaced = p
        .get("unplaced")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !unplaced.is_empty() {
        out.push_str("\n\nnot placed:\n");
        let columns = ["index", "dominant_reason", "reasons"];
        out.push_str(&table(
            &["#", "REASON", "WORKERS PER REASON"],
            &rows(&unplaced, &columns),
        ));
    }
    let scale = p
        .get("scale_up")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !scale.is_empty() {
        out.push_str("\n\nscale-up:\n");
        let columns = ["instance_type", "workers", "lablets", "hourly_usd"];
        out.push_str(&table(
            &["TYPE", "WORKERS", "LABLETS", "USD/H"],
            &rows(&scale, &columns),
        ));
        out.push_str(&format!(
            "\ntotal {} USD/h",
            cell(p.get("scale_up_hourly_usd"))
        ));
    }
    out
}

/// Runs `ccm placement …`.
pub async fn placement(remote: &RemoteArgs, action: &PlacementAction) -> Result<(), Error> {
    let c = client(remote)?;
    let PlacementAction::Preview {
        definition,
        count,
        policy,
    } = action;
    let body = wire_body(&PlacementPreviewRequest {
        definition_id: uuid_arg("--definition", definition)?,
        count: *count,
        policy: policy
            .as_deref()
            .map(|p| wire_enum("--policy", p))
            .transpose()?,
    })?;
    let answer = c.send(PREVIEW, &[], &Query::new(), body).await?;
    print(remote.json, &answer, plan);
    Ok(())
}
