//! Quantities of compute that lablets need and workers offer, in integer units so
//! placement arithmetic is exact: milli-vCPU, MiB of memory, GiB of storage.

use std::ops::{Add, AddAssign};

use serde::{Deserialize, Serialize};

/// CPU, memory and storage.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Resources {
    /// Thousandths of a vCPU.
    pub cpu_millis: u64,
    /// Memory in MiB.
    pub memory_mib: u64,
    /// Storage in GiB.
    pub storage_gib: u64,
}

impl Resources {
    /// Nothing.
    pub const ZERO: Resources = Resources {
        cpu_millis: 0,
        memory_mib: 0,
        storage_gib: 0,
    };

    /// Whole vCPUs, GiB of memory and GiB of storage.
    pub const fn new(cpus: u64, memory_gib: u64, storage_gib: u64) -> Self {
        Self {
            cpu_millis: cpus * 1000,
            memory_mib: memory_gib * 1024,
            storage_gib,
        }
    }

    /// True when every dimension of `self` is at most that of `other`.
    pub fn fits_within(&self, other: &Resources) -> bool {
        self.cpu_millis <= other.cpu_millis
            && self.memory_mib <= other.memory_mib
            && self.storage_gib <= other.storage_gib
    }

    /// Per-dimension subtraction clamped at zero.
    pub fn saturating_sub(&self, other: &Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.saturating_sub(other.cpu_millis),
            memory_mib: self.memory_mib.saturating_sub(other.memory_mib),
            storage_gib: self.storage_gib.saturating_sub(other.storage_gib),
        }
    }

    /// Per-dimension addition clamped at the maximum.
    pub fn saturating_add(&self, other: &Resources) -> Resources {
        Resources {
            cpu_millis: self.cpu_millis.saturating_add(other.cpu_millis),
            memory_mib: self.memory_mib.saturating_add(other.memory_mib),
            storage_gib: self.storage_gib.saturating_add(other.storage_gib),
        }
    }
}

impl Add for Resources {
    type Output = Resources;
    fn add(self, rhs: Resources) -> Resources {
        self.saturating_add(&rhs)
    }
}

impl AddAssign for Resources {
    fn add_assign(&mut self, rhs: Resources) {
        *self = self.saturating_add(&rhs);
    }
}

/// An inclusive range of TCP ports that lablets may be given (console/telnet access).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortRange {
    /// First port (inclusive).
    pub first: u16,
    /// Last port (inclusive).
    pub last: u16,
}

impl Default for PortRange {
    fn default() -> Self {
        Self {
            first: 2000,
            last: 9999,
        }
    }
}

impl PortRange {
    /// Number of ports in the range (0 when `first > last`).
    pub fn len(&self) -> u32 {
        if self.first > self.last {
            0
        } else {
            u32::from(self.last - self.first) + 1
        }
    }

    /// True when the range holds no port.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when `port` lies inside the range.
    pub fn contains(&self, port: u16) -> bool {
        (self.first..=self.last).contains(&port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_requires_every_dimension() {
        let cap = Resources::new(48, 192, 1000);
        assert!(Resources::new(4, 8, 20).fits_within(&cap));
        assert!(!Resources::new(4, 200, 20).fits_within(&cap));
        assert!(!Resources::new(49, 8, 20).fits_within(&cap));
        assert!(!Resources::new(1, 1, 1001).fits_within(&cap));
    }

    #[test]
    fn arithmetic_never_wraps() {
        let a = Resources::new(1, 1, 1);
        let b = Resources::new(2, 2, 2);
        assert_eq!(a.saturating_sub(&b), Resources::ZERO);
        let max = Resources {
            cpu_millis: u64::MAX,
            memory_mib: u64::MAX,
            storage_gib: u64::MAX,
        };
        assert_eq!(max + a, max);
    }

    #[test]
    fn default_port_range_is_2000_to_9999() {
        let r = PortRange::default();
        assert_eq!(r.len(), 8000);
        assert!(r.contains(2000) && r.contains(9999) && !r.contains(10000));
        assert!(PortRange { first: 10, last: 9 }.is_empty());
    }
}
