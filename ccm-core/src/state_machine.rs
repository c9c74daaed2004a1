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

/// Writes a state type's `ALL` (every state, in declaration order) and
/// `as_str` (its stable name: the serde one, used in APIs, filters and the
/// store) from one table, so the list and the names cannot drift apart.
macro_rules! named_states {
    ($state:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $state {
            /// Every state, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Stable name used in APIs, filters and the store.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }
        }
    };
}
pub(crate) use named_states;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lablet::LabletPhase;
    use crate::worker::LifecycleState;

    fn names_are_the_serde_names<S: StateMachine>(as_str: fn(S) -> &'static str) {
        assert!(!S::all().is_empty());
        for &state in S::all() {
            assert_eq!(state_name(&state), as_str(state), "{state:?}");
        }
    }

    #[test]
    fn every_state_is_listed_once_under_its_serde_name() {
        names_are_the_serde_names::<LabletPhase>(LabletPhase::as_str);
        names_are_the_serde_names::<LifecycleState>(LifecycleState::as_str);
        assert_eq!(LabletPhase::ALL.len(), 10);
        assert_eq!(LifecycleState::ALL.len(), 9);
    }
}
