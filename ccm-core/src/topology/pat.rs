//! Console access to a lablet's nodes through CML's PATty service. The ports a
//! lablet is allocated on its worker (placement hands them out, 2000–9999) become
//! node tags in the topology it imports: PATty on the worker's CML then listens on
//! each tagged port and connects it to that node's serial console, which students
//! reach with `telnet <worker> <port>`.
//!
//! The tag is PATty's console mapping, `serial:<outside-port>` (line 0, the
//! console; CML's PATty documentation, "Mapping configuration"). PATty's
//! `pat:<outside>:<inside>` tags forward TCP to an IP port of a node behind a NAT
//! external connector instead, which is not console access. PATty accepts outside
//! ports within the range its service is configured with (2000–7999 by default):
//! a worker whose lablets get ports above that needs the range widened.
//!
//! Rules, so that the result is predictable and a re-import is harmless:
//! - console-capable nodes are every node but those whose definition has no serial
//!   console ([`CONSOLELESS_DEFINITIONS`]);
//! - they take the ports in topology order, one each; with fewer ports than such
//!   nodes (the definition's `needs.ports` says how many a lablet gets), the nodes
//!   past the last port get no console port and no access entry;
//! - every console tag already in the document is dropped first — ports are ccm's
//!   to hand out per worker, so a fixed one would collide with another lablet's,
//!   and a rewritten topology imported again does not stack tags;
//! - everything else in the document is kept as a value: comments and formatting
//!   are not (the document is read and written again), aliases are expanded.

use serde::{Deserialize, Serialize};
use serde_norway::{Mapping, Value};

use super::{as_text, error, line_of, validate_topology_within, TopologyError, TopologyLimits};

/// The tag prefix PATty reads as "this node's serial console on that port".
pub const CONSOLE_TAG_PREFIX: &str = "serial:";

/// Node definitions without a serial console: they get no port.
pub const CONSOLELESS_DEFINITIONS: [&str; 2] = ["unmanaged_switch", "external_connector"];

/// How a port is reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessProtocol {
    /// A node's serial console over PATty: a raw TCP stream that `telnet` speaks.
    Telnet,
}

impl AccessProtocol {
    /// Stable lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            AccessProtocol::Telnet => "telnet",
        }
    }
}

/// One node's console port, as written into the topology.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsolePort {
    /// The node's topology-local id (`n0`).
    pub node: String,
    /// The node's label, or its id when it has none.
    pub label: String,
    /// How the port is reached.
    pub protocol: AccessProtocol,
    /// The outside port on the worker.
    pub port: u16,
}

/// A topology with console ports assigned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatTopology {
    /// The topology to import.
    pub yaml: String,
    /// One entry per node that got a port, in topology order.
    pub consoles: Vec<ConsolePort>,
}

/// True for a tag that maps a node's console (line 0): `serial:<port>` or
/// `serial:<port>:0`. Other PATty tags (`serial:<port>:<line>` for other lines,
/// `pat:…`, `vnc:…`) are the topology author's and are kept.
pub fn is_console_tag(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix(CONSOLE_TAG_PREFIX) else {
        return false;
    };
    let mut parts = rest.split(':');
    let port = parts.next().unwrap_or_default();
    let line = parts.next();
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    numeric(port)
        && parts.next().is_none()
        && line.is_none_or(|l| numeric(l) && l.parse() == Ok(0u32))
}

/// The console tag for `port`.
pub fn console_tag(port: u16) -> String {
    format!("{CONSOLE_TAG_PREFIX}{port}")
}

/// Whether a node of `definition` has a serial console.
pub fn has_console(definition: &str) -> bool {
    !CONSOLELESS_DEFINITIONS.contains(&definition)
}

/// [`assign_console_ports_within`] under the default [`TopologyLimits`].
pub fn assign_console_ports(yaml: &str, ports: &[u16]) -> Result<PatTopology, TopologyError> {
    assign_console_ports_within(yaml, ports, &TopologyLimits::default())
}

/// Tags each console-capable node of `yaml` with the next of `ports` and lists the
/// console entries (see the module documentation for the rules). The topology is
/// validated within `limits` first — the same bounds as at definition time — so a
/// hostile or oversized document is refused before it is built. A port listed
/// twice is used once.
pub fn assign_console_ports_within(
    yaml: &str,
    ports: &[u16],
    limits: &TopologyLimits,
) -> Result<PatTopology, TopologyError> {
    validate_topology_within(yaml, limits)?;
    let mut document: Value = serde_norway::from_str(yaml)
        .map_err(|e| error(e.location().map_or(0, |l| l.line()), e.to_string()))?;
    let Some(Value::Sequence(nodes)) = document
        .as_mapping_mut()
        .and_then(|root| root.get_mut("nodes"))
    else {
        // Validation accepts no document without a `nodes` list.
        return Err(error(0, "the topology has no `nodes` list"));
    };
    let mut free = Vec::with_capacity(ports.len());
    for &port in ports {
        if !free.contains(&port) {
            free.push(port);
        }
    }
    let mut free = free.into_iter();
    let mut consoles = Vec::new();
    for (index, node) in nodes.iter_mut().enumerate() {
        let Value::Mapping(node) = node else {
            return Err(error(0, format!("node #{} must be a mapping", index + 1)));
        };
        let id = node.get("id").and_then(as_text).unwrap_or_default();
        let console = node
            .get("node_definition")
            .and_then(as_text)
            .is_some_and(|definition| has_console(&definition));
        let port = if console { free.next() } else { None };
        retag(node, &id, port)
            .map_err(|reason| error(line_of(yaml, &format!("id: {id}")), reason))?;
        let Some(port) = port else {
            continue;
        };
        let label = node
            .get("label")
            .and_then(as_text)
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| id.clone());
        consoles.push(ConsolePort {
            node: id,
            label,
            protocol: AccessProtocol::Telnet,
            port,
        });
    }
    let yaml = serde_norway::to_string(&document)
        .map_err(|e| error(0, format!("the topology could not be written again: {e}")))?;
    Ok(PatTopology { yaml, consoles })
}

/// Drops the node's console tags and adds the one for `port`, creating `tags`
/// when the node has none (and leaving a node without tags and without a port
/// as it was). A `tags` that is there but not a list is an error: CML would
/// refuse it too.
fn retag(node: &mut Mapping, id: &str, port: Option<u16>) -> Result<(), String> {
    match node.get_mut("tags") {
        Some(Value::Sequence(tags)) => {
            tags.retain(|tag| !matches!(tag, Value::String(t) if is_console_tag(t)));
            tags.extend(port.map(|p| Value::String(console_tag(p))));
        }
        None | Some(Value::Null) => {
            if let Some(port) = port {
                let tags = vec![Value::String(console_tag(port))];
                node.insert(Value::String("tags".into()), Value::Sequence(tags));
            }
        }
        Some(_) => return Err(format!("node `{id}` has `tags` that is not a list")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::topology::TopologyLimit;

    const LAB: &str = "lab:\n  title: ccna\n  version: 0.2.2\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n    x: 10\n    configuration: |-\n      hostname r1\n  - id: n1\n    label: sw\n    node_definition: unmanaged_switch\n  - id: n2\n    node_definition: alpine\n    tags: [linux, 'serial:4001', 'serial:4002:1', 'pat:4201:22']\n  - id: n3\n    label: ext\n    node_definition: external_connector\n  - id: n4\n    label: r2\n    node_definition: iosv\n    tags: null\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

    fn parse(yaml: &str) -> Value {
        serde_norway::from_str(yaml).unwrap()
    }

    /// The `tags` of every node, as text (empty for a node without them).
    fn tags(yaml: &str) -> Vec<Vec<String>> {
        let document = parse(yaml);
        document["nodes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|node| match node.get("tags") {
                Some(Value::Sequence(tags)) => tags
                    .iter()
                    .map(|t| t.as_str().unwrap_or("?").to_owned())
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    #[test]
    fn console_nodes_take_the_ports_in_topology_order() {
        let out = assign_console_ports(LAB, &[2000, 2001, 2002]).unwrap();
        let entries: Vec<(&str, &str, u16)> = out
            .consoles
            .iter()
            .map(|c| (c.node.as_str(), c.label.as_str(), c.port))
            .collect();
        // The switch and the external connector have no console; a node without
        // a label is named by its id.
        assert_eq!(
            entries,
            vec![("n0", "r1", 2000), ("n2", "n2", 2001), ("n4", "r2", 2002)]
        );
        assert!(out
            .consoles
            .iter()
            .all(|c| c.protocol == AccessProtocol::Telnet));
        assert_eq!(
            tags(&out.yaml),
            vec![
                vec!["serial:2000".to_owned()],
                vec![],
                // The author's fixed console port goes; other PATty tags stay.
                vec![
                    "linux".to_owned(),
                    "serial:4002:1".to_owned(),
                    "pat:4201:22".to_owned(),
                    "serial:2001".to_owned()
                ],
                vec![],
                vec!["serial:2002".to_owned()],
            ]
        );
    }

    #[test]
    fn everything_else_of_the_document_is_kept() {
        let out = assign_console_ports(LAB, &[2000, 2001, 2002]).unwrap();
        let mut before = parse(LAB);
        let mut after = parse(&out.yaml);
        for doc in [&mut before, &mut after] {
            for node in doc["nodes"].as_sequence_mut().unwrap() {
                node.as_mapping_mut().unwrap().remove("tags");
            }
        }
        assert_eq!(before, after);
        assert!(validate_topology_within(&out.yaml, &TopologyLimits::default()).is_ok());
    }

    #[test]
    fn nodes_past_the_last_port_get_none() {
        let out = assign_console_ports(LAB, &[3000]).unwrap();
        assert_eq!(out.consoles.len(), 1);
        assert_eq!(out.consoles[0].node, "n0");
        let t = tags(&out.yaml);
        assert_eq!(t[0], vec!["serial:3000".to_owned()]);
        assert_eq!(t[2], vec!["linux", "serial:4002:1", "pat:4201:22"]);
        assert!(t[4].is_empty(), "a node without a port gets no tags list");
        let none = assign_console_ports(LAB, &[]).unwrap();
        assert!(none.consoles.is_empty());
        assert!(tags(&none.yaml)
            .iter()
            .flatten()
            .all(|t| !is_console_tag(t)));
    }

    #[test]
    fn applying_twice_changes_nothing_more_and_a_port_given_twice_is_used_once() {
        let once = assign_console_ports(LAB, &[2000, 2001, 2002]).unwrap();
        let twice = assign_console_ports(&once.yaml, &[2000, 2001, 2002]).unwrap();
        assert_eq!(once, twice);
        let moved = assign_console_ports(&once.yaml, &[5000, 5001, 5002]).unwrap();
        assert_eq!(tags(&moved.yaml)[0], vec!["serial:5000".to_owned()]);
        let repeated = assign_console_ports(LAB, &[2000, 2000, 2001]).unwrap();
        let ports: Vec<u16> = repeated.consoles.iter().map(|c| c.port).collect();
        assert_eq!(ports, vec![2000, 2001]);
    }

    #[test]
    fn numeric_ids_and_flow_documents_are_read() {
        let out = assign_console_ports(
            "{nodes: [{id: 0, node_definition: iosv}], links: []}",
            &[2100],
        )
        .unwrap();
        assert_eq!(out.consoles[0].node, "0");
        assert_eq!(tags(&out.yaml)[0], vec!["serial:2100".to_owned()]);
    }

    #[test]
    fn what_validation_refuses_is_refused_and_tags_must_be_a_list() {
        assert!(assign_console_ports("", &[2000]).is_err());
        assert!(assign_console_ports("nodes: []\n", &[2000]).is_err());
        let small = TopologyLimits {
            max_nodes: 1,
            ..TopologyLimits::default()
        };
        let err = assign_console_ports_within(LAB, &[2000], &small).unwrap_err();
        assert_eq!(err.limit(), Some(TopologyLimit::Nodes));
        let bad = "nodes:\n  - id: n0\n    node_definition: iosv\n  - id: n1\n    node_definition: iosv\n    tags: serial:2000\n";
        match assign_console_ports(bad, &[2000]).unwrap_err() {
            TopologyError::Invalid { line, reason } => {
                assert_eq!(line, 4, "{reason}");
                assert!(
                    reason.contains("`n1`") && reason.contains("not a list"),
                    "{reason}"
                );
            }
            other => panic!("expected an invalid topology, got {other}"),
        }
    }

    #[test]
    fn console_tags_are_recognised_exactly() {
        for tag in ["serial:2000", "serial:2000:0", "serial:1:00"] {
            assert!(is_console_tag(tag), "{tag}");
        }
        for tag in [
            "serial:2000:1",
            "serial:",
            "serial:x",
            "serial:2000:",
            "serial:2000:0:0",
            "pat:2000:22",
            "vnc:5900",
            "serial2000",
            "Serial:2000",
        ] {
            assert!(!is_console_tag(tag), "{tag}");
        }
        assert!(is_console_tag(&console_tag(9999)));
        assert!(!has_console("unmanaged_switch") && has_console("iosv"));
    }

    /// A node line of a generated topology.
    fn node() -> impl Strategy<Value = (u8, bool, Vec<u8>)> {
        (0u8..4, any::<bool>(), prop::collection::vec(0u8..6, 0..4))
    }

    fn topology(nodes: &[(u8, bool, Vec<u8>)]) -> String {
        let mut text = String::from("lab:\n  title: t\nnodes:\n");
        for (i, (definition, labelled, tags)) in nodes.iter().enumerate() {
            let definition = ["iosv", "alpine", "unmanaged_switch", "external_connector"]
                [usize::from(*definition)];
            text.push_str(&format!(
                "  - id: n{i}\n    node_definition: {definition}\n"
            ));
            if *labelled {
                text.push_str(&format!("    label: node {i}\n"));
            }
            if !tags.is_empty() {
                let tags: Vec<&str> = tags
                    .iter()
                    .map(|t| {
                        [
                            "serial:2000",
                            "serial:7000:0",
                            "serial:7001:1",
                            "pat:4201:22",
                            "core",
                            "vnc:5901",
                        ][usize::from(*t)]
                    })
                    .collect();
                text.push_str(&format!("    tags: [{}]\n", tags.join(", ")));
            }
        }
        text.push_str("links: []\n");
        text
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn ports_are_unique_consoles_tagged_once_and_reapplying_is_a_no_op(
            nodes in prop::collection::vec(node(), 1..12),
            ports in prop::collection::btree_set(2000u16..10000, 0..14),
            shuffle in any::<u64>(),
        ) {
            let yaml = topology(&nodes);
            // Placement hands ports out in any order; the order given is the order used.
            let mut ports: Vec<u16> = ports.into_iter().collect();
            let len = ports.len();
            if len > 1 {
                ports.rotate_left(usize::try_from(shuffle % len as u64).unwrap());
            }
            let out = assign_console_ports(&yaml, &ports).unwrap();
            let consoles = nodes.iter().filter(|(d, _, _)| *d < 2).count();
            prop_assert_eq!(out.consoles.len(), consoles.min(ports.len()));
            let given: Vec<u16> = out.consoles.iter().map(|c| c.port).collect();
            prop_assert_eq!(&given[..], &ports[..given.len()]);
            let t = tags(&out.yaml);
            for (i, (definition, _, _)) in nodes.iter().enumerate() {
                let console_tags: Vec<String> =
                    t[i].iter().filter(|tag| is_console_tag(tag)).cloned().collect();
                prop_assert!(console_tags.len() <= 1, "node {}: {:?}", i, t[i]);
                if *definition >= 2 {
                    prop_assert!(console_tags.is_empty());
                }
                let entry = out.consoles.iter().find(|c| c.node == format!("n{i}"));
                match entry {
                    Some(c) => prop_assert_eq!(console_tags, vec![console_tag(c.port)]),
                    None => prop_assert!(console_tags.is_empty()),
                }
            }
            let again = assign_console_ports(&out.yaml, &ports).unwrap();
            prop_assert_eq!(again, out);
        }
    }
}
