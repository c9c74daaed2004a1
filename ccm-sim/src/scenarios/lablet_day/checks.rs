//! What must hold after the day, read back from the store's event log and the
//! simulated world, and what the day cost against the packing lower bound.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use ccm_core::definition::{LabletDefinition, ResourceNeeds};
use ccm_core::event::{EventPayload, StoredEvent};
use ccm_core::ids::LabletId;
use ccm_core::lablet::{Lablet, LabletPhase};
use ccm_core::placement::lower_bound;
use ccm_core::ports::cloud::{InstanceState, WORKER_ID_TAG};
use ccm_core::ports::store::{LabletFilter, WorkerFilter};
use ccm_core::ports::{Clock, Store};
use ccm_core::resources::Resources;
use ccm_core::time::Timestamp;
use ccm_core::worker::{LifecycleState, Worker};

use super::setup::World;
use super::DayError;

/// Events read per page while replaying the log.
const EVENT_PAGE: usize = 5_000;
/// The prefix of a lablet's lab title in CML (the engine finds its lab by it).
const LABLET_LAB_TITLE: &str = "ccm-lablet-";

/// One thing that went wrong during the day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// The store holds another number of lablets than were booked.
    LabletCount {
        /// Booked.
        booked: usize,
        /// In the store at the end.
        stored: usize,
    },
    /// A lablet never became ready.
    NeverReady {
        /// The lablet.
        lablet: String,
        /// Its phase at the end.
        phase: LabletPhase,
        /// Its last error.
        error: Option<String>,
    },
    /// A lablet became ready after its timeslot started.
    ReadyLate {
        /// The lablet.
        lablet: String,
        /// How late.
        seconds: i64,
    },
    /// A lablet did not end terminated.
    NotTerminated {
        /// The lablet.
        lablet: String,
        /// Its phase at the end.
        phase: LabletPhase,
    },
    /// A lablet ended with finalizers (cleanup not done).
    FinalizersLeft {
        /// The lablet.
        lablet: String,
    },
    /// An allocation put a worker over its declared capacity.
    OverCommitted {
        /// The worker.
        worker: String,
        /// The event that did it.
        sequence: u64,
    },
    /// An instance still runs at the end of the day.
    InstanceRunning {
        /// The instance.
        instance: String,
    },
    /// Labs are left on an instance at the end of the day.
    LabsLeft {
        /// The instance.
        instance: String,
        /// Their titles.
        titles: Vec<String>,
    },
    /// A worker has more than one instance that is not terminated.
    TwoInstances {
        /// The worker.
        worker: String,
        /// Its instances.
        count: usize,
    },
    /// A worker still holds capacity for lablets at the end.
    CapacityHeld {
        /// The worker.
        worker: String,
    },
    /// A worker still runs at the end.
    WorkerRunning {
        /// The worker.
        worker: String,
    },
    /// Two labs for one lablet existed at the same time.
    TwoLabs {
        /// Their title.
        title: String,
        /// When they were seen.
        at: Timestamp,
    },
    /// More or fewer labs were imported into CML than lablets were booked.
    Imports {
        /// Lablets booked (one import each).
        expected: usize,
        /// Imports CML served.
        made: u64,
    },
    /// The day crashed another number of times than planned.
    CrashesMissed {
        /// Planned.
        planned: usize,
        /// Happened.
        happened: usize,
    },
    /// Every planned crash fell between two steps: the day did not test a crash
    /// inside one.
    NoCrashInsideAStep,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LabletCount { booked, stored } => {
                write!(f, "{booked} lablets booked but {stored} in the store")
            }
            Self::NeverReady {
                lablet,
                phase,
                error,
            } => write!(
                f,
                "lablet {lablet} never ready; phase {phase:?}, error {error:?}"
            ),
            Self::ReadyLate { lablet, seconds } => {
                write!(f, "lablet {lablet} ready {seconds} s after its start")
            }
            Self::NotTerminated { lablet, phase } => {
                write!(f, "lablet {lablet} ended {phase:?}, not Terminated")
            }
            Self::FinalizersLeft { lablet } => write!(f, "lablet {lablet} kept its finalizers"),
            Self::OverCommitted { worker, sequence } => {
                write!(f, "event {sequence} over-committed worker {worker}")
            }
            Self::InstanceRunning { instance } => write!(f, "instance {instance} still running"),
            Self::LabsLeft { instance, titles } => write!(f, "labs left on {instance}: {titles:?}"),
            Self::TwoInstances { worker, count } => {
                write!(f, "worker {worker} has {count} live instances")
            }
            Self::CapacityHeld { worker } => write!(f, "capacity still held on {worker}"),
            Self::WorkerRunning { worker } => write!(f, "worker {worker} still running"),
            Self::TwoLabs { title, at } => write!(f, "two labs titled {title} at {at}"),
            Self::Imports { expected, made } => {
                write!(f, "{made} lab imports for {expected} lablets")
            }
            Self::CrashesMissed { planned, happened } => {
                write!(f, "{happened} crashes happened of {planned} planned")
            }
            Self::NoCrashInsideAStep => f.write_str("no planned crash struck inside a step"),
        }
    }
}

/// What the checks found and what the fleet cost.
pub(super) struct Verdict {
    pub(super) violations: Vec<Violation>,
    /// Workers the fleet had (the stopped ones and those the autoscaler added).
    pub(super) workers: usize,
    pub(super) worker_hours: f64,
    pub(super) lower_bound_hours: f64,
}

/// Two labs of one lablet on the simulated servers now (the engine finds a
/// lablet's lab by its title, so a second one is a double import).
pub(super) fn labs_seen_twice(world: &World) -> Result<Vec<Violation>, DayError> {
    let mut seen = BTreeSet::new();
    let mut twice = Vec::new();
    for instance in world.sim.instances(&world.region())? {
        for lab in world.sim.labs(&instance.instance_id)? {
            if lab.title.starts_with(LABLET_LAB_TITLE) && !seen.insert(lab.title.clone()) {
                twice.push(Violation::TwoLabs {
                    title: lab.title,
                    at: world.clock.now(),
                });
            }
        }
    }
    Ok(twice)
}

/// The whole log, page by page.
async fn read_log(store: &dyn Store) -> Result<Vec<StoredEvent>, DayError> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &StoredEvent| e.sequence);
        let page = store.read_events(after, EVENT_PAGE).await?;
        let full = page.len() == EVENT_PAGE;
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}

pub(super) async fn check_day(
    world: &World,
    store: &dyn Store,
    definitions: &[LabletDefinition],
    booked: &[LabletId],
) -> Result<Verdict, DayError> {
    let events = read_log(store).await?;
    let lablets = store.list_lablets(&LabletFilter::default()).await?;
    let workers = store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await?;
    let mut violations = Vec::new();
    if lablets.len() != booked.len() {
        violations.push(Violation::LabletCount {
            booked: booked.len(),
            stored: lablets.len(),
        });
    }
    violations.extend(lablet_violations(&events, &lablets));
    violations.extend(capacity_violations(&events, &workers));
    violations.extend(world_violations(world, &workers)?);
    let made = world.sim.cml_calls()?.get("import_lab");
    if made != booked.len() as u64 {
        violations.push(Violation::Imports {
            expected: booked.len(),
            made,
        });
    }
    let (worker_hours, lower_bound_hours) = hours(&events, &lablets, &workers, definitions);
    Ok(Verdict {
        violations,
        workers: workers.len(),
        worker_hours,
        lower_bound_hours,
    })
}

/// Every lablet was ready before its start (the phase history says when) and
/// ended terminated and cleaned up.
fn lablet_violations(events: &[StoredEvent], lablets: &[Lablet]) -> Vec<Violation> {
    let mut ready_at: BTreeMap<&str, Timestamp> = BTreeMap::new();
    for e in events {
        if let EventPayload::LabletPhaseChanged {
            to: LabletPhase::Ready,
            ..
        } = e.event.payload
        {
            ready_at
                .entry(e.event.subject.id.as_str())
                .or_insert(e.event.occurred_at);
        }
    }
    let mut violations = Vec::new();
    for lablet in lablets {
        let id = lablet.id.to_string();
        match ready_at.get(id.as_str()) {
            None => violations.push(Violation::NeverReady {
                lablet: id.clone(),
                phase: lablet.status.phase,
                error: lablet.status.last_error.clone(),
            }),
            Some(ready) if *ready > lablet.spec.timeslot.start => {
                violations.push(Violation::ReadyLate {
                    lablet: id.clone(),
                    seconds: (*ready - lablet.spec.timeslot.start).num_seconds(),
                });
            }
            Some(_) => {}
        }
        if lablet.status.phase != LabletPhase::Terminated {
            violations.push(Violation::NotTerminated {
                lablet: id.clone(),
                phase: lablet.status.phase,
            });
        }
        if !lablet.meta.finalizers.is_empty() {
            violations.push(Violation::FinalizersLeft { lablet: id });
        }
    }
    violations
}

/// Nothing was ever placed over capacity: every allocation replayed in order.
fn capacity_violations(events: &[StoredEvent], workers: &[Worker]) -> Vec<Violation> {
    let declared: BTreeMap<String, Resources> = workers
        .iter()
        .map(|w| (w.id.to_string(), w.status.capacity.declared))
        .collect();
    let mut held: BTreeMap<&str, BTreeMap<String, Resources>> = BTreeMap::new();
    let mut violations = Vec::new();
    for e in events {
        let worker = e.event.subject.id.as_str();
        match &e.event.payload {
            EventPayload::WorkerCapacityAllocated { lablet, allocation } => {
                let on = held.entry(worker).or_default();
                on.insert(lablet.to_string(), allocation.resources);
                let total = on.values().fold(Resources::ZERO, |a, r| a + *r);
                if !declared
                    .get(worker)
                    .is_some_and(|capacity| total.fits_within(capacity))
                {
                    violations.push(Violation::OverCommitted {
                        worker: worker.to_owned(),
                        sequence: e.sequence,
                    });
                }
            }
            EventPayload::WorkerCapacityReleased { lablet } => {
                held.entry(worker).or_default().remove(&lablet.to_string());
            }
            _ => {}
        }
    }
    violations
}

/// No lab and no running instance is left, each worker has at most one live
/// instance, and no worker runs or holds capacity.
fn world_violations(world: &World, workers: &[Worker]) -> Result<Vec<Violation>, DayError> {
    let mut violations = Vec::new();
    let mut live_per_worker: BTreeMap<String, usize> = BTreeMap::new();
    for instance in world.sim.instances(&world.region())? {
        let id = instance.instance_id.to_string();
        if instance.state == InstanceState::Running {
            violations.push(Violation::InstanceRunning {
                instance: id.clone(),
            });
        }
        let labs = world.sim.labs(&instance.instance_id)?;
        if !labs.is_empty() {
            violations.push(Violation::LabsLeft {
                instance: id,
                titles: labs.into_iter().map(|l| l.title).collect(),
            });
        }
        if let Some(worker) = instance.tags.get(WORKER_ID_TAG) {
            if instance.state != InstanceState::Terminated {
                *live_per_worker.entry(worker.clone()).or_default() += 1;
            }
        }
    }
    for (worker, count) in live_per_worker {
        if count > 1 {
            violations.push(Violation::TwoInstances { worker, count });
        }
    }
    for w in workers {
        if !w.status.capacity.allocations.is_empty() {
            violations.push(Violation::CapacityHeld {
                worker: w.name().to_owned(),
            });
        }
        if w.status.lifecycle == LifecycleState::Running {
            violations.push(Violation::WorkerRunning {
                worker: w.name().to_owned(),
            });
        }
    }
    Ok(violations)
}

/// Worker-hours from the lifecycle history, and the hours no packing can beat:
/// the lablets' resource-seconds over one worker's capacity.
fn hours(
    events: &[StoredEvent],
    lablets: &[Lablet],
    workers: &[Worker],
    definitions: &[LabletDefinition],
) -> (f64, f64) {
    let mut running_since: BTreeMap<&str, Timestamp> = BTreeMap::new();
    let mut seconds = 0i64;
    for e in events {
        if let EventPayload::WorkerStatusUpdated { from, to, .. } = &e.event.payload {
            let id = e.event.subject.id.as_str();
            if to.bills_compute() && !from.bills_compute() {
                running_since.insert(id, e.event.occurred_at);
            } else if !to.bills_compute() && from.bills_compute() {
                if let Some(since) = running_since.remove(id) {
                    seconds += (e.event.occurred_at - since).num_seconds();
                }
            }
        }
    }
    let needs: BTreeMap<_, _> = definitions.iter().map(|d| (d.id, d.needs)).collect();
    let mut demand_seconds = Resources::ZERO;
    for l in lablets {
        let secs = u64::try_from(l.spec.timeslot.duration_seconds()).unwrap_or(0);
        let Some(needs) = needs.get(&l.spec.definition_id) else {
            continue;
        };
        let r = needs.resources;
        demand_seconds += Resources {
            cpu_millis: r.cpu_millis * secs,
            memory_mib: r.memory_mib * secs,
            storage_gib: r.storage_gib * secs,
        };
    }
    let Some(capacity) = workers.first().map(|w| w.status.capacity.declared) else {
        return (0.0, 0.0);
    };
    let demand = ResourceNeeds {
        resources: demand_seconds,
        nodes: 0,
        ports: 0,
    };
    let per_worker = ResourceNeeds {
        resources: capacity,
        nodes: u32::MAX,
        ports: u32::MAX,
    };
    let bound = lower_bound(std::iter::once(&demand), &per_worker).unwrap_or(0) as f64;
    (seconds as f64 / 3600.0, bound / 3600.0)
}
