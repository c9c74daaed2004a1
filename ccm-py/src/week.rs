//! `ccm.simulate_week`: the simulated week of `ccm_sim::week` from Python — a
//! seeded week (or fewer days) of training traffic run through the engine under
//! one policy, answered as the report's dict (worker-hours, cost, lateness, peak
//! workers, the lower bound and the workers-over-time series).

use ccm_sim::week::{run_week, Policy, WeekConfig};
use pyo3::prelude::*;

use crate::convert::to_python;
use crate::error::BindingError;

fn policy(name: &str) -> Result<Policy, BindingError> {
    Policy::ALL
        .into_iter()
        .find(|p| p.as_str() == name)
        .ok_or_else(|| {
            let known: Vec<&str> = Policy::ALL.iter().map(|p| p.as_str()).collect();
            BindingError::input("policy", format!("`{name}` is not one of {known:?}"))
        })
}

/// Runs the simulated week under ``policy`` (``"autoscaler"``,
/// ``"autoscaler-fixed-lead"``, ``"autoscaler-lifetime"``,
/// ``"autoscaler-warm-pool"``, ``"always-on"`` or ``"reactive"``) for ``days``
/// days of seed ``seed`` and returns its report as a dict. With
/// ``short_notice=True`` the traffic also books lablets 0–30 minutes ahead and
/// on demand, and cancels some (the report's ``short_notice`` says how many
/// were ready on time). The GIL is released while the engine runs (seconds for
/// a week).
#[pyfunction]
#[pyo3(signature = (policy="autoscaler", seed=7, days=7, short_notice=false))]
pub fn simulate_week<'py>(
    py: Python<'py>,
    policy: &str,
    seed: u64,
    days: u32,
    short_notice: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let policy = self::policy(policy)?;
    if !(1..=28).contains(&days) {
        return Err(BindingError::input("days", "must be between 1 and 28").into());
    }
    let base = if short_notice {
        WeekConfig::short_notice(seed)
    } else {
        WeekConfig::default()
    };
    let config = WeekConfig { seed, days, ..base };
    let report = py.detach(|| -> Result<serde_json::Value, BindingError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| BindingError::Unsupported(format!("cannot start a runtime: {e}")))?;
        let report = runtime
            .block_on(run_week(&config, policy))
            .map_err(|e| BindingError::Unsupported(e.to_string()))?;
        serde_json::to_value(report)
            .map_err(|e| BindingError::Unsupported(format!("report not serialisable: {e}")))
    })?;
    to_python(py, &report)
}
