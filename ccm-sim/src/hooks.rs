//! Test and operations hooks: things that happen to the world without going through
//! the ports (someone else working in CML, an instance failing, an operator in the
//! AWS console). Hooks make no counted API calls and ignore fault switches.

use ccm_core::ids::{CmlLabId, ImageId, InstanceId, Region, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::ports::cloud::Instance;
use ccm_core::ports::cml::{CmlEndpoint, CmlLab};
use ccm_core::time::{plus_seconds, Timestamp};
use serde_json::json;

use crate::cloud::ops::StateOp;
use crate::cml::labs::SimLab;
use crate::cml::licensing::Registration;
use crate::cml::server::CmlServer;
use crate::cml::sim_endpoint;
use crate::config::{CmlConfig, ImageSpec};
use crate::error::SimError;
use crate::rng::SimRng;
use crate::simulation::Simulation;
use crate::world::World;

/// A lab to place directly on a server, as if another user had made it.
#[derive(Clone, Debug, PartialEq)]
pub struct InjectedLab {
    /// Title.
    pub title: String,
    /// Owner user name.
    pub owner: String,
    /// Topology text (YAML or JSON), read like an import.
    pub topology: String,
    /// State to leave it in (`Started` labs count as converged at once).
    pub state: LabState,
}

/// A node of a lab as the simulated CML holds it (what `GET /labs/{id}/nodes`
/// reports of it), for tests that check what was imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimLabNode {
    /// Label.
    pub label: String,
    /// Node definition, when the topology named one.
    pub node_definition: Option<String>,
    /// Tags, as imported.
    pub tags: Vec<String>,
}

impl World {
    fn server_now(
        &mut self,
        instance: &InstanceId,
        now: Timestamp,
    ) -> Result<(&mut CmlServer, &CmlConfig, &mut SimRng), SimError> {
        let World {
            servers,
            config,
            rng,
            ..
        } = self;
        let server = servers
            .get_mut(instance)
            .ok_or_else(|| SimError::UnknownInstance(instance.to_string()))?;
        server.catch_up(now, &config.cml);
        Ok((server, &config.cml, rng))
    }

    fn region_of(&self, instance: &InstanceId) -> Result<Region, SimError> {
        self.instance_regions
            .get(instance)
            .cloned()
            .ok_or_else(|| SimError::UnknownInstance(instance.to_string()))
    }
}

impl Simulation {
    /// The endpoint of the simulated CML on `instance` (`sim://<instance-id>`).
    pub fn cml_endpoint(&self, worker: WorkerId, instance: &InstanceId) -> CmlEndpoint {
        sim_endpoint(worker, instance)
    }

    /// Registers another AMI in `region`.
    pub fn add_image(&self, region: &Region, spec: ImageSpec) -> Result<ImageId, SimError> {
        self.shared.lock()?.add_image(region, &spec)
    }

    /// Every instance of `region` as `DescribeInstances` would show it now (terminated
    /// ones until they are purged), without counting a call.
    pub fn instances(&self, region: &Region) -> Result<Vec<Instance>, SimError> {
        let (world, now) = self.shared.lock_at()?;
        let state = world
            .regions
            .get(region)
            .ok_or_else(|| SimError::UnknownRegion(region.to_string()))?;
        Ok(state.instances.values().map(|r| r.describe(now)).collect())
    }

    /// Instances of `region` holding capacity now (pending, running, stopping).
    pub fn active_instances(&self, region: &Region) -> Result<u32, SimError> {
        let (world, now) = self.shared.lock_at()?;
        let state = world
            .regions
            .get(region)
            .ok_or_else(|| SimError::UnknownRegion(region.to_string()))?;
        Ok(state.active_count(now))
    }

    /// Makes an instance's status checks report `impaired` (or healthy again).
    pub fn set_impaired(&self, instance: &InstanceId, impaired: bool) -> Result<(), SimError> {
        let mut world = self.shared.lock()?;
        let region = world.region_of(instance)?;
        if let Some(record) = world
            .regions
            .get_mut(&region)
            .and_then(|s| s.instances.get_mut(instance))
        {
            record.impaired = impaired;
        }
        Ok(())
    }

    /// Stops an instance the way an operator in the AWS console would.
    pub fn stop_externally(&self, instance: &InstanceId) -> Result<(), SimError> {
        self.external(instance, StateOp::Stop)
    }

    /// Terminates an instance the way an operator in the AWS console would.
    pub fn terminate_externally(&self, instance: &InstanceId) -> Result<(), SimError> {
        self.external(instance, StateOp::Terminate)
    }

    fn external(&self, instance: &InstanceId, op: StateOp) -> Result<(), SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        let region = world.region_of(instance)?;
        world
            .apply_state_op(op, &region, std::slice::from_ref(instance), now)
            .map(|_| ())
            .map_err(SimError::Cloud)
    }

    /// Cuts the CML of `instance` off the network (or reconnects it).
    pub fn set_cml_unreachable(
        &self,
        instance: &InstanceId,
        unreachable: bool,
    ) -> Result<(), SimError> {
        let mut world = self.shared.lock()?;
        if unreachable {
            world
                .faults
                .cml_unreachable_instances
                .insert(instance.clone());
        } else {
            world.faults.cml_unreachable_instances.remove(instance);
        }
        Ok(())
    }

    /// Sets `ready` of `system_information` (and the health's validity with it).
    pub fn set_cml_ready(&self, instance: &InstanceId, ready: bool) -> Result<(), SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        world.server_now(instance, now)?.0.ready = ready;
        Ok(())
    }

    /// Sets whether `system_health` reports the compute valid.
    pub fn set_cml_healthy(&self, instance: &InstanceId, healthy: bool) -> Result<(), SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        world.server_now(instance, now)?.0.healthy = healthy;
        Ok(())
    }

    /// Registers the CML licence of `instance` at once (a pre-licensed server).
    pub fn set_licence_registered(&self, instance: &InstanceId) -> Result<(), SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        let (server, config, _) = world.server_now(instance, now)?;
        server.licence.registration = Registration::Registered {
            expires_at: plus_seconds(now, config.registration_valid_seconds),
        };
        Ok(())
    }

    /// Records a `user_activity` telemetry event on the CML of `instance`, now.
    pub fn record_user_activity(&self, instance: &InstanceId, user: &str) -> Result<(), SimError> {
        self.record_telemetry(instance, "user_activity", json!({ "user": user }))
    }

    /// Records any telemetry event on the CML of `instance`, now.
    pub fn record_telemetry(
        &self,
        instance: &InstanceId,
        category: &str,
        data: serde_json::Value,
    ) -> Result<(), SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        let (server, config, _) = world.server_now(instance, now)?;
        server.record(config, category, now, data);
        Ok(())
    }

    /// Places a lab on the CML of `instance` as another user would have made it
    /// (no licence check; telemetry records the import and start).
    pub fn inject_lab(
        &self,
        instance: &InstanceId,
        lab: InjectedLab,
    ) -> Result<CmlLabId, SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        let (server, config, rng) = world.server_now(instance, now)?;
        let id = loop {
            let id = CmlLabId::new(rng.uuid().to_string());
            if !server.labs.contains_key(&id) {
                break id;
            }
        };
        server
            .import(
                id.clone(),
                &lab.topology,
                Some(&lab.title),
                &lab.owner,
                now,
                config,
            )
            .map_err(|e| SimError::InvalidTopology(e.to_string()))?;
        if let Some(created) = server.labs.get_mut(&id) {
            apply_state(created, lab.state, now);
        }
        if lab.state == LabState::Started {
            let data = json!({ "lab_id": id.as_str(), "user": lab.owner });
            server.record(config, "start_lab", now, data);
        }
        Ok(id)
    }

    /// Labs on the CML of `instance`, in creation order, whatever its availability.
    pub fn labs(&self, instance: &InstanceId) -> Result<Vec<CmlLab>, SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        let (server, _, _) = world.server_now(instance, now)?;
        Ok(server
            .labs_in_order()
            .into_iter()
            .map(SimLab::view)
            .collect())
    }

    /// The nodes of lab `lab` on the CML of `instance`, in topology order.
    pub fn lab_nodes(
        &self,
        instance: &InstanceId,
        lab: &CmlLabId,
    ) -> Result<Vec<SimLabNode>, SimError> {
        let (mut world, now) = self.shared.lock_at()?;
        let (server, _, _) = world.server_now(instance, now)?;
        let lab = server
            .lab(lab)
            .map_err(|_| SimError::UnknownLab(lab.to_string()))?;
        Ok(lab
            .layout
            .nodes
            .iter()
            .enumerate()
            .map(|(i, node)| SimLabNode {
                label: node.label.clone(),
                node_definition: lab.nodes.get(i).and_then(|n| n.definition.clone()),
                tags: node.tags.clone(),
            })
            .collect())
    }
}

fn apply_state(lab: &mut SimLab, state: LabState, now: Timestamp) {
    lab.state = state;
    lab.converges_at = (state == LabState::Started).then_some(now);
}
