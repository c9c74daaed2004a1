//! The CML service on a worker, its licence and its node catalog.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::states::{CmlServiceState, LicenceKind, LicenceState};
use ccm_core::worker as core;

/// Everything known about the CML service of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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
    /// The TLS certificate trusted on first use, and a changed one waiting for an
    /// admin.
    #[serde(default)]
    pub certificate: CmlCertificate,
}

impl From<&core::CmlService> for CmlService {
    fn from(s: &core::CmlService) -> Self {
        Self {
            state: s.state.into(),
            version: s.version.clone(),
            ready: s.ready,
            healthy: s.healthy,
            last_error: s.last_error.clone(),
            certificate: (&s.certificate).into(),
        }
    }
}

/// The worker's CML certificate as ccm trusts it (trust on first use).
/// Fingerprints are the lower-case hex SHA-256 of the leaf certificate's DER.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CmlCertificate {
    /// The trusted fingerprint; `null` before the first contact.
    pub pinned_sha256: Option<String>,
    /// A different fingerprint the worker presented, refused until an admin
    /// accepts it.
    pub pending_sha256: Option<String>,
}

impl From<&core::CmlCertificate> for CmlCertificate {
    fn from(c: &core::CmlCertificate) -> Self {
        Self {
            pinned_sha256: c.pinned_sha256.clone(),
            pending_sha256: c.pending_sha256.clone(),
        }
    }
}

/// One licensed feature as CML lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
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

impl From<&core::LicenceFeature> for LicenceFeature {
    fn from(f: &core::LicenceFeature) -> Self {
        Self {
            id: f.id.clone(),
            name: f.name.clone(),
            status: f.status.clone(),
            in_use: f.in_use,
        }
    }
}

/// Licence status of a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LicenceStatus {
    /// Registration state.
    pub state: LicenceState,
    /// Product kind, when known.
    pub kind: Option<LicenceKind>,
    /// When the registration or authorisation expires.
    pub expires_at: Option<DateTime<Utc>>,
    /// Licensed features.
    #[serde(default)]
    pub features: Vec<LicenceFeature>,
    /// How many nodes the licence lets this worker run at once.
    pub node_limit: Option<u32>,
    /// When the pending registration was requested.
    #[serde(default)]
    pub registration_requested_at: Option<DateTime<Utc>>,
    /// Why the last registration failed.
    #[serde(default)]
    pub last_error: Option<String>,
}

impl From<&core::LicenceStatus> for LicenceStatus {
    fn from(l: &core::LicenceStatus) -> Self {
        Self {
            state: l.state.into(),
            kind: l.kind.map(Into::into),
            expires_at: l.expires_at,
            features: l.features.iter().map(Into::into).collect(),
            node_limit: l.node_limit,
            registration_requested_at: l.registration_requested_at,
            last_error: l.last_error.clone(),
        }
    }
}

/// The node and image definitions one worker's CML offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NodeCatalog {
    /// Node definition ids (`iosv`, `alpine`).
    pub node_definitions: BTreeSet<String>,
    /// Image definition id → the node definition it belongs to.
    pub image_definitions: BTreeMap<String, String>,
    /// CML version the catalog was read from; a new version means a new sync.
    pub cml_version: Option<String>,
    /// When it was read.
    pub synced_at: Option<DateTime<Utc>>,
    /// CML offered more than the bounds keep, or names ccm does not keep.
    #[serde(default)]
    pub truncated: bool,
}

impl From<&ccm_core::catalog::NodeCatalog> for NodeCatalog {
    fn from(c: &ccm_core::catalog::NodeCatalog) -> Self {
        Self {
            node_definitions: c.node_definitions.clone(),
            image_definitions: c.image_definitions.clone(),
            cml_version: c.cml_version.clone(),
            synced_at: c.synced_at,
            truncated: c.truncated,
        }
    }
}
