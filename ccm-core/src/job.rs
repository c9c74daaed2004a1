//! Jobs of the job runner as the store keeps them.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// When a job runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSchedule {
    /// Every `seconds`, from the last planned run.
    Every {
        /// Interval in seconds.
        seconds: u64,
    },
    /// Once, at `at`.
    Once {
        /// When.
        at: Timestamp,
    },
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum JobOutcome {
    /// Finished without error.
    Succeeded,
    /// Failed; the schedule is kept.
    Failed {
        /// Error text.
        error: String,
    },
}

/// A job and its run history summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Unique name (`metrics-sweep`, `labs-sync`, `refresh:<worker>`).
    pub name: String,
    /// Schedule.
    pub schedule: JobSchedule,
    /// Next planned run; `None` for a finished one-shot job.
    pub next_run_at: Option<Timestamp>,
    /// Start of the last run.
    pub last_run_at: Option<Timestamp>,
    /// Duration of the last run in milliseconds.
    pub last_duration_ms: Option<u64>,
    /// Outcome of the last run.
    pub last_outcome: Option<JobOutcome>,
    /// Paused jobs keep their schedule but do not run.
    pub paused: bool,
    /// Store version (optimistic concurrency).
    #[serde(default)]
    pub version: u64,
}
