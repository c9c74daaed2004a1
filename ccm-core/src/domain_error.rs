//! The domain's own error: what a command on an aggregate, a definition or a
//! placement request refuses. It names no port, so the domain modules depend on
//! nothing outside the domain; [`crate::error::CoreError`] adds the ports' errors
//! at the use-case boundary.

use crate::replay::ReplayError;
use crate::state_machine::TransitionError;

/// Why the domain refused a command; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A state machine refused the move.
    #[error(transparent)]
    InvalidTransition(#[from] TransitionError),
    /// An event log could not be replayed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// Input failed validation.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The offending field (dotted path).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A referenced resource does not exist.
    #[error("{kind} `{id}` not found")]
    NotFound {
        /// Resource kind.
        kind: &'static str,
        /// Its id.
        id: String,
    },
    /// What the call would create is already there (an instance imported
    /// before); nothing was changed.
    #[error("{kind} `{id}` is already {existing}")]
    AlreadyExists {
        /// What the call would have created or taken over.
        kind: &'static str,
        /// Its id.
        id: String,
        /// What holds it now (`imported as worker …`).
        existing: String,
    },
    /// An allocation does not fit the worker.
    #[error("worker `{worker}` lacks {dimension} for lablet `{lablet}`")]
    CapacityExceeded {
        /// The worker.
        worker: String,
        /// The lablet.
        lablet: String,
        /// Which dimension ran out (`cpu`, `memory`, `ports`, …).
        dimension: &'static str,
    },
    /// Stopping, terminating or deleting the worker would end the lablets bound
    /// to it; nothing was changed. Asked again with `force`, the engine goes
    /// ahead and the lablets are placed again or end with the reason.
    #[error(
        "worker `{worker}` holds {} lablet(s) ({}); ask again with force to go ahead anyway",
        .lablets.len(),
        .lablets.join(", ")
    )]
    WorkerInUse {
        /// The worker's id.
        worker: String,
        /// The lablets bound to it.
        lablets: Vec<String>,
    },
    /// Deleting or wiping the lab would take it from the lablet it was made
    /// for; nothing was changed. Asked again with `force`, the lab goes and the
    /// lablet is cancelled.
    #[error("lab `{lab}` on worker `{worker}` belongs to lablet `{lablet}`; ask again with force to go ahead anyway")]
    LabInUse {
        /// The worker's id.
        worker: String,
        /// The lab's id on the worker's CML.
        lab: String,
        /// The lablet that owns the lab.
        lablet: String,
    },
}

impl DomainError {
    /// Shorthand for [`DomainError::Validation`].
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        DomainError::Validation {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A short stable code for APIs (`invalid_transition`, `not_found`, …).
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::InvalidTransition(_) => "invalid_transition",
            DomainError::Replay(_) => "corrupt_event_log",
            DomainError::Validation { .. } => "validation_failed",
            DomainError::NotFound { .. } => "not_found",
            DomainError::AlreadyExists { .. } => "already_exists",
            DomainError::CapacityExceeded { .. } => "capacity_exceeded",
            DomainError::WorkerInUse { .. } => "worker_in_use",
            DomainError::LabInUse { .. } => "lab_in_use",
        }
    }
}
