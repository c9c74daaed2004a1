//! The CML port behind the lease gate.

use std::sync::Arc;

use async_trait::async_trait;

use super::check;
use crate::ids::CmlLabId;
use crate::lab::LabState;
use crate::ports::cml::{
    CmlClient, CmlEndpoint, CmlError, CmlLab, ImageDefinition, LabImport, LabUsage, Licensing,
    NodeDefinition, SystemHealth, SystemInformation, SystemStats, TelemetryEvent,
};
use crate::secret::Secret;
use crate::time::Timestamp;

/// A [`CmlClient`] whose every call first checks the lease of the engine step
/// making it.
pub struct GatedCml {
    inner: Arc<dyn CmlClient>,
}

impl GatedCml {
    /// Gates `inner`.
    pub fn new(inner: Arc<dyn CmlClient>) -> Self {
        Self { inner }
    }
}

fn gate(ep: &CmlEndpoint) -> Result<(), CmlError> {
    check(|| CmlError::LeaseLost {
        endpoint: ep.base_url.clone(),
    })
}

#[async_trait]
impl CmlClient for GatedCml {
    async fn system_information(&self, ep: &CmlEndpoint) -> Result<SystemInformation, CmlError> {
        gate(ep)?;
        self.inner.system_information(ep).await
    }

    async fn system_stats(&self, ep: &CmlEndpoint) -> Result<SystemStats, CmlError> {
        gate(ep)?;
        self.inner.system_stats(ep).await
    }

    async fn system_health(&self, ep: &CmlEndpoint) -> Result<SystemHealth, CmlError> {
        gate(ep)?;
        self.inner.system_health(ep).await
    }

    async fn licensing(&self, ep: &CmlEndpoint) -> Result<Licensing, CmlError> {
        gate(ep)?;
        self.inner.licensing(ep).await
    }

    async fn deregister_licence(&self, ep: &CmlEndpoint) -> Result<(), CmlError> {
        gate(ep)?;
        self.inner.deregister_licence(ep).await
    }

    async fn list_labs(&self, ep: &CmlEndpoint) -> Result<Vec<CmlLabId>, CmlError> {
        gate(ep)?;
        self.inner.list_labs(ep).await
    }

    async fn get_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<CmlLab, CmlError> {
        gate(ep)?;
        self.inner.get_lab(ep, lab).await
    }

    async fn lab_state(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabState, CmlError> {
        gate(ep)?;
        self.inner.lab_state(ep, lab).await
    }

    async fn start_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        gate(ep)?;
        self.inner.start_lab(ep, lab).await
    }

    async fn stop_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        gate(ep)?;
        self.inner.stop_lab(ep, lab).await
    }

    async fn wipe_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        gate(ep)?;
        self.inner.wipe_lab(ep, lab).await
    }

    async fn delete_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        gate(ep)?;
        self.inner.delete_lab(ep, lab).await
    }

    async fn lab_usage(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<LabUsage, CmlError> {
        gate(ep)?;
        self.inner.lab_usage(ep, lab).await
    }

    async fn check_if_converged(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<bool, CmlError> {
        gate(ep)?;
        self.inner.check_if_converged(ep, lab).await
    }

    async fn download_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<String, CmlError> {
        gate(ep)?;
        self.inner.download_lab(ep, lab).await
    }

    async fn node_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<NodeDefinition>, CmlError> {
        gate(ep)?;
        self.inner.node_definitions(ep).await
    }

    async fn image_definitions(&self, ep: &CmlEndpoint) -> Result<Vec<ImageDefinition>, CmlError> {
        gate(ep)?;
        self.inner.image_definitions(ep).await
    }

    async fn teardown_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId) -> Result<(), CmlError> {
        gate(ep)?;
        self.inner.teardown_lab(ep, lab).await
    }

    async fn register_licence(
        &self,
        ep: &CmlEndpoint,
        token: &Secret,
        reregister: bool,
    ) -> Result<(), CmlError> {
        gate(ep)?;
        self.inner.register_licence(ep, token, reregister).await
    }

    async fn import_lab(
        &self,
        ep: &CmlEndpoint,
        topology_yaml: &str,
        title: Option<&str>,
    ) -> Result<LabImport, CmlError> {
        gate(ep)?;
        self.inner.import_lab(ep, topology_yaml, title).await
    }

    async fn telemetry_events(
        &self,
        ep: &CmlEndpoint,
        after: Option<Timestamp>,
    ) -> Result<Vec<TelemetryEvent>, CmlError> {
        gate(ep)?;
        self.inner.telemetry_events(ep, after).await
    }

    fn certificate_fingerprint(&self, ep: &CmlEndpoint) -> Option<String> {
        self.inner.certificate_fingerprint(ep)
    }
}
