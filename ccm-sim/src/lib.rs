//! # ccm-sim
//!
//! A deterministic simulated AWS and a fleet of simulated CML servers behind
//! ccm-core's ports, on a virtual clock: a whole day of a fleet runs in milliseconds
//! and no test depends on timing luck.
//!
//! ## What is simulated
//! * **EC2** ([`SimCloud`], a [`ccm_core::ports::CloudProvider`]): regions with an
//!   AMI catalog (`cml-2.9.*` images and more, [`ImageSpec`]); instances whose state
//!   follows the clock — `pending` → `running` after a boot delay (20 virtual minutes
//!   for `*.metal` types), `stopping` → `stopped`, `shutting-down` → `terminated`;
//!   tags; idempotent launches (the `ClientToken` and the `ccm:worker-id` tag both find
//!   an earlier live instance); images by id or newest by name pattern; discovery
//!   filters; status checks (`initializing`, then `ok`); CloudWatch-like metrics that
//!   follow the load of the CML on the instance; per-region caps on active instances
//!   (`InsufficientCapacity`); a per-region token bucket in virtual time and fault
//!   switches (`Throttled`); EC2's errors for unknown ids and bad AMIs.
//! * **CML** ([`SimCml`], a [`ccm_core::ports::CmlClient`]): one server per instance
//!   at `sim://<instance-id>` ([`sim_endpoint`]; launched instances also carry it in
//!   their `ccm:cml-endpoint` tag). It is `Unreachable` unless the instance runs,
//!   `Starting` during its own boot delay, then available. Labs follow CML's state
//!   rules (import → start → converge → stop → wipe → delete; wipe refused while
//!   started, delete only once stopped and wiped, 404 for unknown labs, 400 "Import
//!   failed." without `nodes:`, 400 "Cannot start lab." beyond the licence's node
//!   limit — 5 unlicensed, 20 registered by default). System stats follow running
//!   nodes; licensing registers asynchronously (a token containing `invalid` fails);
//!   lab operations and [`Simulation::record_user_activity`] leave telemetry events.
//! * **Faults** ([`Faults`]): error rates per API, throttling, capacity errors,
//!   unreachable CML, and real (tokio) latency for benches.
//! * **Kept worlds** ([`Simulation::kept_in`]): a world on the real clock saved to
//!   a JSON file ([`Simulation::save`], atomic replace, versioned by
//!   [`WORLD_FORMAT`]) and read back at the next start, so a simulated fleet
//!   outlives the process that runs it.
//! * **CML over HTTP** (feature `http`, on by default): [`http::CmlHttpServer`] serves
//!   one simulated CML server the way CML 2.9 does — same paths under `/api/v0`,
//!   status codes, `{"code","description"}` errors, bare-string token and state
//!   bodies, 204s, JWTs, optional self-signed TLS — so real CML clients (ccm-cml, the
//!   official Python `virl2_client`) can be tested against it. The `cml-sim` binary
//!   runs one from the command line (`cml-sim --help`).
//!
//! Every call is counted per operation the way the real API bills it
//! ([`Simulation::cloud_calls`]): a describe over 1,000 ids is one
//! `DescribeInstances`, status checks take one call per 100 ids and metrics one
//! `GetMetricData` per 500 queries.
//!
//! ## Use
//! ```
//! use std::collections::BTreeMap;
//! use ccm_core::ids::{Region, WorkerId};
//! use ccm_core::ports::cloud::{CloudProvider, ImageSelector, InstanceState, LaunchRequest};
//! use ccm_core::ports::cml::CmlClient;
//! use ccm_sim::Simulation;
//!
//! # tokio_test_block(async {
//! let sim = Simulation::new(42);
//! let (cloud, cml) = (sim.cloud(), sim.cml());
//! let worker = WorkerId::from_u128(1);
//! let request = LaunchRequest {
//!     worker_id: worker,
//!     region: Region::new("us-east-1"),
//!     name: "worker-1".into(),
//!     image: ImageSelector::NamePattern("cml-2.9*".into()),
//!     instance_type: "m5zn.metal".into(),
//!     subnet_id: None,
//!     security_group_ids: vec![],
//!     key_name: None,
//!     iam_instance_profile: None,
//!     tags: BTreeMap::new(),
//!     detailed_monitoring: true,
//! };
//! let instance = cloud.launch(&request).await.unwrap();
//! assert_eq!(instance.state, InstanceState::Pending);
//! let endpoint = sim.cml_endpoint(worker, &instance.instance_id);
//! assert!(cml.system_information(&endpoint).await.is_err()); // still booting
//!
//! sim.advance_seconds(25 * 60).unwrap(); // 20 min EC2 boot + 5 min CML boot
//! let info = cml.system_information(&endpoint).await.unwrap();
//! assert!(info.ready);
//! assert_eq!(sim.cloud_calls().unwrap().get("RunInstances"), 1);
//! # });
//! # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! ## Invariants
//! * **Deterministic**: the same seed, configuration and sequence of calls at the
//!   same virtual times give identical answers (ids come from a seeded ChaCha
//!   stream, fault decisions from a separate one, metric noise from a hash of
//!   instance and time). Nothing reads the wall clock unless the simulation was
//!   built [`Simulation::with_clock`] on one.
//! * Nothing leaves `terminated`; a terminated instance is purged from every answer
//!   after a retention time (one hour by default).
//! * Launching for a worker that has a live (not terminated) instance returns that
//!   instance: one worker never has two live instances.
//! * Active instances (pending, running, stopping) of a region never exceed its cap.
//! * A failing call changes nothing (batches are validated before they apply).
//! * CML lab states only move along CML's rules; running licensed nodes never
//!   exceed the licence's node limit at the time a lab starts.
//! * A poisoned lock is reported as an error (`Unavailable` / a 500), never a panic.
#![warn(missing_docs)]

mod calls;
mod cloud;
mod cml;
mod config;
mod engine;
mod error;
mod faults;
mod hooks;
#[cfg(feature = "http")]
pub mod http;
mod rng;
mod saved;
pub mod scenarios;
mod simulation;
pub mod week;
mod world;

pub use calls::{CallCounts, DESCRIBE_PAGE, METRIC_QUERIES_PAGE, MUTATION_PAGE, STATUS_PAGE};
pub use cloud::SimCloud;
pub use cml::{endpoint_instance, sim_endpoint, sim_endpoint_url, SimCml, SIM_SCHEME};
pub use config::{
    CmlConfig, DelayConfig, ImageSpec, InstanceTypeSpec, NodeDefinitionSpec, RegionConfig,
    SimConfig, ThrottleConfig,
};
pub use engine::SimEngine;
pub use error::SimError;
pub use faults::Faults;
pub use hooks::{InjectedLab, SimLabNode};
pub use saved::WORLD_FORMAT;
pub use simulation::{Simulation, WorldOrigin};
