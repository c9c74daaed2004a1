//! The worker's instance lifecycle, mapped one-to-one from EC2 instance states.

use serde::{Deserialize, Serialize};

use crate::ports::cloud::InstanceState;
use crate::state_machine::{named_states, StateMachine};

/// Where a worker's EC2 instance is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LifecycleState {
    /// Record exists, no instance launched yet.
    Pending,
    /// EC2 `pending`: the instance is booting.
    Provisioning,
    /// EC2 `running`.
    Running,
    /// EC2 `stopping`.
    Stopping,
    /// EC2 `stopped`.
    Stopped,
    /// EC2 `shutting-down`: terminating.
    ShuttingDown,
    /// EC2 `terminated`: gone for good.
    Terminated,
    /// The launch or an operation failed; the controller may retry.
    Failed,
    /// The instance could not be observed (missing from describe, or an unknown state).
    Unknown,
}

use LifecycleState::*;

named_states!(LifecycleState {
    Pending => "pending",
    Provisioning => "provisioning",
    Running => "running",
    Stopping => "stopping",
    Stopped => "stopped",
    ShuttingDown => "shutting-down",
    Terminated => "terminated",
    Failed => "failed",
    Unknown => "unknown",
});

impl LifecycleState {
    /// The lifecycle state of an instance in EC2 state `state`.
    pub fn from_instance(state: InstanceState) -> Self {
        match state {
            InstanceState::Pending => Provisioning,
            InstanceState::Running => Running,
            InstanceState::Stopping => Stopping,
            InstanceState::Stopped => Stopped,
            InstanceState::ShuttingDown => ShuttingDown,
            InstanceState::Terminated => Terminated,
            InstanceState::Unknown => Unknown,
        }
    }

    /// True while an instance exists that AWS bills or may bill (compute or storage).
    pub fn has_instance(self) -> bool {
        !matches!(self, Pending | Terminated)
    }

    /// True while the instance bills compute time (pending, running, stopping).
    pub fn bills_compute(self) -> bool {
        matches!(self, Provisioning | Running | Stopping)
    }
}

impl StateMachine for LifecycleState {
    const MACHINE: &'static str = "worker";

    fn all() -> &'static [Self] {
        Self::ALL
    }

    // Observations arrive every few minutes, so intermediate EC2 states can be
    // missed (running → stopped without seeing stopping). The table therefore
    // allows skipping forward but forbids resurrection: nothing leaves
    // `terminated`, nothing returns to `pending` once an instance exists, and a
    // shutting-down instance can only finish terminating.
    fn successors(self) -> &'static [Self] {
        match self {
            Pending => &[Provisioning, Running, Failed, Terminated, Unknown],
            Provisioning => &[
                Running,
                Stopping,
                Stopped,
                ShuttingDown,
                Terminated,
                Failed,
                Unknown,
            ],
            Running => &[Stopping, Stopped, ShuttingDown, Terminated, Failed, Unknown],
            Stopping => &[Stopped, Running, ShuttingDown, Terminated, Failed, Unknown],
            Stopped => &[
                Provisioning,
                Running,
                ShuttingDown,
                Terminated,
                Failed,
                Unknown,
            ],
            ShuttingDown => &[Terminated, Unknown],
            Terminated => &[],
            Failed => &[
                Provisioning,
                Running,
                Stopping,
                Stopped,
                ShuttingDown,
                Terminated,
                Unknown,
            ],
            Unknown => &[
                Provisioning,
                Running,
                Stopping,
                Stopped,
                ShuttingDown,
                Terminated,
                Failed,
            ],
        }
    }
}

/// What the operator wants the instance to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DesiredStatus {
    /// Keep the instance running.
    Running,
    /// Keep the instance stopped (EBS kept, compute not billed).
    Stopped,
    /// Terminate the instance.
    Terminated,
}

impl DesiredStatus {
    /// True when `observed` already satisfies this desire.
    pub fn is_satisfied_by(self, observed: LifecycleState) -> bool {
        match self {
            DesiredStatus::Running => observed == Running,
            DesiredStatus::Stopped => observed == Stopped,
            DesiredStatus::Terminated => observed == Terminated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ec2_state_maps() {
        let cases = [
            ("pending", Provisioning),
            ("running", Running),
            ("stopping", Stopping),
            ("stopped", Stopped),
            ("shutting-down", ShuttingDown),
            ("terminated", Terminated),
            ("rebooting?", Unknown),
        ];
        for (ec2, expected) in cases {
            assert_eq!(
                LifecycleState::from_instance(InstanceState::from_name(ec2)),
                expected,
                "{ec2}"
            );
        }
    }

    #[test]
    fn terminated_is_final_and_shutting_down_only_terminates() {
        assert!(Terminated.is_terminal());
        for &to in LifecycleState::all() {
            if to != Terminated {
                assert!(Terminated.check_transition(to).is_err());
            }
        }
        assert!(ShuttingDown.check_transition(Running).is_err());
        assert!(ShuttingDown.check_transition(Terminated).is_ok());
    }

    #[test]
    fn illegal_transition_names_both_states() {
        let err = Terminated.check_transition(Running).unwrap_err();
        assert_eq!(err.from, "terminated");
        assert_eq!(err.to, "running");
        assert_eq!(err.machine, "worker");
    }

    #[test]
    fn no_state_lists_itself_or_pending_as_successor() {
        for &s in LifecycleState::all() {
            assert!(!s.successors().contains(&s));
            assert!(!s.successors().contains(&Pending));
        }
    }
}
