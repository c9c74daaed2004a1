//! Each worker's week as a ledger of changes — lifecycle states and capacity
//! allocations — turned into what it billed and how that time was spent: booting,
//! holding lablets, or idle.

use std::collections::BTreeSet;

use ccm_core::time::{seconds_between, Timestamp};
use ccm_core::worker::LifecycleState;

/// One change to a worker, from the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum WorkerChange {
    /// The lifecycle moved to this state.
    State(LifecycleState),
    /// A lablet's capacity was allocated.
    Allocated(String),
    /// A lablet's capacity was released.
    Released(String),
}

/// How a worker's billed time within the window was spent, in seconds, and its
/// billed stretches.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct WorkerLedger {
    pub billed: Vec<(Timestamp, Timestamp)>,
    pub boot_seconds: i64,
    pub idle_seconds: i64,
    pub starts: u32,
}

/// Walks one worker's changes (in log order) and accounts the time inside
/// `[start, end)`.
pub(crate) fn account(
    changes: &[(Timestamp, WorkerChange)],
    start: Timestamp,
    end: Timestamp,
) -> WorkerLedger {
    let mut ledger = WorkerLedger::default();
    let mut state = LifecycleState::Pending;
    let mut holding: BTreeSet<&str> = BTreeSet::new();
    let mut since = start;
    let mut billed_from: Option<Timestamp> = None;
    let close = |ledger: &mut WorkerLedger,
                 state: LifecycleState,
                 holding: usize,
                 from: Timestamp,
                 to: Timestamp| {
        let (from, to) = (from.max(start), to.min(end));
        if from >= to || !state.bills_compute() {
            return;
        }
        let seconds = seconds_between(from, to);
        if state == LifecycleState::Provisioning {
            ledger.boot_seconds += seconds;
        } else if holding == 0 {
            ledger.idle_seconds += seconds;
        }
    };
    for (at, change) in changes {
        close(&mut ledger, state, holding.len(), since, *at);
        since = *at;
        match change {
            WorkerChange::State(to) => {
                if to.bills_compute() && !state.bills_compute() {
                    billed_from = Some(*at);
                    if *at >= start && *at < end {
                        ledger.starts += 1;
                    }
                } else if !to.bills_compute() && state.bills_compute() {
                    if let Some(from) = billed_from.take() {
                        push_clipped(&mut ledger.billed, from, *at, start, end);
                    }
                }
                state = *to;
            }
            WorkerChange::Allocated(lablet) => {
                holding.insert(lablet.as_str());
            }
            WorkerChange::Released(lablet) => {
                holding.remove(lablet.as_str());
            }
        }
    }
    close(&mut ledger, state, holding.len(), since, end);
    if let Some(from) = billed_from {
        push_clipped(&mut ledger.billed, from, end, start, end);
    }
    ledger
}

fn push_clipped(
    out: &mut Vec<(Timestamp, Timestamp)>,
    from: Timestamp,
    to: Timestamp,
    start: Timestamp,
    end: Timestamp,
) {
    let (from, to) = (from.max(start), to.min(end));
    if from < to {
        out.push((from, to));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::{epoch, plus_seconds};
    use LifecycleState::*;

    fn at(minutes: i64) -> Timestamp {
        plus_seconds(epoch(), minutes * 60)
    }

    #[test]
    fn boot_busy_and_idle_time_add_up_to_the_billed_time_inside_the_window() {
        let changes = vec![
            (at(0), WorkerChange::State(Provisioning)),
            (at(20), WorkerChange::State(Running)),
            (at(30), WorkerChange::Allocated("a".into())),
            (at(90), WorkerChange::Released("a".into())),
            (at(100), WorkerChange::State(Stopping)),
            (at(103), WorkerChange::State(Stopped)),
            (at(200), WorkerChange::State(Provisioning)),
        ];
        let ledger = account(&changes, at(10), at(210));
        assert_eq!(ledger.billed, vec![(at(10), at(103)), (at(200), at(210))]);
        assert_eq!(ledger.boot_seconds, (10 + 10) * 60);
        // 20–30 and 90–103 with nothing held.
        assert_eq!(ledger.idle_seconds, (10 + 13) * 60);
        assert_eq!(
            ledger.starts, 1,
            "the start before the window is not counted"
        );
    }
}
