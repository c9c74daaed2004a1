//! The error type at ccm-core's boundary: the domain's refusals and the ports'
//! failures.

use crate::domain_error::DomainError;
use crate::ports::cloud::CloudError;
use crate::ports::cml::CmlError;
use crate::ports::store::StoreError;
use crate::replay::ReplayError;
use crate::state_machine::TransitionError;

/// Everything a use case in ccm-core can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The domain refused the command (validation, state, capacity, …).
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The store failed or refused (including optimistic-concurrency conflicts).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The cloud provider failed.
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// A CML server failed.
    #[error(transparent)]
    Cml(#[from] CmlError),
}

impl CoreError {
    /// Shorthand for a [`DomainError::Validation`].
    pub fn validation(field: impl Into<String>, reason: impl Into<String>) -> Self {
        CoreError::Domain(DomainError::validation(field, reason))
    }

    /// A short stable code for APIs (`invalid_transition`, `not_found`, …).
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::Domain(error) => error.code(),
            CoreError::Store(StoreError::Conflict { .. }) => "conflict",
            CoreError::Store(_) => "store_error",
            CoreError::Cloud(_) => "cloud_error",
            CoreError::Cml(_) => "cml_error",
        }
    }
}

impl From<TransitionError> for CoreError {
    fn from(error: TransitionError) -> Self {
        CoreError::Domain(error.into())
    }
}

impl From<ReplayError> for CoreError {
    fn from(error: ReplayError) -> Self {
        CoreError::Domain(error.into())
    }
}
