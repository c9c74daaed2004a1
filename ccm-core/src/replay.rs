//! Rebuilding a resource from its events: the [`EventSourced`] trait the
//! aggregates share, and the errors a log that cannot be replayed gives.

use crate::event::{DomainEvent, ResourceKind};
use crate::state_machine::TransitionError;

/// A resource whose state is its events folded in order: the first one creates
/// it, each later one is applied. Commands apply the events they return with
/// the same [`EventSourced::apply`], so a replayed resource equals the one the
/// commands left.
pub trait EventSourced: Sized {
    /// The resource `event` creates (its id from the subject, its time from the
    /// event), or `None` when it creates none of this kind.
    fn created_by(event: &DomainEvent) -> Option<Self>;

    /// Applies one later event.
    fn apply(&mut self, event: &DomainEvent) -> Result<(), ReplayError>;

    /// Rebuilds the resource from its events, oldest first.
    fn from_events<'a>(
        events: impl IntoIterator<Item = &'a DomainEvent>,
    ) -> Result<Self, ReplayError> {
        let mut events = events.into_iter();
        let first = events.next().ok_or(ReplayError::Empty)?;
        let mut resource = Self::created_by(first).ok_or_else(|| ReplayError::NotACreation {
            type_name: first.payload.type_name(),
        })?;
        for event in events {
            resource.apply(event)?;
        }
        Ok(resource)
    }
}

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
