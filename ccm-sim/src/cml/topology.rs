//! What the simulated CML reads of a topology file: its nodes and links, each
//! node's definition, label, position, tags and interfaces and each link's ends.
//! The text is read as a YAML document (JSON is YAML too) within ccm's topology
//! limits (size, nesting, alias expansion: the simulator's HTTP face takes bodies
//! from anyone), as CML does; a field of the wrong type is left out, and only a
//! document that is not YAML or has no `nodes` list is refused.

use ccm_core::topology::{read_document_within, TopologyLimits};
use serde_norway::Value;

/// What the simulator needs from a topology.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Topology {
    /// `lab.title`.
    pub(crate) title: Option<String>,
    /// `lab.description`.
    pub(crate) description: Option<String>,
    /// `lab.notes` (single-line values only).
    pub(crate) notes: Option<String>,
    /// One entry per node: its `node_definition`, when given.
    pub(crate) nodes: Vec<Option<String>>,
    /// Number of links.
    pub(crate) links: u32,
    /// One entry per node (same order as `nodes`): what the file says about it.
    pub(crate) node_specs: Vec<NodeSpec>,
    /// One entry per link that could be read (flow-style links are only counted).
    pub(crate) link_specs: Vec<LinkSpec>,
}

/// A node as the topology file describes it; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NodeSpec {
    /// Topology-local id (`n0`).
    pub(crate) id: Option<String>,
    /// Label.
    pub(crate) label: Option<String>,
    /// Canvas position.
    pub(crate) x: Option<i64>,
    /// Canvas position.
    pub(crate) y: Option<i64>,
    /// Tags (`serial:2000` maps the console through PATty), block or flow list.
    pub(crate) tags: Vec<String>,
    /// Interfaces.
    pub(crate) interfaces: Vec<InterfaceSpec>,
}

/// An interface of a node in a topology file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct InterfaceSpec {
    /// Topology-local id (`i0`).
    pub(crate) id: Option<String>,
    /// Label (`eth0`).
    pub(crate) label: Option<String>,
    /// Slot.
    pub(crate) slot: Option<u32>,
    /// `physical` or `loopback`.
    pub(crate) kind: Option<String>,
}

/// A link in a topology file: topology-local node and interface ids of both ends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LinkSpec {
    /// Topology-local id (`l0`).
    pub(crate) id: Option<String>,
    /// Label.
    pub(crate) label: Option<String>,
    /// First node.
    pub(crate) n1: Option<String>,
    /// Second node.
    pub(crate) n2: Option<String>,
    /// Interface on the first node.
    pub(crate) i1: Option<String>,
    /// Interface on the second node.
    pub(crate) i2: Option<String>,
}

/// Why a text is not a topology (CML answers 400 "Import failed.").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TopologyError(pub(crate) String);

/// Reads a topology from YAML or JSON text.
pub(crate) fn parse(source: &str) -> Result<Topology, TopologyError> {
    let document = read_document_within(source, &TopologyLimits::default())
        .map_err(|e| TopologyError(e.to_string()))?;
    let nodes = match document.get("nodes") {
        Some(Value::Sequence(nodes)) => nodes.as_slice(),
        _ => return Err(TopologyError("no `nodes` list".into())),
    };
    let links = sequence(&document, "links");
    let lab = document.get("lab");
    let lab_text = |key: &str| lab.and_then(|lab| text(lab, key));
    Ok(Topology {
        title: lab_text("title"),
        description: lab_text("description"),
        notes: lab_text("notes"),
        nodes: nodes.iter().map(|n| text(n, "node_definition")).collect(),
        links: u32::try_from(links.len()).unwrap_or(u32::MAX),
        node_specs: nodes.iter().map(node_spec).collect(),
        link_specs: links.iter().map(link_spec).collect(),
    })
}

fn node_spec(node: &Value) -> NodeSpec {
    NodeSpec {
        id: text(node, "id"),
        label: text(node, "label"),
        x: integer(node, "x"),
        y: integer(node, "y"),
        tags: sequence(node, "tags")
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        interfaces: sequence(node, "interfaces")
            .iter()
            .map(|i| InterfaceSpec {
                id: text(i, "id"),
                label: text(i, "label"),
                slot: integer(i, "slot").and_then(|s| u32::try_from(s).ok()),
                kind: text(i, "type"),
            })
            .collect(),
    }
}

fn link_spec(link: &Value) -> LinkSpec {
    LinkSpec {
        id: text(link, "id"),
        label: text(link, "label"),
        n1: text(link, "n1"),
        n2: text(link, "n2"),
        i1: text(link, "i1"),
        i2: text(link, "i2"),
    }
}

/// The list under `key` of a mapping; empty when absent or not a list.
fn sequence<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    match value.get(key) {
        Some(Value::Sequence(items)) => items,
        _ => &[],
    }
}

/// A text or number under `key` of a mapping, as text (`id: 0` is an id too).
fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer under `key`, also from `12.0` (some exporters write floats).
fn integer(value: &Value, key: &str) -> Option<i64> {
    let number = value.get(key)?;
    number.as_i64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.round() as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXPORTED: &str = r#"annotations: []
lab:
  description: 'two routers'
  notes: ''
  title: "Lab A"
  version: 0.2.2
links:
  - id: l0
    n1: n0
    n2: n1
    i1: i1
    i2: i1
    label: r1-eth0<->r2-eth0
nodes:
  - boot_disk_size: null
    configuration: |-
      hostname r1
      - not a node
    id: n0
    label: r1
    node_definition: iosv
    interfaces:
      - id: i0
        label: Loopback0
        type: loopback
      - id: i1
        slot: 0
        type: physical
  - id: n1
    label: r2
    node_definition: alpine
    x: 10
    y: 20
"#;

    #[test]
    fn reads_an_exported_topology() {
        let t = parse(EXPORTED).unwrap();
        assert_eq!(t.title.as_deref(), Some("Lab A"));
        assert_eq!(t.description.as_deref(), Some("two routers"));
        assert_eq!(t.nodes, vec![Some("iosv".into()), Some("alpine".into())]);
        assert_eq!(t.links, 1);
    }

    #[test]
    fn dashes_at_column_zero_and_flow_lists() {
        let t =
            parse("nodes:\n- id: n0\n  node_definition: alpine\n- id: n1\nlinks: []\n").unwrap();
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.nodes[0].as_deref(), Some("alpine"));
        assert_eq!(t.links, 0);
        let t =
            parse("nodes: [{id: n0}, {id: n1, x: [1, 2]}, {id: n2}]\nlinks: [{id: l0}]").unwrap();
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.links, 1);
        assert!(parse("nodes: []").unwrap().nodes.is_empty());
    }

    #[test]
    fn text_without_nodes_is_refused() {
        assert!(parse("lab:\n  title: x\n").is_err());
        assert!(parse("").is_err());
        assert!(parse("this is not yaml at all").is_err());
        assert!(parse("nodes: several").is_err());
    }

    #[test]
    fn a_topology_over_ccms_bounds_is_refused_before_it_is_built() {
        // A billion laughs: eight levels of ten aliases, a few hundred bytes.
        let mut bomb = String::from("a0: &a0 [lol]\n");
        for level in 1..=8 {
            let refs = vec![format!("*a{}", level - 1); 10].join(", ");
            bomb.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        bomb.push_str("nodes: [{id: n0}]\n");
        let started = std::time::Instant::now();
        let error = parse(&bomb).unwrap_err();
        assert!(
            error.0.contains("limits.topology_max_alias_expansion"),
            "{error:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let nested = format!("nodes: {}{}", "[".repeat(500), "]".repeat(500));
        assert!(parse(&nested)
            .unwrap_err()
            .0
            .contains("limits.topology_max_depth"));
        let huge = format!("nodes: []\nlab: {{notes: '{}'}}\n", "x".repeat(2 << 20));
        assert!(parse(&huge)
            .unwrap_err()
            .0
            .contains("limits.topology_max_bytes"));
    }

    #[test]
    fn reads_json_topologies() {
        let t = parse(r#"{"lab": {"title": "J"}, "nodes": [{"node_definition": "alpine"}, {}], "links": [{}]}"#)
            .unwrap();
        assert_eq!(t.title.as_deref(), Some("J"));
        assert_eq!(t.nodes, vec![Some("alpine".into()), None]);
        assert_eq!(t.links, 1);
        assert!(parse(r#"{"lab": {}}"#).is_err());
    }

    #[test]
    fn reads_labels_positions_interfaces_and_link_ends() {
        let t = parse(EXPORTED).unwrap();
        assert_eq!(t.notes.as_deref(), Some(""));
        assert_eq!(t.node_specs.len(), 2);
        let r1 = &t.node_specs[0];
        assert_eq!(
            (r1.id.as_deref(), r1.label.as_deref()),
            (Some("n0"), Some("r1"))
        );
        assert_eq!(r1.interfaces.len(), 2);
        assert_eq!(r1.interfaces[0].kind.as_deref(), Some("loopback"));
        assert_eq!(r1.interfaces[0].label.as_deref(), Some("Loopback0"));
        assert_eq!(
            (r1.interfaces[1].id.as_deref(), r1.interfaces[1].slot),
            (Some("i1"), Some(0))
        );
        let r2 = &t.node_specs[1];
        assert_eq!((r2.x, r2.y), (Some(10), Some(20)));
        assert!(r2.interfaces.is_empty());
        assert_eq!(t.link_specs.len(), 1);
        let l = &t.link_specs[0];
        assert_eq!(
            (
                l.n1.as_deref(),
                l.n2.as_deref(),
                l.i1.as_deref(),
                l.i2.as_deref()
            ),
            (Some("n0"), Some("n1"), Some("i1"), Some("i1"))
        );
        assert_eq!(l.label.as_deref(), Some("r1-eth0<->r2-eth0"));
    }

    #[test]
    fn interface_lists_at_the_key_column_end_at_the_next_key() {
        let t = parse(
            "nodes:\n- id: n0\n  interfaces:\n  - id: i0\n    label: e0\n  - id: i1\n  label: after\n  x: 12.0\n- id: n1\n",
        )
        .unwrap();
        assert_eq!(t.nodes.len(), 2);
        let n0 = &t.node_specs[0];
        assert_eq!(n0.interfaces.len(), 2);
        assert_eq!(n0.interfaces[0].label.as_deref(), Some("e0"));
        assert_eq!((n0.label.as_deref(), n0.x), (Some("after"), Some(12)));
        assert_eq!(t.node_specs[1].id.as_deref(), Some("n1"));
    }

    #[test]
    fn node_tags_are_read_in_every_style() {
        // Block lists at the key column (serde-style) and deeper (CML exports),
        // a flow list with quotes, none, and JSON.
        let t = parse(
            "nodes:\n- id: n0\n  tags:\n  - serial:2000\n  - 'a b'\n  label: r1\n- id: n1\n  tags:\n      - pat:4201:22\n  x: 3\n- id: n2\n  tags: [core, 'serial:2001', \"x,y\"]\n- id: n3\n  tags: []\n- id: n4\n  tags: null\n",
        )
        .unwrap();
        let tags: Vec<Vec<String>> = t.node_specs.iter().map(|n| n.tags.clone()).collect();
        assert_eq!(
            tags,
            vec![
                vec!["serial:2000".to_owned(), "a b".to_owned()],
                vec!["pat:4201:22".to_owned()],
                vec![
                    "core".to_owned(),
                    "serial:2001".to_owned(),
                    "x,y".to_owned()
                ],
                vec![],
                vec![],
            ]
        );
        assert_eq!(
            t.node_specs[0].label.as_deref(),
            Some("r1"),
            "the list ended"
        );
        assert_eq!(t.node_specs[1].x, Some(3));
        let j = parse(r#"{"nodes": [{"id": "n0", "tags": ["serial:2000", 5]}]}"#).unwrap();
        assert_eq!(j.node_specs[0].tags, vec!["serial:2000".to_owned()]);
    }

    #[test]
    fn json_topologies_carry_details_too() {
        let t = parse(
            r#"{"lab": {"title": "J", "notes": "n"}, "nodes": [{"id": "n0", "label": "a", "x": 5,
                "interfaces": [{"id": "i0", "slot": 0, "type": "physical"}]}],
                "links": [{"id": "l0", "n1": "n0", "n2": "n0", "i1": "i0", "i2": "i1"}]}"#,
        )
        .unwrap();
        assert_eq!(t.notes.as_deref(), Some("n"));
        assert_eq!(t.node_specs[0].x, Some(5));
        assert_eq!(t.node_specs[0].interfaces[0].slot, Some(0));
        assert_eq!(t.link_specs[0].i2.as_deref(), Some("i1"));
    }
}
