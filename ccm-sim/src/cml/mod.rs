//! The simulated CML servers behind [`CmlClient`]: one server per instance, reached
//! at `sim://<instance-id>`. A server answers only while its instance runs and CML
//! has booted on it; labs follow CML's state rules, the licence limits running nodes,
//! and lab operations leave telemetry events.

pub(crate) mod catalog;
pub(crate) mod labs;
pub(crate) mod licensing;
pub(crate) mod server;
pub(crate) mod telemetry;
pub(crate) mod topology;

use std::sync::Arc;

use async_trait::async_trait;
use ccm_core::ids::{CmlLabId, InstanceId, WorkerId};
use ccm_core::lab::LabState;
use ccm_core::ports::cml::{
    CmlClient, CmlEndpoint, CmlError, CmlLab, ImageDefinition, LabImport, LabUsage, Licensing,
    NodeDefinition, SystemHealth, SystemInformation, SystemStats, TelemetryEvent,
};
use ccm_core::secret::Secret;
use ccm_core::time::{plus_seconds, Timestamp};

use crate::cloud::instances::Phase;
use crate::config::CmlConfig;
use crate::rng::SimRng;
use crate::world::{Shared, World};
use server::CmlServer;

/// Scheme of simulated CML endpoints.
pub const SIM_SCHEME: &str = "sim://";

/// The base URL of the simulated CML on `instance`: `sim://<instance-id>`.
pub fn sim_endpoint_url(instance: &InstanceId) -> String {
    format!("{SIM_SCHEME}{instance}")
}

/// The endpoint of the simulated CML on `instance`, for `worker`.
pub fn sim_endpoint(worker: WorkerId, instance: &InstanceId) -> CmlEndpoint {
    CmlEndpoint::new(worker, sim_endpoint_url(instance))
}

/// The instance a simulated endpoint points at, if it is one.
pub fn endpoint_instance(endpoint: &CmlEndpoint) -> Option<InstanceId> {
    let rest = endpoint.base_url.strip_prefix(SIM_SCHEME)?;
    let id = rest.split('/').next().unwrap_or_default();
    (!id.is_empty()).then(|| InstanceId::new(id))
}

fn unreachable(endpoint: &CmlEndpoint, message: &str) -> CmlError {
    CmlError::Unreachable {
        endpoint: endpoint.base_url.clone(),
        message: message.to_owned(),
    }
}

impl World {
    /// Whether the CML of `instance` answers at `now`, as the error a client sees.
    pub(crate) fn cml_availability(
        &self,
        endpoint: &CmlEndpoint,
        instance: &InstanceId,
        now: Timestamp,
    ) -> Result<(), CmlError> {
        let record = self
            .instance_regions
            .get(instance)
            .and_then(|region| self.regions.get(region))
            .and_then(|state| state.instances.get(instance))
            .ok_or_else(|| unreachable(endpoint, "could not resolve host"))?;
        if self.faults.cml_cut_off(instance) {
            return Err(unreachable(endpoint, "connection timed out"));
        }
        match record.phase_at(now) {
            Phase::Running { since }
                if now >= plus_seconds(since, self.config.cml.boot_seconds) =>
            {
                Ok(())
            }
            Phase::Running { .. } => Err(CmlError::Starting {
                endpoint: endpoint.base_url.clone(),
            }),
            _ => Err(unreachable(endpoint, "connection refused")),
        }
    }

    /// Counts the call, checks availability and faults, brings the server up to date
    /// and runs `f` on it.
    pub(crate) fn with_server<T>(
        &mut self,
        operation: &str,
        endpoint: &CmlEndpoint,
        now: Timestamp,
        f: impl FnOnce(&mut CmlServer, &CmlConfig, &mut SimRng) -> Result<T, CmlError>,
    ) -> Result<T, CmlError> {
        self.cml_calls.add(operation, 1);
        let instance = endpoint_instance(endpoint).ok_or_else(|| {
            unreachable(endpoint, "not a simulated endpoint (sim://<instance-id>)")
        })?;
        self.cml_availability(endpoint, &instance, now)?;
        if self.rng.roll(self.faults.cml_rate(operation)) {
            return Err(CmlError::Server {
                operation: operation.to_owned(),
                status: 500,
                description: "simulated fault: internal server error".into(),
            });
        }
        let World {
            servers,
            config,
            rng,
            ..
        } = self;
        let server = servers
            .get_mut(&instance)
            .ok_or_else(|| unreachable(endpoint, "no CML on this host"))?;
        server.catch_up(now, &config.cml);
        f(server, &config.cml, rng)
    }
}

/// A [`CmlClient`] view of a [`crate::Simulation`], acting as one CML user (`admin`
/// unless made with [`SimCml::as_user`]). Cheap to clone.
#[derive(Clone, Debug)]
pub struct SimCml {
    shared: Arc<Shared>,
    user: String,
}

impl SimCml {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            user: "admin".to_owned(),
        }
    }

    /// The same world seen by another CML user: labs it imports are owned by `user`
    /// and its telemetry events name `user` ("someone else" in scenario tests).
    pub fn as_user(&self, user: &str) -> SimCml {
        SimCml {
            shared: self.shared.clone(),
            user: user.to_owned(),
        }
    }

    /// The CML user this view acts as.
    pub fn user(&self) -> &str {
        &self.user
    }

    async fn call<T>(
        &self,
        operation: &str,
        endpoint: &CmlEndpoint,
        f: impl FnOnce(&mut CmlServer, &CmlConfig, &mut SimRng, Timestamp) -> Result<T, CmlError>,
    ) -> Result<T, CmlError> {
        self.shared.latency().await;
        let (mut world, now) = self.shared.lock_at().map_err(|e| e.into_cml(operation))?;
        world.with_server(operation, endpoint, now, |server, config, rng| {
            f(server, config, rng, now)
        })
    }
}

#[async_trait]
impl CmlClient for SimCml {
    async fn system_information(&self, ep: &CmlEndpoint) -> Result<SystemInformation, CmlError> {
        self.call("system_information", ep, |s, _, _, _| {
            Ok(SystemInformation {
                version: s.version.clone(),
                ready: s.ready,
            })
        })
        .await
    }

    async fn system_stats(&self, ep: &CmlEndpoint) -> Result<SystemStats, CmlError> {
        self.call("system_stats", ep, |s, c, _, now| Ok(s.stats(now, c)))
            .await
    }

    async fn system_health(&self, ep: &CmlEndpoint) -> Result<SystemHealth, CmlError> {
        self.call("system_health", ep, |s, _, _, now| Ok(s.health(now)))
            .await
    }

    async fn licensing(&self, ep: &CmlEndpoint) -> Result<Licensing, CmlError> {
        self.call("licensing", ep, |s, _, _, now| {
            Ok(s.licence.view(now, s.licensed_running()))
        })
        .await
    }

    async fn register_licence(
        &self,
        ep: &CmlEndpoint,
        token: &Secret,
        reregister: bool,
    ) -> Result<(), CmlError> {
        self.call("register_licence", ep, |s, c, _, now| {
            s.licence
                .register(token.expose(), reregister, now, c.registration_seconds)
        })
        .await
    }

    async fn deregister_licence(&self, ep: &CmlEndpoint) -> Result<(), CmlError> {
        self.call("deregister_licence", ep, |s, _, _, _| {
            s.licence.deregister()
        })
        .await
    }

    async fn list_labs(&self, ep: &CmlEndpoint) -> Result<Vec<CmlLabId>, CmlError> {
        self.call("list_labs", ep, |s, _, _, _| {
            Ok(s.labs_in_order()
                .into_iter()
                .map(|l| l.id.clone())
                .collect())
        })
        .await
    }

    async fn get_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<CmlLab, CmlError> {
        self.call("get_lab", ep, |s, _, _, _| Ok(s.lab(lab)?.view()))
            .await
    }

    async fn lab_state(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabState, CmlError> {
        self.call("lab_state", ep, |s, _, _, _| Ok(s.lab(lab)?.state))
            .await
    }

    async fn start_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call("start_lab", ep, |s, c, _, now| {
            s.start_lab(lab, &self.user, now, c)
        })
        .await
    }

    async fn stop_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call("stop_lab", ep, |s, c, _, now| {
            s.stop_lab(lab, &self.user, now, c)
        })
        .await
    }

    async fn wipe_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call("wipe_lab", ep, |s, c, _, now| {
            s.wipe_lab(lab, &self.user, now, c)
        })
        .await
    }

    async fn delete_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        self.call("delete_lab", ep, |s, _, _, _| s.delete_lab(lab))
            .await
    }

    async fn lab_usage(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabUsage, CmlError> {
        self.call("lab_usage", ep, |s, c, _, _| Ok(s.lab(lab)?.usage(c)))
            .await
    }

    async fn check_if_converged(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<bool, CmlError> {
        self.call("check_if_converged", ep, |s, _, _, now| {
            Ok(s.lab(lab)?.converged(now))
        })
        .await
    }

    async fn import_lab(
        &self,
        ep: &CmlEndpoint,
        topology_yaml: &str,
        title: Option<&str>,
    ) -> Result<LabImport, CmlError> {
        self.call("import_lab", ep, |s, c, rng, now| {
            let id = loop {
                let id = CmlLabId::new(rng.uuid().to_string());
                if !s.labs.contains_key(&id) {
                    break id;
                }
            };
            s.import(id, topology_yaml, title, &self.user, now, c)
        })
        .await
    }

    async fn download_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<String, CmlError> {
        self.call("download_lab", ep, |s, _, _, _| {
            Ok(s.lab(lab)?.topology.clone())
        })
        .await
    }

    async fn node_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<NodeDefinition>, CmlError> {
        self.call("node_definitions", ep, |_, c, _, _| {
            Ok(catalog::node_definitions(c))
        })
        .await
    }

    async fn image_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<ImageDefinition>, CmlError> {
        self.call("image_definitions", ep, |_, c, _, _| {
            Ok(catalog::image_definitions(c))
        })
        .await
    }

    async fn telemetry_events(
        &self,
        ep: &CmlEndpoint,
        after: Option<Timestamp>,
    ) -> Result<Vec<TelemetryEvent>, CmlError> {
        self.call("telemetry_events", ep, |s, _, _, _| {
            Ok(s.telemetry.after(after))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_round_trip() {
        let id = InstanceId::new("i-0123456789abcdef0");
        let ep = sim_endpoint(WorkerId::from_u128(1), &id);
        assert_eq!(ep.base_url, "sim://i-0123456789abcdef0");
        assert_eq!(endpoint_instance(&ep), Some(id));
        let https = CmlEndpoint::new(WorkerId::from_u128(1), "https://10.0.0.5");
        assert_eq!(endpoint_instance(&https), None);
        let trailing = CmlEndpoint::new(WorkerId::from_u128(1), "sim://i-1/");
        assert_eq!(endpoint_instance(&trailing), Some(InstanceId::new("i-1")));
    }
}
