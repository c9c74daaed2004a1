//! What the worker operations answer besides the worker itself: the bulk import
//! report, the deletion, a refresh, the idle status and the metrics series.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{sample, Worker};
use crate::Example;
use ccm_core::fleet::idle::{IdleStatus as CoreIdleStatus, IdleVerdict as CoreIdleVerdict};

/// One instance not imported, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportSkip {
    /// The instance.
    pub instance_id: String,
    /// Why it was skipped.
    pub reason: String,
}

impl From<&ccm_core::fleet::ImportSkip> for ImportSkip {
    fn from(s: &ccm_core::fleet::ImportSkip) -> Self {
        Self {
            instance_id: s.instance_id.0.clone(),
            reason: s.reason.clone(),
        }
    }
}

/// What a bulk import did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportReport {
    /// Instances that matched.
    pub found: usize,
    /// Workers created.
    pub imported: Vec<Worker>,
    /// Instances skipped, with reasons.
    pub skipped: Vec<ImportSkip>,
}

impl From<&ccm_core::fleet::ImportReport> for ImportReport {
    fn from(r: &ccm_core::fleet::ImportReport) -> Self {
        Self {
            found: r.found,
            imported: r.imported.iter().map(Into::into).collect(),
            skipped: r.skipped.iter().map(Into::into).collect(),
        }
    }
}

fn sample_import_report() -> ccm_core::fleet::ImportReport {
    ccm_core::fleet::ImportReport {
        found: 2,
        imported: vec![sample::worker()],
        skipped: vec![ccm_core::fleet::ImportSkip {
            instance_id: ccm_core::ids::InstanceId::new("i-0fedcba9876543210"),
            reason: "already managed as worker cml-eu-1".into(),
        }],
    }
}

impl Example for ImportReport {
    fn example() -> Self {
        Self::from(&sample_import_report())
    }
}

/// What deleting a worker did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerDeletion {
    /// The worker removed.
    pub worker_id: Uuid,
    /// True when the instance was terminated first.
    pub instance_terminated: bool,
    /// Labs of lablets bound to the worker that were torn down first (a forced
    /// deletion that keeps the instance). Their lablets are placed again or end.
    #[serde(default)]
    pub labs_torn_down: Vec<String>,
    /// Such labs that could not be torn down (CML not answering), left on the
    /// instance.
    #[serde(default)]
    pub labs_left: Vec<String>,
}

impl From<&ccm_core::fleet::DeleteOutcome> for WorkerDeletion {
    fn from(d: &ccm_core::fleet::DeleteOutcome) -> Self {
        Self {
            worker_id: d.worker_id.0,
            instance_terminated: d.instance_terminated,
            labs_torn_down: d.labs_torn_down.clone(),
            labs_left: d.labs_left.clone(),
        }
    }
}

fn sample_deletion() -> ccm_core::fleet::DeleteOutcome {
    ccm_core::fleet::DeleteOutcome {
        worker_id: sample::worker().id,
        instance_terminated: false,
        labs_torn_down: vec!["5a3b2c1d-0000-4000-8000-00000000000a".into()],
        labs_left: vec!["5a3b2c1d-0000-4000-8000-00000000000b".into()],
    }
}

impl Example for WorkerDeletion {
    fn example() -> Self {
        Self::from(&sample_deletion())
    }
}

/// What a refresh-now request did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum RefreshOutcome {
    /// The worker was observed now.
    Refreshed {
        /// When.
        at: DateTime<Utc>,
    },
    /// The next sweep is due within the coalescing window; it will cover this worker.
    Coalesced {
        /// When the sweep runs.
        next_at: DateTime<Utc>,
    },
}

impl From<&ccm_core::fleet::RefreshOutcome> for RefreshOutcome {
    fn from(r: &ccm_core::fleet::RefreshOutcome) -> Self {
        use ccm_core::fleet::RefreshOutcome as C;
        match *r {
            C::Refreshed { at } => Self::Refreshed { at },
            C::Coalesced { next_at } => Self::Coalesced { next_at },
        }
    }
}

impl Example for RefreshOutcome {
    fn example() -> Self {
        Self::from(&ccm_core::fleet::RefreshOutcome::Refreshed { at: sample::at() })
    }
}

/// Why a worker is or is not to be paused now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum IdleVerdict {
    /// Idle detection is off for this worker.
    Disabled,
    /// Only running workers are paused.
    NotRunning,
    /// Lablets are running on it.
    InUse {
        /// How many.
        lablets: u32,
    },
    /// Recently resumed: never paused before `until`.
    Snoozed {
        /// End of the snooze window.
        until: DateTime<Utc>,
    },
    /// Active recently; paused at `pause_at` unless activity comes first.
    Active {
        /// When it would be paused.
        pause_at: DateTime<Utc>,
    },
    /// Idle past its timeout: pause now.
    PauseNow {
        /// When it became due.
        since: DateTime<Utc>,
    },
}

impl From<&CoreIdleVerdict> for IdleVerdict {
    fn from(v: &CoreIdleVerdict) -> Self {
        match *v {
            CoreIdleVerdict::Disabled => Self::Disabled,
            CoreIdleVerdict::NotRunning => Self::NotRunning,
            CoreIdleVerdict::InUse { lablets } => Self::InUse { lablets },
            CoreIdleVerdict::Snoozed { until } => Self::Snoozed { until },
            CoreIdleVerdict::Active { pause_at } => Self::Active { pause_at },
            CoreIdleVerdict::PauseNow { since } => Self::PauseNow { since },
        }
    }
}

/// The idle verdict of a worker and the facts behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdleStatus {
    /// The verdict.
    pub verdict: IdleVerdict,
    /// Idle detection on.
    pub enabled: bool,
    /// Minutes without activity before pausing.
    pub timeout_minutes: u32,
    /// Last activity seen.
    pub last_activity_at: Option<DateTime<Utc>>,
    /// The instant idleness is counted from.
    pub idle_since: Option<DateTime<Utc>>,
    /// When it would be paused if nothing happens.
    pub pause_at: Option<DateTime<Utc>>,
    /// Times paused so far.
    pub pause_count: u32,
}

impl From<&CoreIdleStatus> for IdleStatus {
    fn from(s: &CoreIdleStatus) -> Self {
        Self {
            verdict: (&s.verdict).into(),
            enabled: s.enabled,
            timeout_minutes: s.timeout_minutes,
            last_activity_at: s.last_activity_at,
            idle_since: s.idle_since,
            pause_at: s.pause_at,
            pause_count: s.pause_count,
        }
    }
}

fn sample_idle_status() -> CoreIdleStatus {
    CoreIdleStatus {
        verdict: CoreIdleVerdict::Active {
            pause_at: sample::at_plus(55),
        },
        enabled: true,
        timeout_minutes: 60,
        last_activity_at: Some(sample::at_plus(-5)),
        idle_since: Some(sample::at_plus(-5)),
        pause_at: Some(sample::at_plus(55)),
        pause_count: 2,
    }
}

impl Example for IdleStatus {
    fn example() -> Self {
        Self::from(&sample_idle_status())
    }
}

/// One observation of a worker's utilisation (or the average of a bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricPoint {
    /// The worker.
    pub worker_id: Uuid,
    /// When it was observed (the bucket's start for averaged points).
    pub at: DateTime<Utc>,
    /// CPU percent.
    pub cpu_percent: Option<f64>,
    /// Memory percent.
    pub memory_percent: Option<f64>,
    /// Disk percent.
    pub disk_percent: Option<f64>,
    /// CML nodes running.
    pub running_nodes: Option<u32>,
}

impl From<&ccm_core::ports::metric_series::MetricPoint> for MetricPoint {
    fn from(p: &ccm_core::ports::metric_series::MetricPoint) -> Self {
        Self {
            worker_id: p.worker_id.0,
            at: p.at,
            cpu_percent: p.cpu_percent,
            memory_percent: p.memory_percent,
            disk_percent: p.disk_percent,
            running_nodes: p.running_nodes,
        }
    }
}

fn sample_point() -> ccm_core::ports::metric_series::MetricPoint {
    ccm_core::ports::metric_series::MetricPoint {
        worker_id: sample::worker().id,
        at: sample::at(),
        cpu_percent: Some(12.5),
        memory_percent: Some(40.25),
        disk_percent: Some(31.0),
        running_nodes: Some(3),
    }
}

impl Example for MetricPoint {
    fn example() -> Self {
        Self::from(&sample_point())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize;

    fn same<D: Serialize, W: Serialize>(domain: &D, wire: &W) {
        assert_eq!(
            serde_json::to_string(wire).unwrap(),
            serde_json::to_string(domain).unwrap()
        );
    }

    #[test]
    fn answers_are_the_domain_answers_as_json() {
        let report = sample_import_report();
        same(&report, &ImportReport::from(&report));
        let deletion = sample_deletion();
        same(&deletion, &WorkerDeletion::from(&deletion));
        let status = sample_idle_status();
        same(&status, &IdleStatus::from(&status));
        let point = sample_point();
        same(&point, &MetricPoint::from(&point));
    }

    #[test]
    fn every_verdict_and_refresh_outcome_keeps_its_spelling() {
        let t = sample::at();
        for verdict in [
            CoreIdleVerdict::Disabled,
            CoreIdleVerdict::NotRunning,
            CoreIdleVerdict::InUse { lablets: 2 },
            CoreIdleVerdict::Snoozed { until: t },
            CoreIdleVerdict::Active { pause_at: t },
            CoreIdleVerdict::PauseNow { since: t },
        ] {
            same(&verdict, &IdleVerdict::from(&verdict));
        }
        for outcome in [
            ccm_core::fleet::RefreshOutcome::Refreshed { at: t },
            ccm_core::fleet::RefreshOutcome::Coalesced { next_at: t },
        ] {
            same(&outcome, &RefreshOutcome::from(&outcome));
        }
    }
}
