//! The parts of an engine step, told to an observer as each ends, so the
//! process that drives the engine can say where a step's time goes (the server
//! counts each part's seconds on `/metrics`). The core reads no clock for it:
//! the observer times the parts itself, on the wall clock, whatever clock the
//! engine runs on.

/// One part of [`super::Fleet::step`], in the order a step runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StepPhase {
    /// Following the event log (and the periodic resync): queues what changed.
    Log,
    /// The due jobs (sweep, scheduler, autoscaler, idle check, …).
    Jobs,
    /// The due passes of the worker controller.
    Workers,
    /// The due passes of the lablet controller.
    Lablets,
}

impl StepPhase {
    /// Every part, in step order.
    pub const ALL: [StepPhase; 4] = [Self::Log, Self::Jobs, Self::Workers, Self::Lablets];

    /// The part's name as a metric label: `log`, `jobs`, `workers`, `lablets`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Jobs => "jobs",
            Self::Workers => "workers",
            Self::Lablets => "lablets",
        }
    }
}

/// Told of each part of a step as it ends, with what it handled: events read
/// (`Log`), jobs run (`Jobs`), reconciles run (`Workers`, `Lablets`). A part
/// that fails ends the step without a report of its own.
pub trait StepObserver: Send + Sync {
    /// `phase` has ended, having handled `items`.
    fn phase_ended(&self, phase: StepPhase, items: usize);
}

/// Observes nothing: [`super::Fleet::step`] without an observer.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unobserved;

impl StepObserver for Unobserved {
    fn phase_ended(&self, _phase: StepPhase, _items: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_distinct_and_in_step_order() {
        let labels: Vec<&str> = StepPhase::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(labels, ["log", "jobs", "workers", "lablets"]);
        let mut sorted = StepPhase::ALL;
        sorted.sort();
        assert_eq!(sorted, StepPhase::ALL);
    }
}
