//! A lab on a simulated CML server, with CML's state rules:
//! `DEFINED_ON_CORE` —start→ `STARTED` —stop→ `STOPPED` —wipe→ `DEFINED_ON_CORE`;
//! stop and wipe are no-ops where there is nothing to stop or wipe, wipe is refused
//! while started, and delete only accepts a stopped and wiped lab.

use ccm_core::ids::CmlLabId;
use ccm_core::lab::LabState;
use ccm_core::ports::cml::{CmlError, CmlLab, LabUsage};
use ccm_core::time::{plus_seconds, Timestamp};
use serde::{Deserialize, Serialize};

use super::topology::Topology;
use crate::config::CmlConfig;

const GIB: u64 = 1024 * 1024 * 1024;

/// The disk one node takes as CML reports it (its boot disk, whole GB rounded up):
/// [`CmlConfig::node_disk_bytes`].
pub(crate) fn node_disk_gib(config: &CmlConfig) -> u64 {
    config.node_disk_bytes.div_ceil(GIB)
}

/// One node of a lab, with what it is allocated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SimNode {
    /// Node definition id, when the topology named one.
    pub(crate) definition: Option<String>,
    /// vCPUs.
    pub(crate) cpus: u32,
    /// Memory, MiB.
    pub(crate) ram_mib: u64,
    /// Counts against the licence node limit.
    pub(crate) licensed: bool,
}

/// One lab.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SimLab {
    pub(crate) id: CmlLabId,
    /// Creation order on its server (labs list in this order).
    pub(crate) seq: u64,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) owner: String,
    pub(crate) topology: String,
    pub(crate) nodes: Vec<SimNode>,
    pub(crate) links: u32,
    pub(crate) state: LabState,
    pub(crate) created_at: Timestamp,
    pub(crate) modified_at: Timestamp,
    /// While started: when every node has booted.
    pub(crate) converges_at: Option<Timestamp>,
    /// Its elements as CML names them (what `GET /labs/{id}/topology` shows).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) layout: LabLayout,
}

/// A lab's nodes, interfaces and links under the UUIDs CML gives them on import, in
/// topology order (`layout.nodes[i]` is `SimLab::nodes[i]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LabLayout {
    /// `lab.notes`.
    pub(crate) notes: String,
    /// Nodes.
    pub(crate) nodes: Vec<NodeLayout>,
    /// Links whose two ends could be resolved.
    pub(crate) links: Vec<LinkLayout>,
}

/// One node of a [`LabLayout`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeLayout {
    /// UUID.
    pub(crate) id: String,
    /// Label.
    pub(crate) label: String,
    /// Canvas position.
    pub(crate) x: i64,
    /// Canvas position.
    pub(crate) y: i64,
    /// Tags as imported (absent from worlds saved before tags were kept).
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    /// Interfaces.
    pub(crate) interfaces: Vec<InterfaceLayout>,
}

/// One interface of a [`NodeLayout`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InterfaceLayout {
    /// UUID.
    pub(crate) id: String,
    /// Label (`eth0`).
    pub(crate) label: String,
    /// Slot (`None` for loopbacks).
    pub(crate) slot: Option<u32>,
    /// Physical or loopback.
    pub(crate) kind: InterfaceKind,
}

/// What an interface of a [`NodeLayout`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum InterfaceKind {
    /// A port links can attach to.
    Physical,
    /// A loopback (no link, usually no slot).
    Loopback,
}

impl InterfaceKind {
    /// CML's spelling (`type` of an interface).
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn as_cml(self) -> &'static str {
        match self {
            InterfaceKind::Physical => "physical",
            InterfaceKind::Loopback => "loopback",
        }
    }
}

/// One link of a [`LabLayout`]: UUIDs of its ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LinkLayout {
    /// UUID.
    pub(crate) id: String,
    /// Label.
    pub(crate) label: String,
    /// First node.
    pub(crate) node_a: String,
    /// Second node.
    pub(crate) node_b: String,
    /// Interface on the first node.
    pub(crate) interface_a: String,
    /// Interface on the second node.
    pub(crate) interface_b: String,
}

/// A UUIDv4-shaped id derived from the lab id and an element's place: repeatable,
/// and consumes no randomness (so it does not shift the simulation's id stream).
fn derived_uuid(lab: &CmlLabId, kind: &str, index: usize, sub: usize) -> String {
    let mut bytes = [0u8; 16];
    for (half, seed) in [0xcbf2_9ce4_8422_2325u64, 0x8422_2325_cbf2_9ce4]
        .into_iter()
        .enumerate()
    {
        let mut h = seed;
        let parts = lab
            .as_str()
            .bytes()
            .chain(kind.bytes())
            .chain(index.to_le_bytes())
            .chain(sub.to_le_bytes());
        for b in parts {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= h >> 29;
        h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 32;
        bytes[half * 8..half * 8 + 8].copy_from_slice(&h.to_le_bytes());
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

impl LabLayout {
    /// Names the elements of an imported topology. Links naming an interface the node
    /// does not declare get that interface added; links naming an unknown node are
    /// left out of the layout (they still count in `SimLab::links`).
    pub(crate) fn build(
        lab: &CmlLabId,
        topology: &Topology,
        definitions: &[Option<String>],
    ) -> Self {
        let mut nodes: Vec<NodeLayout> = topology
            .node_specs
            .iter()
            .enumerate()
            .map(|(i, spec)| {
                let definition = definitions.get(i).cloned().flatten();
                let label = spec
                    .label
                    .clone()
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| format!("{}-{i}", definition.as_deref().unwrap_or("node")));
                NodeLayout {
                    id: derived_uuid(lab, "node", i, 0),
                    label,
                    x: spec.x.unwrap_or(i64::try_from(i).unwrap_or(0) * 100),
                    y: spec.y.unwrap_or(0),
                    tags: spec.tags.clone(),
                    interfaces: spec
                        .interfaces
                        .iter()
                        .enumerate()
                        .map(|(j, iface)| {
                            let kind = if iface.kind.as_deref() == Some("loopback") {
                                InterfaceKind::Loopback
                            } else {
                                InterfaceKind::Physical
                            };
                            InterfaceLayout {
                                id: derived_uuid(lab, "interface", i, j),
                                label: iface
                                    .label
                                    .clone()
                                    .filter(|l| !l.is_empty())
                                    .unwrap_or_else(|| format!("eth{j}")),
                                slot: if kind == InterfaceKind::Loopback {
                                    iface.slot
                                } else {
                                    iface.slot.or(u32::try_from(j).ok())
                                },
                                kind,
                            }
                        })
                        .collect(),
                }
            })
            .collect();
        // Topology-local ids of every node and interface, to resolve link ends.
        let node_index = |id: &str| {
            topology
                .node_specs
                .iter()
                .position(|n| n.id.as_deref() == Some(id))
        };
        let mut links = Vec::new();
        for (k, link) in topology.link_specs.iter().enumerate() {
            let (Some(a), Some(b)) = (
                link.n1.as_deref().and_then(node_index),
                link.n2.as_deref().and_then(node_index),
            ) else {
                continue;
            };
            let mut end = |node: usize, iface: Option<&str>, side: usize| -> Option<String> {
                let spec = topology.node_specs.get(node)?;
                let declared = iface.and_then(|id| {
                    spec.interfaces
                        .iter()
                        .position(|i| i.id.as_deref() == Some(id))
                });
                let layout = nodes.get_mut(node)?;
                if let Some(j) = declared {
                    return layout.interfaces.get(j).map(|i| i.id.clone());
                }
                let slot = u32::try_from(layout.interfaces.len()).unwrap_or(u32::MAX);
                let id = derived_uuid(lab, "link-interface", k, side);
                layout.interfaces.push(InterfaceLayout {
                    id: id.clone(),
                    label: format!("eth{slot}"),
                    slot: Some(slot),
                    kind: InterfaceKind::Physical,
                });
                Some(id)
            };
            let (Some(interface_a), Some(interface_b)) =
                (end(a, link.i1.as_deref(), 0), end(b, link.i2.as_deref(), 1))
            else {
                continue;
            };
            let (Some(node_a), Some(node_b)) = (nodes.get(a), nodes.get(b)) else {
                continue;
            };
            let label = link
                .label
                .clone()
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| format!("{}-{}", node_a.label, node_b.label));
            links.push(LinkLayout {
                id: derived_uuid(lab, "link", k, 0),
                label,
                node_a: node_a.id.clone(),
                node_b: node_b.id.clone(),
                interface_a,
                interface_b,
            });
        }
        Self {
            notes: topology.notes.clone().unwrap_or_default(),
            nodes,
            links,
        }
    }
}

/// The error for a lab that is not there.
pub(crate) fn lab_not_found(id: &CmlLabId) -> CmlError {
    CmlError::NotFound {
        what: "lab",
        id: id.to_string(),
    }
}

fn rejected(operation: &str, status: u16, description: String) -> CmlError {
    CmlError::Rejected {
        operation: operation.to_owned(),
        status,
        description,
    }
}

impl SimLab {
    /// Nodes counted against the licence.
    pub(crate) fn licensed_nodes(&self) -> u32 {
        let n = self.nodes.iter().filter(|n| n.licensed).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// All nodes.
    pub(crate) fn node_count(&self) -> u32 {
        u32::try_from(self.nodes.len()).unwrap_or(u32::MAX)
    }

    /// True when started and every node has booted at `now`.
    pub(crate) fn converged(&self, now: Timestamp) -> bool {
        self.state == LabState::Started && self.converges_at.is_some_and(|t| now >= t)
    }

    /// What CML's `GET /labs/{id}/check_if_converged` answers: no node is on its way
    /// to another state. A started lab settles once every node has booted; a stopped
    /// or wiped lab is settled at once (the official client waits for this after
    /// stop and wipe too). [`SimLab::converged`] is the stricter "started and booted".
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn settled(&self, now: Timestamp) -> bool {
        self.state != LabState::Started || self.converged(now)
    }

    /// The state CML reports for each node of the lab at `now`: `BOOTED` once a
    /// started lab converged, `STARTED` while its nodes boot.
    #[cfg_attr(not(feature = "http"), allow(dead_code))]
    pub(crate) fn node_state(&self, now: Timestamp) -> &'static str {
        match self.state {
            LabState::Started if self.converged(now) => "BOOTED",
            LabState::Started => "STARTED",
            LabState::Stopped => "STOPPED",
            LabState::DefinedOnCore | LabState::Unknown => "DEFINED_ON_CORE",
        }
    }

    /// True while the lab's nodes run (CML node states `STARTED` and `BOOTED`).
    pub(crate) fn nodes_run(&self) -> bool {
        self.state == LabState::Started
    }

    /// What the lab's nodes take, as a client sums `GET /labs/{id}/nodes?data=true`:
    /// CPUs and memory of its nodes while they run, [`node_disk_gib`] for every
    /// node whatever its state. The HTTP face reports the same figures per node.
    pub(crate) fn usage(&self, config: &CmlConfig) -> LabUsage {
        let disk_gib = node_disk_gib(config).saturating_mul(self.nodes.len() as u64);
        if !self.nodes_run() {
            return LabUsage {
                disk_gib,
                ..LabUsage::default()
            };
        }
        LabUsage {
            cpus: self
                .nodes
                .iter()
                .fold(0u32, |sum, n| sum.saturating_add(n.cpus)),
            memory_mib: self
                .nodes
                .iter()
                .fold(0u64, |sum, n| sum.saturating_add(n.ram_mib)),
            disk_gib,
            running_nodes: self.node_count(),
        }
    }

    /// `PUT /labs/{id}/start`; `licensed_running` is the licensed nodes already running
    /// on the server and `limit` the licence limit. `Ok(true)` when it started.
    pub(crate) fn start(
        &mut self,
        now: Timestamp,
        node_boot_seconds: i64,
        licensed_running: u32,
        limit: u32,
    ) -> Result<bool, CmlError> {
        if self.state == LabState::Started {
            return Ok(false);
        }
        if licensed_running.saturating_add(self.licensed_nodes()) > limit {
            return Err(rejected(
                "start_lab",
                400,
                format!(
                    "Cannot start lab. The node licence limit of {limit} would be exceeded \
                     ({licensed_running} running, {} requested).",
                    self.licensed_nodes()
                ),
            ));
        }
        self.state = LabState::Started;
        self.converges_at = Some(plus_seconds(now, node_boot_seconds));
        self.modified_at = now;
        Ok(true)
    }

    /// `PUT /labs/{id}/stop`; `true` when it stopped a started lab.
    pub(crate) fn stop(&mut self, now: Timestamp) -> bool {
        if self.state != LabState::Started {
            return false;
        }
        self.state = LabState::Stopped;
        self.converges_at = None;
        self.modified_at = now;
        true
    }

    /// `PUT /labs/{id}/wipe`; refused while started, `Ok(true)` when it wiped.
    pub(crate) fn wipe(&mut self, now: Timestamp) -> Result<bool, CmlError> {
        match self.state {
            LabState::Started => Err(rejected(
                "wipe_lab",
                400,
                format!("Lab {} is running; stop it before wiping.", self.id),
            )),
            LabState::Stopped | LabState::Unknown => {
                self.state = LabState::DefinedOnCore;
                self.modified_at = now;
                Ok(true)
            }
            LabState::DefinedOnCore => Ok(false),
        }
    }

    /// Checks `DELETE /labs/{id}`: only stopped and wiped labs may go.
    pub(crate) fn check_delete(&self) -> Result<(), CmlError> {
        if self.state == LabState::DefinedOnCore {
            Ok(())
        } else {
            Err(rejected(
                "delete_lab",
                400,
                format!(
                    "Lab {} is {}; stop and wipe it before deleting.",
                    self.id,
                    self.state.as_cml()
                ),
            ))
        }
    }

    /// The lab as `GET /labs/{id}` reports it.
    pub(crate) fn view(&self) -> CmlLab {
        CmlLab {
            id: self.id.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            owner_username: Some(self.owner.clone()),
            state: self.state,
            node_count: self.node_count(),
            link_count: self.links,
            created_at: Some(self.created_at),
            modified_at: Some(self.modified_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::epoch;

    fn lab(nodes: usize) -> SimLab {
        SimLab {
            id: CmlLabId::new("lab-1"),
            seq: 0,
            title: "t".into(),
            description: String::new(),
            owner: "admin".into(),
            topology: String::new(),
            nodes: vec![
                SimNode {
                    definition: Some("alpine".into()),
                    cpus: 1,
                    ram_mib: 512,
                    licensed: true,
                };
                nodes
            ],
            links: 0,
            state: LabState::DefinedOnCore,
            created_at: epoch(),
            modified_at: epoch(),
            converges_at: None,
            layout: LabLayout::default(),
        }
    }

    #[test]
    fn the_state_rules_of_cml() {
        let mut l = lab(2);
        l.check_delete().unwrap();
        assert!(l.start(epoch(), 60, 0, 5).unwrap());
        assert!(!l.converged(epoch()));
        assert!(l.converged(plus_seconds(epoch(), 60)));
        assert!(
            !l.start(epoch(), 60, 2, 5).unwrap(),
            "starting a started lab is a no-op"
        );
        assert!(matches!(
            l.wipe(epoch()),
            Err(CmlError::Rejected { status: 400, .. })
        ));
        assert!(l.check_delete().is_err());
        assert!(l.stop(epoch()));
        assert!(!l.stop(epoch()));
        assert!(l.check_delete().is_err(), "stopped but not wiped");
        assert!(l.wipe(epoch()).unwrap());
        assert!(!l.wipe(epoch()).unwrap());
        l.check_delete().unwrap();
    }

    #[test]
    fn start_beyond_the_licence_is_refused() {
        let mut l = lab(3);
        let err = l.start(epoch(), 60, 3, 5).unwrap_err();
        assert!(
            matches!(err, CmlError::Rejected { status: 400, ref description, .. } if description.starts_with("Cannot start lab."))
        );
        assert_eq!(l.state, LabState::DefinedOnCore);
        assert!(l.start(epoch(), 60, 2, 5).unwrap());
    }

    #[test]
    fn unlicensed_nodes_do_not_count() {
        let mut l = lab(1);
        l.nodes.push(SimNode {
            definition: Some("unmanaged_switch".into()),
            cpus: 0,
            ram_mib: 0,
            licensed: false,
        });
        assert_eq!(l.licensed_nodes(), 1);
        assert_eq!(l.node_count(), 2);
        assert!(l.start(epoch(), 0, 4, 5).unwrap());
    }

    #[test]
    fn usage_counts_running_nodes_and_every_disk() {
        let config = CmlConfig::default();
        let mut l = lab(2);
        l.nodes.push(SimNode {
            definition: Some("unmanaged_switch".into()),
            cpus: 0,
            ram_mib: 0,
            licensed: false,
        });
        let disk = 3 * node_disk_gib(&config);
        assert!(disk > 0);
        let idle = LabUsage {
            disk_gib: disk,
            ..LabUsage::default()
        };
        assert_eq!(l.usage(&config), idle);
        l.start(epoch(), 60, 0, 5).unwrap();
        let running = LabUsage {
            cpus: 2,
            memory_mib: 1024,
            disk_gib: disk,
            running_nodes: 3,
        };
        assert_eq!(l.usage(&config), running, "booting nodes run");
        l.stop(epoch());
        assert_eq!(l.usage(&config), idle, "stopped nodes take only their disk");
        let half = CmlConfig {
            node_disk_bytes: GIB / 2,
            ..CmlConfig::default()
        };
        assert_eq!(node_disk_gib(&half), 1, "whole GB, rounded up");
    }

    #[test]
    fn settled_is_what_cml_calls_converged() {
        let mut l = lab(1);
        assert!(l.settled(epoch()) && !l.converged(epoch()));
        assert_eq!(l.node_state(epoch()), "DEFINED_ON_CORE");
        l.start(epoch(), 60, 0, 5).unwrap();
        assert!(!l.settled(epoch()));
        assert_eq!(l.node_state(epoch()), "STARTED");
        assert!(l.settled(plus_seconds(epoch(), 60)));
        assert_eq!(l.node_state(plus_seconds(epoch(), 60)), "BOOTED");
        l.stop(epoch());
        assert!(l.settled(epoch()));
        assert_eq!(l.node_state(epoch()), "STOPPED");
    }

    #[test]
    fn layout_names_elements_with_uuids_and_resolves_links() {
        let text = "nodes:\n  - id: n0\n    label: a\n    node_definition: alpine\n    interfaces:\n      - id: i0\n        label: eth0\n  - id: n1\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n    i1: i0\n    i2: i9\n  - id: l1\n    n1: n0\n    n2: nowhere\n";
        let topology = crate::cml::topology::parse(text).unwrap();
        let id = CmlLabId::new("lab-1");
        let layout = LabLayout::build(&id, &topology, &topology.nodes);
        assert_eq!(layout.nodes.len(), 2);
        assert_eq!(layout.nodes[0].label, "a");
        assert_eq!(layout.nodes[1].label, "node-1");
        assert_eq!(layout.nodes[0].interfaces.len(), 1);
        assert_eq!(layout.nodes[1].interfaces.len(), 1, "added for the link");
        assert_eq!(layout.links.len(), 1, "the link to nowhere is left out");
        let link = &layout.links[0];
        assert_eq!(link.interface_a, layout.nodes[0].interfaces[0].id);
        assert_eq!(link.interface_b, layout.nodes[1].interfaces[0].id);
        assert_eq!(
            (link.node_a.as_str(), link.node_b.as_str()),
            (layout.nodes[0].id.as_str(), layout.nodes[1].id.as_str())
        );
        let mut ids: Vec<&str> = layout.nodes.iter().map(|n| n.id.as_str()).collect();
        ids.extend(
            layout
                .nodes
                .iter()
                .flat_map(|n| n.interfaces.iter().map(|i| i.id.as_str())),
        );
        ids.push(&link.id);
        assert!(
            ids.iter()
                .all(|i| i.len() == 36 && i.as_bytes()[14] == b'4'),
            "{ids:?}"
        );
        let unique: std::collections::BTreeSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len());
        assert_eq!(LabLayout::build(&id, &topology, &topology.nodes), layout);
        let other = LabLayout::build(&CmlLabId::new("lab-2"), &topology, &topology.nodes);
        assert_ne!(other.nodes[0].id, layout.nodes[0].id);
    }
}
