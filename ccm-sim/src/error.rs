//! Errors of the simulator's own (test and operations) API, and how an internal
//! failure shows through the ports.

use ccm_core::ports::cloud::CloudError;
use ccm_core::ports::cml::CmlError;

/// What a simulator hook can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SimError {
    /// A thread panicked while holding the world's lock.
    #[error("simulated world lock poisoned by a panicking thread")]
    Poisoned,
    /// The region is not part of the simulation.
    #[error("region `{0}` is not simulated")]
    UnknownRegion(String),
    /// No such instance (or it was purged after termination).
    #[error("instance `{0}` is not simulated")]
    UnknownInstance(String),
    /// No such lab on the server.
    #[error("lab `{0}` not found")]
    UnknownLab(String),
    /// The topology could not be read.
    #[error("invalid topology: {0}")]
    InvalidTopology(String),
    /// The simulated cloud refused what a hook asked of it.
    #[error(transparent)]
    Cloud(CloudError),
    /// The hook needs the simulation's own virtual clock.
    #[error("the simulation runs on an external clock; advance that clock instead")]
    NoVirtualClock,
    /// The HTTP face could not start or stopped with an error (feature `http`).
    #[error("HTTP simulator: {0}")]
    Http(String),
    /// The file a kept world lives in cannot be read, parsed or written.
    #[error("simulated world file {path} {problem}")]
    WorldFile {
        /// The file.
        path: String,
        /// What is wrong with it (`is damaged (…)`, `was written in format 2, …`).
        problem: String,
    },
}

impl SimError {
    /// The error a cloud port call reports when the simulator itself failed.
    pub(crate) fn into_cloud(self, operation: &str) -> CloudError {
        CloudError::Unavailable {
            operation: operation.to_owned(),
            message: self.to_string(),
        }
    }

    /// The error a CML port call reports when the simulator itself failed.
    pub(crate) fn into_cml(self, operation: &str) -> CmlError {
        CmlError::Server {
            operation: operation.to_owned(),
            status: 500,
            description: self.to_string(),
        }
    }
}
