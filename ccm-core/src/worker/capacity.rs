//! What a worker offers and what lablets hold of it. Allocated totals are derived
//! from the allocation list, never stored twice.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::LabletId;
use crate::resources::{PortRange, Resources};

/// Resources, nodes and ports held by one lablet on a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    /// CPU, memory and storage held.
    pub resources: Resources,
    /// CML node slots held.
    pub nodes: u32,
    /// Ports given to the lablet.
    pub ports: Vec<u16>,
}

/// A worker's capacity and its current allocations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capacity {
    /// What the instance offers to labs (after the host's own reserve).
    pub declared: Resources,
    /// Node slots the worker accepts (before the licence limit).
    pub node_slots: u32,
    /// Ports lablets may be given.
    pub port_range: PortRange,
    /// Holdings by lablet.
    #[serde(default)]
    pub allocations: BTreeMap<LabletId, Allocation>,
    /// What labs ccm did not make (built by hand on the worker's CML) take, as
    /// the lab sync last read it; placement counts it as taken.
    #[serde(default)]
    pub unmanaged: UnmanagedUsage,
}

/// Capacity taken on a worker by labs that no lablet owns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnmanagedUsage {
    /// CPUs and memory of their running nodes, disk of all their nodes.
    pub resources: Resources,
    /// Their running nodes (they count against node slots and the licence).
    pub nodes: u32,
    /// How many such labs.
    pub labs: u32,
}

impl Capacity {
    /// Capacity with nothing allocated.
    pub fn new(declared: Resources, node_slots: u32) -> Self {
        Self {
            declared,
            node_slots,
            port_range: PortRange::default(),
            allocations: BTreeMap::new(),
            unmanaged: UnmanagedUsage::default(),
        }
    }

    /// Sum of allocated resources.
    pub fn allocated(&self) -> Resources {
        self.allocations
            .values()
            .fold(Resources::ZERO, |acc, a| acc + a.resources)
    }

    /// Sum of allocated node slots.
    pub fn allocated_nodes(&self) -> u32 {
        self.allocations
            .values()
            .fold(0u32, |acc, a| acc.saturating_add(a.nodes))
    }

    /// Resources still free: declared, less what lablets hold and what hand-made
    /// labs take.
    pub fn free(&self) -> Resources {
        self.declared
            .saturating_sub(&self.allocated())
            .saturating_sub(&self.unmanaged.resources)
    }

    /// Node slots taken: lablets' and hand-made labs' running nodes.
    pub fn taken_nodes(&self) -> u32 {
        self.allocated_nodes().saturating_add(self.unmanaged.nodes)
    }

    /// Ports handed out, in ascending order.
    pub fn allocated_ports(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .allocations
            .values()
            .flat_map(|a| a.ports.iter().copied())
            .collect();
        ports.sort_unstable();
        ports
    }

    /// Free ports as inclusive ranges, ascending.
    pub fn free_port_ranges(&self) -> Vec<PortRange> {
        let mut free = Vec::new();
        let mut next = u32::from(self.port_range.first);
        let last = u32::from(self.port_range.last);
        for port in self.allocated_ports() {
            let port = u32::from(port);
            if port < next || port > last {
                continue;
            }
            if port > next {
                free.push(range(next, port - 1));
            }
            next = port + 1;
        }
        if next <= last && !self.port_range.is_empty() {
            free.push(range(next, last));
        }
        free
    }
}

// Both bounds come from u16 values, so the narrowing cannot lose information.
fn range(first: u32, last: u32) -> PortRange {
    PortRange {
        first: u16::try_from(first).unwrap_or(u16::MAX),
        last: u16::try_from(last).unwrap_or(u16::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ranges_skip_allocated_ports() {
        let mut cap = Capacity::new(Resources::new(48, 192, 1000), 100);
        cap.port_range = PortRange {
            first: 2000,
            last: 2009,
        };
        cap.allocations.insert(
            LabletId::from_u128(1),
            Allocation {
                resources: Resources::new(4, 8, 10),
                nodes: 3,
                ports: vec![2000, 2001, 2005],
            },
        );
        assert_eq!(
            cap.free_port_ranges(),
            vec![
                PortRange {
                    first: 2002,
                    last: 2004
                },
                PortRange {
                    first: 2006,
                    last: 2009
                }
            ]
        );
        assert_eq!(cap.free(), Resources::new(44, 184, 990));
        assert_eq!(cap.allocated_nodes(), 3);
        cap.unmanaged = UnmanagedUsage {
            resources: Resources::new(2, 4, 20),
            nodes: 2,
            labs: 1,
        };
        assert_eq!(
            cap.free(),
            Resources::new(42, 180, 970),
            "hand-made labs take their share"
        );
        assert_eq!(cap.taken_nodes(), 5);
    }

    #[test]
    fn fully_allocated_range_has_no_free_ports() {
        let mut cap = Capacity::new(Resources::ZERO, 0);
        cap.port_range = PortRange { first: 5, last: 6 };
        cap.allocations.insert(
            LabletId::from_u128(1),
            Allocation {
                resources: Resources::ZERO,
                nodes: 0,
                ports: vec![5, 6],
            },
        );
        assert!(cap.free_port_ranges().is_empty());
    }
}
