//! Jobs on the wire: the job runner's recurrent and one-shot jobs with their
//! next and last run ([`JobRecord`]), and what a trigger did ([`TriggerOutcome`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Example;
use ccm_core::job as core;
use ccm_core::runtime::job_runner::TriggerOutcome as CoreTrigger;

/// When a job runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
        at: DateTime<Utc>,
    },
}

impl From<&core::JobSchedule> for JobSchedule {
    fn from(s: &core::JobSchedule) -> Self {
        match *s {
            core::JobSchedule::Every { seconds } => Self::Every { seconds },
            core::JobSchedule::Once { at } => Self::Once { at },
        }
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum JobOutcome {
    /// Finished without error.
    Succeeded,
    /// Failed; the schedule is kept.
    Failed {
        /// Error text (hidden from users: they see that it failed).
        error: String,
    },
}

impl From<&core::JobOutcome> for JobOutcome {
    fn from(o: &core::JobOutcome) -> Self {
        match o {
            core::JobOutcome::Succeeded => Self::Succeeded,
            core::JobOutcome::Failed { error } => Self::Failed {
                error: error.clone(),
            },
        }
    }
}

/// A job and its run history summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct JobRecord {
    /// Unique name (`metrics-sweep`, `labs-sync`, `refresh:<worker>`).
    pub name: String,
    /// Schedule.
    pub schedule: JobSchedule,
    /// Next planned run; `null` for a finished one-shot job.
    pub next_run_at: Option<DateTime<Utc>>,
    /// Start of the last run.
    pub last_run_at: Option<DateTime<Utc>>,
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

impl From<&core::JobRecord> for JobRecord {
    fn from(j: &core::JobRecord) -> Self {
        Self {
            name: j.name.clone(),
            schedule: (&j.schedule).into(),
            next_run_at: j.next_run_at,
            last_run_at: j.last_run_at,
            last_duration_ms: j.last_duration_ms,
            last_outcome: j.last_outcome.as_ref().map(Into::into),
            paused: j.paused,
            version: j.version,
        }
    }
}

impl From<core::JobRecord> for JobRecord {
    fn from(j: core::JobRecord) -> Self {
        Self::from(&j)
    }
}

fn sample_job() -> core::JobRecord {
    let at = crate::worker::sample_at();
    core::JobRecord {
        name: "metrics-sweep".into(),
        schedule: core::JobSchedule::Every { seconds: 300 },
        next_run_at: Some(at + chrono::Duration::minutes(5)),
        last_run_at: Some(at),
        last_duration_ms: Some(1840),
        last_outcome: Some(core::JobOutcome::Failed {
            error: "CloudWatch throttled the request".into(),
        }),
        paused: false,
        version: 118,
    }
}

impl Example for JobRecord {
    fn example() -> Self {
        Self::from(&sample_job())
    }
}

/// What a trigger did: `{"result": "scheduled" | "coalesced", "at": …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "result", content = "at", rename_all = "snake_case")]
pub enum TriggerOutcome {
    /// The job will run at this time (now).
    Scheduled(DateTime<Utc>),
    /// A run was already due within the coalescing window; nothing was added.
    Coalesced(DateTime<Utc>),
}

impl From<&CoreTrigger> for TriggerOutcome {
    fn from(t: &CoreTrigger) -> Self {
        match *t {
            CoreTrigger::Scheduled(at) => Self::Scheduled(at),
            CoreTrigger::Coalesced(at) => Self::Coalesced(at),
        }
    }
}

impl Example for TriggerOutcome {
    fn example() -> Self {
        Self::from(&CoreTrigger::Scheduled(crate::worker::sample_at()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same<D: Serialize, W: Serialize>(domain: &D, wire: &W) {
        assert_eq!(
            serde_json::to_string(wire).unwrap(),
            serde_json::to_string(domain).unwrap()
        );
    }

    #[test]
    fn the_wire_job_is_the_domain_job_as_json() {
        let job = sample_job();
        same(&job, &JobRecord::from(&job));
        let once = core::JobRecord {
            schedule: core::JobSchedule::Once {
                at: crate::worker::sample_at(),
            },
            last_outcome: Some(core::JobOutcome::Succeeded),
            ..sample_job()
        };
        same(&once, &JobRecord::from(&once));
        let at = crate::worker::sample_at();
        for t in [CoreTrigger::Scheduled(at), CoreTrigger::Coalesced(at)] {
            same(&t, &TriggerOutcome::from(&t));
        }
    }
}
