//! Explicit transition tables. A state type lists its legal moves; anything else
//! is a typed [`TransitionError`], never a silent write.

use std::fmt::Debug;

use serde::Serialize;

/// A finite set of states with an explicit table of legal transitions.
pub trait StateMachine: Copy + Eq + Debug + Serialize + 'static {
    /// Name of the machine, used in error messages (`"worker"`, `"lablet"`).
    const MACHINE: &'static str;

    /// Every state, for exhaustive tests and documentation.
    fn all() -> &'static [Self];

    /// States reachable from `self` in one step (excluding `self`).
    fn successors(self) -> &'static [Self];

    /// True when no transition leaves this state.
    fn is_terminal(self) -> bool {
        self.successors().is_empty()
    }

    /// Checks a move against the table. Staying in the same state is always allowed
    /// (observations repeat), so callers need not special-case it.
    fn check_transition(self, to: Self) -> Result<(), TransitionError> {
        if self == to || self.successors().contains(&to) {
            Ok(())
        } else {
            Err(TransitionError {
                machine: Self::MACHINE,
                from: state_name(&self),
                to: state_name(&to),
            })
        }
    }
}

fn state_name<S: Serialize + Debug>(state: &S) -> String {
    match serde_json::to_value(state) {
        Ok(serde_json::Value::String(s)) => s,
        _ => format!("{state:?}"),
    }
}

/// An attempted transition that the table does not allow.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("illegal {machine} transition from `{from}` to `{to}`")]
pub struct TransitionError {
    /// Which machine refused (`"worker"`, `"lablet"`, `"lab"`).
    pub machine: &'static str,
    /// The current state.
    pub from: String,
    /// The requested state.
    pub to: String,
}
