//! Validating CML topology YAML before it becomes a lablet definition: it must
//! parse, and it must describe nodes and links CML can import. Errors name the
//! line and the reason, so an operator can fix the file without guessing. A
//! topology comes from API callers, so reading one is bounded ([`TopologyLimits`]):
//! size first, then nesting and alias expansion before any value is built, then
//! node and link counts. [`pat`] rewrites a topology for import, giving each node
//! with a console one of the lablet's ports.

mod limits;
mod lines;
pub mod pat;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_norway::Value;

pub use self::limits::{LimitExceeded, TopologyLimit, TopologyLimits};
use self::lines::{line_of, line_of_nth};
use crate::catalog::CatalogNeeds;

/// What a valid topology contains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopologySummary {
    /// `lab.title`, when present.
    pub title: Option<String>,
    /// Number of nodes.
    pub nodes: u32,
    /// Number of links.
    pub links: u32,
    /// Nodes per node definition (`iosv: 3`).
    pub node_definitions: BTreeMap<String, u32>,
    /// Image definitions pinned by nodes (`image_definition: iosv-159-3`).
    #[serde(default)]
    pub image_definitions: BTreeSet<String>,
}

impl TopologySummary {
    /// The node and image definitions a worker's CML must offer to run it.
    pub fn catalog_needs(&self) -> CatalogNeeds {
        CatalogNeeds {
            node_definitions: self.node_definitions.keys().cloned().collect(),
            image_definitions: self.image_definitions.clone(),
        }
    }
}

/// Why a topology was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    /// Not YAML, or not a topology CML can import.
    #[error("topology line {line}: {reason}")]
    Invalid {
        /// 1-based line (0 when the problem is the document as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// Over one of the [`TopologyLimits`].
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

impl TopologyError {
    /// The limit crossed, when that is the reason.
    pub fn limit(&self) -> Option<TopologyLimit> {
        match self {
            TopologyError::Limit(exceeded) => Some(exceeded.limit),
            TopologyError::Invalid { .. } => None,
        }
    }
}

fn error(line: usize, reason: impl Into<String>) -> TopologyError {
    TopologyError::Invalid {
        line,
        reason: reason.into(),
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses and checks a topology within the default [`TopologyLimits`].
pub fn validate_topology(yaml: &str) -> Result<TopologySummary, TopologyError> {
    validate_topology_within(yaml, &TopologyLimits::default())
}

/// Reads `yaml` (JSON is YAML too) as a document, refusing one over `limits` —
/// size, nesting and alias expansion — before any value is built. For readers
/// that need more of a topology than [`TopologySummary`] holds (the simulator's
/// CML keeps positions, interfaces and link ends); the document is not checked
/// to be a topology.
pub fn read_document_within(yaml: &str, limits: &TopologyLimits) -> Result<Value, TopologyError> {
    limits.check_size(yaml.len())?;
    limits.check_expansion(yaml)?;
    serde_norway::from_str(yaml).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        error(line, format!("not valid YAML: {e}"))
    })
}

/// Parses and checks a topology, refusing one over `limits` before building it.
pub fn validate_topology_within(
    yaml: &str,
    limits: &TopologyLimits,
) -> Result<TopologySummary, TopologyError> {
    limits.check_size(yaml.len())?;
    if yaml.trim().is_empty() {
        return Err(error(0, "the topology is empty"));
    }
    let document = read_document_within(yaml, limits)?;
    let Value::Mapping(root) = &document else {
        return Err(error(
            1,
            "the topology must be a mapping with `nodes` and `links`",
        ));
    };
    let title = match root.get("lab") {
        Some(Value::Mapping(lab)) => lab.get("title").and_then(as_text),
        Some(Value::Null) | None => None,
        Some(_) => return Err(error(line_of(yaml, "lab:"), "`lab` must be a mapping")),
    };
    let nodes_line = || line_of(yaml, "nodes:");
    let nodes = match root.get("nodes") {
        Some(Value::Sequence(nodes)) if !nodes.is_empty() => nodes,
        Some(Value::Sequence(_)) => {
            return Err(error(
                nodes_line(),
                "`nodes` is empty: a lab needs at least one node",
            ))
        }
        Some(_) => return Err(error(nodes_line(), "`nodes` must be a list")),
        None => {
            return Err(error(
                0,
                "missing `nodes`: CML cannot import a topology without nodes",
            ))
        }
    };
    let links = match root.get("links") {
        Some(Value::Sequence(links)) => links.as_slice(),
        Some(Value::Null) | None => &[],
        Some(_) => return Err(error(line_of(yaml, "links:"), "`links` must be a list")),
    };
    limits.check_counts(nodes.len(), links.len())?;
    let mut ids = BTreeSet::new();
    let mut definitions: BTreeMap<String, u32> = BTreeMap::new();
    let mut images = BTreeSet::new();
    for (index, node) in nodes.iter().enumerate() {
        let Value::Mapping(node) = node else {
            return Err(error(
                nodes_line(),
                format!("node #{} must be a mapping", index + 1),
            ));
        };
        let id = node
            .get("id")
            .and_then(as_text)
            .ok_or_else(|| error(nodes_line(), format!("node #{} has no `id`", index + 1)))?;
        let needle = format!("id: {id}");
        if !ids.insert(id.clone()) {
            return Err(error(
                line_of_nth(yaml, &needle, 1),
                format!("node id `{id}` is used twice"),
            ));
        }
        let definition = node
            .get("node_definition")
            .and_then(as_text)
            .ok_or_else(|| {
                error(
                    line_of(yaml, &needle),
                    format!("node `{id}` has no `node_definition`"),
                )
            })?;
        *definitions.entry(definition).or_default() += 1;
        match node.get("image_definition") {
            None | Some(Value::Null) => {}
            Some(value) => match as_text(value) {
                Some(image) if !image.trim().is_empty() => {
                    images.insert(image);
                }
                _ => {
                    return Err(error(
                        line_of(yaml, &needle),
                        format!("node `{id}` has an `image_definition` that is not a name"),
                    ))
                }
            },
        }
    }
    for (index, link) in links.iter().enumerate() {
        let Value::Mapping(link) = link else {
            return Err(error(
                line_of(yaml, "links:"),
                format!("link #{} must be a mapping", index + 1),
            ));
        };
        for end in ["n1", "n2"] {
            let node = link.get(end).and_then(as_text).ok_or_else(|| {
                error(
                    line_of(yaml, "links:"),
                    format!("link #{} has no `{end}`", index + 1),
                )
            })?;
            if !ids.contains(&node) {
                return Err(error(
                    line_of(yaml, &format!("{end}: {node}")),
                    format!("link #{} refers to unknown node `{node}`", index + 1),
                ));
            }
        }
    }
    Ok(TopologySummary {
        title,
        nodes: u32::try_from(nodes.len()).unwrap_or(u32::MAX),
        links: u32::try_from(links.len()).unwrap_or(u32::MAX),
        node_definitions: definitions,
        image_definitions: images,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "lab:\n  title: ccna\n  version: 0.2.2\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\n  - id: n2\n    node_definition: alpine\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

    /// The line and reason of a refusal that is not a limit.
    fn invalid(yaml: &str) -> (usize, String) {
        match validate_topology(yaml).unwrap_err() {
            TopologyError::Invalid { line, reason } => (line, reason),
            other => panic!("expected an invalid topology, got {other}"),
        }
    }

    #[test]
    fn counts_nodes_links_and_definitions() {
        let s = validate_topology(GOOD).unwrap();
        assert_eq!(s.title.as_deref(), Some("ccna"));
        assert_eq!((s.nodes, s.links), (3, 1));
        assert_eq!(s.node_definitions.get("iosv"), Some(&2));
        assert!(s.image_definitions.is_empty());
        let needs = s.catalog_needs();
        assert_eq!(
            needs.node_definitions.into_iter().collect::<Vec<_>>(),
            ["alpine", "iosv"]
        );
    }

    #[test]
    fn pinned_images_are_needs() {
        let pinned = "nodes:\n  - id: n0\n    node_definition: iosv\n    image_definition: iosv-159-3\n  - id: n1\n    node_definition: alpine\n    image_definition: null\n";
        let s = validate_topology(pinned).unwrap();
        assert_eq!(
            s.catalog_needs()
                .image_definitions
                .into_iter()
                .collect::<Vec<_>>(),
            ["iosv-159-3"]
        );
        let bad = "nodes:\n  - id: n0\n    node_definition: iosv\n    image_definition: [a]\n";
        assert!(invalid(bad).1.contains("image_definition"));
    }

    #[test]
    fn bad_yaml_names_the_line() {
        let (line, reason) = invalid("lab:\n  title: x\nnodes:\n  - id: [unclosed\n");
        assert!(line >= 4, "{line}: {reason}");
        assert!(reason.contains("not valid YAML"));
    }

    #[test]
    fn semantic_errors_name_line_and_reason() {
        let (line, reason) = invalid("nodes:\n  - id: n0\n    label: r1\n");
        assert_eq!(line, 2);
        assert!(reason.contains("node_definition"));
        let dangling = "nodes:\n  - id: n0\n    node_definition: iosv\nlinks:\n  - id: l0\n    n1: n0\n    n2: n9\n";
        let (line, reason) = invalid(dangling);
        assert_eq!(line, 7);
        assert!(reason.contains("unknown node `n9`"));
        let twice =
            "nodes:\n  - id: a\n    node_definition: x\n  - id: a\n    node_definition: x\n";
        let (line, reason) = invalid(twice);
        assert_eq!(line, 4, "the second use is named");
        assert!(reason.contains("twice"));
        assert!(validate_topology("").is_err());
        assert!(validate_topology("- just\n- a list\n").is_err());
        assert!(invalid("lab: {}\n").1.contains("missing `nodes`"));
        assert!(invalid("nodes: []\n").1.contains("empty"));
    }

    fn nodes(n: usize) -> String {
        let mut text = String::from("nodes:\n");
        for i in 0..n {
            text.push_str(&format!("  - id: n{i}\n    node_definition: iosv\n"));
        }
        text
    }

    #[test]
    fn limits_are_checked_and_named() {
        let limits = TopologyLimits {
            max_nodes: 3,
            ..TopologyLimits::default()
        };
        assert!(validate_topology_within(&nodes(3), &limits).is_ok());
        let err = validate_topology_within(&nodes(4), &limits).unwrap_err();
        assert_eq!(err.limit(), Some(TopologyLimit::Nodes));
        assert!(
            err.to_string().contains("limits.topology_max_nodes"),
            "{err}"
        );
        let small = TopologyLimits {
            max_bytes: 10,
            ..TopologyLimits::default()
        };
        let err = validate_topology_within(GOOD, &small).unwrap_err();
        assert_eq!(err.limit(), Some(TopologyLimit::Bytes));
    }
}
