//! The embedded engine behind `ccm.Engine`: assembled exactly as the server does
//! (`ccm-assembly`), on a virtual clock for `cloud="sim"` so that Python drives
//! the fleet's time with `advance`, or on the real clock for `cloud="aws"`.
//!
//! Each call converts its arguments while holding the GIL, then releases it and
//! blocks on the engine's own tokio runtime; so Python threads (and the asyncio
//! layer's executor) run calls in parallel.
//!
//! Use cases run in any process, as on the server. Driving the engine (`step`,
//! `advance`) takes part in the leader election first, under the same lease as
//! `ccm serve`: on a PostgreSQL database a server also uses, a Python engine
//! drives only while it holds the lease, with its fencing token on every write,
//! and otherwise refuses, naming the holder.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ccm_assembly::cloud::{cloud_parts_on, sim_config};
use ccm_assembly::config::CloudKind;
use ccm_assembly::engine::build_engine;
use ccm_assembly::settings::{fleet_settings, lease_settings};
use ccm_assembly::store::open_store;
use ccm_core::fleet::Fleet;
use ccm_core::ports::store::Fence;
use ccm_core::ports::{Clock, Store, VirtualClock};
use ccm_core::runtime::{JobRunner, LeaderElector, Leadership};
use ccm_core::time::{plus_seconds, Timestamp};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::convert::{to_json, to_python};
use crate::error::BindingError;
use crate::ops::{execute, Op};
use crate::settings::config_from;

/// Longest single `advance`, in seconds (a year): beyond it a typo, not a plan.
const MAX_ADVANCE_SECONDS: f64 = 366.0 * 86_400.0;

/// An engine opened from Python.
#[pyclass(frozen, module = "ccm._native")]
pub struct Engine {
    runtime: tokio::runtime::Runtime,
    fleet: Arc<Fleet>,
    jobs: Arc<JobRunner>,
    store: Arc<dyn Store>,
    /// The virtual clock of a simulated engine.
    clock: Option<VirtualClock>,
    regions: Vec<String>,
    /// The engine lease, shared with every `ccm serve` on the same store.
    elector: LeaderElector,
    /// Whether the last election step found this engine leading (a new lead
    /// picks up what the previous leader left, as the server's driver does).
    leading: AtomicBool,
    /// Keeps the simulated world alive as long as the engine.
    _sim: Option<ccm_sim::Simulation>,
}

impl Engine {
    pub(crate) fn fleet(&self) -> &Arc<Fleet> {
        &self.fleet
    }

    pub(crate) fn jobs(&self) -> &Arc<JobRunner> {
        &self.jobs
    }

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn regions(&self) -> &[String] {
        &self.regions
    }

    /// Moves the virtual clock `seconds` on, running every job and controller that
    /// comes due on the way (`Fleet::run_until`). Returns the new time.
    pub(crate) async fn advance(&self, seconds: f64) -> Result<Timestamp, BindingError> {
        let Some(clock) = &self.clock else {
            return Err(BindingError::Unsupported(
                "advance needs a simulated engine (cloud=\"sim\"); use step() on the real clock"
                    .into(),
            ));
        };
        if !seconds.is_finite() || !(0.0..=MAX_ADVANCE_SECONDS).contains(&seconds) {
            return Err(BindingError::input(
                "seconds",
                "must be between 0 and a year of seconds",
            ));
        }
        // Bounded just above, so the conversion cannot overflow.
        #[allow(clippy::cast_possible_truncation)]
        let whole = seconds.ceil() as i64;
        let until = plus_seconds(clock.now(), whole);
        let fence = self.lead().await?;
        self.fleet
            .run_until(&self.jobs, Some(&fence), clock, until)
            .await?;
        Ok(clock.now())
    }

    /// Runs what is due now once; returns when something is next due.
    pub(crate) async fn step(&self) -> Result<Option<Timestamp>, BindingError> {
        let fence = self.lead().await?;
        Ok(self.fleet.step(&self.jobs, Some(&fence)).await?)
    }

    /// Acquires or renews the engine lease; the fence to drive under, or
    /// [`BindingError::NotLeading`] naming the process that leads.
    async fn lead(&self) -> Result<Fence, BindingError> {
        match self.elector.step().await {
            Leadership::Leading { fence, .. } => {
                if !self.leading.swap(true, Ordering::SeqCst) {
                    self.fleet.take_over().await?;
                }
                Ok(fence)
            }
            Leadership::Following { holder } => {
                self.leading.store(false, Ordering::SeqCst);
                Err(BindingError::NotLeading {
                    lease: self.elector.settings().name.clone(),
                    holder,
                })
            }
        }
    }

    fn run(&self, py: Python<'_>, op: Op) -> Result<Value, BindingError> {
        py.detach(|| self.runtime.block_on(execute(self, op)))
    }
}

/// A dropped engine gives its lease up, so a server need not wait for it to run out.
impl Drop for Engine {
    fn drop(&mut self) {
        if self.leading.swap(false, Ordering::SeqCst) {
            self.runtime.block_on(self.elector.resign());
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, BindingError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ccm-engine")
        .enable_all()
        .build()
        .map_err(|e| BindingError::Unsupported(format!("cannot start the engine runtime: {e}")))
}

#[pymethods]
impl Engine {
    /// Opens the engine on `database_url` (`sqlite://path`, `sqlite::memory:`,
    /// `postgres://…` or `memory`) with `cloud` `"sim"` or `"aws"`; `settings` maps
    /// short names or dotted config paths to values (see `ccm.Engine.open`).
    /// `start` (RFC 3339) sets a simulated engine's clock; by default the
    /// simulator's fixed start, so runs repeat exactly.
    #[staticmethod]
    #[pyo3(signature = (database_url, cloud = "sim", settings = None, start = None))]
    fn open(
        py: Python<'_>,
        database_url: &str,
        cloud: &str,
        settings: Option<&Bound<'_, PyDict>>,
        start: Option<&Bound<'_, PyAny>>,
    ) -> Result<Engine, BindingError> {
        let settings = match settings {
            Some(dict) => match to_json(dict.as_any())? {
                Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
            None => serde_json::Map::new(),
        };
        let config = config_from(database_url, cloud, settings)?;
        let start: Option<Timestamp> = match start {
            Some(value) => Some(
                serde_json::from_value(to_json(value)?)
                    .map_err(|e| BindingError::input("start", e.to_string()))?,
            ),
            None => None,
        };
        let runtime = runtime()?;
        let simulated = config.cloud.provider == CloudKind::Sim;
        let virtual_clock =
            simulated.then(|| VirtualClock::new(start.unwrap_or(sim_config(&config).start)));
        let clock: Arc<dyn Clock> = match &virtual_clock {
            Some(clock) => Arc::new(clock.clone()),
            None => Arc::new(ccm_core::ports::SystemClock),
        };
        let lease = lease_settings(&config);
        let (store, parts, engine) = py.detach(|| {
            runtime.block_on(async {
                let opened = open_store(&config).await?;
                let store = opened.store;
                let parts = cloud_parts_on(&config, clock)?;
                let licence = config.cml.licence_token.clone();
                let settings = fleet_settings(&config);
                let engine = build_engine(
                    store.clone(),
                    opened.series,
                    opened.kv,
                    &parts,
                    settings,
                    licence,
                )
                .await?;
                Ok::<_, BindingError>((store, parts, engine))
            })
        })?;
        let elector = LeaderElector::new(
            store.clone(),
            parts.clock.clone(),
            format!("python-{}", ccm_assembly::engine::holder_name()),
            lease,
        );
        Ok(Engine {
            runtime,
            fleet: engine.fleet,
            jobs: engine.jobs,
            store,
            clock: virtual_clock,
            regions: config.cloud.regions.clone(),
            elector,
            leading: AtomicBool::new(false),
            _sim: parts.sim,
        })
    }

    /// True when the engine runs on the simulator's virtual clock.
    #[getter]
    fn simulated(&self) -> bool {
        self.clock.is_some()
    }

    /// Runs one use case: `request["op"]` names it, the other keys are its
    /// arguments. Returns the result's JSON shape as plain Python values.
    fn call<'py>(
        &self,
        py: Python<'py>,
        request: &Bound<'py, PyDict>,
    ) -> Result<Bound<'py, PyAny>, BindingError> {
        let request = to_json(request.as_any())?;
        let name = request
            .get("op")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let op: Op = serde_json::from_value(request)
            .map_err(|e| BindingError::input("arguments", format!("{name}: {e}")))?;
        let value = self.run(py, op)?;
        Ok(to_python(py, &value)?)
    }

    fn __repr__(&self) -> String {
        format!(
            "Engine(simulated={}, regions={:?})",
            self.clock.is_some(),
            self.regions
        )
    }
}
