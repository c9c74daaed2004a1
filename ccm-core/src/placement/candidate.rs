//! A worker as placement sees it.

use std::sync::Arc;

use super::request::RequestShape;
use super::RejectReason;
use crate::catalog::NodeCatalog;
use crate::ids::WorkerId;
use crate::resources::{PortRange, Resources};
use crate::time::Timestamp;
use crate::version::SemVer;
use crate::worker::{CmlServiceState, DesiredStatus, LicenceKind, LifecycleState, Worker};

/// Eligibility and free capacity of one worker, detached from the full record so
/// placement stays a pure function over plain values (and benches can build 5,000
/// of them without events or metadata).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerCandidate {
    /// The worker.
    pub id: WorkerId,
    /// The instance is running.
    pub running: bool,
    /// CML can host labs.
    pub cml_available: bool,
    /// The worker takes no new lablets.
    pub draining: bool,
    /// Licence kind, when known.
    pub licence: Option<LicenceKind>,
    /// CML version, when known.
    pub cml_version: Option<SemVer>,
    /// Node and image definitions its CML offers, when known.
    pub catalog: Option<Arc<NodeCatalog>>,
    /// Node slots left under the lower of the worker's slots and the licence limit.
    pub free_nodes: u32,
    /// CPU, memory and storage not held by lablets.
    pub free: Resources,
    /// Ports not held by lablets (any order; overlaps are merged).
    pub free_ports: Vec<PortRange>,
    /// When the last lablet it holds ends; `None` when it holds none or the
    /// caller does not know. Only [`Policy::Lifetime`](super::Policy::Lifetime)
    /// reads it.
    pub busy_until: Option<Timestamp>,
}

impl WorkerCandidate {
    /// An eligible worker (running, CML available, not draining) with no licence or
    /// version known and the whole default port range free.
    pub fn new(id: WorkerId, free: Resources, free_nodes: u32) -> Self {
        Self {
            id,
            running: true,
            cml_available: true,
            draining: false,
            licence: None,
            cml_version: None,
            catalog: None,
            free_nodes,
            free,
            free_ports: vec![PortRange::default()],
            busy_until: None,
        }
    }

    /// Sets the licence kind.
    pub fn with_licence(mut self, kind: LicenceKind) -> Self {
        self.licence = Some(kind);
        self
    }

    /// Sets the CML version.
    pub fn with_cml_version(mut self, version: SemVer) -> Self {
        self.cml_version = Some(version);
        self
    }

    /// Sets the node and image catalog.
    pub fn with_catalog(mut self, catalog: Arc<NodeCatalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Sets when the last lablet it holds ends.
    pub fn with_busy_until(mut self, until: Timestamp) -> Self {
        self.busy_until = Some(until);
        self
    }

    /// Replaces the free ports.
    pub fn with_free_ports(mut self, ports: Vec<PortRange>) -> Self {
        self.free_ports = ports;
        self
    }

    /// The candidate for a worker record. Besides the draining flag, a worker whose
    /// desired status is no longer running, or whose record is being deleted, counts
    /// as draining: it is about to go, and a lablet placed there would be lost.
    pub fn from_worker(worker: &Worker) -> Self {
        let status = &worker.status;
        let capacity = &status.capacity;
        let node_cap = capacity
            .node_slots
            .min(status.licence.effective_node_limit());
        Self {
            id: worker.id,
            running: status.lifecycle == LifecycleState::Running,
            cml_available: status.cml.state == CmlServiceState::Available,
            draining: worker.spec.draining
                || worker.spec.desired_status != DesiredStatus::Running
                || worker.meta.deletion_timestamp.is_some(),
            licence: status.licence.kind,
            cml_version: status
                .cml
                .version
                .as_deref()
                .and_then(|text| text.parse().ok()),
            catalog: status.catalog.clone(),
            free_nodes: node_cap.saturating_sub(capacity.taken_nodes()),
            free: capacity.free(),
            free_ports: capacity.free_port_ranges(),
            // The worker record holds no end times; callers that place by
            // lifetime read them from the lablets (see `fleet::lifetimes`).
            busy_until: None,
        }
    }

    /// Running, CML available and not draining: what every lablet needs first.
    pub fn is_eligible(&self) -> bool {
        self.running && self.cml_available && !self.draining
    }

    /// The first non-capacity check the worker fails for `shape`, if any.
    pub(crate) fn gate(&self, shape: &RequestShape) -> Option<RejectReason> {
        if !self.running {
            Some(RejectReason::NotRunning)
        } else if !self.cml_available {
            Some(RejectReason::CmlUnavailable)
        } else if self.draining {
            Some(RejectReason::Draining)
        } else if !shape.accepts_licence(self.licence) {
            Some(RejectReason::LicenceAffinity)
        } else if !shape.accepts_version(self.cml_version) {
            Some(RejectReason::CmlVersion)
        } else if !shape.accepts_catalog(self.catalog.as_deref()) {
            Some(RejectReason::MissingDefinitions)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{LabletId, Region};
    use crate::time::epoch;
    use crate::worker::{Allocation, Capacity, CmlService, LicenceState, LicenceStatus, NewWorker};

    fn worker() -> Worker {
        let mut capacity = Capacity::new(Resources::new(48, 192, 1000), 100);
        capacity.port_range = PortRange {
            first: 2000,
            last: 2009,
        };
        capacity.allocations.insert(
            LabletId::from_u128(1),
            Allocation {
                resources: Resources::new(4, 8, 10),
                nodes: 3,
                ports: vec![2000, 2001],
            },
        );
        let input = NewWorker {
            name: "w1".into(),
            region: Region::new("us-east-1"),
            instance_type: "m5zn.metal".into(),
            capacity,
            tags: Default::default(),
            labels: Default::default(),
            idle: Default::default(),
            created_by: None,
            image: None,
        };
        let (mut worker, _) = Worker::create(WorkerId::from_u128(9), input, epoch());
        worker.status.lifecycle = LifecycleState::Running;
        worker.status.cml = CmlService {
            state: CmlServiceState::Available,
            version: Some("2.9.1+build.7".into()),
            ready: true,
            ..Default::default()
        };
        worker.status.licence = LicenceStatus {
            state: LicenceState::Registered,
            kind: Some(LicenceKind::Enterprise),
            node_limit: Some(20),
            ..Default::default()
        };
        worker
    }

    #[test]
    fn from_worker_reads_eligibility_and_free_capacity() {
        let c = WorkerCandidate::from_worker(&worker());
        assert!(c.is_eligible());
        assert_eq!(c.id, WorkerId::from_u128(9));
        assert_eq!(c.licence, Some(LicenceKind::Enterprise));
        assert_eq!(c.cml_version, Some(SemVer::new(2, 9, 1)));
        assert_eq!(c.free, Resources::new(44, 184, 990));
        assert_eq!(c.free_nodes, 17, "licence limit 20 minus 3 held");
        assert_eq!(
            c.free_ports,
            vec![PortRange {
                first: 2002,
                last: 2009
            }]
        );
    }

    #[test]
    fn unlicensed_worker_gets_the_small_node_cap() {
        let mut w = worker();
        w.status.licence = LicenceStatus::default();
        assert_eq!(WorkerCandidate::from_worker(&w).free_nodes, 2);
    }

    #[test]
    fn stopping_or_deleted_workers_count_as_draining() {
        let mut w = worker();
        w.spec.desired_status = DesiredStatus::Stopped;
        assert!(WorkerCandidate::from_worker(&w).draining);
        let mut w = worker();
        w.meta.deletion_timestamp = Some(epoch());
        assert!(WorkerCandidate::from_worker(&w).draining);
        let mut w = worker();
        w.spec.draining = true;
        assert!(!WorkerCandidate::from_worker(&w).is_eligible());
    }

    #[test]
    fn unparseable_version_is_unknown() {
        let mut w = worker();
        w.status.cml.version = Some("dev".into());
        w.status.lifecycle = LifecycleState::Stopped;
        let c = WorkerCandidate::from_worker(&w);
        assert_eq!(c.cml_version, None);
        assert!(!c.running);
    }

    #[test]
    fn gate_checks_in_order() {
        let shape = RequestShape {
            licence_affinity: Some(LicenceKind::Personal),
            ..Default::default()
        };
        let mut c = WorkerCandidate::new(WorkerId::from_u128(1), Resources::ZERO, 0);
        assert_eq!(c.gate(&shape), Some(RejectReason::LicenceAffinity));
        c.draining = true;
        assert_eq!(c.gate(&shape), Some(RejectReason::Draining));
        c.cml_available = false;
        assert_eq!(c.gate(&shape), Some(RejectReason::CmlUnavailable));
        c.running = false;
        assert_eq!(c.gate(&shape), Some(RejectReason::NotRunning));
        assert_eq!(
            WorkerCandidate::new(WorkerId::from_u128(1), Resources::ZERO, 0)
                .gate(&RequestShape::default()),
            None
        );
    }
}
