//! The CML licence of a worker.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Registration state of the CML licence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceState {
    /// Not registered (the free tier: a handful of nodes).
    #[default]
    Unregistered,
    /// Registration requested, not yet completed.
    RegistrationPending,
    /// Registered and authorised.
    Registered,
    /// Running on an evaluation licence.
    Evaluation,
    /// The licence expired.
    Expired,
    /// Registration or authorisation failed.
    Invalid,
}

/// The licence product a worker runs on; lablet definitions may require one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenceKind {
    /// CML Personal (node-limited).
    Personal,
    /// CML Enterprise.
    Enterprise,
    /// Evaluation licence.
    Evaluation,
}

/// One licensed feature as CML lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenceFeature {
    /// Feature id.
    pub id: String,
    /// Feature name.
    pub name: String,
    /// Status string as reported (kept verbatim: the value set is not documented).
    pub status: String,
    /// Count in use.
    pub in_use: u32,
}

/// Licence status of a worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct LicenceStatus {
    /// Registration state.
    pub state: LicenceState,
    /// Product kind, when known.
    pub kind: Option<LicenceKind>,
    /// When the registration or authorisation expires.
    pub expires_at: Option<Timestamp>,
    /// Licensed features.
    #[serde(default)]
    pub features: Vec<LicenceFeature>,
    /// How many nodes the licence lets this worker run at once.
    pub node_limit: Option<u32>,
    /// When the pending registration was requested.
    #[serde(default)]
    pub registration_requested_at: Option<Timestamp>,
    /// Why the last registration failed.
    #[serde(default)]
    pub last_error: Option<String>,
}

impl LicenceStatus {
    /// Nodes an unlicensed CML is commonly able to run.
    pub const UNLICENSED_NODE_LIMIT: u32 = 5;

    /// The node limit in force: the reported one, or the unlicensed default.
    pub fn effective_node_limit(&self) -> u32 {
        match (self.node_limit, self.state) {
            (Some(limit), _) => limit,
            (None, LicenceState::Registered | LicenceState::Evaluation) => u32::MAX,
            (None, _) => Self::UNLICENSED_NODE_LIMIT,
        }
    }
}
