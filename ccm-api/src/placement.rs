//! The placement preview (`POST /api/v1/placement/preview`): where lablets of a
//! definition would go now, every worker's refusal with its reason, and the
//! workers a scale-up would add. Nothing is written.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Example;

/// How placement chooses among the workers that can take a lablet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlacementPolicy {
    /// Best fit: the fullest feasible worker, so the rest can be stopped.
    Pack,
    /// The feasible worker with the most headroom.
    Spread,
    /// Time-aware best fit: the worker whose lablets end when this one ends, so
    /// workers empty together (a preview, which has no timeslot, places as pack).
    Lifetime,
}

impl From<ccm_core::placement::Policy> for PlacementPolicy {
    fn from(policy: ccm_core::placement::Policy) -> Self {
        use ccm_core::placement::Policy as Domain;
        match policy {
            Domain::Pack => Self::Pack,
            Domain::Spread => Self::Spread,
            Domain::Lifetime => Self::Lifetime,
        }
    }
}

impl From<PlacementPolicy> for ccm_core::placement::Policy {
    fn from(policy: PlacementPolicy) -> Self {
        match policy {
            PlacementPolicy::Pack => Self::Pack,
            PlacementPolicy::Spread => Self::Spread,
            PlacementPolicy::Lifetime => Self::Lifetime,
        }
    }
}

/// The first check a worker failed for a lablet (checks run in this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

impl From<ccm_core::placement::RejectReason> for RejectReason {
    fn from(reason: ccm_core::placement::RejectReason) -> Self {
        use ccm_core::placement::RejectReason as Domain;
        match reason {
            Domain::NotRunning => Self::NotRunning,
            Domain::CmlUnavailable => Self::CmlUnavailable,
            Domain::Draining => Self::Draining,
            Domain::LicenceAffinity => Self::LicenceAffinity,
            Domain::CmlVersion => Self::CmlVersion,
            Domain::MissingDefinitions => Self::MissingDefinitions,
            Domain::NodeCap => Self::NodeCap,
            Domain::Cpu => Self::Cpu,
            Domain::Memory => Self::Memory,
            Domain::Storage => Self::Storage,
            Domain::Ports => Self::Ports,
        }
    }
}

impl RejectReason {
    /// The reason's name on the wire (`not-running`, `missing-definitions`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotRunning => "not-running",
            Self::CmlUnavailable => "cml-unavailable",
            Self::Draining => "draining",
            Self::LicenceAffinity => "licence-affinity",
            Self::CmlVersion => "cml-version",
            Self::MissingDefinitions => "missing-definitions",
            Self::NodeCap => "node-cap",
            Self::Cpu => "cpu",
            Self::Memory => "memory",
            Self::Storage => "storage",
            Self::Ports => "ports",
        }
    }
}

fn one() -> usize {
    1
}

/// Body of `POST /api/v1/placement/preview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlacementPreviewRequest {
    /// Definition version whose lablets would be placed.
    pub definition_id: Uuid,
    /// How many lablets (1 to 1000; 1 when absent).
    #[serde(default = "one")]
    #[schema(default = 1, minimum = 1, maximum = 1000)]
    pub count: usize,
    /// Placement policy; the configured one when absent.
    pub policy: Option<PlacementPolicy>,
}

/// One lablet of the preview placed on a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewPlaced {
    /// Position of the lablet in the request (0-based).
    pub index: usize,
    /// The worker.
    pub worker_id: Uuid,
    /// The worker's name.
    pub worker_name: String,
    /// Ports that would be reserved, ascending.
    pub ports: Vec<u16>,
}

/// One worker's refusal of a lablet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewRefusal {
    /// The worker.
    pub worker_id: Uuid,
    /// The worker's name.
    pub worker_name: String,
    /// The first check it failed.
    pub reason: RejectReason,
    /// For `missing-definitions`: the node definitions (and `image <id>`s) the
    /// worker's CML lacks. Absent when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// One lablet of the preview no worker could take, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewUnplaced {
    /// Position of the lablet in the request (0-based).
    pub index: usize,
    /// The reason most workers gave (the earliest in check order on a tie);
    /// `null` when there are no workers.
    pub dominant_reason: Option<RejectReason>,
    /// Workers per reason (keys are reason names; reasons no worker gave are absent).
    pub reasons: BTreeMap<String, usize>,
    /// Each worker's refusal, in the order workers were considered.
    pub workers: Vec<PreviewRefusal>,
}

/// One line of a scale-up suggestion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PreviewScaleUpLine {
    /// Instance type (from the price table).
    pub instance_type: String,
    /// Workers to launch.
    pub workers: u64,
    /// Lablets they would take.
    pub lablets: u64,
    /// Their combined hourly cost, USD.
    pub hourly_usd: f64,
}

/// What placement would do now: the answer of `POST /api/v1/placement/preview`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PlacementPreview {
    /// Policy used.
    pub policy: PlacementPolicy,
    /// Workers considered (every worker not terminated).
    pub workers_considered: usize,
    /// Lablets placed.
    pub placed: Vec<PreviewPlaced>,
    /// Lablets no worker could take.
    pub unplaced: Vec<PreviewUnplaced>,
    /// Workers a scale-up would add for the left-over lablets.
    pub scale_up: Vec<PreviewScaleUpLine>,
    /// Hourly cost of that scale-up, USD.
    pub scale_up_hourly_usd: f64,
}

impl From<&ccm_core::fleet::PlacementPreview> for PlacementPreview {
    fn from(preview: &ccm_core::fleet::PlacementPreview) -> Self {
        let candidates = &preview.candidates;
        let plan = &preview.plan;
        let placed = plan
            .assignments
            .iter()
            .map(|a| PreviewPlaced {
                index: a.request_index,
                worker_id: a.worker.0,
                worker_name: preview.name(&a.worker),
                ports: a.ports.clone(),
            })
            .collect();
        let unplaced = plan
            .unplaced
            .iter()
            .map(|u| PreviewUnplaced {
                index: u.request_index,
                dominant_reason: u.summary().dominant().map(RejectReason::from),
                reasons: u
                    .summary()
                    .iter()
                    .filter(|(_, n)| *n > 0)
                    .map(|(r, n)| (RejectReason::from(r).as_str().to_owned(), n))
                    .collect(),
                workers: u
                    .rejections
                    .by_worker()
                    .map(|w| PreviewRefusal {
                        worker_id: w.worker.0,
                        worker_name: preview.name(&w.worker),
                        reason: w.reason.into(),
                        missing: u.rejections.missing_definitions(w.worker_index, candidates),
                    })
                    .collect(),
            })
            .collect();
        let suggestion = &preview.scale_up;
        Self {
            policy: preview.policy.into(),
            workers_considered: candidates.len(),
            placed,
            unplaced,
            scale_up: suggestion
                .lines
                .iter()
                .map(|l| PreviewScaleUpLine {
                    instance_type: l.instance_type.clone(),
                    workers: l.workers,
                    lablets: l.lablets,
                    hourly_usd: l.hourly_usd,
                })
                .collect(),
            scale_up_hourly_usd: suggestion.total_hourly_usd,
        }
    }
}

impl Example for PlacementPreviewRequest {
    fn example() -> Self {
        Self {
            definition_id: Uuid::from_u128(0x0d3f_0000_0000_4000_8000_0000_0000_0001),
            count: 3,
            policy: Some(PlacementPolicy::Pack),
        }
    }
}

impl Example for PlacementPreview {
    fn example() -> Self {
        let worker = |n: u128| Uuid::from_u128(0x3a7c_0000_0000_4000_8000_0000_0000_0000 + n);
        Self {
            policy: PlacementPolicy::Pack,
            workers_considered: 2,
            placed: vec![PreviewPlaced {
                index: 0,
                worker_id: worker(1),
                worker_name: "cml-eu-1".into(),
                ports: vec![5000, 5001],
            }],
            unplaced: vec![PreviewUnplaced {
                index: 1,
                dominant_reason: Some(RejectReason::Memory),
                reasons: BTreeMap::from([("memory".into(), 1), ("missing-definitions".into(), 1)]),
                workers: vec![
                    PreviewRefusal {
                        worker_id: worker(1),
                        worker_name: "cml-eu-1".into(),
                        reason: RejectReason::Memory,
                        missing: Vec::new(),
                    },
                    PreviewRefusal {
                        worker_id: worker(2),
                        worker_name: "cml-eu-2".into(),
                        reason: RejectReason::MissingDefinitions,
                        missing: vec!["csr1000v".into(), "image iosv-159-3".into()],
                    },
                ],
            }],
            scale_up: vec![PreviewScaleUpLine {
                instance_type: "m5zn.metal".into(),
                workers: 1,
                lablets: 1,
                hourly_usd: 3.96,
            }],
            scale_up_hourly_usd: 3.96,
        }
    }
}

#[cfg(test)]
#[path = "placement_tests.rs"]
mod tests;
