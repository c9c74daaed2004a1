//! Simulates a small CML fleet for a few virtual hours and prints what happened:
//! workers launched and booted, CML coming up, labs imported and run, an idle worker
//! paused, and where a batch of lablets would be placed (pack vs spread).
//!
//! ```text
//! cargo run -p ccm-examples --example simulate_fleet -- [--seed N] [--workers N] [--hours N]
//! ```
//!
//! Everything runs on a virtual clock against the deterministic simulator, so the
//! same seed prints the same story in well under a second.

use std::collections::BTreeMap;
use std::process::ExitCode;

use ccm_core::definition::ResourceNeeds;
use ccm_core::event::{EventPayload, StoredEvent};
use ccm_core::fleet::{CreateWorker, Fleet, FleetSettings, LabAction, WhenLabletsBound};
use ccm_core::ids::{LabletId, Region};
use ccm_core::placement::{self, PlacementRequest, Policy, WorkerCandidate};
use ccm_core::ports::{Clock, Store};
use ccm_core::resources::Resources;
use ccm_core::time::{plus_seconds, seconds_between, Timestamp};
use ccm_core::worker::{LifecycleState, Worker};
use ccm_sim::{SimConfig, SimEngine};

const TOPOLOGY: &str = "lab:\n  title: ccna-basics\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\n  - id: n2\n    label: sw\n    node_definition: iosvl2\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

struct Options {
    seed: u64,
    workers: usize,
    hours: i64,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        seed: 42,
        workers: 4,
        hours: 4,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag} {v}: {e}"));
        match flag.as_str() {
            "--seed" => options.seed = number(&value)?,
            "--workers" => options.workers = number(&value)?.clamp(1, 200) as usize,
            "--hours" => options.hours = number(&value)?.clamp(1, 72) as i64,
            other => {
                return Err(format!(
                    "unknown option {other} (use --seed, --workers, --hours)"
                ))
            }
        }
    }
    Ok(options)
}

fn clock_text(start: Timestamp, at: Timestamp) -> String {
    let s = seconds_between(start, at).max(0);
    format!("+{:02}:{:02}:{:02}", s / 3600, (s % 3600) / 60, s % 60)
}

/// One line per event worth telling a newcomer about; metrics chatter is summarised.
fn describe(event: &StoredEvent, names: &BTreeMap<String, String>) -> Option<String> {
    let who = names
        .get(&event.event.subject.id)
        .cloned()
        .unwrap_or_else(|| event.event.subject.id.chars().take(8).collect());
    Some(match &event.event.payload {
        EventPayload::WorkerCreatedV2 { .. } => format!("{who}: created"),
        EventPayload::WorkerInstanceAssigned {
            instance_id, ami, ..
        } => format!(
            "{who}: launched {instance_id} from {}",
            ami.as_ref()
                .and_then(|a| a.name.clone())
                .unwrap_or_else(|| "an AMI".into())
        ),
        EventPayload::WorkerStatusUpdated { from, to, .. } => {
            format!("{who}: {} → {}", from.as_str(), to.as_str())
        }
        EventPayload::WorkerCmlUpdated { cml } => format!(
            "{who}: CML {:?}{}",
            cml.state,
            cml.version
                .as_ref()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default()
        ),
        EventPayload::WorkerPaused { reason } => format!("{who}: paused ({reason:?})"),
        EventPayload::WorkerResumed { reason, .. } => format!("{who}: resumed ({reason:?})"),
        EventPayload::WorkerAlertRaised { metric, value, .. } => {
            format!("{who}: alert {metric:?} at {value:.0}%")
        }
        EventPayload::LabDiscoveredV2 {
            title, node_count, ..
        } => {
            format!("lab `{title}` found on a worker ({node_count} nodes)")
        }
        EventPayload::LabDiscovered { lab } => {
            format!(
                "lab `{}` found on a worker ({} nodes)",
                lab.title, lab.node_count
            )
        }
        EventPayload::LabOperationRecorded { operation, .. } => format!(
            "lab {} by {}",
            operation.action,
            operation.actor.as_deref().unwrap_or("someone")
        ),
        EventPayload::LabGone { .. } => "lab gone from CML".to_owned(),
        EventPayload::LabStateChanged { from, to, .. } => {
            format!("lab state {} → {}", from.as_cml(), to.as_cml())
        }
        _ => return None,
    })
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = SimConfig::default();
    // The example's AMI comes pre-registered, so workers run more than 5 nodes.
    config.cml.licensed_at_launch = true;
    let start = config.start;
    let SimEngine {
        sim,
        clock,
        store,
        fleet,
        runner,
    } = SimEngine::start(options.seed, config, FleetSettings::default()).await?;

    println!(
        "ccm simulated fleet — seed {}, {} workers, {} virtual hours\n",
        options.seed, options.workers, options.hours
    );
    let mut names = BTreeMap::new();
    let mut workers = Vec::new();
    for n in 0..options.workers {
        let name = format!("worker-{n:02}");
        let worker = fleet
            .create_worker(CreateWorker {
                name: name.clone(),
                region: Region::new(if n % 2 == 0 { "us-east-1" } else { "us-west-2" }),
                instance_type: None,
                labels: BTreeMap::new(),
                tags: BTreeMap::new(),
                idle_detection_disabled: n == 0,
                created_by: Some("example".into()),
                image: None,
            })
            .await?;
        names.insert(worker.id.to_string(), name);
        workers.push(worker.id);
    }

    // Boot the fleet, then run a lab on the first worker for an hour.
    fleet
        .run_until(&runner, None, &clock, plus_seconds(clock.now(), 35 * 60))
        .await?;
    let mut booted = Vec::new();
    for id in &workers {
        booted.push(fleet.get_worker(*id).await?);
    }
    booted.retain(|w| w.status.lifecycle == LifecycleState::Running);
    let placement_lines = placement_report(&fleet, &booted);
    let first = workers[0];
    let lab = fleet
        .import_lab(first, TOPOLOGY, Some("ccna-basics"), Some("example".into()))
        .await?;
    fleet
        .lab_action(
            first,
            &lab.cml_lab_id,
            LabAction::Start,
            WhenLabletsBound::Refuse,
            Some("example".into()),
        )
        .await?;
    fleet
        .run_until(&runner, None, &clock, plus_seconds(clock.now(), 3600))
        .await?;
    fleet
        .lab_action(
            first,
            &lab.cml_lab_id,
            LabAction::Delete,
            WhenLabletsBound::Refuse,
            Some("example".into()),
        )
        .await?;
    let end = plus_seconds(start, options.hours * 3600);
    if clock.now() < end {
        fleet.run_until(&runner, None, &clock, end).await?;
    }

    println!("timeline (virtual time since start):");
    let events = store.read_events(0, usize::MAX).await?;
    for event in &events {
        if let Some(line) = describe(event, &names) {
            println!("  {}  {line}", clock_text(start, event.event.occurred_at));
        }
    }
    // Metric samples go to the time series, not the log: only crossings show here.
    println!("  … {} events in the log in all\n", events.len());

    println!("fleet at the end:");
    for id in &workers {
        let w = fleet.get_worker(*id).await?;
        println!(
            "  {:<10} {:<10} {:<12} CML {:<11} paused {}×  idle detection {}",
            w.name(),
            w.region.as_str(),
            w.status.lifecycle.as_str(),
            format!("{:?}", w.status.cml.state),
            w.status.activity.pause_count,
            if w.spec.idle.enabled { "on" } else { "off" }
        );
    }
    let calls = sim.cloud_calls()?;
    println!("  AWS API calls made: {}\n", calls.total());
    for line in placement_lines {
        println!("{line}");
    }

    Ok(())
}

/// Where 60 four-node lablets would go on the running workers, pack vs spread.
fn placement_report(fleet: &Fleet, running: &[Worker]) -> Vec<String> {
    let candidates: Vec<WorkerCandidate> =
        running.iter().map(WorkerCandidate::from_worker).collect();
    let needs = ResourceNeeds {
        resources: Resources::new(4, 12, 20),
        nodes: 4,
        ports: 2,
    };
    let requests: Vec<PlacementRequest> = (0..60u128)
        .map(|n| PlacementRequest::new(LabletId::from_u128(n + 1), needs))
        .collect();
    let mut out = vec![format!(
        "placing 60 lablets (4 vCPU, 12 GiB, 4 nodes, 2 ports each) on the {} running workers:",
        candidates.len()
    )];
    for policy in [Policy::Pack, Policy::Spread] {
        let plan = placement::place(&candidates, &requests, policy);
        let reasons = plan
            .unplaced
            .first()
            .and_then(|u| u.summary().dominant())
            .map(|r| format!(", the rest refused for {}", r.as_str()))
            .unwrap_or_default();
        out.push(format!(
            "  {:<6} placed {:>2} on {} workers, {} unplaced{reasons}",
            policy.as_str(),
            plan.assignments.len(),
            plan.workers_used(),
            plan.unplaced.len(),
        ));
        if policy == Policy::Pack && !plan.unplaced.is_empty() {
            let pending = plan.unplaced.iter().map(|u| &requests[u.request_index]);
            let suggestion = placement::suggest_scale_up(
                pending,
                &fleet.settings().instance_types,
                &placement::NewWorkerProfile::default(),
            );
            for line in &suggestion.lines {
                out.push(format!(
                    "         scale-up would add {} × {} for {} lablets (${:.2}/h)",
                    line.workers, line.instance_type, line.lablets, line.hourly_usd
                ));
            }
        }
    }
    out
}

fn main() -> ExitCode {
    let options = match parse_options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("simulate_fleet: {message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("simulate_fleet: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simulate_fleet: {error}");
            ExitCode::FAILURE
        }
    }
}
