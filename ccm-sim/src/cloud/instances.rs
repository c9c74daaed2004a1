//! One simulated EC2 instance. Its state is a function of the virtual clock: the
//! record stores the last phase with the instant its transition completes, and
//! [`InstanceRecord::phase_at`] reads the phase at any later time without mutation.

use std::collections::BTreeMap;

use ccm_core::ids::{ImageId, InstanceId, Region};
use ccm_core::ports::cloud::{CloudError, Instance, InstanceState, InstanceStatusCheck};
use ccm_core::time::{plus_seconds, Timestamp};
use serde::{Deserialize, Serialize};

/// Where an instance is in its life, with the instants that drive it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum Phase {
    /// Booting; running from `ready_at`.
    Pending {
        /// Running from here on.
        ready_at: Timestamp,
    },
    /// Running since `since`.
    Running {
        /// Start of this run.
        since: Timestamp,
    },
    /// Stopping; stopped from `done_at`.
    Stopping {
        /// Stopped from here on.
        done_at: Timestamp,
    },
    /// Stopped since `since`.
    Stopped {
        /// When it stopped.
        since: Timestamp,
    },
    /// Terminating; terminated from `done_at`.
    ShuttingDown {
        /// Terminated from here on.
        done_at: Timestamp,
    },
    /// Terminated since `since` (final).
    Terminated {
        /// When it terminated.
        since: Timestamp,
    },
}

impl Phase {
    /// The phase at `now`, completing a transition whose time has come.
    pub(crate) fn at(self, now: Timestamp) -> Phase {
        match self {
            Phase::Pending { ready_at } if now >= ready_at => Phase::Running { since: ready_at },
            Phase::Stopping { done_at } if now >= done_at => Phase::Stopped { since: done_at },
            Phase::ShuttingDown { done_at } if now >= done_at => {
                Phase::Terminated { since: done_at }
            }
            other => other,
        }
    }

    /// The EC2 state.
    pub(crate) fn state(self) -> InstanceState {
        match self {
            Phase::Pending { .. } => InstanceState::Pending,
            Phase::Running { .. } => InstanceState::Running,
            Phase::Stopping { .. } => InstanceState::Stopping,
            Phase::Stopped { .. } => InstanceState::Stopped,
            Phase::ShuttingDown { .. } => InstanceState::ShuttingDown,
            Phase::Terminated { .. } => InstanceState::Terminated,
        }
    }

    /// EC2's state name.
    pub(crate) fn name(self) -> &'static str {
        self.state().as_str()
    }

    /// True while the instance holds compute capacity (pending, running, stopping).
    pub(crate) fn is_active(self) -> bool {
        matches!(
            self,
            Phase::Pending { .. } | Phase::Running { .. } | Phase::Stopping { .. }
        )
    }

    /// True once terminated.
    pub(crate) fn is_terminated(self) -> bool {
        matches!(self, Phase::Terminated { .. })
    }
}

/// Everything the simulator knows about one instance.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct InstanceRecord {
    pub(crate) id: InstanceId,
    pub(crate) region: Region,
    pub(crate) instance_type: String,
    pub(crate) image_id: ImageId,
    pub(crate) launched_at: Timestamp,
    /// Launch order in the whole world (drives the fake IPs).
    pub(crate) seq: u64,
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) detailed_monitoring: bool,
    pub(crate) phase: Phase,
    /// The run before the current phase, for metric datapoints: (since, until).
    pub(crate) previous_run: Option<(Timestamp, Timestamp)>,
    /// Status checks report `impaired` (test hook).
    pub(crate) impaired: bool,
}

/// True for `i-` followed by 8 or 17 hex digits, as EC2 accepts.
pub(crate) fn is_well_formed_instance_id(id: &str) -> bool {
    id.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
}

/// The error EC2 gives for an id that is not known in the region.
pub(crate) fn unknown_instance(operation: &str, id: &InstanceId) -> CloudError {
    if is_well_formed_instance_id(id.as_str()) {
        CloudError::NotFound {
            what: "instance",
            id: id.to_string(),
        }
    } else {
        CloudError::InvalidRequest {
            operation: operation.to_owned(),
            code: "InvalidInstanceID.Malformed".into(),
            message: format!("Invalid id: \"{id}\""),
        }
    }
}

fn incorrect_state(operation: &str, id: &InstanceId, state: &str) -> CloudError {
    CloudError::InvalidRequest {
        operation: operation.to_owned(),
        code: "IncorrectInstanceState".into(),
        message: format!(
            "The instance '{id}' is not in a state from which it can be {operation}: {state}"
        ),
    }
}

impl InstanceRecord {
    /// The phase at `now`.
    pub(crate) fn phase_at(&self, now: Timestamp) -> Phase {
        self.phase.at(now)
    }

    /// Brings the stored phase up to `now`.
    pub(crate) fn settle(&mut self, now: Timestamp) {
        self.phase = self.phase.at(now);
    }

    /// Start of the current run, if running at `now`.
    pub(crate) fn running_since(&self, now: Timestamp) -> Option<Timestamp> {
        match self.phase_at(now) {
            Phase::Running { since } => Some(since),
            _ => None,
        }
    }

    /// True when the instance was running at instant `at` (as far as remembered).
    pub(crate) fn was_running_at(&self, at: Timestamp, now: Timestamp) -> bool {
        let current = match self.phase_at(now) {
            Phase::Running { since } => since <= at,
            _ => false,
        };
        current
            || self
                .previous_run
                .is_some_and(|(since, until)| since <= at && at < until)
    }

    /// Checks that `start` may apply; `Ok(true)` when it changes something.
    pub(crate) fn check_start(&self, now: Timestamp) -> Result<bool, CloudError> {
        match self.phase_at(now) {
            Phase::Stopped { .. } => Ok(true),
            Phase::Pending { .. } | Phase::Running { .. } => Ok(false),
            other => Err(incorrect_state("started", &self.id, other.name())),
        }
    }

    /// Checks that `stop` may apply; `Ok(true)` when it changes something.
    pub(crate) fn check_stop(&self, now: Timestamp) -> Result<bool, CloudError> {
        match self.phase_at(now) {
            Phase::Running { .. } => Ok(true),
            Phase::Stopping { .. } | Phase::Stopped { .. } => Ok(false),
            other => Err(incorrect_state("stopped", &self.id, other.name())),
        }
    }

    /// `stopped` → `pending`; like EC2, the launch time becomes the start time.
    pub(crate) fn start(&mut self, now: Timestamp, boot_seconds: i64) {
        self.settle(now);
        if let Phase::Stopped { .. } = self.phase {
            self.launched_at = now;
            self.phase = Phase::Pending {
                ready_at: plus_seconds(now, boot_seconds),
            };
        }
    }

    /// `running` → `stopping`.
    pub(crate) fn stop(&mut self, now: Timestamp, stop_seconds: i64) {
        self.settle(now);
        if let Phase::Running { since } = self.phase {
            self.previous_run = Some((since, now));
            self.phase = Phase::Stopping {
                done_at: plus_seconds(now, stop_seconds),
            };
        }
    }

    /// Anything but `shutting-down`/`terminated` → `shutting-down`; `true` when it changed.
    pub(crate) fn terminate(&mut self, now: Timestamp, terminate_seconds: i64) -> bool {
        self.settle(now);
        match self.phase {
            Phase::ShuttingDown { .. } | Phase::Terminated { .. } => false,
            phase => {
                if let Phase::Running { since } = phase {
                    self.previous_run = Some((since, now));
                }
                self.phase = Phase::ShuttingDown {
                    done_at: plus_seconds(now, terminate_seconds),
                };
                true
            }
        }
    }

    /// The instance as `DescribeInstances` shows it at `now`.
    pub(crate) fn describe(&self, now: Timestamp) -> Instance {
        let phase = self.phase_at(now);
        let running = matches!(phase, Phase::Running { .. } | Phase::Stopping { .. });
        let octets = |base: u64| (base / 250 % 250, base % 250 + 4);
        let (p3, p4) = octets(self.seq);
        Instance {
            instance_id: self.id.clone(),
            region: self.region.clone(),
            instance_type: self.instance_type.clone(),
            state: phase.state(),
            image_id: self.image_id.clone(),
            launched_at: Some(self.launched_at),
            public_ip: running.then(|| format!("203.0.{p3}.{p4}")),
            private_ip: Some(format!("10.0.{p3}.{p4}")),
            tags: self.tags.clone(),
            detailed_monitoring: self.detailed_monitoring,
        }
    }

    /// Status checks at `now`, for running instances only.
    pub(crate) fn status(&self, now: Timestamp, init_seconds: i64) -> Option<InstanceStatusCheck> {
        let since = self.running_since(now)?;
        let text = if self.impaired {
            "impaired"
        } else if now < plus_seconds(since, init_seconds) {
            "initializing"
        } else {
            "ok"
        };
        Some(InstanceStatusCheck {
            instance_id: self.id.clone(),
            instance_status: text.to_owned(),
            system_status: if self.impaired { "ok" } else { text }.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::epoch;

    fn t(s: i64) -> Timestamp {
        plus_seconds(epoch(), s)
    }

    fn record() -> InstanceRecord {
        InstanceRecord {
            id: InstanceId::new("i-0123456789abcdef0"),
            region: Region::new("us-east-1"),
            instance_type: "m5zn.metal".into(),
            image_id: ImageId::new("ami-00000001"),
            launched_at: t(0),
            seq: 0,
            tags: BTreeMap::new(),
            detailed_monitoring: false,
            phase: Phase::Pending { ready_at: t(100) },
            previous_run: None,
            impaired: false,
        }
    }

    #[test]
    fn phases_follow_the_clock() {
        let mut r = record();
        assert_eq!(r.phase_at(t(99)).name(), "pending");
        assert_eq!(r.phase_at(t(100)), Phase::Running { since: t(100) });
        r.stop(t(200), 50);
        assert_eq!(r.phase_at(t(249)).name(), "stopping");
        assert_eq!(r.phase_at(t(250)).name(), "stopped");
        assert!(r.was_running_at(t(150), t(300)));
        assert!(!r.was_running_at(t(210), t(300)));
        r.start(t(300), 100);
        assert_eq!(r.phase_at(t(300)).name(), "pending");
        assert!(r.terminate(t(500), 10));
        assert!(!r.terminate(t(505), 10));
        assert_eq!(r.phase_at(t(505)).name(), "shutting-down");
        assert!(r.phase_at(t(510)).is_terminated());
    }

    #[test]
    fn illegal_moves_are_incorrect_state() {
        let r = record();
        assert!(matches!(
            r.check_stop(t(0)),
            Err(CloudError::InvalidRequest { ref code, .. }) if code == "IncorrectInstanceState"
        ));
        assert_eq!(r.check_start(t(0)), Ok(false));
        assert_eq!(r.check_stop(t(100)), Ok(true));
    }

    #[test]
    fn status_checks_initialise_then_pass() {
        let r = record();
        assert!(r.status(t(50), 300).is_none());
        assert_eq!(
            r.status(t(100), 300).unwrap().instance_status,
            "initializing"
        );
        assert_eq!(r.status(t(400), 300).unwrap().instance_status, "ok");
    }

    #[test]
    fn unknown_ids_map_like_ec2() {
        let well = unknown_instance("StopInstances", &InstanceId::new("i-0123456789abcdef0"));
        assert!(matches!(
            well,
            CloudError::NotFound {
                what: "instance",
                ..
            }
        ));
        let bad = unknown_instance("StopInstances", &InstanceId::new("nope"));
        assert!(matches!(bad, CloudError::InvalidRequest { .. }));
    }
}
