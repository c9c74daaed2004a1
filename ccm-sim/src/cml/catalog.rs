//! Node and image definitions offered by the simulated CML servers.

use ccm_core::ports::cml::{ImageDefinition, NodeDefinition};

use super::labs::SimNode;
use crate::config::CmlConfig;

/// `GET /node_definitions`.
pub(crate) fn node_definitions(config: &CmlConfig) -> Vec<NodeDefinition> {
    config
        .node_definitions
        .iter()
        .map(|d| NodeDefinition {
            id: d.id.clone(),
            description: Some(d.description.clone()),
            nature: Some(d.nature.clone()),
        })
        .collect()
}

/// `GET /image_definitions`.
pub(crate) fn image_definitions(config: &CmlConfig) -> Vec<ImageDefinition> {
    config
        .node_definitions
        .iter()
        .flat_map(|d| {
            d.images.iter().map(move |image| ImageDefinition {
                id: image.clone(),
                node_definition_id: d.id.clone(),
                label: Some(format!("{} (default image)", d.description)),
            })
        })
        .collect()
}

/// A node of the given definition, with its allocation; unknown definitions get the
/// configured default allocation and a warning.
pub(crate) fn node_for(config: &CmlConfig, definition: Option<&str>) -> (SimNode, Option<String>) {
    let known = definition.and_then(|id| config.node_definitions.iter().find(|d| d.id == id));
    match known {
        Some(d) => (
            SimNode {
                definition: Some(d.id.clone()),
                cpus: d.cpus,
                ram_mib: d.ram_mib,
                licensed: d.licensed,
            },
            None,
        ),
        None => {
            let (cpus, ram_mib) = config.unknown_node_allocation;
            let warning = definition
                .map(|id| format!("Node definition `{id}` is not installed on this server."));
            (
                SimNode {
                    definition: definition.map(str::to_owned),
                    cpus,
                    ram_mib,
                    licensed: true,
                },
                warning,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_and_allocations() {
        let config = CmlConfig::default();
        let nodes = node_definitions(&config);
        assert!(nodes.iter().any(|d| d.id == "alpine"));
        let images = image_definitions(&config);
        assert!(images
            .iter()
            .all(|i| nodes.iter().any(|n| n.id == i.node_definition_id)));
        let (alpine, warning) = node_for(&config, Some("alpine"));
        assert_eq!((alpine.cpus, alpine.ram_mib, warning), (1, 512, None));
        let (switch, _) = node_for(&config, Some("unmanaged_switch"));
        assert!(!switch.licensed);
        let (odd, warning) = node_for(&config, Some("mystery"));
        assert!(odd.licensed && warning.is_some());
        let (anon, warning) = node_for(&config, None);
        assert!(anon.licensed && warning.is_none());
    }
}
