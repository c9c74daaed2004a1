//! What one lablet asks of a worker.

use std::sync::Arc;

use crate::catalog::{CatalogNeeds, NodeCatalog};
use crate::definition::{LabletDefinition, ResourceNeeds};
use crate::domain_error::DomainError;
use crate::ids::LabletId;
use crate::lablet::Lablet;
use crate::time::Timestamp;
use crate::version::SemVer;
use crate::worker::LicenceKind;

/// A lablet waiting for a worker. Built from the lablet and its definition, or
/// directly by simulations and benches that have no records.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PlacementRequest {
    /// The lablet to place.
    pub lablet: LabletId,
    /// Resources, nodes and ports it holds.
    pub needs: ResourceNeeds,
    /// Licence the worker must run on; `None` accepts any.
    pub licence_affinity: Option<LicenceKind>,
    /// Oldest CML able to run the topology; `None` accepts any (even unknown).
    pub min_cml_version: Option<SemVer>,
    /// Node and image definitions the worker's CML must offer; `None` needs none.
    pub requires: Option<Arc<CatalogNeeds>>,
    /// When the lablet ends and gives its capacity back; `None` when unknown.
    /// Only [`Policy::Lifetime`](super::Policy::Lifetime) reads it, and it is not
    /// part of the [`RequestShape`]: it changes which worker is preferred, never
    /// which workers can take the lablet.
    pub ends_at: Option<Timestamp>,
}

impl PlacementRequest {
    /// A request with no licence or version constraint.
    pub fn new(lablet: LabletId, needs: ResourceNeeds) -> Self {
        Self {
            lablet,
            needs,
            licence_affinity: None,
            min_cml_version: None,
            requires: None,
            ends_at: None,
        }
    }

    /// Sets when the lablet ends.
    pub fn with_end(mut self, at: Timestamp) -> Self {
        self.ends_at = Some(at);
        self
    }

    /// Requires a licence kind.
    pub fn with_licence_affinity(mut self, kind: LicenceKind) -> Self {
        self.licence_affinity = Some(kind);
        self
    }

    /// Requires a minimum CML version.
    pub fn with_min_cml_version(mut self, version: SemVer) -> Self {
        self.min_cml_version = Some(version);
        self
    }

    /// Requires node and image definitions (nothing, when `needs` is empty).
    pub fn with_catalog_needs(mut self, needs: Arc<CatalogNeeds>) -> Self {
        self.requires = (!needs.is_empty()).then_some(needs);
        self
    }

    /// The request a lablet of `definition` makes: its needs and every
    /// constraint. The one builder of requests from definitions, shared by the
    /// scheduler and the placement preview so that a preview cannot disagree
    /// with what the scheduler then does.
    pub fn for_definition(lablet: LabletId, definition: &LabletDefinition) -> Self {
        Self {
            lablet,
            needs: definition.needs,
            licence_affinity: definition.licence_affinity,
            min_cml_version: definition.min_cml_version,
            requires: None,
            ends_at: None,
        }
        .with_catalog_needs(Arc::new(definition.requires.clone()))
    }

    /// The request for `lablet`, taking needs and constraints from its definition.
    /// Refuses a definition other than the one the lablet was made from, since placing
    /// by the wrong needs would over-commit workers silently.
    pub fn for_lablet(lablet: &Lablet, definition: &LabletDefinition) -> Result<Self, DomainError> {
        if lablet.spec.definition_id != definition.id {
            return Err(DomainError::validation(
                "definition",
                format!(
                    "lablet {} was made from definition {}, not {}",
                    lablet.id, lablet.spec.definition_id, definition.id
                ),
            ));
        }
        Ok(Self::for_definition(lablet.id, definition).with_end(lablet.spec.timeslot.end))
    }

    /// Everything about the request that decides where it can go. Requests of equal
    /// shape are interchangeable for placement, which is what lets a batch reject
    /// repeats of a failed shape in O(1).
    pub fn shape(&self) -> RequestShape {
        RequestShape {
            needs: self.needs,
            licence_affinity: self.licence_affinity,
            min_cml_version: self.min_cml_version,
            requires: self.requires.clone(),
        }
    }
}

/// A request without its lablet id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestShape {
    /// Resources, nodes and ports.
    pub needs: ResourceNeeds,
    /// Required licence kind.
    pub licence_affinity: Option<LicenceKind>,
    /// Minimum CML version.
    pub min_cml_version: Option<SemVer>,
    /// Required node and image definitions.
    pub requires: Option<Arc<CatalogNeeds>>,
}

impl RequestShape {
    /// True when a worker on `licence` satisfies the affinity.
    pub fn accepts_licence(&self, licence: Option<LicenceKind>) -> bool {
        match self.licence_affinity {
            None => true,
            Some(required) => licence == Some(required),
        }
    }

    /// True when a worker running `version` is new enough. An unknown version only
    /// satisfies a request with no minimum: guessing would risk a failed import.
    pub fn accepts_version(&self, version: Option<SemVer>) -> bool {
        match self.min_cml_version {
            None => true,
            Some(min) => version.is_some_and(|v| v >= min),
        }
    }

    /// True when a worker offering `catalog` has every definition needed (an
    /// unknown catalog is not held against it; see [`CatalogNeeds::met_by`]).
    pub fn accepts_catalog(&self, catalog: Option<&NodeCatalog>) -> bool {
        self.requires
            .as_deref()
            .is_none_or(|needs| needs.met_by(catalog))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::NewDefinition;
    use crate::ids::DefinitionId;
    use crate::lablet::{NewLablet, Timeslot};
    use crate::resources::Resources;
    use crate::time::{epoch, plus_seconds};

    fn definition(id: u128) -> LabletDefinition {
        LabletDefinition::new(
            DefinitionId::from_u128(id),
            NewDefinition {
                name: "ccna".into(),
                version: SemVer::new(1, 0, 0),
                topology_yaml: "lab: {}".into(),
                needs: ResourceNeeds {
                    resources: Resources::new(4, 8, 20),
                    nodes: 4,
                    ports: 2,
                },
                licence_affinity: Some(LicenceKind::Enterprise),
                min_cml_version: Some(SemVer::new(2, 8, 0)),
                max_duration_minutes: 240,
                warm_pool_depth: 0,
            },
            epoch(),
        )
        .unwrap()
    }

    fn lablet(def: &LabletDefinition) -> Lablet {
        let input = NewLablet {
            owner: "ada".into(),
            timeslot: Timeslot {
                start: epoch(),
                end: plus_seconds(epoch(), 3600),
            },
            reservation_id: None,
            on_demand: false,
        };
        Lablet::create(LabletId::from_u128(7), def, input, epoch())
            .unwrap()
            .0
    }

    #[test]
    fn for_lablet_copies_needs_and_constraints() {
        let def = definition(1);
        let request = PlacementRequest::for_lablet(&lablet(&def), &def).unwrap();
        assert_eq!(request.lablet, LabletId::from_u128(7));
        assert_eq!(request.needs, def.needs);
        assert_eq!(request.licence_affinity, Some(LicenceKind::Enterprise));
        assert_eq!(request.min_cml_version, Some(SemVer::new(2, 8, 0)));
        assert_eq!(request.ends_at, Some(plus_seconds(epoch(), 3600)));
        assert_eq!(
            request.shape(),
            PlacementRequest::for_definition(request.lablet, &def).shape(),
            "the end is no part of the shape"
        );
    }

    #[test]
    fn for_lablet_refuses_another_definition() {
        let def = definition(1);
        let err = PlacementRequest::for_lablet(&lablet(&def), &definition(2)).unwrap_err();
        assert_eq!(err.code(), "validation_failed");
    }

    #[test]
    fn constraints_accept_what_they_should() {
        let shape = PlacementRequest::new(LabletId::from_u128(1), ResourceNeeds::default())
            .with_licence_affinity(LicenceKind::Personal)
            .with_min_cml_version(SemVer::new(2, 9, 0))
            .shape();
        assert!(shape.accepts_licence(Some(LicenceKind::Personal)));
        assert!(!shape.accepts_licence(Some(LicenceKind::Enterprise)));
        assert!(!shape.accepts_licence(None));
        assert!(shape.accepts_version(Some(SemVer::new(2, 10, 0))));
        assert!(!shape.accepts_version(Some(SemVer::new(2, 8, 9))));
        assert!(!shape.accepts_version(None));
        let open = RequestShape::default();
        assert!(open.accepts_licence(None) && open.accepts_version(None));
    }
}
