//! Lablet definitions (`/api/v1/definitions`): versioned lab templates — the
//! record, the create request (a definition or a new version of one), the
//! activation body and the list query.

use std::collections::BTreeSet;

use ccm_core::version::SemVer;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::worker::{LicenceKind, ObjectMeta, Resources};
use crate::Example;

/// What one lablet of a definition holds on a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ResourceNeeds {
    /// CPU, memory and storage.
    pub resources: Resources,
    /// CML nodes the topology starts (on creation, counted from the topology).
    pub nodes: u32,
    /// Ports to allocate (console and service access).
    pub ports: u32,
}

impl From<&ccm_core::definition::ResourceNeeds> for ResourceNeeds {
    fn from(n: &ccm_core::definition::ResourceNeeds) -> Self {
        Self {
            resources: Resources::from(&n.resources),
            nodes: n.nodes,
            ports: n.ports,
        }
    }
}

impl From<ResourceNeeds> for ccm_core::definition::ResourceNeeds {
    fn from(n: ResourceNeeds) -> Self {
        Self {
            resources: n.resources.into(),
            nodes: n.nodes,
            ports: n.ports,
        }
    }
}

/// The node and image definitions a topology uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CatalogNeeds {
    /// Node definition ids its nodes use.
    #[serde(default)]
    pub node_definitions: BTreeSet<String>,
    /// Image definition ids its nodes pin (`image_definition:`); nodes without
    /// one take their node definition's default image.
    #[serde(default)]
    pub image_definitions: BTreeSet<String>,
}

impl From<&ccm_core::catalog::CatalogNeeds> for CatalogNeeds {
    fn from(n: &ccm_core::catalog::CatalogNeeds) -> Self {
        Self {
            node_definitions: n.node_definitions.clone(),
            image_definitions: n.image_definitions.clone(),
        }
    }
}

/// A versioned lab template: what lablets are made from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LabletDefinition {
    /// Identifier of this version.
    pub id: Uuid,
    /// Metadata; `meta.name` is the definition name shared by all versions.
    pub meta: ObjectMeta,
    /// Semantic version (`major.minor.patch`); a new version is a new record.
    #[schema(example = "1.2.0")]
    pub version: String,
    /// Topology in CML YAML.
    pub topology_yaml: String,
    /// Resources each lablet holds.
    pub needs: ResourceNeeds,
    /// Licence the hosting worker must run on; `null` accepts any.
    pub licence_affinity: Option<LicenceKind>,
    /// Oldest CML version (`major.minor.patch`) able to run the topology; `null`
    /// for any.
    pub min_cml_version: Option<String>,
    /// Node and image definitions the topology uses, read from it at creation; a
    /// worker whose CML lacks one is not offered the lablet.
    #[serde(default)]
    pub requires: CatalogNeeds,
    /// Longest timeslot a lablet may book, in minutes.
    pub max_duration_minutes: u32,
    /// Idle workers to keep ready for this definition.
    pub warm_pool_depth: u32,
    /// Inactive definitions accept no new lablets.
    pub active: bool,
}

impl From<&ccm_core::definition::LabletDefinition> for LabletDefinition {
    fn from(d: &ccm_core::definition::LabletDefinition) -> Self {
        Self {
            id: d.id.0,
            meta: ObjectMeta::from(&d.meta),
            version: d.version.to_string(),
            topology_yaml: d.topology_yaml.clone(),
            needs: ResourceNeeds::from(&d.needs),
            licence_affinity: d.licence_affinity.map(LicenceKind::from),
            min_cml_version: d.min_cml_version.map(|v| v.to_string()),
            requires: CatalogNeeds::from(&d.requires),
            max_duration_minutes: d.max_duration_minutes,
            warm_pool_depth: d.warm_pool_depth,
            active: d.active,
        }
    }
}

/// A version text that parses as the domain's version, refused while the body
/// is read (as it was when the body was the domain's request).
fn version_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse::<SemVer>().map_err(serde::de::Error::custom)?;
    Ok(text)
}

fn optional_version_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let text = Option::<String>::deserialize(deserializer)?;
    if let Some(text) = &text {
        text.parse::<SemVer>().map_err(serde::de::Error::custom)?;
    }
    Ok(text)
}

fn parse_version(field: &str, text: &str) -> Result<SemVer, ccm_core::DomainError> {
    text.parse()
        .map_err(|e: ccm_core::version::VersionParseError| {
            ccm_core::DomainError::validation(field, e.to_string())
        })
}

/// Body of `POST /api/v1/definitions`: a new definition, or a new version of one
/// (newer than every stored version of the name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreateDefinition {
    /// Name shared by all versions.
    pub name: String,
    /// Version of this definition (`major.minor[.patch]`, a leading `v` allowed).
    #[serde(deserialize_with = "version_text")]
    #[schema(example = "1.2.0")]
    pub version: String,
    /// Topology in CML YAML; validated, and its node count replaces `needs.nodes`.
    pub topology_yaml: String,
    /// Resources each lablet holds.
    pub needs: ResourceNeeds,
    /// Licence the hosting worker must run on; absent or `null` accepts any.
    pub licence_affinity: Option<LicenceKind>,
    /// Oldest CML version able to run the topology; absent or `null` for any.
    #[serde(default, deserialize_with = "optional_version_text")]
    pub min_cml_version: Option<String>,
    /// Longest timeslot a lablet may book, in minutes (at least 1).
    pub max_duration_minutes: u32,
    /// Idle workers to keep ready for this definition.
    pub warm_pool_depth: u32,
}

impl TryFrom<CreateDefinition> for ccm_core::definition::NewDefinition {
    type Error = ccm_core::DomainError;

    fn try_from(body: CreateDefinition) -> Result<Self, Self::Error> {
        Ok(Self {
            version: parse_version("version", &body.version)?,
            min_cml_version: body
                .min_cml_version
                .as_deref()
                .map(|v| parse_version("min_cml_version", v))
                .transpose()?,
            name: body.name,
            topology_yaml: body.topology_yaml,
            needs: body.needs.into(),
            licence_affinity: body.licence_affinity.map(Into::into),
            max_duration_minutes: body.max_duration_minutes,
            warm_pool_depth: body.warm_pool_depth,
        })
    }
}

/// Body of `PUT /api/v1/definitions/{id}/active`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDefinitionActive {
    /// Accept new lablets (`true`) or not.
    pub active: bool,
}

/// Query of `GET /api/v1/definitions`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DefinitionListQuery {
    /// Only versions of this name.
    pub name: Option<String>,
    /// Only active definitions.
    #[serde(default)]
    #[param(default = false)]
    pub active_only: bool,
    /// Page size (1 to 1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// Position of the first item (default 0).
    pub offset: Option<usize>,
}

const SAMPLE_TOPOLOGY: &str = "lab:\n  title: ccna-basics\n  version: 0.2.2\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: sw1\n    node_definition: iosvl2\nlinks: []\n";

/// A definition with every optional part filled in.
pub(crate) fn sample_definition() -> ccm_core::definition::LabletDefinition {
    let at = |s: i64| DateTime::<Utc>::from_timestamp(1_767_225_600 + s, 0).unwrap_or_default();
    let mut meta = ccm_core::meta::ObjectMeta::new("ccna-basics", at(0));
    meta.labels.insert("course".into(), "ccna".into());
    meta.version = 3;
    meta.generation = 2;
    meta.observed_generation = 2;
    meta.finalizers.push("ccm.io/example".into());
    meta.updated_at = at(600);
    ccm_core::definition::LabletDefinition {
        id: ccm_core::ids::DefinitionId::from_u128(0x0d3f_0000_0000_4000_8000_0000_0000_0001),
        meta,
        version: SemVer::new(1, 2, 0),
        topology_yaml: SAMPLE_TOPOLOGY.into(),
        needs: ccm_core::definition::ResourceNeeds {
            resources: ccm_core::resources::Resources::new(4, 8, 20),
            nodes: 2,
            ports: 2,
        },
        licence_affinity: Some(ccm_core::worker::LicenceKind::Enterprise),
        min_cml_version: Some(SemVer::new(2, 7, 0)),
        requires: ccm_core::catalog::CatalogNeeds {
            node_definitions: BTreeSet::from(["iosv".to_owned(), "iosvl2".to_owned()]),
            image_definitions: BTreeSet::from(["iosv-159-3".to_owned()]),
        },
        max_duration_minutes: 240,
        warm_pool_depth: 1,
        active: true,
    }
}

impl Example for LabletDefinition {
    fn example() -> Self {
        Self::from(&sample_definition())
    }
}

impl Example for CreateDefinition {
    fn example() -> Self {
        let d = LabletDefinition::example();
        Self {
            name: d.meta.name,
            version: d.version,
            topology_yaml: d.topology_yaml,
            needs: d.needs,
            licence_affinity: d.licence_affinity,
            min_cml_version: d.min_cml_version,
            max_duration_minutes: d.max_duration_minutes,
            warm_pool_depth: d.warm_pool_depth,
        }
    }
}

impl Example for SetDefinitionActive {
    fn example() -> Self {
        Self { active: false }
    }
}

#[cfg(test)]
#[path = "definition_tests.rs"]
mod tests;
