//! The five dimensions placement packs, as one flat value: cheap to copy, compare
//! and subtract in the hot loop.

use super::RejectReason;
use crate::definition::ResourceNeeds;

/// Free room of a worker, or the need of a request, in every packed dimension.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Room {
    pub(crate) cpu: u64,
    pub(crate) mem: u64,
    pub(crate) storage: u64,
    pub(crate) nodes: u32,
    pub(crate) ports: u32,
}

impl Room {
    pub(crate) fn of_needs(needs: &ResourceNeeds) -> Self {
        Self {
            cpu: needs.resources.cpu_millis,
            mem: needs.resources.memory_mib,
            storage: needs.resources.storage_gib,
            nodes: needs.nodes,
            ports: needs.ports,
        }
    }

    /// True when `need` fits in every dimension.
    pub(crate) fn fits(&self, need: &Room) -> bool {
        self.cpu >= need.cpu
            && self.mem >= need.mem
            && self.storage >= need.storage
            && self.nodes >= need.nodes
            && self.ports >= need.ports
    }

    /// The first dimension, in check order, in which `need` does not fit.
    pub(crate) fn shortfall(&self, need: &Room) -> Option<RejectReason> {
        if self.nodes < need.nodes {
            Some(RejectReason::NodeCap)
        } else if self.cpu < need.cpu {
            Some(RejectReason::Cpu)
        } else if self.mem < need.mem {
            Some(RejectReason::Memory)
        } else if self.storage < need.storage {
            Some(RejectReason::Storage)
        } else if self.ports < need.ports {
            Some(RejectReason::Ports)
        } else {
            None
        }
    }

    pub(crate) fn minus(&self, need: &Room) -> Room {
        Room {
            cpu: self.cpu.saturating_sub(need.cpu),
            mem: self.mem.saturating_sub(need.mem),
            storage: self.storage.saturating_sub(need.storage),
            nodes: self.nodes.saturating_sub(need.nodes),
            ports: self.ports.saturating_sub(need.ports),
        }
    }

    /// Per-dimension maximum: an upper bound on what any of two workers offers.
    pub(crate) fn max_with(&self, other: &Room) -> Room {
        Room {
            cpu: self.cpu.max(other.cpu),
            mem: self.mem.max(other.mem),
            storage: self.storage.max(other.storage),
            nodes: self.nodes.max(other.nodes),
            ports: self.ports.max(other.ports),
        }
    }

    /// `self` repeated `times` (saturating).
    pub(crate) fn times(&self, times: u64) -> Room {
        let small = |v: u32| u32::try_from(u64::from(v).saturating_mul(times)).unwrap_or(u32::MAX);
        Room {
            cpu: self.cpu.saturating_mul(times),
            mem: self.mem.saturating_mul(times),
            storage: self.storage.saturating_mul(times),
            nodes: small(self.nodes),
            ports: small(self.ports),
        }
    }

    /// How many copies of `need` fit at once (`u64::MAX` when `need` is empty).
    pub(crate) fn copies(&self, need: &Room) -> u64 {
        let per = |free: u64, need: u64| free.checked_div(need).unwrap_or(u64::MAX);
        per(self.cpu, need.cpu)
            .min(per(self.mem, need.mem))
            .min(per(self.storage, need.storage))
            .min(per(u64::from(self.nodes), u64::from(need.nodes)))
            .min(per(u64::from(self.ports), u64::from(need.ports)))
    }

    /// A scalar size of `self` relative to `scale`: the sum over dimensions of the
    /// share of `scale` it takes, in fixed point. Sorting by it gives the
    /// multi-dimensional "first fit decreasing" order. Needing a dimension `scale`
    /// lacks entirely counts as the largest share, so such requests sort first and
    /// fail early instead of passing for small ones.
    pub(crate) fn size_against(&self, scale: &Room) -> u64 {
        const ONE: u128 = 1 << 20;
        const CAP: u128 = 1 << 40;
        let share = |need: u64, scale: u64| -> u64 {
            let value = match (need, scale) {
                (0, _) => 0,
                (_, 0) => CAP,
                (need, scale) => (u128::from(need) * ONE / u128::from(scale)).min(CAP),
            };
            u64::try_from(value).unwrap_or(u64::MAX)
        };
        share(self.cpu, scale.cpu)
            .saturating_add(share(self.mem, scale.mem))
            .saturating_add(share(self.storage, scale.storage))
            .saturating_add(share(u64::from(self.nodes), u64::from(scale.nodes)))
            .saturating_add(share(u64::from(self.ports), u64::from(scale.ports)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(cpu: u64, mem: u64, storage: u64, nodes: u32, ports: u32) -> Room {
        Room {
            cpu,
            mem,
            storage,
            nodes,
            ports,
        }
    }

    #[test]
    fn shortfall_names_the_first_dimension_in_check_order() {
        let free = room(4, 8, 10, 2, 1);
        assert_eq!(free.shortfall(&room(4, 8, 10, 2, 1)), None);
        assert_eq!(
            free.shortfall(&room(9, 9, 99, 3, 9)),
            Some(RejectReason::NodeCap)
        );
        assert_eq!(
            free.shortfall(&room(9, 9, 99, 2, 9)),
            Some(RejectReason::Cpu)
        );
        assert_eq!(
            free.shortfall(&room(4, 9, 99, 2, 9)),
            Some(RejectReason::Memory)
        );
        assert_eq!(
            free.shortfall(&room(4, 8, 99, 2, 9)),
            Some(RejectReason::Storage)
        );
        assert_eq!(
            free.shortfall(&room(4, 8, 10, 2, 9)),
            Some(RejectReason::Ports)
        );
    }

    #[test]
    fn copies_and_times_agree() {
        let free = room(10, 100, 7, 9, 8);
        let need = room(3, 10, 0, 2, 0);
        assert_eq!(free.copies(&need), 3);
        assert!(free.fits(&need.times(3)) && !free.fits(&need.times(4)));
        assert_eq!(free.copies(&Room::default()), u64::MAX);
        assert_eq!(room(1, 1, 1, 1, 1).times(u64::MAX).nodes, u32::MAX);
    }

    #[test]
    fn size_weighs_every_dimension_and_never_overflows() {
        let scale = room(100, 100, 100, 100, 100);
        assert!(
            room(50, 0, 0, 0, 0).size_against(&scale) > room(10, 10, 10, 0, 0).size_against(&scale)
        );
        assert_eq!(Room::default().size_against(&Room::default()), 0);
        let huge = room(u64::MAX, u64::MAX, u64::MAX, u32::MAX, u32::MAX);
        assert!(huge.size_against(&room(1, 1, 1, 1, 1)) > 0);
        assert!(room(1, 0, 0, 0, 0).size_against(&Room::default()) > scale.size_against(&scale));
    }
}
