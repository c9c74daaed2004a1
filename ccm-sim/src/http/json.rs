//! The JSON shapes of CML 2.9, built from the simulated model. Every builder here is
//! checked against the OpenAPI document's schemas by `tests/http_schemas.rs`.

use ccm_core::lab::LabState;
use ccm_core::ports::cml::TelemetryEvent;
use ccm_core::time::{plus_seconds, Timestamp};
use serde_json::{json, Map, Value};

use crate::cml::labs::{node_disk_gib, LinkLayout, NodeLayout, SimLab};
use crate::cml::licensing::Registration;
use crate::cml::server::CmlServer;
use crate::config::{CmlConfig, NodeDefinitionSpec};

/// Hostname of the simulated controller (and its one compute).
pub(crate) const HOSTNAME: &str = "cml-controller";
/// Schema version of topologies the simulator reports.
pub(crate) const TOPOLOGY_VERSION: &str = "0.3.0";
const SSMS: &str = "https://smartreceiver.cisco.com/licservice/license";

/// ISO-8601 the way CML (Python's `isoformat`) writes it: `+00:00`, microseconds
/// only when there are any.
pub(crate) fn iso(t: Timestamp) -> String {
    let micros = t.timestamp_subsec_micros();
    if micros == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        format!("{}.{micros:06}+00:00", t.format("%Y-%m-%dT%H:%M:%S"))
    }
}

/// Licensing dates: `2026-08-20 17:25:30`.
pub(crate) fn licensing_time(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A UUIDv4-shaped id derived from a name (user ids, the compute id): repeatable.
pub(crate) fn name_uuid(name: &str) -> String {
    let mut bytes = [0u8; 16];
    for (half, seed) in [0x6c62_272e_07bb_0142u64, 0x62b8_2175_6295_c58d]
        .into_iter()
        .enumerate()
    {
        let mut h = seed;
        for b in name.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= h >> 31;
        h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
        h ^= h >> 29;
        bytes[half * 8..half * 8 + 8].copy_from_slice(&h.to_le_bytes());
    }
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// True for CML's lab/node/user id shape (lower-case UUIDv4).
pub(crate) fn is_uuid4(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return false;
    }
    bytes.iter().enumerate().all(|(i, &b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        14 => b == b'4',
        19 => matches!(b, b'8' | b'9' | b'a' | b'b'),
        _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
    })
}

/// `GET /labs/{id}` (`LabResponse`).
pub(crate) fn lab(lab: &SimLab, owner_id: &str) -> Value {
    let owner = truncate(&lab.owner, 32);
    json!({
        "id": lab.id.as_str(),
        "created": iso(lab.created_at),
        "modified": iso(lab.modified_at),
        "lab_title": truncate(&lab.title, 64),
        "lab_description": truncate(&lab.description, 4096),
        "lab_notes": truncate(&lab.layout.notes, 32768),
        "owner": owner_id,
        "owner_username": if owner.is_empty() { "unknown".to_owned() } else { owner },
        "owner_fullname": "",
        "state": state_text(lab.state),
        "node_count": lab.node_count(),
        "link_count": lab.links,
        "groups": [],
        "effective_permissions": ["lab_admin", "lab_edit", "lab_exec", "lab_view"],
    })
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// A lab state as CML spells it (the model never holds `Unknown`).
pub(crate) fn state_text(state: LabState) -> &'static str {
    match state {
        LabState::Unknown => "DEFINED_ON_CORE",
        other => other.as_cml(),
    }
}

fn definition_of(lab: &SimLab, index: usize) -> String {
    lab.nodes
        .get(index)
        .and_then(|n| n.definition.clone())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

fn positive(value: u64) -> Value {
    if value > 0 {
        json!(value)
    } else {
        Value::Null
    }
}

/// State of a lab's links and interfaces (no `BOOTED` for them).
fn element_state(lab: &SimLab) -> &'static str {
    state_text(lab.state)
}

fn interfaces(lab: &SimLab, index: usize) -> Vec<Value> {
    let Some(node) = lab.layout.nodes.get(index) else {
        return Vec::new();
    };
    node.interfaces
        .iter()
        .map(|i| {
            let mut v = json!({
                "id": i.id,
                "type": i.kind.as_cml(),
                "node": node.id,
                "label": truncate(&i.label, 128),
                "mac_address": Value::Null,
            });
            if let (Some(slot), Some(map)) = (i.slot, v.as_object_mut()) {
                map.insert("slot".into(), json!(slot.min(128)));
            }
            v
        })
        .collect()
}

/// A node's tags as imported, each within CML's 64 characters.
fn tags(node: &NodeLayout) -> Vec<String> {
    node.tags.iter().map(|t| truncate(t, 64)).collect()
}

/// One link (`Link`).
fn link(lab: &SimLab, l: &LinkLayout) -> Value {
    json!({
        "id": l.id,
        "lab_id": lab.id.as_str(),
        "label": truncate(&l.label, 128),
        "interface_a": l.interface_a,
        "interface_b": l.interface_b,
        "node_a": l.node_a,
        "node_b": l.node_b,
        "state": element_state(lab),
        "link_capture_key": "",
    })
}

/// `GET /labs/{id}/topology` (`TopologyResponse`).
pub(crate) fn topology(lab: &SimLab, owner_id: &str) -> Value {
    let nodes: Vec<Value> = lab
        .layout
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let sim = lab.nodes.get(i);
            json!({
                "id": node.id,
                "label": truncate(&node.label, 128),
                "x": node.x.clamp(-15000, 15000),
                "y": node.y.clamp(-15000, 15000),
                "node_definition": definition_of(lab, i),
                "image_definition": Value::Null,
                "ram": sim.map_or(Value::Null, |n| positive(n.ram_mib)),
                "cpus": sim.map_or(Value::Null, |n| positive(u64::from(n.cpus))),
                "cpu_limit": Value::Null,
                "data_volume": Value::Null,
                "boot_disk_size": Value::Null,
                "hide_links": false,
                "tags": tags(node),
                "parameters": {},
                "configuration": Value::Null,
                "interfaces": interfaces(lab, i),
            })
        })
        .collect();
    let links: Vec<Value> = lab.layout.links.iter().map(|l| link(lab, l)).collect();
    json!({
        "lab": {
            "version": TOPOLOGY_VERSION,
            "title": truncate(&lab.title, 64),
            "description": truncate(&lab.description, 4096),
            "notes": truncate(&lab.layout.notes, 32768),
            "owner": owner_id,
        },
        "nodes": nodes,
        "links": links,
        "annotations": [],
        "smart_annotations": [],
    })
}

/// One entry of `GET /labs/{id}/nodes?data=true` (`Node`).
/// The node's disk is in `operational.boot_disk_size` (what it gets); the top-level
/// `boot_disk_size` is the size the topology asked for, none.
pub(crate) fn node(
    lab: &SimLab,
    index: usize,
    now: Timestamp,
    compute_id: &str,
    config: &CmlConfig,
) -> Value {
    let Some(layout) = lab.layout.nodes.get(index) else {
        return Value::Null;
    };
    let sim = lab.nodes.get(index);
    let state = lab.node_state(now);
    let running = lab.nodes_run();
    let boot_progress = match state {
        "BOOTED" => "Booted",
        "STARTED" => "Booting",
        _ => "Not running",
    };
    let cpus = sim.map_or(0, |n| n.cpus);
    let ram = sim.map_or(Value::Null, |n| positive(n.ram_mib));
    let compute = if running {
        json!(compute_id)
    } else {
        Value::Null
    };
    json!({
        "id": layout.id,
        "lab_id": lab.id.as_str(),
        "label": truncate(&layout.label, 128),
        "x": layout.x.clamp(-15000, 15000),
        "y": layout.y.clamp(-15000, 15000),
        "node_definition": definition_of(lab, index),
        "image_definition": Value::Null,
        "ram": ram,
        "cpus": cpus,
        "cpu_limit": Value::Null,
        "data_volume": Value::Null,
        "boot_disk_size": Value::Null,
        "hide_links": false,
        "tags": tags(layout),
        "parameters": {},
        "configuration": Value::Null,
        "state": state,
        "boot_progress": boot_progress,
        "compute_id": compute,
        "resource_pool": Value::Null,
        "pinned_compute_id": Value::Null,
        "iol_app_id": Value::Null,
        "vnc_key": Value::Null,
        "serial_consoles": [],
        "operational": {
            "boot_disk_size": node_disk_gib(config),
            "cpu_limit": Value::Null,
            "cpus": cpus,
            "data_volume": Value::Null,
            "ram": ram,
            "compute_id": compute,
            "image_definition": Value::Null,
            "vnc_key": Value::Null,
            "resource_pool": Value::Null,
            "iol_app_id": Value::Null,
            "serial_consoles": [],
        },
    })
}

/// `GET /labs/{id}/lab_element_state` (`LabElementStateResponse`).
pub(crate) fn element_states(lab: &SimLab, now: Timestamp) -> Value {
    let mut nodes = Map::new();
    let mut interfaces = Map::new();
    for node in &lab.layout.nodes {
        nodes.insert(node.id.clone(), json!(lab.node_state(now)));
        for i in &node.interfaces {
            interfaces.insert(i.id.clone(), json!(element_state(lab)));
        }
    }
    let links: Map<String, Value> = lab
        .layout
        .links
        .iter()
        .map(|l| (l.id.clone(), json!(element_state(lab))))
        .collect();
    json!({ "nodes": nodes, "links": links, "interfaces": interfaces })
}

/// `GET /labs/{id}/simulation_stats` (`LabSimulationStatsResponse`).
pub(crate) fn simulation_stats(lab: &SimLab, now: Timestamp) -> Value {
    let running = lab.state == LabState::Started;
    let booted = lab.converged(now);
    let nodes: Map<String, Value> = lab
        .layout
        .nodes
        .iter()
        .map(|n| {
            let cpu = if booted {
                2.5
            } else if running {
                40.0
            } else {
                0.0
            };
            let stats = json!({ "cpu_usage": cpu, "block0_rd_bytes": 0, "block0_wr_bytes": 0 });
            (n.id.clone(), stats)
        })
        .collect();
    let links: Map<String, Value> = lab
        .layout
        .links
        .iter()
        .map(|l| {
            let stats =
                json!({ "readbytes": 0, "readpackets": 0, "writebytes": 0, "writepackets": 0 });
            (l.id.clone(), stats)
        })
        .collect();
    json!({ "nodes": nodes, "links": links })
}

/// One tile of `GET /populate_lab_tiles` (`LabUi`: the lab, a topology stub, the
/// health and system information the UI shows beside it).
pub(crate) fn lab_tile(lab: &SimLab, owner_id: &str, server: &CmlServer) -> Value {
    let mut tile = self::lab(lab, owner_id);
    if let Some(map) = tile.as_object_mut() {
        map.insert("topology".into(), json!({}));
        map.insert("health".into(), json!({}));
        map.insert("system_information".into(), system_information(server));
        map.insert("simplified_node_definitions".into(), json!([]));
    }
    tile
}

/// One entry of `GET /users` (`UserResponse`).
pub(crate) fn user(
    id: &str,
    name: &str,
    admin: bool,
    labs: &[String],
    created: Timestamp,
) -> Value {
    json!({
        "id": id,
        "username": truncate(name, 32),
        "fullname": "",
        "description": "",
        "email": "",
        "admin": admin,
        "groups": [],
        "associations": [],
        "resource_pool": Value::Null,
        "opt_in": Value::Null,
        "tour_version": "",
        "created": iso(created),
        "modified": iso(created),
        "directory_dn": "",
        "labs": labs,
        "pubkey_info": Value::Null,
    })
}

/// `GET /system_information`.
pub(crate) fn system_information(server: &CmlServer) -> Value {
    json!({
        "version": server.version,
        "ready": server.ready,
        "allow_ssh_pubkey_auth": false,
        "oui": Value::Null,
    })
}

/// `GET /system_stats`: one compute (the controller), memory and disk as floats,
/// allocated memory in KiB.
pub(crate) fn system_stats(
    server: &CmlServer,
    config: &CmlConfig,
    now: Timestamp,
    compute_id: &str,
) -> Value {
    let stats = server.stats(now, config);
    let cpu_percent = stats.cpu_percent.unwrap_or(0.0).clamp(0.0, 100.0);
    let bytes = |v: Option<u64>| v.unwrap_or(0) as f64;
    let (mem_used, mem_total) = (
        bytes(stats.memory_used_bytes),
        bytes(stats.memory_total_bytes),
    );
    let (disk_used, disk_total) = (bytes(stats.disk_used_bytes), bytes(stats.disk_total_bytes));
    let memory =
        json!({ "used": mem_used, "free": (mem_total - mem_used).max(0.0), "total": mem_total });
    let disk = json!({ "used": disk_used, "free": (disk_total - disk_used).max(0.0), "total": disk_total });
    let load = f64::from(server.cpus) * cpu_percent / 100.0;
    let round = |v: f64| (v * 100.0).round() / 100.0;
    json!({
        "computes": {
            compute_id: {
                "hostname": HOSTNAME,
                "is_controller": true,
                "stats": {
                    "cpu": {
                        "count": server.cpus,
                        "percent": cpu_percent,
                        "model": "Intel(R) Xeon(R) Platinum 8252C CPU @ 3.80GHz",
                        "predicted": stats.allocated_cpus,
                        "load": [round(load), round(load * 0.9), round(load * 0.8)],
                    },
                    "memory": memory,
                    "disk": disk,
                    "dominfo": {
                        "total_nodes": stats.total_nodes,
                        "total_orphans": 0,
                        "running_nodes": stats.running_nodes,
                        "running_orphans": 0,
                        "allocated_cpus": stats.allocated_cpus,
                        "allocated_memory": stats.allocated_memory_kib,
                    },
                },
            },
        },
        "all": {
            "cpu": { "count": server.cpus, "percent": cpu_percent },
            "memory": memory,
            "disk": disk,
        },
        "controller": { "disk": disk },
    })
}

/// `GET /system_health`.
pub(crate) fn system_health(server: &CmlServer, now: Timestamp, compute_id: &str) -> Value {
    let health = server.health(now);
    json!({
        "valid": health.valid,
        "is_licensed": health.is_licensed,
        "is_enterprise": health.is_enterprise,
        "computes": {
            compute_id: {
                "kvm_vmx_enabled": true,
                "enough_cpus": true,
                "lld_connected": true,
                "lld_synced": true,
                "libvirt": true,
                "fabric": true,
                "device_mux": true,
                "refplat_images_available": true,
                "docker_shim": true,
                "valid": server.healthy,
                "admission_state": if server.ready { "READY" } else { "ONLINE" },
                "is_controller": true,
                "hostname": HOSTNAME,
            },
        },
        "controller": {
            "core_connected": true,
            "nodes_loaded": true,
            "images_loaded": true,
            "valid": server.ready,
        },
    })
}

fn time_info(
    succeeded: Option<Timestamp>,
    attempted: Option<Timestamp>,
    status: Option<&str>,
    failure: Option<&str>,
) -> Value {
    let t = |v: Option<Timestamp>| v.map_or(Value::Null, |t| json!(licensing_time(t)));
    json!({
        "succeeded": t(succeeded),
        "attempted": t(attempted),
        "scheduled": Value::Null,
        "status": status,
        "failure": failure,
        "success": succeeded.map(|_| "SUCCESS"),
    })
}

/// `GET /licensing` (`LicensingStatus`); dates as CML writes them.
pub(crate) fn licensing(server: &CmlServer, config: &CmlConfig, now: Timestamp) -> Value {
    let licence = &server.licence;
    let view = licence.view(now, server.licensed_running());
    let registered_at = match licence.registration {
        Registration::Registered { expires_at } => {
            Some(plus_seconds(expires_at, -config.registration_valid_seconds))
        }
        _ => None,
    };
    let (register_time, renew_time) = match licence.registration {
        Registration::Registered { .. } => (
            time_info(registered_at, registered_at, Some("SUCCEEDED"), None),
            time_info(registered_at, registered_at, Some("SUCCEEDED"), None),
        ),
        Registration::InProgress { .. } => (
            time_info(None, None, Some("PENDING"), None),
            time_info(None, None, None, None),
        ),
        Registration::Failed => (
            time_info(None, None, Some("FAILED"), Some("The token is not valid.")),
            time_info(None, None, None, None),
        ),
        Registration::Unregistered => (
            time_info(None, None, None, None),
            time_info(None, None, None, None),
        ),
    };
    let expires = view
        .expires_at
        .map_or(Value::Null, |t| json!(licensing_time(t)));
    let registered = matches!(licence.registration, Registration::Registered { .. });
    let account = if registered {
        json!("ccm-sim")
    } else {
        Value::Null
    };
    let features: Vec<Value> = view
        .features
        .iter()
        .map(|f| {
            json!({
                "id": f.id,
                "name": f.name,
                "description": f.name,
                "version": "1.0",
                "in_use": f.in_use,
                "status": f.status,
                "min": 0,
                "max": f.max.unwrap_or(0),
            })
        })
        .collect();
    json!({
        "udi": { "hostname": HOSTNAME, "product_uuid": name_uuid(server.instance_id.as_str()) },
        "registration": {
            "status": view.registration_status,
            "smart_account": account,
            "virtual_account": account,
            "register_time": register_time,
            "renew_time": renew_time,
            "expires": expires,
        },
        "authorization": {
            "status": view.authorization_status,
            "renew_time": time_info(registered_at, registered_at, registered.then_some("SUCCEEDED"), None),
            "expires": expires,
        },
        "reservation_mode": false,
        "features": features,
        "product_license": {
            "active": if licence.enterprise { "CML_ENT" } else { "CML_PERSONAL" },
            "is_enterprise": licence.enterprise,
        },
        "transport": {
            "proxy": { "server": Value::Null, "port": Value::Null },
            "ssms": SSMS,
            "default_ssms": SSMS,
        },
    })
}

const DEVICE_NATURES: &[&str] = &[
    "router",
    "switch",
    "server",
    "host",
    "cloud",
    "firewall",
    "external_connector",
];
const SIM_DRIVERS: &[&str] = &[
    "asav",
    "alpine",
    "cat9k",
    "coreos",
    "csr1000v",
    "external_connector",
    "iol",
    "iol-l2",
    "iosv",
    "iosvl2",
    "iosxrv",
    "iosxrv9000",
    "lxc",
    "nxosv",
    "nxosv9000",
    "pagent",
    "server",
    "trex",
    "ubuntu",
    "unmanaged_switch",
    "wan_emulator",
];
const CONFIG_DRIVERS: &[&str] = &[
    "asav",
    "alpine",
    "cat9000v",
    "coreos",
    "csr1000v",
    "desktop",
    "fmcv",
    "ftdv",
    "iosv",
    "iosvl2",
    "iosxrv",
    "iosxrv9000",
    "lxc",
    "nxosv",
    "nxosv9000",
    "pagent",
    "sdwan",
    "sdwan_edge",
    "sdwan_manager",
    "server",
    "trex",
    "ubuntu",
    "wan_emulator",
];

fn nature(d: &NodeDefinitionSpec) -> &str {
    if DEVICE_NATURES.contains(&d.nature.as_str()) {
        &d.nature
    } else {
        "server"
    }
}

fn general(d: &NodeDefinitionSpec) -> Value {
    json!({ "nature": nature(d), "description": truncate(&d.description, 4096), "read_only": true })
}

fn device(d: &NodeDefinitionSpec) -> Value {
    let ports = if d.nature == "router" || d.nature == "switch" {
        4
    } else {
        2
    };
    let physical: Vec<String> = (0..ports).map(|i| format!("eth{i}")).collect();
    json!({
        "interfaces": {
            "serial_ports": u32::from(d.cpus > 0),
            "physical": physical,
            "has_loopback_zero": d.nature == "router",
            "default_count": ports,
        }
    })
}

fn ui(d: &NodeDefinitionSpec) -> Value {
    let icon = match nature(d) {
        "external_connector" => "cloud",
        other => other,
    };
    let label = if d.description.is_empty() {
        d.id.clone()
    } else {
        d.description.clone()
    };
    json!({
        "label_prefix": truncate(&format!("{}-", d.id), 32),
        "icon": icon,
        "label": truncate(&label, 32),
        "visible": true,
        "description": truncate(&d.description, 4096),
        "group": "Others",
    })
}

/// One entry of `GET /node_definitions` (`NodeDefinitionResponse`).
pub(crate) fn node_definition(d: &NodeDefinitionSpec) -> Value {
    let driver = if SIM_DRIVERS.contains(&d.id.as_str()) {
        d.id.as_str()
    } else {
        "server"
    };
    let domain = if d.cpus == 0 { "none" } else { "kvm" };
    let mut linux_native = json!({ "libvirt_domain_driver": domain, "driver": driver });
    if let Some(map) = linux_native.as_object_mut() {
        if d.cpus > 0 {
            map.insert("cpus".into(), json!(d.cpus.min(128)));
        }
        if d.ram_mib > 0 {
            map.insert("ram".into(), json!(d.ram_mib.min(1_048_576)));
        }
    }
    let generator = if CONFIG_DRIVERS.contains(&d.id.as_str()) {
        json!(d.id)
    } else {
        Value::Null
    };
    json!({
        "id": d.id,
        "boot": { "timeout": 300 },
        "sim": { "linux_native": linux_native },
        "general": general(d),
        "configuration": { "generator": { "driver": generator } },
        "device": device(d),
        "ui": ui(d),
        "schema_version": "0.0.1",
    })
}

/// One entry of `GET /simplified_node_definitions`.
pub(crate) fn simplified_node_definition(d: &NodeDefinitionSpec) -> Value {
    json!({
        "id": d.id,
        "general": general(d),
        "device": device(d),
        "ui": ui(d),
        "sim": {
            "ram": d.ram_mib,
            "cpus": d.cpus,
            "console": d.cpus > 0,
            "simulate": true,
            "vnc": false,
        },
        "image_definitions": d.images,
    })
}

/// `GET /image_definitions` (`ImageDefinition` items).
pub(crate) fn image_definitions(config: &CmlConfig) -> Vec<Value> {
    config
        .node_definitions
        .iter()
        .flat_map(|d| {
            d.images.iter().map(move |image| {
                let label = format!("{} (default image)", d.description);
                json!({
                    "id": image,
                    "node_definition_id": d.id,
                    "label": truncate(&label, 64),
                    "disk_image": format!("{image}.qcow2"),
                    "description": truncate(&label, 4096),
                    "read_only": true,
                    "schema_version": "0.0.1",
                })
            })
        })
        .collect()
}

/// One entry of `GET /telemetry/events` (`TelemetryEventResponse`).
pub(crate) fn telemetry_event(event: &TelemetryEvent) -> Value {
    let data = if event.data.is_object() {
        event.data.clone()
    } else {
        json!({ "value": event.data })
    };
    json!({ "category": event.category, "timestamp": iso(event.timestamp), "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::ids::{CmlLabId, InstanceId};
    use ccm_core::ports::cml::LabUsage;
    use ccm_core::time::{epoch, from_unix_seconds};

    use crate::config::InstanceTypeSpec;

    #[test]
    fn times_look_like_cml() {
        let t = from_unix_seconds(1_787_246_730);
        assert_eq!(iso(t), "2026-08-20T17:25:30+00:00");
        assert_eq!(licensing_time(t), "2026-08-20 17:25:30");
        let with_micros = t + chrono::Duration::microseconds(1_500);
        assert_eq!(iso(with_micros), "2026-08-20T17:25:30.001500+00:00");
    }

    /// Sums a `nodes?data=true` answer the way a CML client does (ccm-cml's
    /// `lab_usage`): CPUs and memory of running nodes, disk of all of them.
    fn summed(stats: &Value) -> LabUsage {
        let figure = |node: &Value, field: &str| {
            node["operational"][field]
                .as_u64()
                .or_else(|| node[field].as_u64())
                .unwrap_or(0)
        };
        let mut usage = LabUsage::default();
        for node in stats.as_array().unwrap() {
            usage.disk_gib += figure(node, "boot_disk_size") + figure(node, "data_volume");
            if matches!(
                node["state"].as_str(),
                Some("QUEUED" | "STARTED" | "BOOTED")
            ) {
                usage.cpus += u32::try_from(figure(node, "cpus")).unwrap();
                usage.memory_mib += figure(node, "ram");
                usage.running_nodes += 1;
            }
        }
        usage
    }

    #[test]
    fn node_data_adds_up_to_the_labs_usage() {
        let config = CmlConfig::default();
        let host = InstanceTypeSpec {
            vcpus: 48,
            memory_gib: 192,
        };
        let mut server = CmlServer::new(InstanceId::new("i-1"), host, &config, epoch());
        let text = "lab:\n  title: mixed\nnodes:\n  - id: n0\n    node_definition: alpine\n  - id: n1\n    node_definition: nxosv9000\n  - id: n2\n    node_definition: unmanaged_switch\nlinks: []\n";
        let id = CmlLabId::new("0f0e0d0c-0b0a-4908-8706-050403020100");
        server
            .import(id.clone(), text, None, "admin", epoch(), &config)
            .unwrap();
        let check = |server: &CmlServer, now: Timestamp| {
            let lab = server.lab(&id).unwrap();
            let stats: Value = (0..lab.layout.nodes.len())
                .map(|i| node(lab, i, now, "compute", &config))
                .collect();
            assert_eq!(summed(&stats), lab.usage(&config), "{stats}");
            lab.usage(&config)
        };
        let idle = check(&server, epoch());
        assert_eq!((idle.running_nodes, idle.cpus), (0, 0));
        assert_eq!(idle.disk_gib, 3);
        server.start_lab(&id, "admin", epoch(), &config).unwrap();
        let booting = check(&server, epoch());
        let booted = check(&server, plus_seconds(epoch(), config.node_boot_seconds));
        assert_eq!(booting, booted);
        assert_eq!(
            (booted.running_nodes, booted.cpus, booted.memory_mib),
            (3, 3, 512 + 8192)
        );
        server.stop_lab(&id, "admin", epoch(), &config).unwrap();
        assert_eq!(check(&server, epoch()), idle);
    }

    #[test]
    fn derived_ids_are_uuid4() {
        let id = name_uuid("admin");
        assert!(is_uuid4(&id), "{id}");
        assert_eq!(id, name_uuid("admin"));
        assert_ne!(id, name_uuid("bob"));
        assert!(!is_uuid4("not-a-uuid"));
        assert!(!is_uuid4(&id.to_uppercase()));
    }
}
