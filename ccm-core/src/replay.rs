//! Errors met while rebuilding a resource from its events.

use crate::event::ResourceKind;
use crate::state_machine::TransitionError;

/// A log that cannot be replayed: it is corrupt or belongs to another resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// No events at all.
    #[error("no events to replay")]
    Empty,
    /// The first event does not create the resource.
    #[error("`{type_name}` cannot start a resource's history")]
    NotACreation {
        /// Offending event type.
        type_name: &'static str,
    },
    /// The event is about another kind of resource.
    #[error("`{type_name}` does not apply to a {kind:?}")]
    WrongKind {
        /// Offending event type.
        type_name: &'static str,
        /// The resource kind being rebuilt.
        kind: ResourceKind,
    },
    /// The event does not follow from the current state.
    #[error("`{type_name}` out of order: {detail}")]
    OutOfOrder {
        /// Offending event type.
        type_name: &'static str,
        /// What did not match.
        detail: String,
    },
    /// The event carries a transition the table forbids.
    #[error(transparent)]
    Transition(#[from] TransitionError),
}
