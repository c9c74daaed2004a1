//! Lablet definitions: created and versioned with a validated topology,
//! activated and deactivated. A new version is a new record; lablets keep
//! pointing at the version they were made from.

use super::Fleet;
use crate::definition::{LabletDefinition, NewDefinition};
use crate::error::CoreError;
use crate::event::{DomainEvent, EventPayload, ResourceKind, Subject};
use crate::ids::DefinitionId;
use crate::ports::store::{ChangeSet, DefinitionFilter, StoreError};
use crate::topology::validate_topology_within;

fn subject(id: DefinitionId) -> Subject {
    Subject {
        kind: ResourceKind::Definition,
        id: id.to_string(),
    }
}

impl Fleet {
    /// Creates a definition (or a new version of one). The topology must be valid
    /// CML YAML; the node count comes from it. A version must be newer than every
    /// stored version of the same name.
    pub async fn create_definition(
        &self,
        mut input: NewDefinition,
    ) -> Result<LabletDefinition, CoreError> {
        let summary =
            validate_topology_within(&input.topology_yaml, &self.settings.topology_limits)
                .map_err(|e| CoreError::validation("topology_yaml", e.to_string()))?;
        input.needs.nodes = summary.nodes;
        let existing = self
            .store
            .list_definitions(&DefinitionFilter {
                name: Some(input.name.clone()),
                active_only: false,
            })
            .await?;
        if let Some(newest) = existing.iter().map(|d| d.version).max() {
            if input.version <= newest {
                return Err(CoreError::validation(
                    "version",
                    format!(
                        "`{}` already has version {newest}; a new version must be newer",
                        input.name
                    ),
                ));
            }
        }
        let now = self.clock.now();
        let mut definition = LabletDefinition::new(DefinitionId::new(), input, now)?;
        let event = DomainEvent::new(
            subject(definition.id),
            EventPayload::DefinitionCreated {
                definition: Box::new(definition.clone()),
            },
            now,
        );
        let receipt = self
            .store
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
    pub async fn get_definition(&self, id: DefinitionId) -> Result<LabletDefinition, CoreError> {
        self.store
            .get_definition(id)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                kind: "definition",
                id: id.to_string(),
            })
    }

    /// Definitions passing the filter.
    pub async fn list_definitions(
        &self,
        filter: &DefinitionFilter,
    ) -> Result<Vec<LabletDefinition>, CoreError> {
        Ok(self.store.list_definitions(filter).await?)
    }

    /// Activates or deactivates a definition; inactive ones accept no new lablets.
    pub async fn set_definition_active(
        &self,
        id: DefinitionId,
        active: bool,
    ) -> Result<LabletDefinition, CoreError> {
        for _ in 0..super::persist::CONFLICT_RETRIES {
            let mut definition = self.get_definition(id).await?;
            if definition.active == active {
                return Ok(definition);
            }
            let now = self.clock.now();
            definition.active = active;
            definition.meta.updated_at = now;
            let event = DomainEvent::new(
                subject(id),
                EventPayload::DefinitionActivationChanged { active },
                now,
            );
            match self
                .store
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
