//! Everything about the simulated world that a test may want to change: regions and
//! their caps, the AMI catalog, instance types, delays, throttling and the CML servers.

use std::collections::BTreeMap;

use ccm_core::ids::Region;
use ccm_core::time::{from_unix_seconds, Timestamp};
use serde::{Deserialize, Serialize};

/// One region of the simulated AWS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionConfig {
    /// Region name (`us-east-1`).
    pub name: Region,
    /// Most instances that may be active (pending, running or stopping) at once;
    /// a launch or start beyond it fails with `InsufficientCapacity`. `None`: no cap.
    pub instance_cap: Option<u32>,
}

impl RegionConfig {
    /// A region without a cap.
    pub fn new(name: &str) -> Self {
        Self {
            name: Region::new(name),
            instance_cap: None,
        }
    }

    /// The same region with a cap on active instances.
    pub fn with_cap(mut self, cap: u32) -> Self {
        self.instance_cap = Some(cap);
        self
    }
}

/// One AMI of the catalog; it is registered in every region with its own id.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageSpec {
    /// AMI name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Creation date.
    pub created_at: Timestamp,
}

impl ImageSpec {
    /// An image named `name`, created `created_at`.
    pub fn new(name: &str, description: &str, created_at: Timestamp) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            created_at,
        }
    }
}

/// Size of an instance type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InstanceTypeSpec {
    /// vCPUs.
    pub vcpus: u32,
    /// Memory in GiB.
    pub memory_gib: u32,
}

/// A token bucket per region, refilled in virtual time: each API call (each page of
/// a paged call) takes one token; an empty bucket answers `Throttled`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThrottleConfig {
    /// Bucket size (calls that may burst at one instant).
    pub burst: u32,
    /// Tokens added per virtual second.
    pub refill_per_second: f64,
}

impl ThrottleConfig {
    /// Roughly EC2's documented non-mutating bucket: 100 calls, 20 per second.
    pub fn aws_like() -> Self {
        Self {
            burst: 100,
            refill_per_second: 20.0,
        }
    }
}

/// Delays of the simulated EC2, in virtual seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DelayConfig {
    /// `pending` → `running` for `*.metal` types.
    pub boot_metal_seconds: i64,
    /// `pending` → `running` for virtualised types.
    pub boot_seconds: i64,
    /// `stopping` → `stopped`.
    pub stop_seconds: i64,
    /// `shutting-down` → `terminated`.
    pub terminate_seconds: i64,
    /// Status checks say `initializing` this long after `running`, then `ok`.
    pub status_init_seconds: i64,
    /// Terminated instances stay visible this long, then vanish from every answer.
    pub terminated_retention_seconds: i64,
    /// Each boot takes up to this much longer than its type's delay, drawn
    /// uniformly from the fault stream (0, the default, draws nothing).
    pub boot_jitter_seconds: i64,
}

impl Default for DelayConfig {
    fn default() -> Self {
        Self {
            boot_metal_seconds: 20 * 60,
            boot_seconds: 60,
            stop_seconds: 180,
            terminate_seconds: 120,
            status_init_seconds: 300,
            terminated_retention_seconds: 3600,
            boot_jitter_seconds: 0,
        }
    }
}

/// A node definition offered by every simulated CML server.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeDefinitionSpec {
    /// Id (`alpine`, `iosv`).
    pub id: String,
    /// Nature (`router`, `switch`, `server`, …).
    pub nature: String,
    /// Description.
    pub description: String,
    /// vCPUs a node of this kind is allocated.
    pub cpus: u32,
    /// Memory a node of this kind is allocated, MiB.
    pub ram_mib: u64,
    /// Whether a node of this kind counts against the licence node limit
    /// (unmanaged switches and external connectors do not).
    pub licensed: bool,
    /// Image definition ids for this node definition.
    pub images: Vec<String>,
}

impl NodeDefinitionSpec {
    fn new(id: &str, nature: &str, description: &str, cpus: u32, ram_mib: u64) -> Self {
        Self {
            id: id.to_owned(),
            nature: nature.to_owned(),
            description: description.to_owned(),
            cpus,
            ram_mib,
            licensed: cpus > 0,
            images: vec![format!("{id}-default")],
        }
    }
}

/// The simulated CML servers.
#[derive(Clone, Debug, PartialEq)]
pub struct CmlConfig {
    /// Version reported by `system_information`.
    pub version: String,
    /// After the instance is `running`, CML answers `Starting` this long.
    pub boot_seconds: i64,
    /// After a lab starts, its nodes converge this long later.
    pub node_boot_seconds: i64,
    /// A licence registration completes (or fails) this long after it was requested.
    pub registration_seconds: i64,
    /// A completed registration is valid this long.
    pub registration_valid_seconds: i64,
    /// Nodes an unregistered server may run.
    pub unlicensed_node_limit: u32,
    /// Nodes a registered server may run.
    pub registered_node_limit: u32,
    /// Registered servers report an Enterprise product licence.
    pub enterprise: bool,
    /// Servers of new instances start out registered (a pre-licensed AMI).
    pub licensed_at_launch: bool,
    /// CPU a running node burns, as a fraction of its allocated vCPUs.
    pub node_cpu_load: f64,
    /// CPU percent of an idle server.
    pub idle_cpu_percent: f64,
    /// Memory the controller itself uses, bytes.
    pub base_memory_bytes: u64,
    /// Disk size, bytes.
    pub disk_total_bytes: u64,
    /// Disk the system itself uses, bytes.
    pub base_disk_bytes: u64,
    /// Disk a node uses while it has state (started or stopped, not wiped), bytes.
    pub node_disk_bytes: u64,
    /// Node definitions (and their images) every server offers.
    pub node_definitions: Vec<NodeDefinitionSpec>,
    /// Allocation of a node whose definition is unknown: (vCPUs, MiB).
    pub unknown_node_allocation: (u32, u64),
    /// Telemetry events kept per server (the oldest are dropped first).
    pub telemetry_cap: usize,
}

const GIB: u64 = 1024 * 1024 * 1024;

impl Default for CmlConfig {
    fn default() -> Self {
        let mut unmanaged =
            NodeDefinitionSpec::new("unmanaged_switch", "switch", "Unmanaged switch", 0, 0);
        unmanaged.images.clear();
        let mut external =
            NodeDefinitionSpec::new("external_connector", "cloud", "External connector", 0, 0);
        external.images.clear();
        Self {
            version: "2.9.1+build.7".to_owned(),
            boot_seconds: 300,
            node_boot_seconds: 120,
            registration_seconds: 60,
            registration_valid_seconds: 365 * 24 * 3600,
            unlicensed_node_limit: 5,
            registered_node_limit: 20,
            enterprise: false,
            licensed_at_launch: false,
            node_cpu_load: 0.25,
            idle_cpu_percent: 1.5,
            base_memory_bytes: 6 * GIB,
            disk_total_bytes: 500 * GIB,
            base_disk_bytes: 40 * GIB,
            node_disk_bytes: GIB,
            node_definitions: vec![
                NodeDefinitionSpec::new("alpine", "server", "Alpine Linux", 1, 512),
                NodeDefinitionSpec::new("ubuntu", "server", "Ubuntu", 1, 2048),
                NodeDefinitionSpec::new("iosv", "router", "IOSv router", 1, 768),
                NodeDefinitionSpec::new("iosvl2", "switch", "IOSvL2 switch", 1, 1024),
                NodeDefinitionSpec::new("csr1000v", "router", "CSR 1000v", 1, 3072),
                NodeDefinitionSpec::new("nxosv9000", "switch", "NX-OSv 9000", 2, 8192),
                unmanaged,
                external,
            ],
            unknown_node_allocation: (1, 1024),
            telemetry_cap: 10_000,
        }
    }
}

/// The whole simulated world's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct SimConfig {
    /// Where the virtual clock starts (when the simulation makes its own clock).
    pub start: Timestamp,
    /// Regions; calls naming another region are refused.
    pub regions: Vec<RegionConfig>,
    /// AMIs registered in every region.
    pub images: Vec<ImageSpec>,
    /// Sizes of known instance types.
    pub instance_types: BTreeMap<String, InstanceTypeSpec>,
    /// Size of instance types missing from the table.
    pub default_instance_type: InstanceTypeSpec,
    /// EC2 delays.
    pub delays: DelayConfig,
    /// Per-region request throttling; `None` (the default) never throttles.
    pub throttle: Option<ThrottleConfig>,
    /// Instances publish CWAgent memory and disk metrics (CPU always exists).
    pub cloudwatch_agent: bool,
    /// Launched instances get a `ccm:cml-endpoint` tag pointing at their simulated CML
    /// (`sim://<instance-id>`), so endpoint resolution by tag finds the simulator.
    pub tag_cml_endpoint: bool,
    /// The simulated CML servers.
    pub cml: CmlConfig,
}

impl Default for SimConfig {
    fn default() -> Self {
        let day = |d: i64| from_unix_seconds(1_735_689_600 + d * 86_400);
        let mut instance_types = BTreeMap::new();
        for (name, vcpus, memory_gib) in [
            ("m5zn.metal", 48, 192),
            ("m5zn.12xlarge", 48, 192),
            ("m5.metal", 96, 384),
            ("c5.metal", 96, 192),
            ("m5.xlarge", 4, 16),
            ("t3.large", 2, 8),
        ] {
            instance_types.insert(name.to_owned(), InstanceTypeSpec { vcpus, memory_gib });
        }
        Self {
            // 2025-03-01T00:00:00Z: after every default image was created.
            start: day(59),
            regions: vec![
                RegionConfig::new("us-east-1"),
                RegionConfig::new("us-west-2"),
                RegionConfig::new("eu-west-1"),
            ],
            images: vec![
                ImageSpec::new("cml-2.8.1-2024-12-02", "CML 2.8.1 worker", day(-30)),
                ImageSpec::new("cml-2.9.0-2025-01-10", "CML 2.9.0 worker", day(9)),
                ImageSpec::new("cml-2.9.1-2025-02-14", "CML 2.9.1 worker", day(44)),
                ImageSpec::new("ubuntu-24.04-base", "Ubuntu 24.04 LTS", day(-60)),
            ],
            instance_types,
            default_instance_type: InstanceTypeSpec {
                vcpus: 8,
                memory_gib: 32,
            },
            delays: DelayConfig::default(),
            throttle: None,
            cloudwatch_agent: true,
            tag_cml_endpoint: true,
            cml: CmlConfig::default(),
        }
    }
}

impl SimConfig {
    /// The size of an instance type (the default size when unknown).
    pub fn instance_type(&self, name: &str) -> InstanceTypeSpec {
        self.instance_types
            .get(name)
            .copied()
            .unwrap_or(self.default_instance_type)
    }

    /// Boot delay of an instance type: `*.metal` types take the (long) metal delay.
    pub fn boot_seconds(&self, instance_type: &str) -> i64 {
        if instance_type.ends_with(".metal") {
            self.delays.boot_metal_seconds
        } else {
            self.delays.boot_seconds
        }
    }

    /// Virtual seconds after which every transition started now has finished: boot,
    /// status checks, the first complete 5-minute metric period, CML boot, node
    /// convergence and licence registration.
    pub fn settle_seconds(&self) -> i64 {
        let d = &self.delays;
        let boot = d.boot_metal_seconds.max(d.boot_seconds) + d.boot_jitter_seconds.max(0);
        let after_boot = d
            .status_init_seconds
            .max(self.cml.boot_seconds)
            .max(2 * 300);
        let ec2 = (boot + after_boot)
            .max(d.stop_seconds)
            .max(d.terminate_seconds);
        ec2 + self
            .cml
            .node_boot_seconds
            .max(self.cml.registration_seconds)
            + 1
    }

    /// Sets a cap on active instances in every region.
    pub fn with_region_cap(mut self, cap: u32) -> Self {
        for region in &mut self.regions {
            region.instance_cap = Some(cap);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metal_types_boot_slowly() {
        let config = SimConfig::default();
        assert_eq!(config.boot_seconds("m5zn.metal"), 1200);
        assert_eq!(config.boot_seconds("t3.large"), 60);
        assert!(config.settle_seconds() > 1200 + 300);
    }

    #[test]
    fn unknown_types_get_the_default_size() {
        let config = SimConfig::default();
        assert_eq!(
            config.instance_type("x9.huge"),
            config.default_instance_type
        );
        assert_eq!(config.instance_type("m5zn.metal").vcpus, 48);
    }
}
