//! `ccm.place`: the placement engine of ccm-core on plain Python objects, with the
//! GIL released while it works, and `native_place_seconds`, the same work timed
//! inside Rust so a bench can compare the two in one run.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use ccm_core::placement::{
    self, NewWorkerProfile, PlacementRequest, Plan as CorePlan, Policy, PriceTable,
    ScaleUp as CoreScaleUp,
};
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::error::BindingError;
use crate::placement_input::{read_price_table, read_requests, read_workers};
use crate::placement_output::{Assignment, Ids, Plan, ScaleUp, ScaleUpLine, Unplaced};

fn policy_of(text: &str) -> Result<Policy, BindingError> {
    Ok(Policy::from_str(text)?)
}

/// The plan and the scale-up suggestion for what did not fit: the pure Rust part.
fn plan_and_scale_up(
    workers: &[ccm_core::placement::WorkerCandidate],
    requests: &[PlacementRequest],
    policy: Policy,
    table: &PriceTable,
) -> (CorePlan, CoreScaleUp) {
    let plan = placement::place(workers, requests, policy);
    let left = plan
        .unplaced
        .iter()
        .filter_map(|u| requests.get(u.request_index));
    let scale_up = placement::suggest_scale_up(left, table, &NewWorkerProfile::default());
    (plan, scale_up)
}

/// Places lablet `requests` on `workers`.
///
/// Each worker is a dict or object with `id`, free `cpus` (vCPU), `memory_gib`,
/// `storage_gib`, free `nodes` (no limit when absent), and optionally `running`,
/// `cml_available`, `draining` (eligibility, default eligible), `licence`,
/// `cml_version` and `free_ports` (list of inclusive `(first, last)` pairs; by
/// default ccm-core's range, 2000–9999). Each request has `id`,
/// `cpus`, `memory_gib`, `storage_gib`, `nodes`, `ports` (how many) and optionally
/// `licence` and `min_cml_version`. `policy` is `"pack"` (fewest workers) or
/// `"spread"` (most headroom). `price_table` rows (`name`, `vcpus`, `memory_gib`,
/// `storage_gib`, `node_slots`, `hourly_usd`) replace the built-in bare-metal
/// prices for the scale-up suggestion. Ids are returned as given.
#[pyfunction]
#[pyo3(signature = (workers, requests, policy = "pack", price_table = None))]
pub fn place(
    py: Python<'_>,
    workers: &Bound<'_, PyAny>,
    requests: &Bound<'_, PyAny>,
    policy: &str,
    price_table: Option<&Bound<'_, PyAny>>,
) -> Result<Plan, BindingError> {
    let policy = policy_of(policy)?;
    let table = match price_table {
        Some(rows) => read_price_table(rows)?,
        None => PriceTable::default(),
    };
    let workers = read_workers(workers)?;
    let requests = read_requests(requests)?;
    let (plan, scale_up) =
        py.detach(|| plan_and_scale_up(&workers.candidates, &requests.requests, policy, &table));
    let worker_ids: Ids = Arc::new(workers.ids);
    let lablet_ids: Ids = Arc::new(requests.ids);
    let id = |ids: &Ids, index: usize| {
        ids.get(index)
            .map(|id| id.clone_ref(py))
            .unwrap_or_else(|| py.None())
    };
    let assignments = PyList::empty(py);
    for a in &plan.assignments {
        let object = Assignment {
            request_index: a.request_index,
            lablet: id(&lablet_ids, a.request_index),
            worker_index: a.worker_index,
            worker: id(&worker_ids, a.worker_index),
            ports: a.ports.clone(),
        };
        assignments.append(Bound::new(py, object)?)?;
    }
    let unplaced = PyList::empty(py);
    for u in &plan.unplaced {
        let object = Unplaced {
            request_index: u.request_index,
            lablet: id(&lablet_ids, u.request_index),
            rejections: Arc::clone(&u.rejections),
            worker_ids: Arc::clone(&worker_ids),
        };
        unplaced.append(Bound::new(py, object)?)?;
    }
    // Unfittable lablets come back by positional id (`from_u128(index + 1)`).
    let unfittable = PyList::empty(py);
    for lablet in &scale_up.unfittable {
        let index = usize::try_from(lablet.0.as_u128().saturating_sub(1)).unwrap_or(usize::MAX);
        unfittable.append(id(&lablet_ids, index))?;
    }
    let scale_up = ScaleUp {
        lines: scale_up
            .lines
            .iter()
            .map(|l| ScaleUpLine {
                instance_type: l.instance_type.clone(),
                workers: l.workers,
                lablets: l.lablets,
                hourly_usd: l.hourly_usd,
            })
            .collect(),
        total_hourly_usd: scale_up.total_hourly_usd,
        unfittable: unfittable.unbind(),
    };
    Ok(Plan {
        policy: policy.as_str(),
        workers_used: plan.workers_used(),
        assignments: assignments.unbind(),
        unplaced: unplaced.unbind(),
        scale_up: Py::new(py, scale_up)?,
    })
}

/// Seconds the Rust side of `place` takes on these inputs (placement and scale-up,
/// no conversion), the best of `repeat` runs: the yardstick for the Python bench.
#[pyfunction]
#[pyo3(signature = (workers, requests, policy = "pack", repeat = 1))]
pub fn native_place_seconds(
    py: Python<'_>,
    workers: &Bound<'_, PyAny>,
    requests: &Bound<'_, PyAny>,
    policy: &str,
    repeat: usize,
) -> Result<f64, BindingError> {
    let policy = policy_of(policy)?;
    let workers = read_workers(workers)?;
    let requests = read_requests(requests)?;
    let table = PriceTable::default();
    Ok(py.detach(|| {
        (0..repeat.max(1))
            .map(|_| {
                let started = Instant::now();
                let result =
                    plan_and_scale_up(&workers.candidates, &requests.requests, policy, &table);
                let seconds = started.elapsed().as_secs_f64();
                drop(std::hint::black_box(result));
                seconds
            })
            .fold(f64::INFINITY, f64::min)
    }))
}
