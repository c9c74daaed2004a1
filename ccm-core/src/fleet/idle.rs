//! Idle detection: when a running worker with nobody on it should be paused. A
//! pure function of the worker, its running lablets and the time, so the API can
//! explain the verdict and the controller acts on exactly the same answer.

use serde::{Deserialize, Serialize};

use crate::time::{plus_seconds, Timestamp};
use crate::worker::{LifecycleState, Worker};

/// Why a worker is or is not to be paused now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        until: Timestamp,
    },
    /// Active recently; paused at `pause_at` unless activity comes first.
    Active {
        /// When it would be paused.
        pause_at: Timestamp,
    },
    /// Idle past its timeout: pause now.
    PauseNow {
        /// When it became due.
        since: Timestamp,
    },
}

/// The verdict plus the facts behind it, as `idle_status` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdleStatus {
    /// The verdict.
    pub verdict: IdleVerdict,
    /// Idle detection on.
    pub enabled: bool,
    /// Minutes without activity before pausing.
    pub timeout_minutes: u32,
    /// Last activity seen.
    pub last_activity_at: Option<Timestamp>,
    /// The instant idleness is counted from.
    pub idle_since: Option<Timestamp>,
    /// When it would be paused if nothing happens.
    pub pause_at: Option<Timestamp>,
    /// Times paused so far.
    pub pause_count: u32,
}

/// Evaluates idle detection for `worker` at `now`.
pub fn idle_status(worker: &Worker, running_lablets: u32, now: Timestamp) -> IdleStatus {
    let idle = worker.spec.idle;
    let activity = &worker.status.activity;
    // Idleness counts from the latest of: last activity, last resume, becoming running.
    let idle_since = [
        activity.last_activity_at,
        activity.last_resumed_at,
        (worker.status.lifecycle == LifecycleState::Running)
            .then_some(worker.status.transitioned_at)
            .flatten(),
    ]
    .into_iter()
    .flatten()
    .max();
    let pause_at = idle_since.map(|t| plus_seconds(t, i64::from(idle.timeout_minutes) * 60));
    let verdict = if !idle.enabled {
        IdleVerdict::Disabled
    } else if worker.status.lifecycle != LifecycleState::Running {
        IdleVerdict::NotRunning
    } else if running_lablets > 0 {
        IdleVerdict::InUse {
            lablets: running_lablets,
        }
    } else if let Some(until) = activity.snooze_until.filter(|u| *u > now) {
        IdleVerdict::Snoozed { until }
    } else {
        match pause_at {
            Some(at) if at > now => IdleVerdict::Active { pause_at: at },
            Some(at) => IdleVerdict::PauseNow { since: at },
            None => IdleVerdict::PauseNow { since: now },
        }
    };
    IdleStatus {
        verdict,
        enabled: idle.enabled,
        timeout_minutes: idle.timeout_minutes,
        last_activity_at: activity.last_activity_at,
        idle_since,
        pause_at,
        pause_count: activity.pause_count,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ids::{Region, WorkerId};
    use crate::resources::Resources;
    use crate::time::epoch;
    use crate::worker::{ActivityEvent, Capacity, NewWorker};

    fn running_worker() -> Worker {
        let (mut w, _) = Worker::create(
            WorkerId::from_u128(1),
            NewWorker {
                name: "w".into(),
                region: Region::new("r"),
                instance_type: "t".into(),
                capacity: Capacity::new(Resources::ZERO, 0),
                tags: BTreeMap::new(),
                labels: BTreeMap::new(),
                idle: Default::default(),
                created_by: None,
                image: None,
            },
            epoch(),
        );
        w.observe_lifecycle(LifecycleState::Running, None, None, epoch())
            .unwrap();
        w
    }

    fn at(minutes: i64) -> Timestamp {
        plus_seconds(epoch(), minutes * 60)
    }

    #[test]
    fn counts_from_becoming_running_then_from_activity() {
        let mut w = running_worker();
        assert_eq!(
            idle_status(&w, 0, at(59)).verdict,
            IdleVerdict::Active { pause_at: at(60) }
        );
        assert_eq!(
            idle_status(&w, 0, at(60)).verdict,
            IdleVerdict::PauseNow { since: at(60) }
        );
        w.record_activity(
            ActivityEvent {
                at: at(50),
                source: "telemetry:start_lab".into(),
                detail: String::new(),
            },
            at(50),
        )
        .unwrap();
        assert_eq!(
            idle_status(&w, 0, at(60)).verdict,
            IdleVerdict::Active { pause_at: at(110) }
        );
    }

    #[test]
    fn lablets_snooze_and_switch_hold_the_pause() {
        let mut w = running_worker();
        assert_eq!(
            idle_status(&w, 2, at(500)).verdict,
            IdleVerdict::InUse { lablets: 2 }
        );
        w.status.activity.snooze_until = Some(at(600));
        assert_eq!(
            idle_status(&w, 0, at(500)).verdict,
            IdleVerdict::Snoozed { until: at(600) }
        );
        w.spec.idle.enabled = false;
        assert_eq!(idle_status(&w, 0, at(500)).verdict, IdleVerdict::Disabled);
        w.spec.idle.enabled = true;
        w.status.lifecycle = LifecycleState::Stopped;
        assert_eq!(idle_status(&w, 0, at(500)).verdict, IdleVerdict::NotRunning);
    }
}
