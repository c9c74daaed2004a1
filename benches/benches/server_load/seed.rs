//! What the load runs over, made through the API before it starts: lablet
//! definitions, the fleet's workers (the leader's engine launches them) and the
//! day's bookings, spread over the simulated hours ahead and sent to every
//! process in turn.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::{json, Value};

use crate::api::Api;
use crate::cluster::Cluster;

const IN_FLIGHT: usize = 16;
const TOPOLOGY: &str = "lab:\n  title: load\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

pub struct Seeded {
    pub workers: Vec<String>,
    pub lablets: Vec<String>,
    pub workers_seconds: f64,
    pub lablets_seconds: f64,
    /// Bookings answered with something else than 201, by status.
    pub refused: BTreeMap<u16, usize>,
    pub definitions: Vec<String>,
}

fn id_of(answer: Option<(u16, Value)>, expected: u16, what: &str) -> Result<String, u16> {
    match answer {
        Some((status, body)) if status == expected => Ok(body["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no id in {body}"))
            .to_owned()),
        Some((status, _)) => Err(status),
        None => Err(0),
    }
}

/// A lablet's timeslot: starts spread evenly over `hours` from 30 minutes after
/// booking, one to three hours long.
pub fn timeslot(cluster: &Cluster, index: usize, count: usize, hours: f64) -> Value {
    let offset = 1_800.0 + hours * 3_600.0 * (index as f64) / (count.max(1) as f64);
    let start = cluster.time.sim_now() + chrono::Duration::seconds(offset as i64);
    let minutes = 60 + (index * 37) % 121;
    let end = start + chrono::Duration::minutes(minutes as i64);
    json!({"start": start.to_rfc3339(), "end": end.to_rfc3339()})
}

pub async fn seed(
    cluster: &Cluster,
    api: &Api,
    workers: usize,
    lablets: usize,
    hours: f64,
) -> Seeded {
    let first = &cluster.processes[0].base;
    let mut definitions = Vec::new();
    for name in ["load-ccna", "load-ccnp", "load-enarsi"] {
        let body = json!({
            "name": name, "version": "1.0.0", "topology_yaml": TOPOLOGY,
            "needs": {"resources": {"cpu_millis": 4000, "memory_mib": 8192, "storage_gib": 20}, "nodes": 0, "ports": 2},
            "licence_affinity": null, "min_cml_version": null,
            "max_duration_minutes": 240, "warm_pool_depth": 0
        });
        let answer = api
            .call(
                Method::POST,
                &format!("{first}/api/v1/definitions"),
                Some(&body),
            )
            .await;
        definitions.push(id_of(answer, 201, "definition").expect("a definition"));
    }

    let began = Instant::now();
    let created: Vec<Result<String, u16>> = stream::iter(0..workers)
        .map(|i| async move {
            let body = json!({"name": format!("load-{i:05}")});
            let answer = api
                .call(
                    Method::POST,
                    &format!("{first}/api/v1/workers"),
                    Some(&body),
                )
                .await;
            id_of(answer, 201, "worker")
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let workers_seconds = began.elapsed().as_secs_f64();
    let workers: Vec<String> = created
        .into_iter()
        .map(|r| r.unwrap_or_else(|status| panic!("creating a worker answered {status}")))
        .collect();

    let began = Instant::now();
    let definitions_ref = &definitions;
    let booked: Vec<Result<String, u16>> = stream::iter(0..lablets)
        .map(|i| async move {
            let process = &cluster.processes[i % cluster.processes.len()].base;
            let body = json!({
                "definition_id": definitions_ref[i % definitions_ref.len()],
                "timeslot": timeslot(cluster, i, lablets, hours),
            });
            let answer = api
                .call(
                    Method::POST,
                    &format!("{process}/api/v1/lablets"),
                    Some(&body),
                )
                .await;
            id_of(answer, 201, "lablet")
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let lablets_seconds = began.elapsed().as_secs_f64();
    let mut refused = BTreeMap::new();
    let mut ids = Vec::new();
    for result in booked {
        match result {
            Ok(id) => ids.push(id),
            Err(status) => *refused.entry(status).or_default() += 1,
        }
    }
    Seeded {
        workers,
        lablets: ids,
        workers_seconds,
        lablets_seconds,
        refused,
        definitions,
    }
}
