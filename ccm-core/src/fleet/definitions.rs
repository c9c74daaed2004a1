//! Lablet definitions: created and versioned with a validated topology,
//! activated and deactivated. A new version is a new record; lablets keep
//! pointing at the version they were made from.

use std::sync::Arc;

use super::context::{found, Context};
use super::persist::CONFLICT_RETRIES;
use crate::definition::{LabletDefinition, NewDefinition};
use crate::error::CoreError;
use crate::event::{DomainEvent, EventPayload, ResourceKind, Subject};
use crate::ids::DefinitionId;
use crate::ports::store::{ChangeSet, DefinitionFilter, StoreError};
use crate::topology::validate_topology_within;
use crate::DomainError;

fn subject(id: DefinitionId) -> Subject {
    Subject {
        kind: ResourceKind::Definition,
        id: id.to_string(),
    }
}

/// Lablet definitions.
#[derive(Clone)]
pub(crate) struct Definitions {
    ctx: Arc<Context>,
}

impl Definitions {
    pub(crate) fn new(ctx: Arc<Context>) -> Self {
        Self { ctx }
    }

    /// Creates a definition (or a new version of one). The topology must be valid
    /// CML YAML; the node count comes from it. A version must be newer than every
    /// stored version of the same name.
    pub(crate) async fn create(
        &self,
        mut input: NewDefinition,
    ) -> Result<LabletDefinition, CoreError> {
        let summary =
            validate_topology_within(&input.topology_yaml, &self.ctx.settings.topology_limits)
                .map_err(|e| CoreError::validation("topology_yaml", e.to_string()))?;
        input.needs.nodes = summary.nodes;
        let existing = self
            .ctx
            .store
            .list_definitions(&DefinitionFilter {
                name: Some(input.name.clone()),
                active_only: false,
            })
            .await?;
        if let Some(newest) = existing.iter().map(|d| d.version).max() {
            if input.version <= newest {
                // A conflict with what is stored, not a malformed request: 409.
                return Err(DomainError::AlreadyExists {
                    kind: "definition version",
                    id: format!("{} {}", input.name, input.version),
                    existing: if input.version == newest {
                        "defined; a new version must be newer".to_owned()
                    } else {
                        format!("older than the newest, {newest}; a new version must be newer")
                    },
                }
                .into());
            }
        }
        let now = self.ctx.now();
        let mut definition = LabletDefinition::new(DefinitionId(self.ctx.new_uuid()), input, now)?;
        definition.requires = summary.catalog_needs();
        let event = DomainEvent::new(
            subject(definition.id),
            EventPayload::DefinitionCreated {
                definition: Box::new(definition.clone()),
            },
            now,
        );
        let receipt = self
            .ctx
            .commit(
                ChangeSet::new()
                    .put_definition(definition.clone())
                    .events([event]),
            )
            .await?;
        definition.meta.version = receipt.versions.first().copied().unwrap_or(1);
        Ok(definition)
    }

    /// A definition by id.
    pub(crate) async fn get(&self, id: DefinitionId) -> Result<LabletDefinition, CoreError> {
        found(self.ctx.store.get_definition(id).await?, "definition", id)
    }

    /// Definitions passing the filter.
    pub(crate) async fn list(
        &self,
        filter: &DefinitionFilter,
    ) -> Result<Vec<LabletDefinition>, CoreError> {
        Ok(self.ctx.store.list_definitions(filter).await?)
    }

    /// Activates or deactivates a definition; inactive ones accept no new lablets.
    pub(crate) async fn set_active(
        &self,
        id: DefinitionId,
        active: bool,
    ) -> Result<LabletDefinition, CoreError> {
        for _ in 0..CONFLICT_RETRIES {
            let mut definition = self.get(id).await?;
            if definition.active == active {
                return Ok(definition);
            }
            let now = self.ctx.now();
            definition.active = active;
            definition.meta.updated_at = now;
            let event = DomainEvent::new(
                subject(id),
                EventPayload::DefinitionActivationChanged { active },
                now,
            );
            match self
                .ctx
                .commit(
                    ChangeSet::new()
                        .put_definition(definition.clone())
                        .events([event]),
                )
                .await
            {
                Ok(receipt) => {
                    definition.meta.version = receipt.versions.first().copied().unwrap_or(0);
                    return Ok(definition);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(StoreError::Unavailable("definition kept changing".into()).into())
    }
}
