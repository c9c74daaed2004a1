//! A small, tolerant reader of CML topology files: enough to count nodes and links,
//! learn each node's definition, label, position, tags and interfaces and each link's ends,
//! without a YAML parser. Block-style YAML (what CML exports), flow-style lists and
//! JSON topologies are understood; what it cannot read is left out, never an error
//! beyond a missing `nodes` section.

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

impl NodeSpec {
    fn set(&mut self, key: &str, value: &str) {
        match key {
            "id" => self.id = Some(unquote(value)),
            "label" => self.label = Some(unquote(value)),
            "x" => self.x = parse_int(value),
            "y" => self.y = parse_int(value),
            "tags" => self.tags = flow_values(value),
            _ => {}
        }
    }
}

impl InterfaceSpec {
    fn set(&mut self, key: &str, value: &str) {
        match key {
            "id" => self.id = Some(unquote(value)),
            "label" => self.label = Some(unquote(value)),
            "slot" => self.slot = parse_int(value).and_then(|v| u32::try_from(v).ok()),
            "type" => self.kind = Some(unquote(value)),
            _ => {}
        }
    }
}

impl LinkSpec {
    fn set(&mut self, key: &str, value: &str) {
        let slot = match key {
            "id" => &mut self.id,
            "label" => &mut self.label,
            "n1" => &mut self.n1,
            "n2" => &mut self.n2,
            "i1" => &mut self.i1,
            "i2" => &mut self.i2,
            _ => return,
        };
        *slot = Some(unquote(value));
    }
}

/// An integer, also from `12.0` (some exporters write floats).
fn parse_int(value: &str) -> Option<i64> {
    let v = unquote(value);
    v.parse::<i64>().ok().or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.round() as i64)
    })
}

/// Why a text is not a topology (CML answers 400 "Import failed.").
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TopologyError(pub(crate) String);

/// Reads a topology from YAML or JSON text.
pub(crate) fn parse(text: &str) -> Result<Topology, TopologyError> {
    if text.trim_start().starts_with('{') {
        parse_json(text)
    } else {
        parse_yaml(text)
    }
}

fn parse_json(text: &str) -> Result<Topology, TopologyError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| TopologyError(format!("invalid JSON: {e}")))?;
    let nodes = value
        .get("nodes")
        .and_then(|n| n.as_array())
        .ok_or_else(|| TopologyError("no `nodes` list".into()))?;
    let links = value
        .get("links")
        .and_then(|l| l.as_array())
        .map_or(0, |l| l.len());
    let lab_text = |key: &str| {
        value
            .get("lab")
            .and_then(|lab| lab.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let text_of = |v: &serde_json::Value, key: &str| -> Option<String> {
        match v.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let int_of = |v: &serde_json::Value, key: &str| -> Option<i64> {
        let value = v.get(key)?;
        value
            .as_i64()
            .or_else(|| value.as_f64().map(|f| f.round() as i64))
    };
    let node_specs = nodes
        .iter()
        .map(|n| NodeSpec {
            id: text_of(n, "id"),
            label: text_of(n, "label"),
            x: int_of(n, "x"),
            y: int_of(n, "y"),
            tags: n
                .get("tags")
                .and_then(|t| t.as_array())
                .map(|list| {
                    list.iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            interfaces: n
                .get("interfaces")
                .and_then(|i| i.as_array())
                .map(|list| {
                    list.iter()
                        .map(|i| InterfaceSpec {
                            id: text_of(i, "id"),
                            label: text_of(i, "label"),
                            slot: int_of(i, "slot").and_then(|s| u32::try_from(s).ok()),
                            kind: text_of(i, "type"),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let link_specs = value
        .get("links")
        .and_then(|l| l.as_array())
        .map(|list| {
            list.iter()
                .map(|l| LinkSpec {
                    id: text_of(l, "id"),
                    label: text_of(l, "label"),
                    n1: text_of(l, "n1"),
                    n2: text_of(l, "n2"),
                    i1: text_of(l, "i1"),
                    i2: text_of(l, "i2"),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Topology {
        title: lab_text("title"),
        description: lab_text("description"),
        notes: lab_text("notes"),
        nodes: nodes
            .iter()
            .map(|n| {
                n.get("node_definition")
                    .and_then(|d| d.as_str())
                    .map(str::to_owned)
            })
            .collect(),
        links: u32::try_from(links).unwrap_or(u32::MAX),
        node_specs,
        link_specs,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Section {
    Lab,
    Nodes,
    Links,
    Other,
}

/// Block-list parsing state of the current section.
#[derive(Default)]
struct ListState {
    /// Column of the list's dashes.
    dash_indent: Option<usize>,
    /// Column of the keys of the current item.
    key_indent: Option<usize>,
    /// Inside the `interfaces:` list of the current node.
    interfaces: Option<ListState2>,
    /// Inside the `tags:` block list of the current node.
    tags: bool,
}

/// Parsing state of a list nested in a list item (a node's interfaces).
#[derive(Default)]
struct ListState2 {
    dash_indent: Option<usize>,
    key_indent: Option<usize>,
}

fn indent_of(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    let stripped = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')));
    stripped.unwrap_or(v).to_owned()
}

/// `key: value` → (`key`, `value`).
fn key_value(content: &str) -> Option<(&str, &str)> {
    let (key, value) = content.split_once(':')?;
    let key = key.trim();
    (!key.is_empty() && !key.contains(' ')).then_some((key, value.trim()))
}

/// The scalar items of a flow list of scalars (`[a, 'b:1']`); anything else
/// (`null`, a nested collection) reads as no items.
fn flow_values(value: &str) -> Vec<String> {
    let Some(inner) = value
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
    else {
        return Vec::new();
    };
    if inner.contains(['[', '{']) {
        return Vec::new();
    }
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for c in inner.chars() {
        match (c, quote) {
            ('\'' | '"', None) => {
                quote = Some(c);
                current.push(c);
            }
            (c, Some(q)) if c == q => {
                quote = None;
                current.push(c);
            }
            (',', None) => items.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    items.push(current);
    items
        .iter()
        .map(|item| unquote(item))
        .filter(|item| !item.is_empty())
        .collect()
}

/// Items of a flow list such as `[{id: n0}, {id: n1}]` or `[a, b]`.
fn flow_items(value: &str) -> Result<u32, TopologyError> {
    let inner = value
        .trim()
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .ok_or_else(|| TopologyError(format!("expected a list, found `{value}`")))?;
    if inner.trim().is_empty() {
        return Ok(0);
    }
    let mut depth = 0i32;
    let mut items = 1u32;
    for c in inner.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => items += 1,
            _ => {}
        }
    }
    Ok(items)
}

fn parse_yaml(text: &str) -> Result<Topology, TopologyError> {
    let mut topology = Topology::default();
    let mut section = Section::Other;
    let mut seen_nodes = false;
    let mut list = ListState::default();
    let mut lab_key_indent: Option<usize> = None;

    for raw in text.lines() {
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed == "---" {
            continue;
        }
        let indent = indent_of(raw);

        if indent == 0 && !trimmed.starts_with('-') {
            let Some((key, value)) = key_value(trimmed) else {
                continue;
            };
            list = ListState::default();
            section = match key {
                "lab" => Section::Lab,
                "nodes" => Section::Nodes,
                "links" => Section::Links,
                _ => Section::Other,
            };
            if section == Section::Nodes {
                seen_nodes = true;
            }
            if !value.is_empty() && matches!(section, Section::Nodes | Section::Links) {
                let count = flow_items(value)?;
                if section == Section::Nodes {
                    topology.nodes.extend((0..count).map(|_| None));
                    topology
                        .node_specs
                        .extend((0..count).map(|_| NodeSpec::default()));
                } else {
                    topology.links = topology.links.saturating_add(count);
                }
                section = Section::Other;
            }
            continue;
        }

        match section {
            Section::Lab => {
                let key_indent = *lab_key_indent.get_or_insert(indent);
                if indent == key_indent {
                    if let Some((key, value)) = key_value(trimmed) {
                        match key {
                            "title" => topology.title = Some(unquote(value)),
                            "description" => topology.description = Some(unquote(value)),
                            "notes" if !value.starts_with(['|', '>']) => {
                                topology.notes = Some(unquote(value));
                            }
                            _ => {}
                        }
                    }
                }
            }
            Section::Nodes | Section::Links => {
                let dash_indent = *list.dash_indent.get_or_insert(indent);
                let mut content = trimmed;
                let mut content_indent = indent;
                if indent == dash_indent && (trimmed == "-" || trimmed.starts_with("- ")) {
                    if section == Section::Nodes {
                        topology.nodes.push(None);
                        topology.node_specs.push(NodeSpec::default());
                    } else {
                        topology.links = topology.links.saturating_add(1);
                        topology.link_specs.push(LinkSpec::default());
                    }
                    list.interfaces = None;
                    list.tags = false;
                    content = trimmed[1..].trim_start();
                    content_indent = indent + (trimmed.len() - content.len());
                    list.key_indent = (!content.is_empty()).then_some(content_indent);
                    if content.is_empty() {
                        continue;
                    }
                } else if indent < dash_indent {
                    // A deeper structure ended; ignore stray lines.
                    continue;
                }
                let key_indent = *list.key_indent.get_or_insert(content_indent);
                if section == Section::Nodes && list.tags {
                    // `tags:` items sit deeper than the node's keys, or at the
                    // same column as dashes (how serde-style emitters write them).
                    let nested = content_indent > key_indent
                        || (content_indent == key_indent && content.starts_with('-'));
                    if nested {
                        if let (Some(item), Some(node)) =
                            (content.strip_prefix('-'), topology.node_specs.last_mut())
                        {
                            let item = unquote(item);
                            if !item.is_empty() {
                                node.tags.push(item);
                            }
                        }
                        continue;
                    }
                    list.tags = false;
                }
                if section == Section::Nodes {
                    if let Some(sub) = list.interfaces.as_mut() {
                        let nested = content_indent > key_indent
                            || (content_indent == key_indent && content.starts_with('-'));
                        if nested {
                            interface_line(sub, &mut topology, content, content_indent);
                            continue;
                        }
                        list.interfaces = None;
                    }
                }
                if content_indent == key_indent {
                    if let Some((key, value)) = key_value(content) {
                        match section {
                            Section::Nodes => {
                                if key == "node_definition" {
                                    if let Some(last) = topology.nodes.last_mut() {
                                        *last = Some(unquote(value));
                                    }
                                } else if key == "interfaces" && value.is_empty() {
                                    list.interfaces = Some(ListState2::default());
                                } else if key == "tags" && value.is_empty() {
                                    list.tags = true;
                                } else if let Some(node) = topology.node_specs.last_mut() {
                                    node.set(key, value);
                                }
                            }
                            _ => {
                                if let Some(link) = topology.link_specs.last_mut() {
                                    link.set(key, value);
                                }
                            }
                        }
                    }
                }
            }
            Section::Other => {}
        }
    }

    if !seen_nodes {
        return Err(TopologyError("no `nodes` section".into()));
    }
    Ok(topology)
}

/// One line of a node's `interfaces:` block list.
fn interface_line(
    sub: &mut ListState2,
    topology: &mut Topology,
    content: &str,
    content_indent: usize,
) {
    let Some(node) = topology.node_specs.last_mut() else {
        return;
    };
    let dash_indent = *sub.dash_indent.get_or_insert(content_indent);
    let mut content = content;
    let mut indent = content_indent;
    if indent == dash_indent && (content == "-" || content.starts_with("- ")) {
        node.interfaces.push(InterfaceSpec::default());
        let rest = content[1..].trim_start();
        indent += content.len() - rest.len();
        content = rest;
        sub.key_indent = (!content.is_empty()).then_some(indent);
        if content.is_empty() {
            return;
        }
    }
    let key_indent = *sub.key_indent.get_or_insert(indent);
    if indent == key_indent {
        if let (Some((key, value)), Some(interface)) =
            (key_value(content), node.interfaces.last_mut())
        {
            interface.set(key, value);
        }
    }
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
