//! User activity on a worker and its pause/resume history, the inputs of idle detection.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Why a worker was stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseReason {
    /// No user activity for longer than the idle timeout.
    IdleTimeout,
    /// An operator asked for the stop through ccm.
    Manual,
    /// Stopped outside ccm (console, another tool).
    External,
    /// The autoscaler drained and stopped an empty worker.
    ScaleDown,
}

/// Why a worker was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResumeReason {
    /// An operator asked for the start through ccm.
    Manual,
    /// Started outside ccm.
    External,
    /// The autoscaler needs capacity.
    ScaleUp,
}

/// One piece of evidence that a person is using the worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityEvent {
    /// When it happened.
    pub at: Timestamp,
    /// Where it came from (`telemetry:start_lab`, `lablet`, `lab_state`).
    pub source: String,
    /// Short human text.
    pub detail: String,
}

/// Activity and pause bookkeeping of a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Activity {
    /// Most recent activity seen.
    pub last_activity_at: Option<Timestamp>,
    /// Newest events first, at most [`Activity::RECENT_CAP`].
    #[serde(default)]
    pub recent: VecDeque<ActivityEvent>,
    /// Times the worker was stopped, by any reason.
    pub pause_count: u32,
    /// Times the worker was started again.
    pub resume_count: u32,
    /// Why it was last stopped.
    pub last_pause_reason: Option<PauseReason>,
    /// When it was last stopped.
    pub last_paused_at: Option<Timestamp>,
    /// Why it was last started.
    pub last_resume_reason: Option<ResumeReason>,
    /// When it was last started.
    pub last_resumed_at: Option<Timestamp>,
    /// Idle detection holds off until this instant (set after a resume).
    pub snooze_until: Option<Timestamp>,
    /// Newest CML telemetry event already read (the per-worker high-water mark).
    pub telemetry_high_water: Option<Timestamp>,
}

impl Activity {
    /// How many recent events are kept.
    pub const RECENT_CAP: usize = 20;

    /// Records activity; older events beyond the cap are dropped.
    pub fn record(&mut self, event: ActivityEvent) {
        if self.last_activity_at.is_none_or(|last| event.at > last) {
            self.last_activity_at = Some(event.at);
        }
        self.recent.push_front(event);
        self.recent.truncate(Self::RECENT_CAP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{epoch, plus_seconds};

    #[test]
    fn recent_events_are_capped_and_newest_first() {
        let mut a = Activity::default();
        for i in 0..30 {
            a.record(ActivityEvent {
                at: plus_seconds(epoch(), i),
                source: "telemetry:start_lab".into(),
                detail: format!("{i}"),
            });
        }
        assert_eq!(a.recent.len(), Activity::RECENT_CAP);
        assert_eq!(a.recent[0].detail, "29");
        assert_eq!(a.last_activity_at, Some(plus_seconds(epoch(), 29)));
    }

    #[test]
    fn older_event_does_not_move_last_activity_back() {
        let mut a = Activity::default();
        let new = plus_seconds(epoch(), 100);
        for at in [new, epoch()] {
            a.record(ActivityEvent {
                at,
                source: "s".into(),
                detail: String::new(),
            });
        }
        assert_eq!(a.last_activity_at, Some(new));
    }
}
