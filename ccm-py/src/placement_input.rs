//! Reading placement inputs from Python. Workers, requests and price-table rows
//! come either as rows — dicts, or objects with attributes (a dataclass, a named
//! tuple, an ORM row) — or as columns: a dict of equal-length columns (lists,
//! tuples, numpy arrays, anything with `tolist()` or iterable). [`records`] gives
//! both the same per-record view and refuses keys, attributes and columns outside
//! each kind's [`Field`]s; this module builds ccm-core's types from that view. Ids
//! are opaque Python objects kept aside: the engine sees positional ids, and the
//! plan hands the caller's own id objects back.

mod buffer;
mod columns;
mod object;
mod records;
mod values;

use std::cell::Cell;

use ccm_core::definition::ResourceNeeds;
use ccm_core::ids::{LabletId, WorkerId};
use ccm_core::placement::{InstanceType, PlacementRequest, PriceTable, WorkerCandidate};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

use crate::error::BindingError;
use records::{Fields, Kind, Reader, Records};
use values::Read;

/// The caller's id objects, by position: gathered from rows, or the `id`
/// column itself (no reference is taken per row).
pub enum IdList {
    /// One id object per row.
    Objects(Vec<Py<PyAny>>),
    /// The `id` column as given.
    Column(Py<PyTuple>),
}

impl IdList {
    /// The id at `index`.
    pub fn get(&self, py: Python<'_>, index: usize) -> Option<Py<PyAny>> {
        match self {
            IdList::Objects(ids) => ids.get(index).map(|id| id.clone_ref(py)),
            IdList::Column(ids) => ids.bind(py).get_item(index).ok().map(Bound::unbind),
        }
    }
}

/// Workers as placement sees them, with the caller's ids in the same order.
pub struct WorkerInputs {
    /// Candidates; candidate `i` has id `WorkerId::from_u128(i + 1)`.
    pub candidates: Vec<WorkerCandidate>,
    /// The caller's id objects.
    pub ids: IdList,
}

/// Requests as placement sees them, with the caller's ids in the same order.
///
/// The requests' buffer is kept for the thread's next call when dropped (see
/// [`SPARE_REQUESTS`]).
pub struct RequestInputs {
    /// Requests; request `i` has id `LabletId::from_u128(i + 1)`.
    pub requests: Vec<PlacementRequest>,
    /// The caller's id objects.
    pub ids: IdList,
}

/// Largest request buffer kept between calls: 64 MiB, about 900k requests.
const SPARE_BYTES: usize = 64 << 20;

thread_local! {
    /// The request buffer of the thread's last call, reused by the next. At 100k
    /// requests it is 7 MiB that a fresh allocation would fault in page by page
    /// on every call — as long, in a VM, as reading the requests themselves.
    static SPARE_REQUESTS: Cell<Vec<PlacementRequest>> = const { Cell::new(Vec::new()) };
}

impl Drop for RequestInputs {
    fn drop(&mut self) {
        let mut requests = std::mem::take(&mut self.requests);
        if requests
            .capacity()
            .saturating_mul(size_of::<PlacementRequest>())
            <= SPARE_BYTES
        {
            requests.clear();
            SPARE_REQUESTS.set(requests);
        }
    }
}

/// A key a placement record may carry (a dict key, an attribute or a column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Id,
    Cpus,
    CpuMillis,
    MemoryGib,
    MemoryMib,
    StorageGib,
    Nodes,
    Ports,
    Running,
    CmlAvailable,
    Draining,
    Licence,
    CmlVersion,
    MinCmlVersion,
    FreePorts,
    Name,
    Vcpus,
    NodeSlots,
    HourlyUsd,
    BusyUntil,
    EndsAt,
}

impl Field {
    /// How many fields there are (the length of per-field tables).
    pub(crate) const COUNT: usize = 21;

    /// Every field, in declaration order (`ALL[f as usize] == f`).
    pub(crate) const ALL: [Field; Field::COUNT] = [
        Field::Id,
        Field::Cpus,
        Field::CpuMillis,
        Field::MemoryGib,
        Field::MemoryMib,
        Field::StorageGib,
        Field::Nodes,
        Field::Ports,
        Field::Running,
        Field::CmlAvailable,
        Field::Draining,
        Field::Licence,
        Field::CmlVersion,
        Field::MinCmlVersion,
        Field::FreePorts,
        Field::Name,
        Field::Vcpus,
        Field::NodeSlots,
        Field::HourlyUsd,
        Field::BusyUntil,
        Field::EndsAt,
    ];

    /// The key as the caller spells it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Field::Id => "id",
            Field::Cpus => "cpus",
            Field::CpuMillis => "cpu_millis",
            Field::MemoryGib => "memory_gib",
            Field::MemoryMib => "memory_mib",
            Field::StorageGib => "storage_gib",
            Field::Nodes => "nodes",
            Field::Ports => "ports",
            Field::Running => "running",
            Field::CmlAvailable => "cml_available",
            Field::Draining => "draining",
            Field::Licence => "licence",
            Field::CmlVersion => "cml_version",
            Field::MinCmlVersion => "min_cml_version",
            Field::FreePorts => "free_ports",
            Field::Name => "name",
            Field::Vcpus => "vcpus",
            Field::NodeSlots => "node_slots",
            Field::HourlyUsd => "hourly_usd",
            Field::BusyUntil => "busy_until",
            Field::EndsAt => "ends_at",
        }
    }
}

/// Amounts: any non-negative number of whole units, converted to sub-units.
const AMOUNTS: &[Field] = &[Field::Cpus, Field::MemoryGib];

/// Counts of workers and requests: non-negative integers.
const COUNTS: &[Field] = &[
    Field::CpuMillis,
    Field::MemoryMib,
    Field::StorageGib,
    Field::Nodes,
    Field::Ports,
];

/// The keys of what a worker offers and a request needs: the id and the
/// resources, declared first in [`Field`].
const RESOURCES: &[Field] = Field::ALL.split_at(7).0;

/// The keys a worker may carry.
const WORKER: Kind = Kind {
    what: "workers",
    amounts: AMOUNTS,
    counts: COUNTS,
    fields: &[
        RESOURCES,
        &[
            Field::Running,
            Field::CmlAvailable,
            Field::Draining,
            Field::Licence,
            Field::CmlVersion,
            Field::FreePorts,
            Field::BusyUntil,
        ],
    ],
};

/// The keys a request may carry.
const REQUEST: Kind = Kind {
    what: "requests",
    amounts: AMOUNTS,
    counts: COUNTS,
    fields: &[
        RESOURCES,
        &[
            Field::Ports,
            Field::Licence,
            Field::MinCmlVersion,
            Field::EndsAt,
        ],
    ],
};

/// The keys a price-table row may carry.
const PRICE: Kind = Kind {
    what: "price_table",
    amounts: &[Field::HourlyUsd],
    counts: &[
        Field::Vcpus,
        Field::MemoryGib,
        Field::StorageGib,
        Field::NodeSlots,
    ],
    fields: &[&[
        Field::Name,
        Field::Vcpus,
        Field::MemoryGib,
        Field::StorageGib,
        Field::NodeSlots,
        Field::HourlyUsd,
    ]],
};

fn positional(index: usize) -> u128 {
    u128::try_from(index).unwrap_or(u128::MAX).saturating_add(1)
}

/// Reads `workers`: `id`, free `cpus`/`memory_gib`/`storage_gib`, free `nodes`
/// (no limit when absent), optional `running`, `cml_available`, `draining`,
/// `licence`, `cml_version`, `free_ports` and `busy_until` (when its lablets end).
pub fn read_workers(workers: &Bound<'_, PyAny>) -> Result<WorkerInputs, BindingError> {
    let records = Records::open(workers, &WORKER)?;
    let mut candidates = Candidates(Vec::with_capacity(records.len_hint()));
    let ids = records.each(&mut candidates)?;
    Ok(WorkerInputs {
        candidates: candidates.0,
        ids,
    })
}

struct Candidates(Vec<WorkerCandidate>);

impl<'py> Reader<'py> for Candidates {
    fn read<R: Fields<'py>>(&mut self, record: &R) -> Result<(), BindingError> {
        let mut candidate = WorkerCandidate::new(
            WorkerId::from_u128(positional(record.index())),
            record.resources()?,
            record.u32_or(Field::Nodes, u32::MAX)?,
        );
        candidate.running = record.bool_or(Field::Running, true)?;
        candidate.cml_available = record.bool_or(Field::CmlAvailable, true)?;
        candidate.draining = record.bool_or(Field::Draining, false)?;
        candidate.licence = record.licence(Field::Licence)?;
        candidate.cml_version = record.version(Field::CmlVersion)?;
        if let Some(ports) = record.port_ranges(Field::FreePorts)? {
            candidate.free_ports = ports;
        }
        candidate.busy_until = record.moment(Field::BusyUntil)?;
        self.0.push(candidate);
        Ok(())
    }
}

/// Reads `requests`: `id`, `cpus`/`memory_gib`/`storage_gib`, `nodes`, `ports`
/// (a count), optional `licence`, `min_cml_version` and `ends_at`.
pub fn read_requests(requests: &Bound<'_, PyAny>) -> Result<RequestInputs, BindingError> {
    let records = Records::open(requests, &REQUEST)?;
    let mut buffer = SPARE_REQUESTS.take();
    buffer.reserve(records.len_hint());
    let mut out = RequestInputs {
        requests: buffer,
        ids: IdList::Objects(Vec::new()),
    };
    out.ids = records.each(&mut out)?;
    Ok(out)
}

impl<'py> Reader<'py> for RequestInputs {
    fn read<R: Fields<'py>>(&mut self, record: &R) -> Result<(), BindingError> {
        self.requests.push(PlacementRequest {
            lablet: LabletId::from_u128(positional(record.index())),
            needs: ResourceNeeds {
                resources: record.resources()?,
                nodes: record.u32_or(Field::Nodes, 0)?,
                ports: record.u32_or(Field::Ports, 0)?,
            },
            licence_affinity: record.licence(Field::Licence)?,
            min_cml_version: record.version(Field::MinCmlVersion)?,
            // Worker records carry no node catalog, so no request may
            // demand one: every worker would count as "unknown" anyway.
            requires: None,
            ends_at: record.moment(Field::EndsAt)?,
        });
        Ok(())
    }
}

/// Reads a price table: rows with `name`, `vcpus`, `memory_gib`, `storage_gib`,
/// `node_slots` and `hourly_usd`.
pub fn read_price_table(rows: &Bound<'_, PyAny>) -> Result<PriceTable, BindingError> {
    let mut table = PriceTable { types: Vec::new() };
    Records::open(rows, &PRICE)?.each(&mut table)?;
    table.validate()?;
    Ok(table)
}

impl<'py> Reader<'py> for PriceTable {
    fn read<R: Fields<'py>>(&mut self, record: &R) -> Result<(), BindingError> {
        let name = record
            .string(Field::Name)?
            .ok_or_else(|| record.error(Field::Name, "is required"))?;
        self.types.push(InstanceType::new(
            name,
            record.u64_or(Field::Vcpus, 0)?,
            record.u64_or(Field::MemoryGib, 0)?,
            record.u64_or(Field::StorageGib, 0)?,
            record.u32_or(Field::NodeSlots, 0)?,
            record.number(Field::HourlyUsd)?,
        ));
        Ok(())
    }
}
