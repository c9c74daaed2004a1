//! The naive first-fit scan, kept as a yardstick for benches and tests: it applies
//! exactly the engine's checks and request order, but looks at workers one by one.
//! Do not use it to place real batches: it costs O(workers) per request.

use super::fleet::FleetState;
use super::plan::{Assignment, Plan, Unplaced};
use super::request::PlacementRequest;
use super::shapes::Shapes;
use super::WorkerCandidate;

/// First fit decreasing: requests in the engine's decreasing-size order, each on the
/// first worker (in input order) that passes every check. Every unplaced request
/// gets its own rejection list, as a naive implementation would.
pub fn first_fit(workers: &[WorkerCandidate], requests: &[PlacementRequest]) -> Plan {
    let mut fleet = FleetState::new(workers);
    let shapes = Shapes::intern(requests, &fleet.scale());
    let mut plan = Plan {
        assignments: Vec::with_capacity(requests.len()),
        unplaced: Vec::new(),
    };
    for index in shapes.decreasing_order(requests) {
        let (Some(request), Some(&shape_id)) = (requests.get(index), shapes.of_request.get(index))
        else {
            continue;
        };
        let Some(info) = shapes.list.get(shape_id) else {
            continue;
        };
        let fit = (0..workers.len()).find(|&w| fleet.check(w, &info.shape, &info.need).is_none());
        match fit.and_then(|w| workers.get(w).map(|worker| (w, worker.id))) {
            Some((worker_index, worker)) => {
                let (_, ports) = fleet.take(worker_index, &info.need);
                plan.assignments.push(Assignment {
                    request_index: index,
                    lablet: request.lablet,
                    worker_index,
                    worker,
                    ports,
                });
            }
            None => {
                // No worker fits, so this cannot find one; it only lists reasons.
                if let Err(rejections) = fleet.reject(&info.shape, &info.need) {
                    plan.unplaced.push(Unplaced {
                        request_index: index,
                        lablet: request.lablet,
                        rejections,
                    });
                }
            }
        }
    }
    plan
}
