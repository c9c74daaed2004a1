//! The CML port: one CML REST endpoint per worker, reached through one client that
//! serves them all (connection pools and token caches are the adapter's business).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{CmlLabId, WorkerId};
use crate::lab::LabState;
pub use crate::lab::LabUsage;
use crate::secret::Secret;
use crate::time::Timestamp;

/// Where one worker's CML answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CmlEndpoint {
    /// The worker.
    pub worker_id: WorkerId,
    /// Base URL, e.g. `https://10.0.0.5` (the client appends `/api/v0/…`).
    pub base_url: String,
    /// SHA-256 fingerprint (lower-case hex of the leaf certificate's DER) the
    /// worker's record trusts; a client that pins certificates refuses any other.
    /// `None` before the first contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_sha256: Option<String>,
}

impl CmlEndpoint {
    /// The endpoint of `worker_id` at `base_url`, with no certificate pinned yet.
    pub fn new(worker_id: WorkerId, base_url: impl Into<String>) -> Self {
        Self {
            worker_id,
            base_url: base_url.into(),
            pinned_sha256: None,
        }
    }
}

/// `GET /system_information`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInformation {
    /// Version text (`2.9.1+build.7`).
    pub version: String,
    /// At least one compute can start nodes.
    pub ready: bool,
}

/// `GET /system_stats`, summed over computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct SystemStats {
    /// Number of computes.
    pub computes: u32,
    /// CPU percent (average over computes).
    pub cpu_percent: Option<f64>,
    /// Memory used, bytes.
    pub memory_used_bytes: Option<u64>,
    /// Memory total, bytes.
    pub memory_total_bytes: Option<u64>,
    /// Disk used, bytes.
    pub disk_used_bytes: Option<u64>,
    /// Disk total, bytes.
    pub disk_total_bytes: Option<u64>,
    /// vCPUs allocated to nodes.
    pub allocated_cpus: u32,
    /// Memory allocated to nodes, KiB.
    pub allocated_memory_kib: u64,
    /// Nodes running.
    pub running_nodes: u32,
    /// Nodes defined.
    pub total_nodes: u32,
}

/// `GET /system_health`, reduced to what ccm acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SystemHealth {
    /// Overall validity.
    pub valid: bool,
    /// Licensed.
    pub is_licensed: bool,
    /// Enterprise licence.
    pub is_enterprise: bool,
    /// Computes reporting valid.
    pub computes_valid: u32,
    /// Computes in total.
    pub computes_total: u32,
}

/// One feature of `GET /licensing`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensingFeature {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Status text.
    pub status: String,
    /// Count in use.
    pub in_use: u32,
    /// Maximum (node capacity for node features).
    pub max: Option<u32>,
}

/// `GET /licensing`, with status strings kept verbatim (the value set is open).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Licensing {
    /// Registration status (`COMPLETED`, `IN_PROGRESS`, `FAILED`, `NOT_REGISTERED`, …).
    pub registration_status: String,
    /// Authorization status (`IN_COMPLIANCE`, `EVAL`, `EXPIRED`, …).
    pub authorization_status: String,
    /// Registration expiry (`2026-08-20 17:25:30`), parsed when possible.
    pub expires_at: Option<Timestamp>,
    /// Enterprise product.
    pub is_enterprise: bool,
    /// Features.
    #[serde(default)]
    pub features: Vec<LicensingFeature>,
}

/// A lab as CML describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CmlLab {
    /// Lab id.
    pub id: CmlLabId,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Owner user name.
    pub owner_username: Option<String>,
    /// State.
    pub state: LabState,
    /// Nodes.
    pub node_count: u32,
    /// Links.
    pub link_count: u32,
    /// Created.
    pub created_at: Option<Timestamp>,
    /// Last modified.
    pub modified_at: Option<Timestamp>,
}

/// Answer of `POST /import`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabImport {
    /// New lab id.
    pub id: CmlLabId,
    /// Import warnings.
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// A node definition (reduced).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeDefinition {
    /// Id (`iosv`, `alpine`).
    pub id: String,
    /// Description.
    pub description: Option<String>,
    /// Nature (`router`, `switch`, `server`).
    pub nature: Option<String>,
}

/// An image definition (reduced).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDefinition {
    /// Id.
    pub id: String,
    /// The node definition it belongs to.
    pub node_definition_id: String,
    /// Label.
    pub label: Option<String>,
}

/// One telemetry event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TelemetryEvent {
    /// Category (`start_lab`, `user_activity`, …), verbatim.
    pub category: String,
    /// When.
    pub timestamp: Timestamp,
    /// Category-specific data.
    #[serde(default)]
    pub data: serde_json::Value,
}

/// Telemetry categories that mean a person is working (see CML_API.md).
pub const ACTIVITY_CATEGORIES: &[&str] = &[
    "start_lab",
    "stop_lab",
    "queue_node",
    "stop_node",
    "start_node",
    "boot_node",
    "wipe_node",
    "packet_capture",
    "import_lab",
    "export_lab",
    "user_activity",
];

impl TelemetryEvent {
    /// True when the event is evidence of a person using the worker.
    pub fn is_user_activity(&self) -> bool {
        ACTIVITY_CATEGORIES.contains(&self.category.as_str())
    }
}

/// What can go wrong talking to CML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmlError {
    /// Connection refused, reset or timed out: during boot this means "starting".
    #[error("CML at {endpoint} unreachable: {message}")]
    Unreachable {
        /// Base URL.
        endpoint: String,
        /// What happened.
        message: String,
    },
    /// Refused before it was sent: the engine step making the call no longer
    /// holds the controller lease (another process may lead now).
    #[error(
        "call to CML at {endpoint} not sent: this process no longer holds the controller lease"
    )]
    LeaseLost {
        /// Base URL.
        endpoint: String,
    },
    /// 502/503 while the controller boots.
    #[error("CML at {endpoint} is starting")]
    Starting {
        /// Base URL.
        endpoint: String,
    },
    /// Credentials refused (after one re-authentication).
    #[error("CML at {endpoint} refused the credentials")]
    Unauthorized {
        /// Base URL.
        endpoint: String,
    },
    /// The lab or object does not exist (404).
    #[error("{what} `{id}` not found on CML")]
    NotFound {
        /// `lab`, `node`…
        what: &'static str,
        /// Its id.
        id: String,
    },
    /// CML refused the operation (400/403/409) with its description.
    #[error("CML refused {operation} ({status}): {description}")]
    Rejected {
        /// Operation.
        operation: String,
        /// HTTP status.
        status: u16,
        /// CML's description.
        description: String,
    },
    /// The call took longer than its timeout.
    #[error("CML {operation} timed out")]
    Timeout {
        /// Operation.
        operation: String,
    },
    /// The answer did not have the expected shape.
    #[error("unexpected answer to {operation}: {message}")]
    Protocol {
        /// Operation.
        operation: String,
        /// What was wrong.
        message: String,
    },
    /// The worker presented a certificate other than the pinned one. The
    /// handshake was abandoned, so nothing (no credentials) was sent; calls stay
    /// refused until an admin accepts `presented`.
    #[error(
        "CML at {endpoint} presented certificate sha256:{presented} but sha256:{expected} is pinned; refused until an admin accepts it"
    )]
    CertificateChanged {
        /// Base URL.
        endpoint: String,
        /// The pinned fingerprint.
        expected: String,
        /// The fingerprint presented.
        presented: String,
    },
    /// ccm did not call the endpoint: its host is neither the instance's own
    /// address nor in `cml.endpoint_allow`, so nothing (no credentials) was sent.
    #[error("{reason}")]
    EndpointRefused {
        /// The refused base URL as named.
        endpoint: String,
        /// Why, naming the host and the rule.
        reason: String,
    },
    /// A 5xx other than booting.
    #[error("CML server error on {operation} ({status}): {description}")]
    Server {
        /// Operation.
        operation: String,
        /// HTTP status.
        status: u16,
        /// Description.
        description: String,
    },
}

impl CmlError {
    /// True when the error means "CML is still coming up", not "broken".
    pub fn means_starting(&self) -> bool {
        matches!(
            self,
            CmlError::Unreachable { .. } | CmlError::Starting { .. }
        )
    }
}

/// CML REST operations ccm uses. Methods take the endpoint so one client serves a fleet.
#[async_trait]
pub trait CmlClient: Send + Sync {
    /// `GET /system_information` (no auth).
    async fn system_information(&self, ep: &CmlEndpoint) -> Result<SystemInformation, CmlError>;
    /// `GET /system_stats`.
    async fn system_stats(&self, ep: &CmlEndpoint) -> Result<SystemStats, CmlError>;
    /// `GET /system_health`.
    async fn system_health(&self, ep: &CmlEndpoint) -> Result<SystemHealth, CmlError>;
    /// `GET /licensing`.
    async fn licensing(&self, ep: &CmlEndpoint) -> Result<Licensing, CmlError>;
    /// `POST /licensing/registration`; completes asynchronously (poll [`CmlClient::licensing`]).
    async fn register_licence(
        &self,
        ep: &CmlEndpoint,
        token: &Secret,
        reregister: bool,
    ) -> Result<(), CmlError>;
    /// `DELETE /licensing/deregistration`.
    async fn deregister_licence(&self, ep: &CmlEndpoint) -> Result<(), CmlError>;
    /// `GET /labs?show_all=true`.
    async fn list_labs(&self, ep: &CmlEndpoint) -> Result<Vec<CmlLabId>, CmlError>;
    /// `GET /labs/{id}`.
    async fn get_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<CmlLab, CmlError>;
    /// `GET /labs/{id}/state`.
    async fn lab_state(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabState, CmlError>;
    /// `PUT /labs/{id}/start`.
    async fn start_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
    /// `PUT /labs/{id}/stop`.
    async fn stop_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
    /// `PUT /labs/{id}/wipe` (the lab must be stopped).
    async fn wipe_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
    /// `DELETE /labs/{id}` (the lab must be stopped and wiped).
    async fn delete_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError>;
    /// `GET /labs/{id}/nodes?data=true&operational=true`, summed into what the lab takes.
    async fn lab_usage(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabUsage, CmlError>;
    /// `GET /labs/{id}/check_if_converged`.
    async fn check_if_converged(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<bool, CmlError>;
    /// `POST /import?title=` with the topology YAML.
    async fn import_lab(
        &self,
        ep: &CmlEndpoint,
        topology_yaml: &str,
        title: Option<&str>,
    ) -> Result<LabImport, CmlError>;
    /// `GET /labs/{id}/download` (YAML).
    async fn download_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<String, CmlError>;
    /// `GET /node_definitions`.
    async fn node_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<NodeDefinition>, CmlError>;
    /// `GET /image_definitions`.
    async fn image_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<ImageDefinition>, CmlError>;
    /// `GET /telemetry/events`, keeping only events strictly after `after`.
    async fn telemetry_events(
        &self,
        ep: &CmlEndpoint,
        after: Option<Timestamp>,
    ) -> Result<Vec<TelemetryEvent>, CmlError>;

    /// The certificate fingerprint this client trusts for `ep`'s worker — the one
    /// it saw at first contact when `ep` pinned none — so the engine can persist
    /// it on the worker record. `None` when the client pins no certificates.
    fn certificate_fingerprint(&self, ep: &CmlEndpoint) -> Option<String> {
        let _ = ep;
        None
    }

    /// Stop → wipe → delete, each step tolerating a lab that is already gone.
    async fn teardown_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        for step in [TeardownStep::Stop, TeardownStep::Wipe, TeardownStep::Delete] {
            let result = match step {
                TeardownStep::Stop => self.stop_lab(ep, lab).await,
                TeardownStep::Wipe => self.wipe_lab(ep, lab).await,
                TeardownStep::Delete => self.delete_lab(ep, lab).await,
            };
            match result {
                Ok(()) | Err(CmlError::NotFound { .. }) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }
}

enum TeardownStep {
    Stop,
    Wipe,
    Delete,
}
