//! The CML service on a worker, as its API reports it. When it was last observed
//! is `metrics.cml.observed_at`; keeping no timestamp here means an unchanged
//! service emits no event on every sweep.

use serde::{Deserialize, Serialize};

/// Whether CML answers on the worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum CmlServiceState {
    /// No answer (instance not running, or network unreachable).
    #[default]
    Unavailable,
    /// Connection refused or 502 while the instance boots, or `ready: false`.
    Starting,
    /// Answers and at least one compute can start nodes.
    Available,
    /// Answers with errors that are not part of booting.
    Error,
}

/// Everything known about the CML service of a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CmlService {
    /// Service state.
    pub state: CmlServiceState,
    /// Version string as reported (`2.9.1+build.7`).
    pub version: Option<String>,
    /// `ready` from `system_information`.
    pub ready: bool,
    /// Overall `valid` flag of `system_health`, when known.
    pub healthy: Option<bool>,
    /// Last error text, cleared by a successful observation.
    pub last_error: Option<String>,
}
