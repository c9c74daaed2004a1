//! Why a worker cannot take a lablet, and the shared per-shape rejection lists.
//!
//! With a million requests, a reason per worker per unplaced lablet would not fit in
//! memory, so unplaced requests of identical shape share one list behind an [`Arc`]
//! (see [`super::Unplaced`]).

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::candidate::WorkerCandidate;
use super::request::RequestShape;
use crate::ids::WorkerId;

/// The first check a worker failed for a lablet. Checks run in declaration order, so
/// a worker that is both draining and short of memory reports `Draining`: the
/// cheapest-to-fix or most fundamental obstacle is named first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// The instance is not running.
    NotRunning,
    /// CML on the worker cannot host labs right now.
    CmlUnavailable,
    /// The worker is being wound down and takes no new lablets.
    Draining,
    /// The worker's licence is not the one the definition requires.
    LicenceAffinity,
    /// The worker's CML is older than the definition's minimum (or unknown).
    CmlVersion,
    /// The worker's CML lacks a node or image definition the topology uses.
    MissingDefinitions,
    /// Not enough node slots left under the licence's node limit.
    NodeCap,
    /// Not enough free CPU.
    Cpu,
    /// Not enough free memory.
    Memory,
    /// Not enough free storage.
    Storage,
    /// Not enough free ports in the worker's port range.
    Ports,
}

impl RejectReason {
    /// Every reason, in the order the checks run.
    pub const ALL: [RejectReason; 11] = [
        RejectReason::NotRunning,
        RejectReason::CmlUnavailable,
        RejectReason::Draining,
        RejectReason::LicenceAffinity,
        RejectReason::CmlVersion,
        RejectReason::MissingDefinitions,
        RejectReason::NodeCap,
        RejectReason::Cpu,
        RejectReason::Memory,
        RejectReason::Storage,
        RejectReason::Ports,
    ];

    /// Stable name used in APIs and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::NotRunning => "not-running",
            RejectReason::CmlUnavailable => "cml-unavailable",
            RejectReason::Draining => "draining",
            RejectReason::LicenceAffinity => "licence-affinity",
            RejectReason::CmlVersion => "cml-version",
            RejectReason::MissingDefinitions => "missing-definitions",
            RejectReason::NodeCap => "node-cap",
            RejectReason::Cpu => "cpu",
            RejectReason::Memory => "memory",
            RejectReason::Storage => "storage",
            RejectReason::Ports => "ports",
        }
    }

    /// True for the reasons that depend on what is free rather than on what the
    /// worker is; only these can change as other lablets come and go.
    pub fn is_capacity(self) -> bool {
        matches!(
            self,
            RejectReason::NodeCap
                | RejectReason::Cpu
                | RejectReason::Memory
                | RejectReason::Storage
                | RejectReason::Ports
        )
    }

    fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many workers gave each reason: the short answer to "why is my lablet not
/// placed" when the full list has thousands of entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReasonCounts {
    counts: [usize; RejectReason::ALL.len()],
}

impl ReasonCounts {
    /// Workers that gave `reason`.
    pub fn get(&self, reason: RejectReason) -> usize {
        self.counts.get(reason.slot()).copied().unwrap_or(0)
    }

    /// Reasons given by at least one worker, in check order.
    pub fn iter(&self) -> impl Iterator<Item = (RejectReason, usize)> + '_ {
        RejectReason::ALL
            .iter()
            .map(|&reason| (reason, self.get(reason)))
            .filter(|&(_, count)| count > 0)
    }

    /// Workers counted (every worker of the batch).
    pub fn total(&self) -> usize {
        self.counts.iter().sum()
    }

    /// The reason most workers gave (the earliest in check order on a tie), if any.
    pub fn dominant(&self) -> Option<RejectReason> {
        self.iter()
            .fold(
                None,
                |best: Option<(RejectReason, usize)>, (reason, count)| match best {
                    Some((_, most)) if most >= count => best,
                    _ => Some((reason, count)),
                },
            )
            .map(|(reason, _)| reason)
    }

    fn add(&mut self, reason: RejectReason) {
        if let Some(count) = self.counts.get_mut(reason.slot()) {
            *count = count.saturating_add(1);
        }
    }
}

/// One worker's refusal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkerRejection {
    /// Position of the worker in the slice given to placement.
    pub worker_index: usize,
    /// The worker.
    pub worker: WorkerId,
    /// The first check it failed.
    pub reason: RejectReason,
}

/// Why every worker refused one request shape, computed when that shape first failed
/// in a batch. Capacity only shrinks during a batch, so each reason stays true for
/// every later request of the same shape; a later check may however also have
/// started failing on that worker (a worker refused for memory may since have run out
/// of CPU too).
///
/// Stored as one byte per worker, with the worker ids shared by every list of the
/// batch: a thousand failing shapes over 5,000 workers cost 5 MB, not 160.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejections {
    shape: RequestShape,
    workers: Arc<[WorkerId]>,
    reasons: Vec<RejectReason>,
    summary: ReasonCounts,
}

impl Rejections {
    /// `reasons[i]` is the reason of `workers[i]`; extra entries of either are ignored.
    pub(crate) fn new(
        shape: RequestShape,
        workers: Arc<[WorkerId]>,
        mut reasons: Vec<RejectReason>,
    ) -> Arc<Self> {
        reasons.truncate(workers.len());
        let mut summary = ReasonCounts::default();
        for &reason in &reasons {
            summary.add(reason);
        }
        Arc::new(Self {
            shape,
            workers,
            reasons,
            summary,
        })
    }

    /// The request shape these reasons are about.
    pub fn shape(&self) -> &RequestShape {
        &self.shape
    }

    /// One entry per worker, in the order the workers were given.
    pub fn by_worker(&self) -> impl ExactSizeIterator<Item = WorkerRejection> + '_ {
        self.reasons
            .iter()
            .zip(self.workers.iter())
            .enumerate()
            .map(|(worker_index, (&reason, &worker))| WorkerRejection {
                worker_index,
                worker,
                reason,
            })
    }

    /// The reason of the worker at `worker_index`.
    pub fn reason(&self, worker_index: usize) -> Option<RejectReason> {
        self.reasons.get(worker_index).copied()
    }

    /// Workers per reason.
    pub fn summary(&self) -> &ReasonCounts {
        &self.summary
    }

    /// What the worker at `worker_index` of `workers` (the slice given to
    /// placement) lacks of the definitions the shape needs; empty unless that
    /// worker refused for [`RejectReason::MissingDefinitions`].
    pub fn missing_definitions(
        &self,
        worker_index: usize,
        workers: &[WorkerCandidate],
    ) -> Vec<String> {
        match (
            self.reason(worker_index),
            self.shape.requires.as_deref(),
            workers.get(worker_index),
        ) {
            (Some(RejectReason::MissingDefinitions), Some(needs), Some(worker)) => {
                needs.missing_from(worker.catalog.as_deref())
            }
            _ => Vec::new(),
        }
    }

    /// One line for logs and lablet reasons: the dominant reason, and for missing
    /// definitions the names the first such worker lacks
    /// (`missing-definitions: csr1000v, image iosv-158-1`).
    pub fn explain(&self, workers: &[WorkerCandidate]) -> String {
        let Some(dominant) = self.summary.dominant() else {
            return "no workers".to_owned();
        };
        if dominant == RejectReason::MissingDefinitions {
            let first = self
                .reasons
                .iter()
                .position(|r| *r == RejectReason::MissingDefinitions);
            if let Some(index) = first {
                let missing = self.missing_definitions(index, workers);
                if !missing.is_empty() {
                    return format!("{dominant}: {}", missing.join(", "));
                }
            }
        }
        dominant.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_ordered_as_checked_and_named_stably() {
        let mut sorted = RejectReason::ALL;
        sorted.sort();
        assert_eq!(sorted, RejectReason::ALL);
        assert_eq!(
            RejectReason::LicenceAffinity.to_string(),
            "licence-affinity"
        );
        let json = serde_json::to_string(&RejectReason::NodeCap).unwrap();
        assert_eq!(json, "\"node-cap\"");
        assert!(RejectReason::Ports.is_capacity() && !RejectReason::Draining.is_capacity());
    }

    #[test]
    fn summary_counts_workers_per_reason() {
        let workers: Arc<[WorkerId]> = (0..3).map(WorkerId::from_u128).collect();
        let r = Rejections::new(
            RequestShape::default(),
            workers,
            vec![RejectReason::Cpu, RejectReason::Draining, RejectReason::Cpu],
        );
        let listed: Vec<_> = r.by_worker().collect();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[1].worker, WorkerId::from_u128(1));
        assert_eq!(listed[1].worker_index, 1);
        assert_eq!(listed[1].reason, RejectReason::Draining);
        assert_eq!(r.reason(2), Some(RejectReason::Cpu));
        assert_eq!(r.reason(3), None);
        assert_eq!(r.summary().get(RejectReason::Cpu), 2);
        assert_eq!(r.summary().get(RejectReason::Memory), 0);
        assert_eq!(r.summary().total(), 3);
        assert_eq!(r.summary().dominant(), Some(RejectReason::Cpu));
        let listed: Vec<_> = r.summary().iter().collect();
        assert_eq!(
            listed,
            vec![(RejectReason::Draining, 1), (RejectReason::Cpu, 2)]
        );
        assert_eq!(ReasonCounts::default().dominant(), None);
    }
}
