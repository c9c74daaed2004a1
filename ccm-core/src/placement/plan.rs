//! The outcome of a placement batch.

use std::sync::Arc;

use super::reason::{ReasonCounts, Rejections};
use crate::definition::ResourceNeeds;
use crate::ids::{LabletId, WorkerId};
use crate::worker::Allocation;

/// A lablet bound to a worker, with the ports reserved for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assignment {
    /// Position of the request in the slice given to placement (ids may repeat).
    pub request_index: usize,
    /// The lablet.
    pub lablet: LabletId,
    /// Position of the worker in the slice given to placement.
    pub worker_index: usize,
    /// The worker.
    pub worker: WorkerId,
    /// Ports reserved, ascending: the lowest that were free.
    pub ports: Vec<u16>,
}

impl Assignment {
    /// The allocation to record on the worker (see `Worker::allocate`) for a lablet
    /// with these needs.
    pub fn allocation(&self, needs: &ResourceNeeds) -> Allocation {
        Allocation {
            resources: needs.resources,
            nodes: needs.nodes,
            ports: self.ports.clone(),
        }
    }
}

/// A lablet no worker could take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unplaced {
    /// Position of the request in the slice given to placement.
    pub request_index: usize,
    /// The lablet.
    pub lablet: LabletId,
    /// Why each worker refused. Shared with every other unplaced request of the same
    /// shape in the batch, so a million failures cost one list per shape.
    pub rejections: Arc<Rejections>,
}

impl Unplaced {
    /// Workers per reason.
    pub fn summary(&self) -> &ReasonCounts {
        self.rejections.summary()
    }
}

/// Assignments and refusals of one batch. Every request appears exactly once, in one
/// of the two lists; both are in decision order (decreasing size), which is the
/// order in which applying the assignments reproduces the batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Lablets placed.
    pub assignments: Vec<Assignment>,
    /// Lablets left unplaced.
    pub unplaced: Vec<Unplaced>,
}

impl Plan {
    /// True when every request was placed.
    pub fn is_complete(&self) -> bool {
        self.unplaced.is_empty()
    }

    /// Distinct workers that received at least one lablet.
    pub fn workers_used(&self) -> usize {
        let mut used: Vec<usize> = self.assignments.iter().map(|a| a.worker_index).collect();
        used.sort_unstable();
        used.dedup();
        used.len()
    }

    /// Distinct rejection lists behind the unplaced requests: how much memory the
    /// sharing saved is `unplaced.len()` against this.
    pub fn distinct_rejection_lists(&self) -> usize {
        let mut lists: Vec<*const Rejections> = self
            .unplaced
            .iter()
            .map(|u| Arc::as_ptr(&u.rejections))
            .collect();
        lists.sort_unstable();
        lists.dedup();
        lists.len()
    }
}
