//! The plan as Python objects: `Plan`, `Assignment`, `Unplaced`, `ScaleUp` and
//! `ScaleUpLine`. Ids are the caller's own objects; an unplaced lablet's per-worker
//! reasons are shared with every other unplaced lablet of its shape (as in
//! ccm-core) and only turned into Python objects when asked for, and so are the
//! `Unplaced` objects themselves: `plan.unplaced` is built on first access (a
//! large batch that does not fit is mostly read through `scale_up`).

use std::sync::Arc;

use ccm_core::placement::{
    Plan as CorePlan, RejectReason, Rejections, ScaleUp as CoreScaleUp, Unplaced as CoreUnplaced,
};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};

use crate::placement_input::IdList;

/// The caller's id objects, shared by every output of one plan.
pub type Ids = Arc<IdList>;

fn id_of(ids: &Ids, index: usize, py: Python<'_>) -> Py<PyAny> {
    ids.get(py, index).unwrap_or_else(|| py.None())
}

fn repr_of(py: Python<'_>, object: &Py<PyAny>) -> String {
    object
        .bind(py)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn equal(py: Python<'_>, a: &Py<PyAny>, b: &Py<PyAny>) -> PyResult<bool> {
    a.bind(py).eq(b.bind(py))
}

/// A lablet placed on a worker, with the ports reserved for it.
#[pyclass(frozen, module = "ccm._native")]
pub struct Assignment {
    /// Position of the request in `requests`.
    #[pyo3(get)]
    pub request_index: usize,
    /// The request's `id`.
    #[pyo3(get)]
    pub lablet: Py<PyAny>,
    /// Position of the worker in `workers`.
    #[pyo3(get)]
    pub worker_index: usize,
    /// The worker's `id`.
    #[pyo3(get)]
    pub worker: Py<PyAny>,
    /// Ports reserved, ascending.
    #[pyo3(get)]
    pub ports: Vec<u16>,
}

#[pymethods]
impl Assignment {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Assignment(lablet={}, worker={}, ports={:?})",
            repr_of(py, &self.lablet),
            repr_of(py, &self.worker),
            self.ports
        )
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<Assignment>() else {
            return Ok(false);
        };
        let other = other.get();
        Ok(self.request_index == other.request_index
            && self.worker_index == other.worker_index
            && self.ports == other.ports
            && equal(py, &self.lablet, &other.lablet)?
            && equal(py, &self.worker, &other.worker)?)
    }

    /// The assignment as a plain dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("request_index", self.request_index)?;
        d.set_item("lablet", self.lablet.clone_ref(py))?;
        d.set_item("worker_index", self.worker_index)?;
        d.set_item("worker", self.worker.clone_ref(py))?;
        d.set_item("ports", self.ports.clone())?;
        Ok(d)
    }
}

/// A lablet no worker could take, and why.
#[pyclass(frozen, module = "ccm._native")]
pub struct Unplaced {
    /// Position of the request in `requests`.
    #[pyo3(get)]
    pub request_index: usize,
    /// The request's `id`.
    #[pyo3(get)]
    pub lablet: Py<PyAny>,
    /// Why each worker refused it.
    pub rejections: Arc<Rejections>,
    /// The workers' ids, to name them in `rejections`.
    pub worker_ids: Ids,
}

#[pymethods]
impl Unplaced {
    /// Workers per reason (`{"cpu": 3, "draining": 1}`), in check order.
    #[getter]
    fn reasons<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (reason, count) in self.rejections.summary().iter() {
            d.set_item(reason.as_str(), count)?;
        }
        Ok(d)
    }

    /// The reason most workers gave, or `None` when there were no workers.
    #[getter]
    fn dominant_reason(&self) -> Option<&'static str> {
        self.rejections
            .summary()
            .dominant()
            .map(RejectReason::as_str)
    }

    /// Every worker's reason as `(worker_id, reason)` pairs, in worker order.
    #[getter]
    fn rejections<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let pairs = self.rejections.by_worker().map(|r| {
            (
                id_of(&self.worker_ids, r.worker_index, py),
                r.reason.as_str(),
            )
        });
        PyList::new(py, pairs)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Unplaced(lablet={}, dominant_reason={})",
            repr_of(py, &self.lablet),
            self.dominant_reason().unwrap_or("None")
        )
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<Unplaced>() else {
            return Ok(false);
        };
        let other = other.get();
        Ok(self.request_index == other.request_index
            && equal(py, &self.lablet, &other.lablet)?
            && self.rejections.summary() == other.rejections.summary()
            && self
                .rejections
                .by_worker()
                .map(|r| r.reason)
                .eq(other.rejections.by_worker().map(|r| r.reason)))
    }

    /// The refusal as a plain dict (`rejections` included).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("request_index", self.request_index)?;
        d.set_item("lablet", self.lablet.clone_ref(py))?;
        d.set_item("dominant_reason", self.dominant_reason())?;
        d.set_item("reasons", self.reasons(py)?)?;
        d.set_item("rejections", self.rejections(py)?)?;
        Ok(d)
    }
}

/// New workers of one instance type.
#[pyclass(frozen, eq, module = "ccm._native")]
#[derive(Clone, PartialEq)]
pub struct ScaleUpLine {
    /// Instance type name.
    #[pyo3(get)]
    pub instance_type: String,
    /// Workers to launch.
    #[pyo3(get)]
    pub workers: u64,
    /// Lablets they would take.
    #[pyo3(get)]
    pub lablets: u64,
    /// Their combined hourly price, USD.
    #[pyo3(get)]
    pub hourly_usd: f64,
}

#[pymethods]
impl ScaleUpLine {
    fn __repr__(&self) -> String {
        format!(
            "ScaleUpLine(instance_type={:?}, workers={}, lablets={}, hourly_usd={})",
            self.instance_type, self.workers, self.lablets, self.hourly_usd
        )
    }

    /// The line as a plain dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("instance_type", &self.instance_type)?;
        d.set_item("workers", self.workers)?;
        d.set_item("lablets", self.lablets)?;
        d.set_item("hourly_usd", self.hourly_usd)?;
        Ok(d)
    }
}

/// What to launch for the lablets that did not fit.
#[pyclass(frozen, module = "ccm._native")]
pub struct ScaleUp {
    /// Workers to launch, by instance type.
    #[pyo3(get)]
    pub lines: Vec<ScaleUpLine>,
    /// Hourly price of all of them, USD.
    #[pyo3(get)]
    pub total_hourly_usd: f64,
    /// Ids of lablets no instance type could take even empty.
    #[pyo3(get)]
    pub unfittable: Py<PyList>,
}

#[pymethods]
impl ScaleUp {
    /// Workers to launch in total.
    #[getter]
    fn workers(&self) -> u64 {
        self.lines.iter().map(|l| l.workers).sum()
    }

    fn __repr__(&self) -> String {
        format!(
            "ScaleUp(workers={}, total_hourly_usd={}, lines={})",
            self.workers(),
            self.total_hourly_usd,
            self.lines.len()
        )
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<ScaleUp>() else {
            return Ok(false);
        };
        let other = other.get();
        Ok(self.lines == other.lines
            && self.total_hourly_usd == other.total_hourly_usd
            && self.unfittable.bind(py).eq(other.unfittable.bind(py))?)
    }

    /// The suggestion as a plain dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        let lines = self
            .lines
            .iter()
            .map(|l| l.to_dict(py))
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("lines", lines)?;
        d.set_item("total_hourly_usd", self.total_hourly_usd)?;
        d.set_item(
            "unfittable",
            PyList::new(py, self.unfittable.bind(py).iter())?,
        )?;
        Ok(d)
    }
}

/// The outcome of `ccm.place`: every request is in `assignments` or `unplaced`,
/// both in decision order (largest lablets first).
#[pyclass(frozen, module = "ccm._native")]
pub struct Plan {
    /// Placement policy used (`pack` or `spread`).
    #[pyo3(get)]
    pub policy: &'static str,
    /// Lablets placed.
    #[pyo3(get)]
    pub assignments: Py<PyList>,
    /// New workers that would take the unplaced lablets.
    #[pyo3(get)]
    pub scale_up: Py<ScaleUp>,
    /// How many workers the assignments use.
    pub workers_used: usize,
    /// What did not fit, as ccm-core said, until `unplaced` is first read.
    refused: Vec<CoreUnplaced>,
    worker_ids: Ids,
    lablet_ids: Ids,
    unplaced: PyOnceLock<Py<PyList>>,
}

#[pymethods]
impl Plan {
    /// Lablets left unplaced, with reasons (built on first access).
    #[getter]
    fn unplaced<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = self.unplaced.get_or_try_init(py, || {
            let pause = GcPause::start(py)?;
            let objects = self
                .refused
                .iter()
                .map(|u| {
                    let unplaced = Unplaced {
                        request_index: u.request_index,
                        lablet: id_of(&self.lablet_ids, u.request_index, py),
                        rejections: Arc::clone(&u.rejections),
                        worker_ids: Arc::clone(&self.worker_ids),
                    };
                    Bound::new(py, unplaced)
                })
                .collect::<PyResult<Vec<_>>>()?;
            let list = PyList::new(py, objects)?.unbind();
            pause.end()?;
            Ok::<_, PyErr>(list)
        })?;
        Ok(list.bind(py).clone())
    }

    /// True when every request was placed.
    fn is_complete(&self) -> bool {
        self.refused.is_empty()
    }

    /// Distinct workers that received at least one lablet.
    #[getter]
    fn workers_used(&self) -> usize {
        self.workers_used
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Plan(policy={:?}, assignments={}, unplaced={}, workers_used={})",
            self.policy,
            self.assignments.bind(py).len(),
            self.refused.len(),
            self.workers_used
        )
    }

    fn __eq__(&self, py: Python<'_>, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let Ok(other) = other.cast::<Plan>() else {
            return Ok(false);
        };
        let other = other.get();
        Ok(self.policy == other.policy
            && self.assignments.bind(py).eq(other.assignments.bind(py))?
            && self.unplaced(py)?.eq(other.unplaced(py)?)?
            && self.scale_up.bind(py).eq(other.scale_up.bind(py))?)
    }

    /// The plan as plain dicts and lists.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("policy", self.policy)?;
        let assignments = self
            .assignments
            .bind(py)
            .iter()
            .map(|a| a.call_method0("to_dict"))
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("assignments", assignments)?;
        let unplaced = self
            .unplaced(py)?
            .iter()
            .map(|u| u.call_method0("to_dict"))
            .collect::<PyResult<Vec<_>>>()?;
        d.set_item("unplaced", unplaced)?;
        d.set_item("scale_up", self.scale_up.get().to_dict(py)?)?;
        d.set_item("workers_used", self.workers_used)?;
        Ok(d)
    }
}

impl Plan {
    /// The plan's Python objects (but `unplaced`, built when first read), made
    /// with the cyclic garbage collector paused (see [`GcPause`]); ids are the
    /// caller's, by position.
    pub fn build(
        py: Python<'_>,
        policy: &'static str,
        plan: CorePlan,
        scale_up: CoreScaleUp,
        worker_ids: IdList,
        lablet_ids: IdList,
    ) -> PyResult<Py<Plan>> {
        let pause = GcPause::start(py)?;
        let worker_ids: Ids = Arc::new(worker_ids);
        let lablet_ids: Ids = Arc::new(lablet_ids);
        let workers_used = plan.workers_used();
        let assignments = plan
            .assignments
            .into_iter()
            .map(|a| {
                let assignment = Assignment {
                    request_index: a.request_index,
                    lablet: id_of(&lablet_ids, a.request_index, py),
                    worker_index: a.worker_index,
                    worker: id_of(&worker_ids, a.worker_index, py),
                    ports: a.ports,
                };
                Bound::new(py, assignment)
            })
            .collect::<PyResult<Vec<_>>>()?;
        // Unfittable lablets come back by positional id (`from_u128(index + 1)`).
        let unfittable = scale_up.unfittable.iter().map(|lablet| {
            let index = usize::try_from(lablet.0.as_u128().saturating_sub(1)).unwrap_or(usize::MAX);
            id_of(&lablet_ids, index, py)
        });
        let scale_up = ScaleUp {
            lines: scale_up
                .lines
                .into_iter()
                .map(|l| ScaleUpLine {
                    instance_type: l.instance_type,
                    workers: l.workers,
                    lablets: l.lablets,
                    hourly_usd: l.hourly_usd,
                })
                .collect(),
            total_hourly_usd: scale_up.total_hourly_usd,
            unfittable: PyList::new(py, unfittable)?.unbind(),
        };
        let plan = Plan {
            policy,
            workers_used,
            assignments: PyList::new(py, assignments)?.unbind(),
            scale_up: Py::new(py, scale_up)?,
            refused: plan.unplaced,
            worker_ids,
            lablet_ids,
            unplaced: PyOnceLock::new(),
        };
        // Made while paused too: the collector looks at the new objects at its
        // next run, after the call.
        let plan = Py::new(py, plan)?;
        pause.end()?;
        Ok(plan)
    }
}

/// Python's cyclic garbage collector, paused while a plan's objects are built.
///
/// Every pyo3 object is tracked by the collector, and a plan of 100k lablets
/// makes 100k of them: each 700 allocations start a collection, and the growth
/// soon starts full ones that walk every object of the process (the caller's
/// inputs included) — a third of the call's time. Nothing else runs meanwhile
/// (the GIL is held, no Python code is called), and the collector runs as usual
/// once resumed. Resumed on drop as well, should building fail.
struct GcPause<'py> {
    /// The `gc` module when this pause disabled it (it was enabled).
    gc: Option<Bound<'py, PyModule>>,
}

impl<'py> GcPause<'py> {
    fn start(py: Python<'py>) -> PyResult<Self> {
        let gc = py.import(intern!(py, "gc"))?;
        if !gc.call_method0(intern!(py, "isenabled"))?.is_truthy()? {
            return Ok(Self { gc: None });
        }
        gc.call_method0(intern!(py, "disable"))?;
        Ok(Self { gc: Some(gc) })
    }

    fn end(mut self) -> PyResult<()> {
        match self.gc.take() {
            Some(gc) => gc.call_method0(intern!(gc.py(), "enable")).map(drop),
            None => Ok(()),
        }
    }
}

impl Drop for GcPause<'_> {
    fn drop(&mut self) {
        if let Some(gc) = self.gc.take() {
            // Only reached when building failed; that error is the one to report.
            if let Err(error) = gc.call_method0(intern!(gc.py(), "enable")) {
                error.write_unraisable(gc.py(), None);
            }
        }
    }
}
