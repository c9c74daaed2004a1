//! The cloud, CML and clock from a [`Config`]: the simulated world (kept beside a
//! SQLite file across runs) or AWS with real CML servers.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ccm_core::ports::{Clock, CloudProvider, CmlClient, ScaledClock, SystemClock};
use ccm_sim::{RegionConfig, SimConfig, Simulation, WorldOrigin};

use crate::config::{CloudKind, CmlTls, Config};
use crate::error::Error;

/// AWS (or simulated AWS) calls made so far, by operation.
pub type CallCounter = Arc<dyn Fn() -> BTreeMap<String, u64> + Send + Sync>;

/// The cloud, CML and clock the engine works through.
pub struct CloudParts {
    /// EC2 / CloudWatch.
    pub cloud: Arc<dyn CloudProvider>,
    /// CML servers.
    pub cml: Arc<dyn CmlClient>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Call counts, when the provider keeps them.
    pub calls: Option<CallCounter>,
    /// The simulation, when simulated.
    pub sim: Option<Simulation>,
}

impl std::fmt::Debug for CloudParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudParts")
            .field("simulated", &self.sim.is_some())
            .finish_non_exhaustive()
    }
}

/// The simulator's configuration for `config`: its regions, short delays, and
/// instances whose CML is licensed at launch (so demo labs run more than 5 nodes).
pub fn sim_config(config: &Config) -> SimConfig {
    let mut sim = SimConfig {
        regions: config
            .cloud
            .regions
            .iter()
            .map(|r| RegionConfig::new(r))
            .collect(),
        ..SimConfig::default()
    };
    let s = &config.cloud.sim;
    sim.delays.boot_metal_seconds = s.boot_seconds;
    sim.delays.boot_seconds = s.boot_seconds.min(sim.delays.boot_seconds);
    sim.delays.stop_seconds = s.stop_seconds;
    sim.delays.terminate_seconds = s.terminate_seconds;
    sim.delays.status_init_seconds = s.status_init_seconds;
    sim.cml.boot_seconds = s.cml_boot_seconds;
    sim.cml.node_boot_seconds = s.node_boot_seconds;
    sim.cml.registration_seconds = sim.cml.registration_seconds.min(15);
    sim.cml.licensed_at_launch = s.licensed_at_launch;
    sim
}

/// Builds the configured cloud and CML adapters on the real clock (run faster
/// for a simulated fleet with `cloud.sim.time_scale`).
pub fn cloud_parts(config: &Config) -> Result<CloudParts, Error> {
    cloud_parts_on(config, serve_clock(config))
}

/// The clock of a served engine: the wall clock, or for a simulated fleet with
/// `cloud.sim.time_scale` above 1 the wall clock run that much faster from
/// `cloud.sim.clock_origin` (default: now).
pub fn serve_clock(config: &Config) -> Arc<dyn Clock> {
    let sim = &config.cloud.sim;
    if config.cloud.provider == CloudKind::Sim && sim.time_scale > 1.0 {
        let now = chrono::Utc::now();
        Arc::new(ScaledClock::new(
            sim.clock_origin.unwrap_or(now),
            sim.time_scale,
            now,
        ))
    } else {
        Arc::new(SystemClock)
    }
}

/// `ccm serve`'s cloud: [`cloud_parts`], except that a simulated world is kept in
/// `world_file` across runs ([`OpenedStore::sim_world_file`]) when one is given;
/// then also where the world came from.
pub fn serve_cloud_parts(
    config: &Config,
    world_file: Option<PathBuf>,
) -> Result<(CloudParts, Option<WorldOrigin>), Error> {
    let path = match (config.cloud.provider, world_file) {
        (CloudKind::Sim, Some(path)) => path,
        _ => return Ok((cloud_parts(config)?, None)),
    };
    let clock = serve_clock(config);
    let (sim, origin) = Simulation::kept_in(
        &path,
        config.cloud.sim.seed,
        sim_config(config),
        clock.clone(),
    )
    .map_err(|error| Error::Adapter {
        adapter: "simulated cloud",
        message: format!(
            "{error}. To start the simulated fleet afresh, stop ccm and delete this file \
             together with the database beside it (the whole ccm-data/ directory by default); \
             deleting only the file turns every worker in the database terminated"
        ),
    })?;
    Ok((simulated_parts(sim, clock), Some(origin)))
}

/// Builds the configured cloud and CML adapters on `clock` (a virtual clock lets
/// an embedding program drive a simulated fleet through a day in seconds).
pub fn cloud_parts_on(config: &Config, clock: Arc<dyn Clock>) -> Result<CloudParts, Error> {
    match config.cloud.provider {
        CloudKind::Sim => {
            let sim =
                Simulation::with_clock(config.cloud.sim.seed, sim_config(config), clock.clone());
            Ok(simulated_parts(sim, clock))
        }
        CloudKind::Aws => {
            let aws = crate::config::aws::adapter_config(config);
            let cloud = Arc::new(ccm_aws::AwsCloud::new(aws).map_err(|e| Error::Adapter {
                adapter: "aws",
                message: e.to_string(),
            })?);
            let cml = cml_client(config, clock.clone())?;
            let counter = cloud.clone();
            let calls: CallCounter = Arc::new(move || counter.call_counts());
            Ok(CloudParts {
                cloud,
                cml: Arc::new(cml),
                clock,
                calls: Some(calls),
                sim: None,
            })
        }
    }
}

/// The CML client the engine uses for real workers, from `[cml]`: the fleet's
/// credentials and TLS mode (`ccm doctor` calls workers through the same client).
pub fn cml_client(config: &Config, clock: Arc<dyn Clock>) -> Result<ccm_cml::HttpCmlClient, Error> {
    let c = &config.cml;
    let password = c.password.clone().ok_or_else(|| Error::Adapter {
        adapter: "cml",
        message: "cml.password is required".into(),
    })?;
    let tls = match c.tls {
        CmlTls::Tofu => ccm_cml::TlsMode::TrustOnFirstUse,
        CmlTls::Insecure => ccm_cml::TlsMode::Insecure,
        CmlTls::Verify => ccm_cml::TlsMode::Verify,
        CmlTls::Ca => {
            let path = c.ca_file.clone().unwrap_or_default();
            let pem = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                what: format!("reading cml.ca_file {}", path.display()),
                source,
            })?;
            ccm_cml::TlsMode::CustomCa(pem)
        }
    };
    let cml_config = ccm_cml::CmlClientConfig::new(c.username.clone(), password).with_tls(tls);
    ccm_cml::HttpCmlClient::with_clock(cml_config, clock).map_err(|e| Error::Adapter {
        adapter: "cml",
        message: e.to_string(),
    })
}

/// The ports of `sim`, with its call counts.
fn simulated_parts(sim: Simulation, clock: Arc<dyn Clock>) -> CloudParts {
    let counter = sim.clone();
    let calls: CallCounter = Arc::new(move || {
        counter
            .cloud_calls()
            .map(|c| c.by_operation().clone())
            .unwrap_or_default()
    });
    CloudParts {
        cloud: Arc::new(sim.cloud()),
        cml: Arc::new(sim.cml()),
        clock,
        calls: Some(calls),
        sim: Some(sim),
    }
}
