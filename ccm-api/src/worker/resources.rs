//! Amounts of CPU, memory and storage, and port ranges: shared by workers
//! (capacity), lablet definitions and lablets.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Example;

/// CPU, memory and storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Resources {
    /// Thousandths of a vCPU.
    pub cpu_millis: u64,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Storage in GiB.
    pub storage_gib: u64,
}

impl From<&ccm_core::resources::Resources> for Resources {
    fn from(r: &ccm_core::resources::Resources) -> Self {
        Self {
            cpu_millis: r.cpu_millis,
            memory_mib: r.memory_mib,
            storage_gib: r.storage_gib,
        }
    }
}

impl From<Resources> for ccm_core::resources::Resources {
    fn from(r: Resources) -> Self {
        Self {
            cpu_millis: r.cpu_millis,
            memory_mib: r.memory_mib,
            storage_gib: r.storage_gib,
        }
    }
}

impl Example for Resources {
    fn example() -> Self {
        Self::from(&ccm_core::resources::Resources::new(4, 16, 64))
    }
}

/// An inclusive range of TCP ports that lablets may be given (console/telnet access).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PortRange {
    /// First port (inclusive).
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl From<&ccm_core::resources::PortRange> for PortRange {
    fn from(r: &ccm_core::resources::PortRange) -> Self {
        Self {
            first: r.first,
            last: r.last,
        }
    }
}

impl From<PortRange> for ccm_core::resources::PortRange {
    fn from(r: PortRange) -> Self {
        Self {
            first: r.first,
            last: r.last,
        }
    }
}

impl Example for PortRange {
    fn example() -> Self {
        Self::from(&ccm_core::resources::PortRange::default())
    }
}
