//! Placement in waves of start time: lablets starting sooner are placed first, and
//! each wave sees the capacity the previous ones took. The scheduler binds by it
//! and the autoscaler sizes the fleet by it, so both agree on what fits.

use std::collections::BTreeMap;

use super::settings::FleetSettings;
use crate::worker::{DesiredStatus, LifecycleState, Worker};

use crate::placement::{place, Assignment, PlacementRequest, Policy, WorkerCandidate};
use crate::resources::PortRange;
use crate::time::Timestamp;

/// A worker that is or will soon be able to take lablets.
pub(crate) fn is_coming(worker: &Worker) -> bool {
    worker.spec.desired_status == DesiredStatus::Running
        && matches!(
            worker.status.lifecycle,
            LifecycleState::Pending
                | LifecycleState::Provisioning
                | LifecycleState::Running
                | LifecycleState::Stopped
                | LifecycleState::Stopping
                | LifecycleState::Unknown
        )
}

/// A candidate for the future: a booting worker counted as if it were ready, with
/// the profile new workers get where nothing was observed yet.
pub(crate) fn future_candidate(worker: &Worker, settings: &FleetSettings) -> WorkerCandidate {
    let mut candidate = WorkerCandidate::from_worker(worker);
    if is_coming(worker) && !worker.can_host_labs() {
        let profile = &settings.autoscaler.new_worker_profile;
        candidate.running = true;
        candidate.cml_available = true;
        if candidate.licence.is_none() {
            candidate.licence = profile.licence;
        }
        if candidate.cml_version.is_none() {
            candidate.cml_version = profile.cml_version;
        }
        if let Some(limit) = profile.node_limit {
            let used = worker.status.capacity.allocated_nodes();
            let cap = worker.status.capacity.node_slots.min(limit);
            candidate.free_nodes = cap.saturating_sub(used);
        } else if worker.status.licence.node_limit.is_none() {
            let c = &worker.status.capacity;
            candidate.free_nodes = c.node_slots.saturating_sub(c.allocated_nodes());
        }
    }
    candidate
}

/// How the scheduler sees a worker: as it is when it can host labs now; as it will
/// be when it is booting and was observed before (its licence and version are
/// known, so a reservation on it is exact); otherwise as it is, with the reasons
/// placement gives for refusing it.
pub(crate) fn scheduling_candidate(worker: &Worker, settings: &FleetSettings) -> WorkerCandidate {
    let observed_before = worker.status.metrics.cml.observed_at.is_some();
    if !worker.can_host_labs() && is_coming(worker) && observed_before && !worker.spec.draining {
        future_candidate(worker, settings)
    } else {
        WorkerCandidate::from_worker(worker)
    }
}

/// Every worker as the scheduler sees it ([`scheduling_candidate`]); the
/// placement preview uses the same list, so it answers what the scheduler does.
pub(crate) fn scheduling_candidates(
    workers: &[Worker],
    settings: &FleetSettings,
) -> Vec<WorkerCandidate> {
    workers
        .iter()
        .map(|w| scheduling_candidate(w, settings))
        .collect()
}

/// The outcome of [`place_in_waves`]; indices refer to the request slice.
#[derive(Debug, Default)]
pub(crate) struct WavePlan {
    /// Assignments, with `request_index` rewritten to the caller's slice.
    pub assignments: Vec<Assignment>,
    /// Unplaced requests and the dominant reason.
    pub unplaced: Vec<(usize, String)>,
}

fn remove_ports(ranges: &[PortRange], taken: &[u16]) -> Vec<PortRange> {
    let mut out = Vec::new();
    for range in ranges {
        let mut next = u32::from(range.first);
        let last = u32::from(range.last);
        let mut inside: Vec<u32> = taken
            .iter()
            .map(|p| u32::from(*p))
            .filter(|p| *p >= next && *p <= last)
            .collect();
        inside.sort_unstable();
        for port in inside {
            if port > next {
                out.push(to_range(next, port - 1));
            }
            next = port + 1;
        }
        if next <= last {
            out.push(to_range(next, last));
        }
    }
    out
}

// Both bounds derive from u16 ports, so they always fit.
fn to_range(first: u32, last: u32) -> PortRange {
    PortRange {
        first: u16::try_from(first).unwrap_or(u16::MAX),
        last: u16::try_from(last).unwrap_or(u16::MAX),
    }
}

/// Places `requests` (each starting at `starts[i]`) on `candidates`, soonest
/// start first.
pub(crate) fn place_in_waves(
    mut candidates: Vec<WorkerCandidate>,
    requests: &[PlacementRequest],
    starts: &[Timestamp],
    policy: Policy,
) -> WavePlan {
    let mut waves: BTreeMap<Timestamp, Vec<usize>> = BTreeMap::new();
    for (index, start) in starts.iter().enumerate().take(requests.len()) {
        waves.entry(*start).or_default().push(index);
    }
    let mut out = WavePlan::default();
    for indices in waves.into_values() {
        let wave: Vec<PlacementRequest> = indices.iter().map(|i| requests[*i].clone()).collect();
        let plan = place(&candidates, &wave, policy);
        for mut assignment in plan.assignments {
            let needs = wave[assignment.request_index].needs;
            if let Some(worker) = candidates.get_mut(assignment.worker_index) {
                worker.free = worker.free.saturating_sub(&needs.resources);
                worker.free_nodes = worker.free_nodes.saturating_sub(needs.nodes);
                worker.free_ports = remove_ports(&worker.free_ports, &assignment.ports);
                // The next waves see the worker busy until this lablet ends too.
                let ends_at = wave[assignment.request_index].ends_at;
                worker.busy_until = worker.busy_until.max(ends_at);
            }
            assignment.request_index = indices[assignment.request_index];
            out.assignments.push(assignment);
        }
        for unplaced in plan.unplaced {
            let reason = unplaced.rejections.explain(&candidates);
            out.unplaced.push((indices[unplaced.request_index], reason));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::ResourceNeeds;
    use crate::ids::{LabletId, WorkerId};
    use crate::resources::Resources;
    use crate::time::{epoch, plus_seconds};

    #[test]
    fn a_later_big_lablet_never_takes_the_room_of_an_earlier_small_one() {
        let worker = WorkerCandidate::new(WorkerId::from_u128(1), Resources::new(8, 32, 100), 100);
        let small = PlacementRequest::new(
            LabletId::from_u128(1),
            ResourceNeeds {
                resources: Resources::new(4, 8, 10),
                nodes: 2,
                ports: 1,
            },
        );
        let big = PlacementRequest::new(
            LabletId::from_u128(2),
            ResourceNeeds {
                resources: Resources::new(8, 8, 10),
                nodes: 2,
                ports: 1,
            },
        );
        let requests = vec![small, big];
        let starts = vec![epoch(), plus_seconds(epoch(), 900)];
        let plan = place_in_waves(vec![worker.clone()], &requests, &starts, Policy::Pack);
        assert_eq!(plan.assignments.len(), 1);
        assert_eq!(plan.assignments[0].lablet, LabletId::from_u128(1));
        assert_eq!(plan.unplaced, vec![(1, "cpu".to_owned())]);
        // One batch would have packed the bigger one first.
        let batch = place(&[worker], &requests, Policy::Pack);
        assert_eq!(batch.assignments[0].lablet, LabletId::from_u128(2));
    }

    #[test]
    fn ports_taken_in_one_wave_are_gone_for_the_next() {
        let ranges = vec![PortRange {
            first: 2000,
            last: 2005,
        }];
        assert_eq!(
            remove_ports(&ranges, &[2000, 2003]),
            vec![
                PortRange {
                    first: 2001,
                    last: 2002
                },
                PortRange {
                    first: 2004,
                    last: 2005
                }
            ]
        );
        assert!(remove_ports(&[PortRange { first: 5, last: 5 }], &[5]).is_empty());
    }
}
