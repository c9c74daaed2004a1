//! `ccm.place`: the placement engine of ccm-core on plain Python objects, with the
//! GIL released while it works, and `native_place_seconds`, the same work timed
//! inside Rust so a bench can compare the two in one run.

use std::str::FromStr;
use std::time::Instant;

use ccm_core::placement::{
    self, NewWorkerProfile, PlacementRequest, Plan as CorePlan, Policy, PriceTable,
    ScaleUp as CoreScaleUp,
};
use pyo3::prelude::*;

use crate::error::BindingError;
use crate::placement_input::{read_price_table, read_requests, read_workers, IdList};
use crate::placement_output::Plan;

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
/// `cml_version`, `free_ports` (list of inclusive `(first, last)` pairs; by
/// default ccm-core's range, 2000–9999) and `busy_until` (when its last lablet
/// ends). Each request has `id`, `cpus`, `memory_gib`, `storage_gib`, `nodes`,
/// `ports` (how many) and optionally `licence`, `min_cml_version` and `ends_at`.
/// Times are timezone-aware `datetime`s or Unix seconds. `policy` is `"pack"`
/// (fewest workers), `"spread"` (most headroom) or `"lifetime"` (pack by end
/// time: a worker up anyway until the lablet ends, else the one lengthened least). `price_table` rows (`name`, `vcpus`, `memory_gib`,
/// `storage_gib`, `node_slots`, `hourly_usd`) replace the built-in bare-metal
/// prices for the scale-up suggestion. Ids are returned as given.
///
/// Each of `workers`, `requests` and `price_table` is rows (dicts or objects) or
/// columns: a mapping from these keys to equal-length lists, tuples or arrays.
/// Keys, columns and listable attributes outside these names are refused
/// (`InvalidInput` naming the key and the accepted ones). `plan.unplaced` is
/// built when first read.
#[pyfunction]
#[pyo3(signature = (workers, requests, policy = "pack", price_table = None))]
pub fn place(
    py: Python<'_>,
    workers: &Bound<'_, PyAny>,
    requests: &Bound<'_, PyAny>,
    policy: &str,
    price_table: Option<&Bound<'_, PyAny>>,
) -> Result<Py<Plan>, BindingError> {
    let policy = policy_of(policy)?;
    let table = match price_table {
        Some(rows) => read_price_table(rows)?,
        None => PriceTable::default(),
    };
    let workers = read_workers(workers)?;
    let mut requests = read_requests(requests)?;
    let (plan, scale_up) =
        py.detach(|| plan_and_scale_up(&workers.candidates, &requests.requests, policy, &table));
    let lablet_ids = std::mem::replace(&mut requests.ids, IdList::Objects(Vec::new()));
    Ok(Plan::build(
        py,
        policy.as_str(),
        plan,
        scale_up,
        workers.ids,
        lablet_ids,
    )?)
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
