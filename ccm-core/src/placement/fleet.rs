//! The mutable side of a batch: what each worker still has free.

use std::sync::Arc;

use super::candidate::WorkerCandidate;
use super::port_pool::PortPool;
use super::reason::{RejectReason, Rejections};
use super::request::RequestShape;
use super::room::Room;
use crate::ids::WorkerId;

/// Free room and ports per worker, shared by the indexed engine and the baseline so
/// both apply exactly the same rules.
#[derive(Clone, Debug)]
pub(crate) struct FleetState<'a> {
    pub(crate) workers: &'a [WorkerCandidate],
    pub(crate) rooms: Vec<Room>,
    pools: Vec<PortPool>,
    /// Worker ids shared by every rejection list of the batch (made on first use).
    ids: Option<Arc<[WorkerId]>>,
}

impl<'a> FleetState<'a> {
    pub(crate) fn new(workers: &'a [WorkerCandidate]) -> Self {
        let pools: Vec<PortPool> = workers
            .iter()
            .map(|w| PortPool::new(w.free_ports.iter().copied()))
            .collect();
        let rooms = workers
            .iter()
            .zip(&pools)
            .map(|(w, pool)| Room {
                cpu: w.free.cpu_millis,
                mem: w.free.memory_mib,
                storage: w.free.storage_gib,
                nodes: w.free_nodes,
                ports: pool.free(),
            })
            .collect();
        Self {
            workers,
            rooms,
            pools,
            ids: None,
        }
    }

    /// Per-dimension maximum room of the eligible workers: the yardstick request
    /// sizes are measured against.
    pub(crate) fn scale(&self) -> Room {
        self.workers
            .iter()
            .zip(&self.rooms)
            .filter(|(w, _)| w.is_eligible())
            .fold(Room::default(), |acc, (_, room)| acc.max_with(room))
    }

    /// The first check worker `index` fails for the shape, if any.
    pub(crate) fn check(
        &self,
        index: usize,
        shape: &RequestShape,
        need: &Room,
    ) -> Option<RejectReason> {
        let worker = self.workers.get(index)?;
        worker
            .gate(shape)
            .or_else(|| self.rooms.get(index).and_then(|room| room.shortfall(need)))
    }

    /// Holds `need` on worker `index`; returns its room before and the ports given.
    /// The caller has checked that it fits; room and pool count ports in lockstep,
    /// so the pool cannot come up short.
    pub(crate) fn take(&mut self, index: usize, need: &Room) -> (Room, Vec<u16>) {
        let Some(room) = self.rooms.get_mut(index) else {
            return (Room::default(), Vec::new());
        };
        let old = *room;
        *room = old.minus(need);
        let ports = self
            .pools
            .get_mut(index)
            .and_then(|pool| pool.take_lowest(need.ports))
            .unwrap_or_default();
        (old, ports)
    }

    /// Either a worker that fits after all, or every worker's reason.
    pub(crate) fn reject(
        &mut self,
        shape: &RequestShape,
        need: &Room,
    ) -> Result<usize, Arc<Rejections>> {
        let mut reasons = Vec::with_capacity(self.workers.len());
        for index in 0..self.workers.len() {
            match self.check(index, shape, need) {
                Some(reason) => reasons.push(reason),
                None => return Ok(index),
            }
        }
        let workers = self.workers;
        let ids = self
            .ids
            .get_or_insert_with(|| workers.iter().map(|w| w.id).collect());
        Err(Rejections::new(shape.clone(), Arc::clone(ids), reasons))
    }
}
