//! The subcommands that call a server: workers, lablets, jobs.

use std::io::IsTerminal;
use std::time::Duration;

use ccm_core::secret::Secret;
use ccm_core::time::plus_seconds;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{encode, Client};
use super::output::{at, cell, fields, print, table};
use super::{JobsAction, LabletsAction, RemoteArgs, WorkersAction};
use crate::error::Error;

fn client(remote: &RemoteArgs) -> Result<Client, Error> {
    Client::new(&remote.server, remote.api_key.clone().map(Secret::new))
}

fn spinner(message: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    Some(bar)
}

fn worker_rows(items: &[Value]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|w| {
            vec![
                cell(at(w, "id")),
                cell(at(w, "meta.name")),
                cell(at(w, "region")),
                cell(at(w, "status.lifecycle")),
                cell(at(w, "status.cml.state")),
                cell(at(w, "instance_id")),
                cell(at(w, "instance_type")),
            ]
        })
        .collect()
}

const WORKER_HEADERS: [&str; 7] = ["ID", "NAME", "REGION", "STATUS", "CML", "INSTANCE", "TYPE"];

fn worker_details(w: &Value) -> String {
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

async fn wait_for(client: &Client, id: &str, want: &str, timeout: u64) -> Result<Value, Error> {
    let bar = spinner(&format!("waiting for worker {id} to be {want}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(timeout);
    loop {
        let worker = client
            .get(&format!("/api/v1/workers/{}", encode(id)))
            .await?;
        let status = cell(at(&worker, "status.lifecycle"));
        if let Some(bar) = &bar {
            bar.set_message(format!("worker {id}: {status} (waiting for {want})"));
        }
        if status == want {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            return Ok(worker);
        }
        if status == "failed" || std::time::Instant::now() >= deadline {
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            return Err(Error::Usage(format!(
                "worker {id} is {status}, not {want} (gave up waiting)"
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Runs `ccm workers …`.
pub async fn workers(remote: &RemoteArgs, action: &WorkersAction) -> Result<(), Error> {
    let c = client(remote)?;
    match action {
        WorkersAction::List {
            region,
            status,
            label,
            all,
        } => {
            let listing = Listing {
                path: "/api/v1/workers",
                query: vec![format!("include_terminated={all}")],
                filters: vec![("region", region), ("status", status), ("label", label)],
                headers: &WORKER_HEADERS,
                rows: worker_rows,
            };
            listing.print(&c, remote.json).await?;
        }
        WorkersAction::Show { id } => {
            let w = c.get(&format!("/api/v1/workers/{}", encode(id))).await?;
            print(remote.json, &w, worker_details);
        }
        WorkersAction::Start { id, wait, timeout } => {
            let path = format!("/api/v1/workers/{}/start", encode(id));
            let mut w = c.post(&path, json!({})).await?;
            if *wait {
                w = wait_for(&c, id, "running", *timeout).await?;
            }
            print(remote.json, &w, worker_details);
        }
        WorkersAction::Stop {
            id,
            force,
            wait,
            timeout,
        } => {
            let path = format!("/api/v1/workers/{}/stop?force={force}", encode(id));
            let mut w = c.post(&path, json!({})).await?;
            if *wait {
                w = wait_for(&c, id, "stopped", *timeout).await?;
            }
            print(remote.json, &w, worker_details);
        }
        WorkersAction::MonitoringInterval { id, seconds, .. } => {
            let path = format!("/api/v1/workers/{}/monitoring-interval", encode(id));
            let w = c
                .call(Method::PUT, &path, Some(json!({ "seconds": seconds })))
                .await?;
            print(remote.json, &w, worker_details);
        }
        WorkersAction::Import {
            region,
            instance_id,
            name,
            image_id,
            image_name_pattern,
        } => {
            if let Some(instance) = instance_id {
                let w = c
                    .post(
                        "/api/v1/workers/import",
                        json!({"region": region, "instance_id": instance, "name": name}),
                    )
                    .await?;
                print(remote.json, &w, worker_details);
                return Ok(());
            }
            if image_id.is_none() && image_name_pattern.is_none() {
                return Err(Error::Usage(
                    "give --instance-id, --image-id or --image-name-pattern".into(),
                ));
            }
            let bar = spinner("importing matching instances");
            let report = c
                .post(
                    "/api/v1/workers/import-matching",
                    json!({"region": region, "image_id": image_id, "image_name_pattern": image_name_pattern}),
                )
                .await;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let report = report?;
            print(remote.json, &report, |r| {
                let imported = r
                    .get("imported")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let skipped = r
                    .get("skipped")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let mut out = format!(
                    "found {}, imported {}, skipped {}",
                    cell(r.get("found")),
                    imported.len(),
                    skipped.len()
                );
                if !imported.is_empty() {
                    out.push('\n');
                    out.push_str(&table(&WORKER_HEADERS, &worker_rows(&imported)));
                }
                for s in &skipped {
                    out.push_str(&format!(
                        "\nskipped {}: {}",
                        cell(s.get("instance_id")),
                        cell(s.get("reason"))
                    ));
                }
                out
            });
        }
    }
    Ok(())
}

fn time_arg(text: &str) -> Result<String, Error> {
    if let Some(minutes) = text.strip_prefix('+') {
        let minutes: i64 = minutes.parse().map_err(|_| {
            Error::Usage(format!("`{text}`: expected +MINUTES or an RFC 3339 time"))
        })?;
        let at = plus_seconds(chrono::Utc::now(), minutes.saturating_mul(60));
        return Ok(at.to_rfc3339());
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_rfc3339())
        .map_err(|e| Error::Usage(format!("`{text}` is not an RFC 3339 time: {e}")))
}

fn lablet_rows(items: &[Value]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|l| {
            vec![
                cell(at(l, "id")),
                cell(at(l, "spec.owner")),
                cell(at(l, "status.phase")),
                cell(at(l, "spec.timeslot.start")),
                cell(at(l, "spec.timeslot.end")),
                cell(at(l, "status.worker_id")),
            ]
        })
        .collect()
}

const LABLET_HEADERS: [&str; 6] = ["ID", "OWNER", "PHASE", "START", "END", "WORKER"];

/// One page (up to 1,000 items) of a list endpoint, printed as a table or JSON.
struct Listing<'a> {
    path: &'static str,
    query: Vec<String>,
    /// Optional filters, sent as `name=value` when given.
    filters: Vec<(&'static str, &'a Option<String>)>,
    headers: &'a [&'a str],
    rows: fn(&[Value]) -> Vec<Vec<String>>,
}

impl Listing<'_> {
    async fn print(self, c: &Client, json: bool) -> Result<(), Error> {
        let mut query = self.query;
        query.push("limit=1000".into());
        for (name, value) in self.filters {
            if let Some(v) = value {
                query.push(format!("{name}={}", encode(v)));
            }
        }
        let page = c.get(&format!("{}?{}", self.path, query.join("&"))).await?;
        print(json, &page, |p| {
            let items = p
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            table(self.headers, &(self.rows)(&items))
        });
        Ok(())
    }
}

/// Runs `ccm lablets …`.
pub async fn lablets(remote: &RemoteArgs, action: &LabletsAction) -> Result<(), Error> {
    let c = client(remote)?;
    let one = |l: &Value| table(&LABLET_HEADERS, &lablet_rows(std::slice::from_ref(l)));
    match action {
        LabletsAction::List { phase, owner } => {
            let listing = Listing {
                path: "/api/v1/lablets",
                query: Vec::new(),
                filters: vec![("phase", phase), ("owner", owner)],
                headers: &LABLET_HEADERS,
                rows: lablet_rows,
            };
            listing.print(&c, remote.json).await?;
        }
        LabletsAction::Show { id } => {
            let l = c.get(&format!("/api/v1/lablets/{}", encode(id))).await?;
            print(remote.json, &l, one);
        }
        LabletsAction::Create {
            definition,
            start,
            end,
            owner,
        } => {
            let body = json!({
                "definition_id": definition,
                "owner": owner,
                "timeslot": {"start": time_arg(start)?, "end": time_arg(end)?},
            });
            let l = c.post("/api/v1/lablets", body).await?;
            print(remote.json, &l, one);
        }
        LabletsAction::Cancel { id } => {
            let l = c
                .post(&format!("/api/v1/lablets/{}/cancel", encode(id)), json!({}))
                .await?;
            print(remote.json, &l, one);
        }
        LabletsAction::Delete { id } => {
            let l = c.delete(&format!("/api/v1/lablets/{}", encode(id))).await?;
            print(remote.json, &l, one);
        }
        LabletsAction::Definitions => {
            let page = c.get("/api/v1/definitions?limit=1000").await?;
            print(remote.json, &page, |p| {
                let items = p
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                let rows: Vec<Vec<String>> = items
                    .iter()
                    .map(|d| {
                        vec![
                            cell(at(d, "id")),
                            cell(at(d, "meta.name")),
                            cell(at(d, "version")),
                            cell(at(d, "active")),
                            cell(at(d, "needs.nodes")),
                        ]
                    })
                    .collect();
                table(&["ID", "NAME", "VERSION", "ACTIVE", "NODES"], &rows)
            });
        }
    }
    Ok(())
}

/// Runs `ccm jobs …`.
pub async fn jobs(remote: &RemoteArgs, action: &JobsAction) -> Result<(), Error> {
    let c = client(remote)?;
    let path = |name: &str, verb: &str| format!("/api/v1/jobs/{}/{verb}", encode(name));
    let answer = match action {
        JobsAction::List => c.get("/api/v1/jobs").await?,
        JobsAction::Trigger { name } => c.post(&path(name, "trigger"), json!({})).await?,
        JobsAction::Pause { name } => c.post(&path(name, "pause"), json!({})).await?,
        JobsAction::Resume { name } => c.post(&path(name, "resume"), json!({})).await?,
    };
    print(remote.json, &answer, |v| match v.as_array() {
        Some(jobs) => {
            let rows: Vec<Vec<String>> = jobs
                .iter()
                .map(|j| {
                    vec![
                        cell(at(j, "name")),
                        cell(at(j, "next_run_at")),
                        cell(at(j, "last_run_at")),
                        cell(at(j, "last_outcome.result")),
                        cell(at(j, "paused")),
                    ]
                })
                .collect();
            table(
                &["NAME", "NEXT RUN", "LAST RUN", "OUTCOME", "PAUSED"],
                &rows,
            )
        }
        None => serde_json::to_string_pretty(v).unwrap_or_default(),
    });
    Ok(())
}
