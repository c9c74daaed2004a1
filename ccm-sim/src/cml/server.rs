//! One simulated CML server: labs, licence, telemetry, and the system figures that
//! follow the load its running nodes put on the host.

use std::collections::BTreeMap;

use ccm_core::ids::{CmlLabId, InstanceId};
use ccm_core::lab::LabState;
use ccm_core::ports::cml::{CmlError, LabImport, SystemHealth, SystemStats};
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::catalog::node_for;
use super::labs::{lab_not_found, LabLayout, SimLab};
use super::licensing::Licence;
use super::telemetry::TelemetryLog;
use super::topology;
use crate::config::{CmlConfig, InstanceTypeSpec};
use crate::rng::jitter;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Utilisation of the host in percent, as CloudWatch and CML both see it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Load {
    pub(crate) cpu_percent: f64,
    pub(crate) memory_percent: f64,
    pub(crate) disk_percent: f64,
}

/// One CML server (the controller and its single compute).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct CmlServer {
    pub(crate) instance_id: InstanceId,
    pub(crate) version: String,
    pub(crate) cpus: u32,
    pub(crate) memory_bytes: u64,
    pub(crate) labs: BTreeMap<CmlLabId, SimLab>,
    next_lab_seq: u64,
    pub(crate) licence: Licence,
    pub(crate) telemetry: TelemetryLog,
    /// `system_information.ready` (test hook).
    pub(crate) ready: bool,
    /// `system_health.valid` (test hook).
    pub(crate) healthy: bool,
}

impl CmlServer {
    /// A fresh server on a host of the given size.
    pub(crate) fn new(
        instance_id: InstanceId,
        host: InstanceTypeSpec,
        config: &CmlConfig,
        now: Timestamp,
    ) -> Self {
        Self {
            instance_id,
            version: config.version.clone(),
            cpus: host.vcpus,
            memory_bytes: u64::from(host.memory_gib) * GIB,
            labs: BTreeMap::new(),
            next_lab_seq: 0,
            licence: Licence::new(config, now),
            telemetry: TelemetryLog::default(),
            ready: true,
            healthy: true,
        }
    }

    /// Applies what happened on its own since the last access (licence decisions).
    pub(crate) fn catch_up(&mut self, now: Timestamp, config: &CmlConfig) {
        if let Some((at, ok)) = self
            .licence
            .catch_up(now, config.registration_valid_seconds)
        {
            let status = if ok { "COMPLETED" } else { "FAILED" };
            self.record(
                config,
                "license_info",
                at,
                json!({ "registration_status": status }),
            );
        }
    }

    /// Appends a telemetry event.
    pub(crate) fn record(
        &mut self,
        config: &CmlConfig,
        category: &str,
        at: Timestamp,
        data: serde_json::Value,
    ) {
        self.telemetry
            .push(category, at, data, config.telemetry_cap);
    }

    fn started(&self) -> impl Iterator<Item = &SimLab> {
        self.labs.values().filter(|l| l.state == LabState::Started)
    }

    /// Licensed nodes running.
    pub(crate) fn licensed_running(&self) -> u32 {
        self.started().map(SimLab::licensed_nodes).sum()
    }

    /// Labs in creation order.
    pub(crate) fn labs_in_order(&self) -> Vec<&SimLab> {
        let mut labs: Vec<&SimLab> = self.labs.values().collect();
        labs.sort_by_key(|l| l.seq);
        labs
    }

    /// A lab or 404.
    pub(crate) fn lab(&self, id: &CmlLabId) -> Result<&SimLab, CmlError> {
        self.labs.get(id).ok_or_else(|| lab_not_found(id))
    }

    fn lab_mut(&mut self, id: &CmlLabId) -> Result<&mut SimLab, CmlError> {
        self.labs.get_mut(id).ok_or_else(|| lab_not_found(id))
    }

    /// `GET /system_stats`.
    pub(crate) fn stats(&self, now: Timestamp, config: &CmlConfig) -> SystemStats {
        let running: Vec<_> = self.started().flat_map(|l| l.nodes.iter()).collect();
        let allocated_cpus: u32 = running.iter().map(|n| n.cpus).sum();
        let allocated_mib: u64 = running.iter().map(|n| n.ram_mib).sum();
        let load = self.load(now, config);
        let total_nodes: usize = self.labs.values().map(|l| l.nodes.len()).sum();
        SystemStats {
            computes: 1,
            cpu_percent: Some(load.cpu_percent),
            memory_used_bytes: Some(self.memory_used(config)),
            memory_total_bytes: Some(self.memory_bytes),
            disk_used_bytes: Some(self.disk_used(config)),
            disk_total_bytes: Some(config.disk_total_bytes),
            allocated_cpus,
            allocated_memory_kib: allocated_mib * 1024,
            running_nodes: u32::try_from(running.len()).unwrap_or(u32::MAX),
            total_nodes: u32::try_from(total_nodes).unwrap_or(u32::MAX),
        }
    }

    fn memory_used(&self, config: &CmlConfig) -> u64 {
        let nodes: u64 = self
            .started()
            .flat_map(|l| l.nodes.iter())
            .map(|n| n.ram_mib * MIB)
            .sum();
        (config.base_memory_bytes + nodes).min(self.memory_bytes)
    }

    fn disk_used(&self, config: &CmlConfig) -> u64 {
        let with_state: u64 = self
            .labs
            .values()
            .filter(|l| l.state != LabState::DefinedOnCore)
            .map(|l| l.nodes.len() as u64)
            .sum();
        (config.base_disk_bytes + with_state * config.node_disk_bytes).min(config.disk_total_bytes)
    }

    /// Host utilisation at `now`: idle load plus what running nodes burn, with a small
    /// repeatable noise.
    pub(crate) fn load(&self, now: Timestamp, config: &CmlConfig) -> Load {
        let busy_cpus: f64 = self
            .started()
            .flat_map(|l| l.nodes.iter())
            .map(|n| f64::from(n.cpus) * config.node_cpu_load)
            .sum();
        let noise = jitter(self.instance_id.as_str(), now.timestamp()) * 0.5;
        let cpu = config.idle_cpu_percent + 100.0 * busy_cpus / f64::from(self.cpus.max(1)) + noise;
        let percent = |used: u64, total: u64| 100.0 * used as f64 / total.max(1) as f64;
        Load {
            cpu_percent: cpu.clamp(0.0, 100.0),
            memory_percent: percent(self.memory_used(config), self.memory_bytes),
            disk_percent: percent(self.disk_used(config), config.disk_total_bytes),
        }
    }

    /// `GET /system_health`.
    pub(crate) fn health(&self, now: Timestamp) -> SystemHealth {
        let registered = self.licence.is_registered(now);
        SystemHealth {
            valid: self.healthy && self.ready,
            is_licensed: registered,
            is_enterprise: registered && self.licence.enterprise,
            computes_valid: u32::from(self.healthy),
            computes_total: 1,
        }
    }

    /// `POST /import`: adds a lab from topology text.
    pub(crate) fn import(
        &mut self,
        id: CmlLabId,
        text: &str,
        title: Option<&str>,
        owner: &str,
        now: Timestamp,
        config: &CmlConfig,
    ) -> Result<LabImport, CmlError> {
        if let Some(title) = title {
            if title.is_empty() || title.chars().count() > 64 {
                return Err(CmlError::Rejected {
                    operation: "import_lab".into(),
                    status: 400,
                    description: "Import failed. The lab title must be 1 to 64 characters.".into(),
                });
            }
        }
        let parsed = topology::parse(text).map_err(|e| CmlError::Rejected {
            operation: "import_lab".into(),
            status: 400,
            description: format!("Import failed. {}", e.0),
        })?;
        let mut warnings = Vec::new();
        let nodes = parsed
            .nodes
            .iter()
            .map(|definition| {
                let (node, warning) = node_for(config, definition.as_deref());
                warnings.extend(warning);
                node
            })
            .collect();
        let title = title
            .map(str::to_owned)
            .or(parsed.title.clone())
            .unwrap_or_else(|| format!("Lab at {}", now.format("%a %H:%M")));
        let layout = LabLayout::build(&id, &parsed, &parsed.nodes);
        let lab = SimLab {
            id: id.clone(),
            seq: self.next_lab_seq,
            title,
            description: parsed.description.clone().unwrap_or_default(),
            owner: owner.to_owned(),
            topology: text.to_owned(),
            nodes,
            links: parsed.links,
            state: LabState::DefinedOnCore,
            created_at: now,
            modified_at: now,
            converges_at: None,
            layout,
        };
        self.next_lab_seq += 1;
        let data = json!({ "lab_id": id.as_str(), "user": owner, "node_count": lab.node_count() });
        self.labs.insert(id.clone(), lab);
        self.record(config, "import_lab", now, data);
        Ok(LabImport { id, warnings })
    }

    /// `PUT /labs/{id}/start`.
    pub(crate) fn start_lab(
        &mut self,
        id: &CmlLabId,
        user: &str,
        now: Timestamp,
        config: &CmlConfig,
    ) -> Result<(), CmlError> {
        let running = self.licensed_running();
        let limit = self.licence.node_limit(now);
        let lab = self.lab_mut(id)?;
        if lab.start(now, config.node_boot_seconds, running, limit)? {
            let data =
                json!({ "lab_id": id.as_str(), "user": user, "node_count": lab.node_count() });
            self.record(config, "start_lab", now, data);
        }
        Ok(())
    }

    /// `PUT /labs/{id}/stop`.
    pub(crate) fn stop_lab(
        &mut self,
        id: &CmlLabId,
        user: &str,
        now: Timestamp,
        config: &CmlConfig,
    ) -> Result<(), CmlError> {
        if self.lab_mut(id)?.stop(now) {
            self.record(
                config,
                "stop_lab",
                now,
                json!({ "lab_id": id.as_str(), "user": user }),
            );
        }
        Ok(())
    }

    /// `PUT /labs/{id}/wipe`.
    pub(crate) fn wipe_lab(
        &mut self,
        id: &CmlLabId,
        user: &str,
        now: Timestamp,
        config: &CmlConfig,
    ) -> Result<(), CmlError> {
        let lab = self.lab_mut(id)?;
        if lab.wipe(now)? {
            let data =
                json!({ "lab_id": id.as_str(), "user": user, "node_count": lab.node_count() });
            self.record(config, "wipe_node", now, data);
        }
        Ok(())
    }

    /// `DELETE /labs/{id}`.
    pub(crate) fn delete_lab(&mut self, id: &CmlLabId) -> Result<(), CmlError> {
        self.lab(id)?.check_delete()?;
        self.labs.remove(id);
        Ok(())
    }

    /// The host stopped: every started lab's nodes are down.
    pub(crate) fn host_stopped(&mut self, now: Timestamp) {
        for lab in self.labs.values_mut() {
            lab.stop(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::{epoch, plus_seconds};

    const TWO_NODES: &str = "lab:\n  title: two\nnodes:\n  - id: n0\n    node_definition: alpine\n  - id: n1\n    node_definition: iosv\nlinks:\n  - id: l0\n";

    fn server() -> (CmlServer, CmlConfig) {
        let config = CmlConfig::default();
        let host = InstanceTypeSpec {
            vcpus: 48,
            memory_gib: 192,
        };
        (
            CmlServer::new(InstanceId::new("i-1"), host, &config, epoch()),
            config,
        )
    }

    #[test]
    fn stats_follow_running_nodes() {
        let (mut s, config) = server();
        let idle = s.stats(epoch(), &config);
        assert_eq!(
            (idle.running_nodes, idle.total_nodes, idle.allocated_cpus),
            (0, 0, 0)
        );
        let lab = CmlLabId::new("l1");
        let import = s
            .import(lab.clone(), TWO_NODES, None, "admin", epoch(), &config)
            .unwrap();
        assert!(import.warnings.is_empty());
        assert_eq!(s.lab(&lab).unwrap().title, "two");
        s.start_lab(&lab, "admin", epoch(), &config).unwrap();
        let busy = s.stats(epoch(), &config);
        assert_eq!(
            (busy.running_nodes, busy.total_nodes, busy.allocated_cpus),
            (2, 2, 2)
        );
        assert_eq!(busy.allocated_memory_kib, (512 + 768) * 1024);
        assert!(busy.memory_used_bytes > idle.memory_used_bytes);
        assert!(s.load(epoch(), &config).cpu_percent > idle.cpu_percent.unwrap() - 1.0);
        s.host_stopped(epoch());
        assert_eq!(s.lab(&lab).unwrap().state, LabState::Stopped);
        assert_eq!(s.stats(epoch(), &config).running_nodes, 0);
    }

    #[test]
    fn lab_operations_leave_telemetry() {
        let (mut s, config) = server();
        let lab = CmlLabId::new("l1");
        s.import(
            lab.clone(),
            TWO_NODES,
            Some("override"),
            "bob",
            epoch(),
            &config,
        )
        .unwrap();
        assert_eq!(s.lab(&lab).unwrap().title, "override");
        s.start_lab(&lab, "bob", epoch(), &config).unwrap();
        s.stop_lab(&lab, "bob", epoch(), &config).unwrap();
        s.wipe_lab(&lab, "bob", epoch(), &config).unwrap();
        s.delete_lab(&lab).unwrap();
        let categories: Vec<_> = s
            .telemetry
            .after(None)
            .into_iter()
            .map(|e| e.category)
            .collect();
        assert_eq!(
            categories,
            ["import_lab", "start_lab", "stop_lab", "wipe_node"]
        );
        assert!(matches!(
            s.delete_lab(&lab),
            Err(CmlError::NotFound { what: "lab", .. })
        ));
    }

    #[test]
    fn licence_completion_is_recorded_when_caught_up() {
        let (mut s, config) = server();
        s.licence.register("tok", false, epoch(), 60).unwrap();
        s.catch_up(plus_seconds(epoch(), 30), &config);
        assert_eq!(s.telemetry.len(), 0);
        s.catch_up(plus_seconds(epoch(), 90), &config);
        let events = s.telemetry.after(None);
        assert_eq!(events[0].category, "license_info");
        assert_eq!(events[0].timestamp, plus_seconds(epoch(), 60));
        assert!(s.health(plus_seconds(epoch(), 90)).is_licensed);
    }

    #[test]
    fn bad_topology_is_import_failed() {
        let (mut s, config) = server();
        let err = s
            .import(
                CmlLabId::new("x"),
                "title: nothing",
                None,
                "admin",
                epoch(),
                &config,
            )
            .unwrap_err();
        assert!(
            matches!(err, CmlError::Rejected { status: 400, ref description, .. } if description.starts_with("Import failed."))
        );
        assert!(s.labs.is_empty());
        let long = "x".repeat(65);
        assert!(s
            .import(
                CmlLabId::new("y"),
                TWO_NODES,
                Some(&long),
                "admin",
                epoch(),
                &config
            )
            .is_err());
    }
}
