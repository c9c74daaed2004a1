//! The `data` of the `lab.*` event types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FieldChange;
use crate::lab::{LabOperation, LabRecord, LabState};

/// A lab was seen for the first time: what CML reported of it. Read the
/// lab record with `GET /api/v1/workers/{id}/labs`.
///
/// The `data` of `lab.discovered.v2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabDiscoveredV2 {
    /// The worker.
    pub worker_id: Uuid,
    /// The lab id on the worker's CML.
    pub cml_lab_id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// CML user owning the lab.
    pub owner: Option<String>,
    /// State.
    pub state: LabState,
    /// Nodes in the lab.
    pub node_count: u32,
    /// Links in the lab.
    pub link_count: u32,
}

/// The whole lab record as first seen: written before `.v2`.
///
/// The `data` of `lab.discovered.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabDiscovered {
    /// The lab record.
    pub lab: Box<LabRecord>,
}

/// A lab's state changed.
///
/// The `data` of `lab.state.changed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabStateChanged {
    /// The worker.
    pub worker_id: Uuid,
    /// The lab id on the worker's CML.
    pub cml_lab_id: String,
    /// State left.
    pub from: LabState,
    /// State entered.
    pub to: LabState,
    /// What was done, by whom.
    pub operation: LabOperation,
}

/// A lab's title, description, owner or counts changed.
///
/// The `data` of `lab.updated.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabUpdated {
    /// The worker.
    pub worker_id: Uuid,
    /// The lab id on the worker's CML.
    pub cml_lab_id: String,
    /// What changed.
    pub changes: Vec<FieldChange>,
}

/// An operation was run on a lab through ccm.
///
/// The `data` of `lab.operation.recorded.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabOperationRecorded {
    /// The worker.
    pub worker_id: Uuid,
    /// The lab id on the worker's CML.
    pub cml_lab_id: String,
    /// What was done, by whom.
    pub operation: LabOperation,
}

/// A lab disappeared from CML.
///
/// The `data` of `lab.gone.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabGone {
    /// The worker.
    pub worker_id: Uuid,
    /// The lab id on the worker's CML.
    pub cml_lab_id: String,
}
