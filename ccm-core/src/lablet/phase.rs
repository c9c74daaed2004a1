//! Lablet phases and their transition table.

use serde::{Deserialize, Serialize};

use crate::state_machine::{named_states, StateMachine};

/// Where a lablet is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabletPhase {
    /// Waiting to be placed.
    Pending,
    /// Bound to a worker with capacity and ports reserved.
    Scheduled,
    /// Lab being imported and started on CML.
    Instantiating,
    /// Lab converged, waiting for the timeslot to start.
    Ready,
    /// Inside its timeslot.
    Running,
    /// Lab being stopped, wiped and deleted.
    Stopping,
    /// Lab gone, capacity released.
    Stopped,
    /// Final: the record may be removed.
    Terminated,
    /// Gave up after retries; teardown still follows.
    Failed,
    /// Missed its start by more than the grace period.
    Expired,
}

use LabletPhase::*;

named_states!(LabletPhase {
    Pending => "pending",
    Scheduled => "scheduled",
    Instantiating => "instantiating",
    Ready => "ready",
    Running => "running",
    Stopping => "stopping",
    Stopped => "stopped",
    Terminated => "terminated",
    Failed => "failed",
    Expired => "expired",
});

impl LabletPhase {
    /// True while the lablet holds capacity on a worker.
    pub fn holds_capacity(self) -> bool {
        matches!(self, Scheduled | Instantiating | Ready | Running | Stopping)
    }

    /// True once the lablet will never run again.
    pub fn is_finished(self) -> bool {
        matches!(self, Stopped | Terminated | Failed | Expired)
    }
}

impl StateMachine for LabletPhase {
    const MACHINE: &'static str = "lablet";

    fn all() -> &'static [Self] {
        Self::ALL
    }

    // Back-edges to `pending` exist for one reason: the bound worker was lost
    // before the timeslot started, so the lablet is placed again. Failed and expired
    // lablets still pass through terminated so the record can go.
    fn successors(self) -> &'static [Self] {
        match self {
            Pending => &[Scheduled, Stopped, Failed, Expired],
            Scheduled => &[Instantiating, Pending, Stopping, Failed, Expired],
            Instantiating => &[Ready, Pending, Stopping, Failed],
            Ready => &[Running, Pending, Stopping, Failed],
            Running => &[Stopping, Failed],
            Stopping => &[Stopped, Failed],
            Stopped => &[Terminated],
            Failed => &[Stopping, Terminated],
            Expired => &[Terminated],
            Terminated => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_is_the_only_terminal_phase() {
        let terminal: Vec<_> = LabletPhase::all()
            .iter()
            .filter(|p| p.is_terminal())
            .collect();
        assert_eq!(terminal, vec![&Terminated]);
    }

    #[test]
    fn every_phase_can_reach_terminated() {
        for &start in LabletPhase::all() {
            let mut seen = vec![start];
            let mut frontier = vec![start];
            while let Some(p) = frontier.pop() {
                for &n in p.successors() {
                    if !seen.contains(&n) {
                        seen.push(n);
                        frontier.push(n);
                    }
                }
            }
            assert!(seen.contains(&Terminated), "{start:?} cannot terminate");
        }
    }

    #[test]
    fn running_cannot_go_back_to_pending() {
        assert!(Running.check_transition(Pending).is_err());
        assert!(Terminated.check_transition(Pending).is_err());
    }
}
