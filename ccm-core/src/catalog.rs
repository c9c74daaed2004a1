//! Node and image definitions: what a worker's CML offers ([`NodeCatalog`], synced
//! from `GET /node_definitions` and `GET /image_definitions`) and what a topology
//! uses ([`CatalogNeeds`], read from its nodes). Placement puts a lablet only on a
//! worker whose catalog holds everything its topology uses, because CML imports a
//! lab with an unknown node definition and then fails to start it — minutes later,
//! with a student waiting.
//!
//! The catalog comes from a worker's CML, so it is bounded like any outside input:
//! at most [`MAX_CATALOG_ENTRIES`] of each kind, names of at most
//! [`MAX_DEFINITION_NAME`] bytes; what is over is dropped and the catalog says so.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ports::cml::{ImageDefinition, NodeDefinition};
use crate::time::Timestamp;

/// Most node definitions, and most image definitions, kept per worker.
pub const MAX_CATALOG_ENTRIES: usize = 2_000;
/// Longest definition id kept; CML's own ids are short slugs.
pub const MAX_DEFINITION_NAME: usize = 128;

/// The node and image definitions one worker's CML offers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCatalog {
    /// Node definition ids (`iosv`, `alpine`).
    pub node_definitions: BTreeSet<String>,
    /// Image definition id → the node definition it belongs to.
    pub image_definitions: BTreeMap<String, String>,
    /// CML version the catalog was read from; a new version means a new sync.
    pub cml_version: Option<String>,
    /// When it was read.
    pub synced_at: Option<Timestamp>,
    /// CML offered more than the bounds keep, or names ccm does not keep (empty,
    /// over the length bound, with control characters).
    #[serde(default)]
    pub truncated: bool,
}

/// A name CML sent that ccm keeps: not empty, within the length bound, no
/// control characters (they would reach logs, events and the dashboard).
fn acceptable_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_DEFINITION_NAME && !name.chars().any(char::is_control)
}

impl NodeCatalog {
    /// The catalog of CML's answers, within the bounds.
    pub fn from_cml(
        nodes: &[NodeDefinition],
        images: &[ImageDefinition],
        cml_version: Option<String>,
        now: Timestamp,
    ) -> Self {
        let mut truncated = false;
        let mut node_definitions = BTreeSet::new();
        for node in nodes {
            if !acceptable_name(&node.id) || node_definitions.len() >= MAX_CATALOG_ENTRIES {
                truncated = true;
                continue;
            }
            node_definitions.insert(node.id.clone());
        }
        let mut image_definitions = BTreeMap::new();
        for image in images {
            if !acceptable_name(&image.id)
                || !acceptable_name(&image.node_definition_id)
                || image_definitions.len() >= MAX_CATALOG_ENTRIES
            {
                truncated = true;
                continue;
            }
            image_definitions.insert(image.id.clone(), image.node_definition_id.clone());
        }
        Self {
            node_definitions,
            image_definitions,
            cml_version: cml_version.filter(|v| acceptable_name(v)),
            synced_at: Some(now),
            truncated,
        }
    }

    /// True when both catalogs offer the same definitions (when and from which
    /// version they were read aside): placement treats such workers alike.
    pub fn offers_same_as(&self, other: &NodeCatalog) -> bool {
        self.node_definitions == other.node_definitions
            && self.image_definitions == other.image_definitions
    }
}

/// The node and image definitions a topology uses.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CatalogNeeds {
    /// Node definition ids its nodes use.
    #[serde(default)]
    pub node_definitions: BTreeSet<String>,
    /// Image definition ids its nodes pin (`image_definition:`); nodes without one
    /// take their node definition's default image.
    #[serde(default)]
    pub image_definitions: BTreeSet<String>,
}

impl CatalogNeeds {
    /// Needs nothing: any worker's catalog, known or not, satisfies it.
    pub fn is_empty(&self) -> bool {
        self.node_definitions.is_empty() && self.image_definitions.is_empty()
    }

    /// What `catalog` lacks, as readable names (`iosxrv9000`, `image iosv-159-3`);
    /// empty when it offers everything. An unknown catalog (a worker not yet
    /// synced) lacks nothing: its CML has not been asked yet, and refusing every
    /// topology until it is would stall placement on new workers; the import
    /// itself still fails loudly if the guess was wrong.
    pub fn missing_from(&self, catalog: Option<&NodeCatalog>) -> Vec<String> {
        let Some(catalog) = catalog else {
            return Vec::new();
        };
        let nodes = self
            .node_definitions
            .iter()
            .filter(|id| !catalog.node_definitions.contains(*id))
            .cloned();
        let images = self
            .image_definitions
            .iter()
            .filter(|id| !catalog.image_definitions.contains_key(*id))
            .map(|id| format!("image {id}"));
        nodes.chain(images).collect()
    }

    /// True when `catalog` offers everything needed (see [`Self::missing_from`]).
    pub fn met_by(&self, catalog: Option<&NodeCatalog>) -> bool {
        let Some(catalog) = catalog else {
            return true;
        };
        self.node_definitions
            .iter()
            .all(|id| catalog.node_definitions.contains(id))
            && self
                .image_definitions
                .iter()
                .all(|id| catalog.image_definitions.contains_key(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    fn node(id: &str) -> NodeDefinition {
        NodeDefinition {
            id: id.into(),
            description: None,
            nature: None,
        }
    }

    fn image(id: &str, node: &str) -> ImageDefinition {
        ImageDefinition {
            id: id.into(),
            node_definition_id: node.into(),
            label: None,
        }
    }

    fn needs(nodes: &[&str], images: &[&str]) -> CatalogNeeds {
        CatalogNeeds {
            node_definitions: nodes.iter().map(|s| (*s).to_owned()).collect(),
            image_definitions: images.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn names_what_a_catalog_lacks() {
        let catalog = NodeCatalog::from_cml(
            &[node("iosv"), node("alpine")],
            &[image("iosv-159-3", "iosv")],
            Some("2.9.0".into()),
            epoch(),
        );
        let fits = needs(&["iosv", "alpine"], &["iosv-159-3"]);
        assert!(fits.met_by(Some(&catalog)));
        assert!(fits.missing_from(Some(&catalog)).is_empty());
        let lacks = needs(&["iosv", "csr1000v"], &["iosv-158-1"]);
        assert!(!lacks.met_by(Some(&catalog)));
        assert_eq!(
            lacks.missing_from(Some(&catalog)),
            vec!["csr1000v".to_owned(), "image iosv-158-1".to_owned()]
        );
        assert!(lacks.met_by(None), "an unknown catalog is not held against");
        assert!(CatalogNeeds::default().met_by(Some(&NodeCatalog::default())));
    }

    #[test]
    fn bounds_what_cml_sends() {
        let long = "x".repeat(MAX_DEFINITION_NAME + 1);
        let many: Vec<NodeDefinition> = (0..MAX_CATALOG_ENTRIES + 5)
            .map(|i| node(&format!("n{i}")))
            .collect();
        let catalog = NodeCatalog::from_cml(&many, &[image(&long, "iosv")], None, epoch());
        assert_eq!(catalog.node_definitions.len(), MAX_CATALOG_ENTRIES);
        assert!(catalog.image_definitions.is_empty());
        assert!(catalog.truncated);
        let small = NodeCatalog::from_cml(&[node("iosv")], &[], None, epoch());
        assert!(!small.truncated);
        let odd = NodeCatalog::from_cml(
            &[node(""), node("a\u{1b}[31mred"), node("ok")],
            &[],
            Some(long.clone()),
            epoch(),
        );
        assert_eq!(odd.node_definitions.len(), 1, "{odd:?}");
        assert!(odd.truncated);
        assert_eq!(odd.cml_version, None, "an oversized version is dropped");
    }

    #[test]
    fn same_offer_ignores_when_and_version() {
        let a = NodeCatalog::from_cml(&[node("iosv")], &[], Some("2.9.0".into()), epoch());
        let mut b = a.clone();
        b.cml_version = Some("2.9.1".into());
        b.synced_at = None;
        assert!(a.offers_same_as(&b));
        b.node_definitions.insert("alpine".into());
        assert!(!a.offers_same_as(&b));
    }
}
