//! Reading placement inputs from Python: each worker and request is a dict or any
//! object with attributes (a dataclass, a named tuple, an ORM row). Ids are opaque
//! Python objects kept aside; the engine sees positional ids, and the plan hands the
//! caller's own id objects back.

use std::str::FromStr;

use ccm_core::definition::ResourceNeeds;
use ccm_core::ids::{LabletId, WorkerId};
use ccm_core::placement::{InstanceType, PlacementRequest, PriceTable, WorkerCandidate};
use ccm_core::resources::{PortRange, Resources};
use ccm_core::version::SemVer;
use ccm_core::worker::LicenceKind;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

use crate::error::BindingError;

/// Workers as placement sees them, with the caller's ids in the same order.
pub struct WorkerInputs {
    /// Candidates; candidate `i` has id `WorkerId::from_u128(i + 1)`.
    pub candidates: Vec<WorkerCandidate>,
    /// The caller's id objects.
    pub ids: Vec<Py<PyAny>>,
}

/// Requests as placement sees them, with the caller's ids in the same order.
pub struct RequestInputs {
    /// Requests; request `i` has id `LabletId::from_u128(i + 1)`.
    pub requests: Vec<PlacementRequest>,
    /// The caller's id objects.
    pub ids: Vec<Py<PyAny>>,
}

/// The keys a worker may carry.
const WORKER_KEYS: &[&str] = &[
    "id",
    "cpus",
    "cpu_millis",
    "memory_gib",
    "memory_mib",
    "storage_gib",
    "nodes",
    "running",
    "cml_available",
    "draining",
    "licence",
    "cml_version",
    "free_ports",
];

/// The keys a request may carry.
const REQUEST_KEYS: &[&str] = &[
    "id",
    "cpus",
    "cpu_millis",
    "memory_gib",
    "memory_mib",
    "storage_gib",
    "nodes",
    "ports",
    "licence",
    "min_cml_version",
];

/// The keys a price-table row may carry.
const PRICE_KEYS: &[&str] = &[
    "name",
    "vcpus",
    "memory_gib",
    "storage_gib",
    "node_slots",
    "hourly_usd",
];

/// One input object and where it sits (`workers[3]`) for error messages.
struct Item<'a, 'py> {
    object: &'a Bound<'py, PyAny>,
    dict: Option<&'a Bound<'py, PyDict>>,
    at: String,
    /// Keys of a dict found so far, to notice unknown ones without walking
    /// every dict (see [`Item::reject_unknown_keys`]).
    found: std::cell::Cell<usize>,
}

impl<'a, 'py> Item<'a, 'py> {
    fn new(object: &'a Bound<'py, PyAny>, at: String) -> Self {
        Self {
            object,
            dict: object.cast::<PyDict>().ok(),
            at,
            found: std::cell::Cell::new(0),
        }
    }

    /// The field's value; absent and `None` are the same.
    fn get(&self, name: &str) -> Result<Option<Bound<'py, PyAny>>, BindingError> {
        let key = interned(self.object.py(), name);
        let value = match self.dict {
            Some(dict) => {
                let value = dict.get_item(key)?;
                if value.is_some() {
                    self.found.set(self.found.get() + 1);
                }
                value
            }
            None => self.object.getattr_opt(key)?,
        };
        Ok(value.filter(|v| !v.is_none()))
    }

    /// A dict with a key outside `accepted` (a misspelt `cpu` for `cpus`) is an
    /// error naming it, rather than a field silently left at its default. Called
    /// after every field was read: only a dict with more keys than were found
    /// is walked. Objects carry attributes of their own and are not checked.
    fn reject_unknown_keys(&self, accepted: &[&str]) -> Result<(), BindingError> {
        let Some(dict) = self.dict else {
            return Ok(());
        };
        if dict.len() <= self.found.get() {
            return Ok(());
        }
        for key in dict.keys() {
            let name = key.extract::<String>().unwrap_or_else(|_| key.to_string());
            if !accepted.contains(&name.as_str()) {
                return Err(BindingError::input(
                    self.path(&name),
                    format!("is not a known key; accepted: {}", accepted.join(", ")),
                ));
            }
        }
        Ok(())
    }

    fn path(&self, name: &str) -> String {
        format!("{}.{name}", self.at)
    }

    fn required(&self, name: &str) -> Result<Bound<'py, PyAny>, BindingError> {
        self.get(name)?
            .ok_or_else(|| BindingError::input(self.path(name), "is required"))
    }

    fn bool_or(&self, name: &str, default: bool) -> Result<bool, BindingError> {
        match self.get(name)? {
            Some(v) => v
                .extract::<bool>()
                .map_err(|_| BindingError::input(self.path(name), "must be a bool")),
            None => Ok(default),
        }
    }

    fn u64_or(&self, name: &str, default: u64) -> Result<u64, BindingError> {
        match self.get(name)? {
            Some(v) => v.extract::<u64>().map_err(|_| {
                BindingError::input(self.path(name), "must be a non-negative integer")
            }),
            None => Ok(default),
        }
    }

    fn u32_or(&self, name: &str, default: u32) -> Result<u32, BindingError> {
        let value = self.u64_or(name, u64::from(default))?;
        u32::try_from(value).map_err(|_| BindingError::input(self.path(name), "is too large"))
    }

    /// A non-negative amount given in whole units (may be fractional), as an integer
    /// count of `scale` sub-units: `cpus=1.5` → 1500 milli-vCPU.
    fn scaled(&self, name: &str, scale: f64) -> Result<Option<u64>, BindingError> {
        let Some(v) = self.get(name)? else {
            return Ok(None);
        };
        let number: f64 = v
            .extract()
            .map_err(|_| BindingError::input(self.path(name), "must be a number"))?;
        let scaled = (number * scale).round();
        // 2^53: the largest integer an f64 holds exactly.
        if !scaled.is_finite() || !(0.0..=9_007_199_254_740_992.0).contains(&scaled) {
            return Err(BindingError::input(
                self.path(name),
                "must be a finite, non-negative number",
            ));
        }
        // In range and integral, checked just above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Some(scaled as u64))
    }

    /// `cpus` (vCPU) or `cpu_millis`, `memory_gib` or `memory_mib`, and `storage_gib`.
    fn resources(&self) -> Result<Resources, BindingError> {
        let cpu_millis = match self.scaled("cpus", 1000.0)? {
            Some(m) => m,
            None => self.u64_or("cpu_millis", 0)?,
        };
        let memory_mib = match self.scaled("memory_gib", 1024.0)? {
            Some(m) => m,
            None => self.u64_or("memory_mib", 0)?,
        };
        Ok(Resources {
            cpu_millis,
            memory_mib,
            storage_gib: self.u64_or("storage_gib", 0)?,
        })
    }

    fn string(&self, name: &str) -> Result<Option<String>, BindingError> {
        match self.get(name)? {
            Some(v) => match v.cast::<PyString>() {
                Ok(s) => Ok(Some(s.extract::<String>()?)),
                Err(_) => Err(BindingError::input(self.path(name), "must be a string")),
            },
            None => Ok(None),
        }
    }

    fn licence(&self, name: &str) -> Result<Option<LicenceKind>, BindingError> {
        self.string(name)?
            .map(|text| {
                serde_json::from_value(serde_json::Value::String(text.trim().to_lowercase()))
                    .map_err(|_| {
                        BindingError::input(
                            self.path(name),
                            format!(
                                "`{text}` is not a licence kind (personal, enterprise, evaluation)"
                            ),
                        )
                    })
            })
            .transpose()
    }

    fn version(&self, name: &str) -> Result<Option<SemVer>, BindingError> {
        self.string(name)?
            .map(|text| {
                SemVer::from_str(&text).map_err(|_| {
                    BindingError::input(self.path(name), format!("`{text}` is not a version"))
                })
            })
            .transpose()
    }

    /// Free port ranges: a list of `(first, last)` pairs, inclusive.
    fn port_ranges(&self, name: &str) -> Result<Option<Vec<PortRange>>, BindingError> {
        let Some(v) = self.get(name)? else {
            return Ok(None);
        };
        let pairs: Vec<(u16, u16)> = v.extract().map_err(|_| {
            BindingError::input(
                self.path(name),
                "must be a list of (first, last) port pairs",
            )
        })?;
        for (first, last) in &pairs {
            if first > last {
                return Err(BindingError::input(
                    self.path(name),
                    format!("range ({first}, {last}) ends before it starts"),
                ));
            }
        }
        Ok(Some(
            pairs
                .into_iter()
                .map(|(first, last)| PortRange { first, last })
                .collect(),
        ))
    }
}

/// The field name as a cached Python string: a batch of 100k requests reads
/// about a million fields, and building the name each time was a third of the cost.
fn interned<'py>(py: Python<'py>, name: &str) -> Bound<'py, PyString> {
    let cached = match name {
        "id" => intern!(py, "id"),
        "cpus" => intern!(py, "cpus"),
        "cpu_millis" => intern!(py, "cpu_millis"),
        "memory_gib" => intern!(py, "memory_gib"),
        "memory_mib" => intern!(py, "memory_mib"),
        "storage_gib" => intern!(py, "storage_gib"),
        "nodes" => intern!(py, "nodes"),
        "ports" => intern!(py, "ports"),
        "running" => intern!(py, "running"),
        "cml_available" => intern!(py, "cml_available"),
        "draining" => intern!(py, "draining"),
        "licence" => intern!(py, "licence"),
        "cml_version" => intern!(py, "cml_version"),
        "min_cml_version" => intern!(py, "min_cml_version"),
        "free_ports" => intern!(py, "free_ports"),
        other => return PyString::new(py, other),
    };
    cached.clone()
}

fn positional(index: usize) -> u128 {
    u128::try_from(index).unwrap_or(u128::MAX).saturating_add(1)
}

/// Reads `workers`: `id`, free `cpus`/`memory_gib`/`storage_gib`, free `nodes`
/// (no limit when absent), optional `running`, `cml_available`, `draining`,
/// `licence`, `cml_version` and `free_ports`.
pub fn read_workers(workers: &Bound<'_, PyAny>) -> Result<WorkerInputs, BindingError> {
    let mut out = WorkerInputs {
        candidates: Vec::new(),
        ids: Vec::new(),
    };
    for (i, object) in workers.try_iter()?.enumerate() {
        let object = object?;
        let item = Item::new(&object, format!("workers[{i}]"));
        let mut candidate = WorkerCandidate::new(
            WorkerId::from_u128(positional(i)),
            item.resources()?,
            item.u32_or("nodes", u32::MAX)?,
        );
        candidate.running = item.bool_or("running", true)?;
        candidate.cml_available = item.bool_or("cml_available", true)?;
        candidate.draining = item.bool_or("draining", false)?;
        candidate.licence = item.licence("licence")?;
        candidate.cml_version = item.version("cml_version")?;
        if let Some(ports) = item.port_ranges("free_ports")? {
            candidate.free_ports = ports;
        }
        out.ids.push(item.required("id")?.unbind());
        item.reject_unknown_keys(WORKER_KEYS)?;
        out.candidates.push(candidate);
    }
    Ok(out)
}

/// Reads `requests`: `id`, `cpus`/`memory_gib`/`storage_gib`, `nodes`, `ports`
/// (a count), optional `licence` and `min_cml_version`.
pub fn read_requests(requests: &Bound<'_, PyAny>) -> Result<RequestInputs, BindingError> {
    let mut out = RequestInputs {
        requests: Vec::new(),
        ids: Vec::new(),
    };
    for (i, object) in requests.try_iter()?.enumerate() {
        let object = object?;
        let item = Item::new(&object, format!("requests[{i}]"));
        let needs = ResourceNeeds {
            resources: item.resources()?,
            nodes: item.u32_or("nodes", 0)?,
            ports: item.u32_or("ports", 0)?,
        };
        let request = PlacementRequest {
            lablet: LabletId::from_u128(positional(i)),
            needs,
            licence_affinity: item.licence("licence")?,
            min_cml_version: item.version("min_cml_version")?,
        };
        out.ids.push(item.required("id")?.unbind());
        item.reject_unknown_keys(REQUEST_KEYS)?;
        out.requests.push(request);
    }
    Ok(out)
}

/// Reads a price table: rows with `name`, `vcpus`, `memory_gib`, `storage_gib`,
/// `node_slots` and `hourly_usd`.
pub fn read_price_table(rows: &Bound<'_, PyAny>) -> Result<PriceTable, BindingError> {
    let mut types = Vec::new();
    for (i, object) in rows.try_iter()?.enumerate() {
        let object = object?;
        let item = Item::new(&object, format!("price_table[{i}]"));
        let name = item
            .string("name")?
            .ok_or_else(|| BindingError::input(item.path("name"), "is required"))?;
        let hourly: f64 = item
            .required("hourly_usd")?
            .extract()
            .map_err(|_| BindingError::input(item.path("hourly_usd"), "must be a number"))?;
        let row = InstanceType::new(
            name,
            item.u64_or("vcpus", 0)?,
            item.u64_or("memory_gib", 0)?,
            item.u64_or("storage_gib", 0)?,
            item.u32_or("node_slots", 0)?,
            hourly,
        );
        item.reject_unknown_keys(PRICE_KEYS)?;
        types.push(row);
    }
    let table = PriceTable { types };
    table.validate()?;
    Ok(table)
}
