//! Lablet definitions: a topology plus what it needs to run.

use serde::{Deserialize, Serialize};

use crate::catalog::CatalogNeeds;
use crate::domain_error::DomainError;
use crate::ids::DefinitionId;
use crate::meta::ObjectMeta;
use crate::resources::Resources;
use crate::time::Timestamp;
use crate::version::SemVer;
use crate::worker::LicenceKind;

/// What one lablet of a definition holds on a worker.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct ResourceNeeds {
    /// CPU, memory and storage.
    pub resources: Resources,
    /// CML nodes the topology starts.
    pub nodes: u32,
    /// Ports to allocate (console and service access).
    pub ports: u32,
}

/// A versioned lab template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabletDefinition {
    /// Identifier of this version.
    pub id: DefinitionId,
    /// Metadata (`meta.name` is the definition name).
    pub meta: ObjectMeta,
    /// Semantic version; a new version is a new record.
    pub version: SemVer,
    /// Topology in CML YAML.
    pub topology_yaml: String,
    /// Resources each lablet holds.
    pub needs: ResourceNeeds,
    /// Licence the hosting worker must run on; `None` accepts any.
    pub licence_affinity: Option<LicenceKind>,
    /// Oldest CML able to run the topology.
    pub min_cml_version: Option<SemVer>,
    /// Node and image definitions the topology uses, read from it at creation;
    /// a worker whose CML lacks one is not offered the lablet. Empty on records
    /// stored before it existed, which therefore place as before.
    #[serde(default)]
    pub requires: CatalogNeeds,
    /// Longest timeslot a lablet may book, in minutes.
    pub max_duration_minutes: u32,
    /// Idle workers to keep ready for this definition.
    pub warm_pool_depth: u32,
    /// Inactive definitions accept no new lablets.
    pub active: bool,
}

/// Input to [`LabletDefinition::new`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewDefinition {
    /// Name shared by all versions.
    pub name: String,
    /// Version of this definition.
    pub version: SemVer,
    /// Topology YAML.
    pub topology_yaml: String,
    /// Resource needs.
    pub needs: ResourceNeeds,
    /// Licence affinity.
    pub licence_affinity: Option<LicenceKind>,
    /// Minimum CML version.
    pub min_cml_version: Option<SemVer>,
    /// Longest timeslot, minutes.
    pub max_duration_minutes: u32,
    /// Warm-pool depth.
    pub warm_pool_depth: u32,
}

impl LabletDefinition {
    /// Validates the input and builds an active definition.
    pub fn new(
        id: DefinitionId,
        input: NewDefinition,
        now: Timestamp,
    ) -> Result<Self, DomainError> {
        if input.name.trim().is_empty() {
            return Err(DomainError::validation("name", "must not be empty"));
        }
        if input.max_duration_minutes == 0 {
            return Err(DomainError::validation(
                "max_duration_minutes",
                "must be at least 1",
            ));
        }
        if input.needs.nodes == 0 {
            return Err(DomainError::validation("needs.nodes", "must be at least 1"));
        }
        Ok(Self {
            id,
            meta: ObjectMeta::new(input.name, now),
            version: input.version,
            topology_yaml: input.topology_yaml,
            needs: input.needs,
            licence_affinity: input.licence_affinity,
            min_cml_version: input.min_cml_version,
            requires: CatalogNeeds::default(),
            max_duration_minutes: input.max_duration_minutes,
            warm_pool_depth: input.warm_pool_depth,
            active: true,
        })
    }

    /// The definition name.
    pub fn name(&self) -> &str {
        &self.meta.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    fn input() -> NewDefinition {
        NewDefinition {
            name: "ccna-basics".into(),
            version: SemVer::new(1, 0, 0),
            topology_yaml: "lab: {}".into(),
            needs: ResourceNeeds {
                resources: Resources::new(4, 8, 20),
                nodes: 4,
                ports: 2,
            },
            licence_affinity: None,
            min_cml_version: None,
            max_duration_minutes: 240,
            warm_pool_depth: 0,
        }
    }

    #[test]
    fn valid_input_builds_active_definition() {
        let d = LabletDefinition::new(DefinitionId::from_u128(1), input(), epoch()).unwrap();
        assert!(d.active);
        assert_eq!(d.name(), "ccna-basics");
    }

    #[test]
    fn rejects_empty_name_zero_duration_and_zero_nodes() {
        let mut bad = input();
        bad.name = " ".into();
        assert!(LabletDefinition::new(DefinitionId::new(), bad, epoch()).is_err());
        let mut bad = input();
        bad.max_duration_minutes = 0;
        assert!(LabletDefinition::new(DefinitionId::new(), bad, epoch()).is_err());
        let mut bad = input();
        bad.needs.nodes = 0;
        let err = LabletDefinition::new(DefinitionId::new(), bad, epoch()).unwrap_err();
        assert!(err.to_string().contains("needs.nodes"));
    }
}
