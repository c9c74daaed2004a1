//! The `data` of the `definition.*` event types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::definition::LabletDefinition;

/// A definition version was created.
///
/// The `data` of `definition.created.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DefinitionCreated {
    /// The definition version.
    pub definition: Box<LabletDefinition>,
}

/// A definition was activated or deactivated.
///
/// The `data` of `definition.activation.changed.v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DefinitionActivationChanged {
    /// Active now.
    pub active: bool,
}
