//! The API load: an open-loop generator sending `rate` requests a second on a
//! fixed schedule, whatever the answers' pace, spread over the processes, in a
//! fixed mix of route groups. A request's latency is counted from the moment it
//! was due, so a server that falls behind shows it (no coordinated omission).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::api::Api;
use crate::cluster::Cluster;
use crate::histogram::Histogram;
use crate::seed::{timeslot, Seeded};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    WorkersList,
    WorkersGet,
    LabletsList,
    LabletsGet,
    DefinitionsList,
    EventsPage,
    LabletsBook,
}

impl Group {
    pub fn label(self) -> &'static str {
        match self {
            Self::WorkersList => "GET /workers?limit=100",
            Self::WorkersGet => "GET /workers/{id}",
            Self::LabletsList => "GET /lablets?limit=100",
            Self::LabletsGet => "GET /lablets/{id}",
            Self::DefinitionsList => "GET /definitions",
            Self::EventsPage => "GET /events?after=…",
            Self::LabletsBook => "POST /lablets",
        }
    }
}

/// The mix, in requests per hundred.
const MIX: [(Group, usize); 7] = [
    (Group::WorkersList, 10),
    (Group::WorkersGet, 20),
    (Group::LabletsList, 10),
    (Group::LabletsGet, 30),
    (Group::DefinitionsList, 5),
    (Group::EventsPage, 10),
    (Group::LabletsBook, 15),
];

fn group_of(k: usize) -> Group {
    // 37 is prime to 100: every hundred requests take each slot once.
    let mut slot = (k * 37) % 100;
    for (group, weight) in MIX {
        if slot < weight {
            return group;
        }
        slot -= weight;
    }
    Group::LabletsGet
}

#[derive(Clone, Debug, Default)]
pub struct GroupStats {
    pub latency: Histogram,
    pub statuses: BTreeMap<u16, u64>,
}

pub type TrafficReport = BTreeMap<Group, GroupStats>;

/// Sends `rate` requests a second for `duration`, then waits for the answers.
pub async fn run(
    cluster: &Cluster,
    api: &Api,
    seeded: &Seeded,
    rate: f64,
    duration: Duration,
    hours: f64,
) -> TrafficReport {
    let report: Arc<Mutex<TrafficReport>> = Arc::default();
    let total = (rate * duration.as_secs_f64()) as usize;
    let start = tokio::time::Instant::now();
    let mut requests = Vec::with_capacity(total);
    for k in 0..total {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        tokio::time::sleep_until(due).await;
        let group = group_of(k);
        let base = &cluster.processes[k % cluster.processes.len()].base;
        let pick = |ids: &[String]| ids[(k * 7919) % ids.len()].clone();
        let (method, url, body) = match group {
            Group::WorkersList => {
                let offset = (k * 100) % seeded.workers.len().max(1);
                (
                    Method::GET,
                    format!("{base}/api/v1/workers?limit=100&offset={offset}"),
                    None,
                )
            }
            Group::WorkersGet => (
                Method::GET,
                format!("{base}/api/v1/workers/{}", pick(&seeded.workers)),
                None,
            ),
            Group::LabletsList => {
                let offset = (k * 100) % seeded.lablets.len().max(1);
                (
                    Method::GET,
                    format!("{base}/api/v1/lablets?limit=100&offset={offset}"),
                    None,
                )
            }
            Group::LabletsGet => (
                Method::GET,
                format!("{base}/api/v1/lablets/{}", pick(&seeded.lablets)),
                None,
            ),
            Group::DefinitionsList => (Method::GET, format!("{base}/api/v1/definitions"), None),
            Group::EventsPage => {
                let after = (k * 101) % (seeded.lablets.len() * 2).max(1);
                (
                    Method::GET,
                    format!("{base}/api/v1/events?after={after}&limit=100"),
                    None,
                )
            }
            Group::LabletsBook => {
                let body = json!({
                    "definition_id": pick(&seeded.definitions),
                    "timeslot": timeslot(cluster, k % 1000, 1000, hours),
                });
                (Method::POST, format!("{base}/api/v1/lablets"), Some(body))
            }
        };
        let (api, report) = (api.clone(), report.clone());
        requests.push(tokio::spawn(async move {
            let status = api
                .call(method, &url, body.as_ref())
                .await
                .map_or(0, |(status, _)| status);
            let latency = due.elapsed();
            let mut report = report.lock().unwrap();
            let stats = report.entry(group).or_default();
            stats.latency.record(latency);
            *stats.statuses.entry(status).or_default() += 1;
        }));
    }
    for request in requests {
        let _ = request.await;
    }
    let report = report.lock().unwrap().clone();
    report
}
