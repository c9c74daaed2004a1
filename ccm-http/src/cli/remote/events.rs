//! `ccm events list` (the history from a cursor, filtered) and `ccm events tail`
//! (the live stream, resumed after a dropped connection: `cli::sse`).

use std::time::Duration;

use clap::Subcommand;
use serde_json::Value;

use super::client;
use crate::cli::client::{Endpoint, Query};
use crate::cli::output::{print, rows, table};
use crate::cli::sse::{self, TailOptions};
use crate::cli::RemoteArgs;
use crate::error::Error;

/// `GET /api/v1/events`.
pub const HISTORY: Endpoint = Endpoint::get("/api/v1/events");
/// `GET /api/v1/events/stream`.
pub const STREAM: Endpoint = sse::STREAM;

/// `ccm events …`.
#[derive(Debug, Subcommand)]
pub enum EventsAction {
    /// Events from a cursor, oldest first; continue with `--after` the
    /// `next_after` it reports.
    List {
        /// Events with a sequence greater than this (0: from the start).
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// Most events (1–1000).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only events of these workers (ids, comma-separated).
        #[arg(long)]
        worker: Option<String>,
        /// Only these types (comma-separated; `worker.*` matches a prefix).
        #[arg(long = "type")]
        types: Option<String>,
    },
    /// Follow the live stream and print each event as it happens (one JSON
    /// document per line with `--json`). A dropped connection is opened again,
    /// after a growing pause of at most 30 s, from the last event seen.
    Tail {
        /// Only events of these workers (ids, comma-separated).
        #[arg(long)]
        worker: Option<String>,
        /// Only these types (comma-separated; `worker.*` matches a prefix).
        #[arg(long = "type")]
        types: Option<String>,
        /// Start after this sequence, sent as `Last-Event-ID` (0: the whole
        /// log); from now when absent.
        #[arg(long, visible_alias = "last-event-id")]
        after: Option<u64>,
        /// Exit after this many events.
        #[arg(long)]
        count: Option<u64>,
        /// Exit when no event came for this many seconds.
        #[arg(long)]
        until_idle: Option<u64>,
        /// Also print the snapshot of the workers the stream starts with.
        #[arg(long)]
        snapshot: bool,
        /// Also print heartbeats.
        #[arg(long)]
        heartbeats: bool,
    },
}

const HEADERS: [&str; 5] = ["SEQ", "TIME", "TYPE", "KIND", "SUBJECT"];
const COLUMNS: [&str; 5] = [
    "sequence",
    "occurred_at",
    "type",
    "subject.kind",
    "subject.id",
];

fn history(page: &Value) -> String {
    let events = page
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = table(&HEADERS, &rows(&events, &COLUMNS));
    let end = page.get("end").and_then(Value::as_bool).unwrap_or(true);
    if !end {
        if let Some(next) = page.get("next_after") {
            out.push_str(&format!("\n(more: --after {next})"));
        }
    }
    out
}

/// Runs `ccm events …`.
pub async fn run(remote: &RemoteArgs, action: &EventsAction) -> Result<(), Error> {
    let c = client(remote)?;
    match action {
        EventsAction::List {
            after,
            limit,
            worker,
            types,
        } => {
            let query = Query::new()
                .add("after", after)
                .add("limit", limit)
                .opt("worker", worker.as_deref())
                .opt("type", types.as_deref());
            print(remote.json, &c.call(HISTORY, &[], &query).await?, history);
        }
        EventsAction::Tail {
            worker,
            types,
            after,
            count,
            until_idle,
            snapshot,
            heartbeats,
        } => {
            let options = TailOptions {
                worker: worker.clone(),
                types: types.clone(),
                after: *after,
                count: *count,
                until_idle: until_idle.map(Duration::from_secs),
                snapshot: *snapshot,
                heartbeats: *heartbeats,
                json: remote.json,
                ..TailOptions::default()
            };
            match sse::tail(&c, &options, &mut std::io::stdout()).await {
                // The reader went away (`ccm events tail | head`): done.
                Err(Error::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other?,
            }
        }
    }
    Ok(())
}
