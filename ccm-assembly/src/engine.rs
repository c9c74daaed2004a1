//! The engine over opened adapters: the fleet with its jobs registered, and the
//! name this process holds the engine's lease under.

use std::sync::Arc;

use ccm_core::fleet::{Adapters, Fleet, FleetSettings};
use ccm_core::ports::{KeyValueStore, MetricSeries, Store};
use ccm_core::runtime::JobRunner;

use crate::cloud::CloudParts;
use crate::error::Error;

/// A unique name for this process in the engine's lease: host, process id and a
/// random part, so two processes on one host (or one restarted under the same
/// pid in a container) never hold the lease as the same holder.
pub fn holder_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "ccm".into());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The engine with its job runner (jobs registered).
pub struct Engine {
    /// The fleet engine.
    pub fleet: Arc<Fleet>,
    /// Its job runner.
    pub jobs: Arc<JobRunner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

/// Builds the engine over a store and cloud parts, and registers its jobs.
pub async fn build_engine(
    store: Arc<dyn Store>,
    series: Arc<dyn MetricSeries>,
    kv: Arc<dyn KeyValueStore>,
    parts: &CloudParts,
    settings: FleetSettings,
    licence_token: Option<ccm_core::secret::Secret>,
) -> Result<Engine, Error> {
    let mut fleet = Fleet::new(
        Adapters {
            store: store.clone(),
            cloud: parts.cloud.clone(),
            cml: parts.cml.clone(),
            clock: parts.clock.clone(),
        },
        settings,
    );
    if let Some(token) = licence_token {
        fleet = fleet.with_licence_token(token);
    }
    fleet = fleet.with_metric_series(series).with_key_values(kv);
    let fleet = Arc::new(fleet);
    let mut jobs = JobRunner::new(store, parts.clock.clone());
    fleet.register_jobs(&mut jobs).await?;
    Ok(Engine {
        fleet,
        jobs: Arc::new(jobs),
    })
}
