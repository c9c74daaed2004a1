//! The `data` of the `fleet.*` event types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::ScalingAction;

/// The autoscaler changed the fleet, and why.
///
/// The `data` of `fleet.scaling.decided.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FleetScalingDecided {
    /// What it did.
    pub action: ScalingAction,
    /// The workers concerned.
    pub workers: Vec<Uuid>,
    /// Why.
    pub reason: String,
}
