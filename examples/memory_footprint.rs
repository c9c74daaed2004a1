//! Resident memory of a `ccm` server holding a large fleet: builds the server as
//! `ccm serve` does (the configured store, the simulated cloud, the router), fills
//! it with workers and lablets through the engine, serves one full page of workers,
//! and reports the process's resident size (`VmRSS`) before and after, beside the
//! size of the same data as JSON (what a naive "keep the API answers in memory"
//! cache would hold).
//!
//! ```sh
//! cargo run --release -p ccm-examples --example memory_footprint -- \
//!     --workers 5000 --lablets 100000 --store memory
//! ```
//!
//! `--store sqlite` keeps state in a temporary SQLite file (the embedded default).

use std::collections::BTreeMap;

use ccm_assembly::config::Config;
use ccm_core::definition::{NewDefinition, ResourceNeeds};
use ccm_core::fleet::CreateWorker;
use ccm_core::ids::Region;
use ccm_core::lablet::{NewLablet, Timeslot};
use ccm_core::ports::store::{LabletFilter, WorkerFilter};
use ccm_core::resources::Resources;
use ccm_core::secret::Secret;
use ccm_core::time::plus_seconds;
use ccm_core::version::SemVer;

const TOPOLOGY: &str = "lab:\n  title: footprint\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\nlinks: []\n";

fn resident_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let workers: usize = arg("--workers", "5000").parse()?;
    let lablets: usize = arg("--lablets", "100000").parse()?;
    let store = arg("--store", "memory");
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.database.url = Secret::new(match store.as_str() {
        "sqlite" => format!("sqlite://{}/ccm.db", dir.path().display()),
        _ => "memory".to_owned(),
    });
    config.cloud.sim.seed_demo = false;

    let empty = resident_mib();
    let (server, about) = ccm_http::server::build(&config).await?;
    let fleet = server.state().fleet.clone();
    let started = resident_mib();

    for i in 0..workers {
        fleet
            .create_worker(CreateWorker {
                name: format!("worker-{i:05}"),
                region: Region::new(if i % 2 == 0 { "us-east-1" } else { "us-west-2" }),
                instance_type: None,
                labels: BTreeMap::from([("pool".to_owned(), format!("p{}", i % 20))]),
                tags: BTreeMap::from([("team".to_owned(), format!("t{}", i % 7))]),
                idle_detection_disabled: false,
                created_by: Some("footprint".into()),
                image: None,
            })
            .await?;
    }
    let definition = fleet
        .create_definition(NewDefinition {
            name: "footprint".into(),
            version: SemVer::new(1, 0, 0),
            topology_yaml: TOPOLOGY.into(),
            needs: ResourceNeeds {
                resources: Resources::new(2, 4, 10),
                nodes: 1,
                ports: 1,
            },
            licence_affinity: None,
            min_cml_version: None,
            max_duration_minutes: 240,
            warm_pool_depth: 0,
        })
        .await?;
    let now = fleet.clock().now();
    for i in 0..lablets {
        let start = plus_seconds(now, 3600 + (i as i64 % 2000) * 60);
        fleet
            .create_lablet(
                definition.id,
                NewLablet {
                    owner: format!("student-{}", i % 5000),
                    timeslot: Timeslot {
                        start,
                        end: plus_seconds(start, 7200),
                    },
                    reservation_id: None,
                    on_demand: false,
                },
            )
            .await?;
    }
    let filled = resident_mib();

    let store = server.state().store.clone();
    let all_workers = store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await?;
    let all_lablets = store.list_lablets(&LabletFilter::default()).await?;
    let json_bytes =
        serde_json::to_vec(&all_workers)?.len() + serde_json::to_vec(&all_lablets)?.len();
    let events = store.last_sequence().await?;
    let listed = resident_mib();

    println!("{about}");
    println!(
        "holding {} workers, {} lablets, {} events",
        all_workers.len(),
        all_lablets.len(),
        events
    );
    println!("resident: process start {empty:.1} MiB, server built {started:.1} MiB, filled {filled:.1} MiB, after listing everything {listed:.1} MiB");
    println!(
        "state as JSON: {:.1} MiB; resident growth from filling: {:.1} MiB ({:.2}x the JSON)",
        json_bytes as f64 / 1048576.0,
        filled - started,
        (filled - started) / (json_bytes as f64 / 1048576.0)
    );
    Ok(())
}
