//! The CML port behind the lease gate.

use std::sync::Arc;

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

gated_port! {
    impl CmlClient for GatedCml {
        async fn system_information(&self, ep: &CmlEndpoint)
            -> Result<SystemInformation, CmlError> => gate(ep);
        async fn system_stats(&self, ep: &CmlEndpoint) -> Result<SystemStats, CmlError> => gate(ep);
        async fn system_health(&self, ep: &CmlEndpoint)
            -> Result<SystemHealth, CmlError> => gate(ep);
        async fn licensing(&self, ep: &CmlEndpoint) -> Result<Licensing, CmlError> => gate(ep);
        async fn deregister_licence(&self, ep: &CmlEndpoint) -> Result<(), CmlError> => gate(ep);
        async fn list_labs(&self, ep: &CmlEndpoint) -> Result<Vec<CmlLabId>, CmlError> => gate(ep);
        async fn get_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<CmlLab, CmlError> => gate(ep);
        async fn lab_state(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<LabState, CmlError> => gate(ep);
        async fn start_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<(), CmlError> => gate(ep);
        async fn stop_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<(), CmlError> => gate(ep);
        async fn wipe_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<(), CmlError> => gate(ep);
        async fn delete_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<(), CmlError> => gate(ep);
        async fn lab_usage(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<LabUsage, CmlError> => gate(ep);
        async fn check_if_converged(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<bool, CmlError> => gate(ep);
        async fn download_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<String, CmlError> => gate(ep);
        async fn node_definitions(&self, ep: &CmlEndpoint)
            -> Result<Vec<NodeDefinition>, CmlError> => gate(ep);
        async fn image_definitions(&self, ep: &CmlEndpoint)
            -> Result<Vec<ImageDefinition>, CmlError> => gate(ep);
        async fn teardown_lab(&self, ep: &CmlEndpoint, lab: &CmlLabId)
            -> Result<(), CmlError> => gate(ep);
        async fn register_licence(&self, ep: &CmlEndpoint, token: &Secret, reregister: bool)
            -> Result<(), CmlError> => gate(ep);
        async fn import_lab(&self, ep: &CmlEndpoint, topology_yaml: &str, title: Option<&str>)
            -> Result<LabImport, CmlError> => gate(ep);
        async fn telemetry_events(&self, ep: &CmlEndpoint, after: Option<Timestamp>)
            -> Result<Vec<TelemetryEvent>, CmlError> => gate(ep);
        ungated {
            fn certificate_fingerprint(&self, ep: &CmlEndpoint) -> Option<String>;
        }
    }
}
