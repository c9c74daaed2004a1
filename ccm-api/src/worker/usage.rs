//! A worker's activity (the inputs of idle detection) and its capacity with what
//! lablets and hand-made labs hold of it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::resources::{PortRange, Resources};
use super::states::{PauseReason, ResumeReason};
use ccm_core::worker as core;

/// One piece of evidence that a person is using the worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ActivityEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Where it came from (`telemetry:start_lab`, `lablet`, `lab_state`).
    pub source: String,
    /// Short human text.
    pub detail: String,
}

impl From<&core::ActivityEvent> for ActivityEvent {
    fn from(e: &core::ActivityEvent) -> Self {
        Self {
            at: e.at,
            source: e.source.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// Activity and pause bookkeeping of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Activity {
    /// Most recent activity seen.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// Newest events first, at most 20.
    #[serde(default)]
    pub recent: Vec<ActivityEvent>,
    /// Times the worker was stopped, by any reason.
    pub pause_count: u32,
    /// Times the worker was started again.
    pub resume_count: u32,
    /// Why it was last stopped.
    pub last_pause_reason: Option<PauseReason>,
    /// When it was last stopped.
    pub last_paused_at: Option<DateTime<Utc>>,
    /// Why it was last started.
    pub last_resume_reason: Option<ResumeReason>,
    /// When it was last started.
    pub last_resumed_at: Option<DateTime<Utc>>,
    /// Idle detection holds off until this instant (set after a resume).
    pub snooze_until: Option<DateTime<Utc>>,
    /// Newest CML telemetry event already read (the per-worker high-water mark).
    pub telemetry_high_water: Option<DateTime<Utc>>,
}

impl From<&core::Activity> for Activity {
    fn from(a: &core::Activity) -> Self {
        Self {
            last_activity_at: a.last_activity_at,
            recent: a.recent.iter().map(Into::into).collect(),
            pause_count: a.pause_count,
            resume_count: a.resume_count,
            last_pause_reason: a.last_pause_reason.map(Into::into),
            last_paused_at: a.last_paused_at,
            last_resume_reason: a.last_resume_reason.map(Into::into),
            last_resumed_at: a.last_resumed_at,
            snooze_until: a.snooze_until,
            telemetry_high_water: a.telemetry_high_water,
        }
    }
}

/// Resources, nodes and ports held by one lablet on a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Allocation {
    /// CPU, memory and storage held.
    pub resources: Resources,
    /// CML node slots held.
    pub nodes: u32,
    /// Ports given to the lablet.
    pub ports: Vec<u16>,
}

impl From<&core::Allocation> for Allocation {
    fn from(a: &core::Allocation) -> Self {
        Self {
            resources: (&a.resources).into(),
            nodes: a.nodes,
            ports: a.ports.clone(),
        }
    }
}

/// Capacity taken on a worker by labs that no lablet owns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UnmanagedUsage {
    /// CPUs and memory of their running nodes, disk of all their nodes.
    pub resources: Resources,
    /// Their running nodes (they count against node slots and the licence).
    pub nodes: u32,
    /// How many such labs.
    pub labs: u32,
}

impl From<&core::UnmanagedUsage> for UnmanagedUsage {
    fn from(u: &core::UnmanagedUsage) -> Self {
        Self {
            resources: (&u.resources).into(),
            nodes: u.nodes,
            labs: u.labs,
        }
    }
}

/// A worker's capacity and its current allocations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Capacity {
    /// What the instance offers to labs (after the host's own reserve).
    pub declared: Resources,
    /// Node slots the worker accepts (before the licence limit).
    pub node_slots: u32,
    /// Ports lablets may be given.
    pub port_range: PortRange,
    /// Holdings by lablet id.
    #[serde(default)]
    pub allocations: BTreeMap<Uuid, Allocation>,
    /// What labs ccm did not make (built by hand on the worker's CML) take, as
    /// the lab sync last read it; placement counts it as taken.
    #[serde(default)]
    pub unmanaged: UnmanagedUsage,
}

impl From<&core::Capacity> for Capacity {
    fn from(c: &core::Capacity) -> Self {
        Self {
            declared: (&c.declared).into(),
            node_slots: c.node_slots,
            port_range: (&c.port_range).into(),
            allocations: c
                .allocations
                .iter()
                .map(|(id, a)| (id.0, a.into()))
                .collect(),
            unmanaged: (&c.unmanaged).into(),
        }
    }
}

impl Default for UnmanagedUsage {
    fn default() -> Self {
        Self::from(&core::UnmanagedUsage::default())
    }
}
