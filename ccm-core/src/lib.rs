//! # ccm-core
//!
//! The heart of ccm: the domain model of a fleet of AWS EC2 workers hosting Cisco
//! Modeling Labs, its explicit state machines, the placement engine, the ports
//! (traits) through which everything else is reached, and an in-memory store.
//!
//! This crate does no I/O and names no adapter. Adapters (`ccm-aws`, `ccm-cml`,
//! `ccm-store-sqlite`, `ccm-store-postgres`, `ccm-sim`) implement the traits in
//! [`ports`]; binaries (`ccm-http`) and bindings (`ccm-py`) wire them together.
//!
//! ## Model
//! * [`worker::Worker`] — an instance with a spec (desired status, idle settings) and
//!   a status (lifecycle mapped from EC2, CML service, licence, metrics by source,
//!   activity, capacity).
//! * [`lab::LabRecord`] — a lab mirrored from a worker's CML.
//! * [`definition::LabletDefinition`] — a topology and its resource needs.
//! * [`lablet::Lablet`] — a timed lab session placed on a worker.
//!
//! Every command on a resource returns [`event::DomainEvent`]s and applies them
//! through the same `apply` used for replay, so a resource rebuilt from its log
//! equals the one the commands produced. Illegal moves are
//! [`state_machine::TransitionError`]s. Commands refuse with a [`DomainError`],
//! which names no port; use cases fail with a [`CoreError`], which adds the
//! ports' errors. Outside the event-sourced model (events embed the aggregates
//! they create) the modules' dependencies form no cycle; a test holds it.
#![warn(missing_docs)]

pub mod api_key;
pub mod catalog;
pub mod definition;
pub mod domain_error;
pub mod error;
pub mod event;
pub mod fleet;
pub mod ids;
pub mod job;
pub mod lab;
pub mod lablet;
pub mod meta;
pub mod placement;
pub mod ports;
pub mod replay;
pub mod resources;
pub mod runtime;
pub mod secret;
pub mod state_machine;
pub mod store;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod time;
pub mod topology;
pub mod version;
pub mod worker;

pub use domain_error::DomainError;
pub use error::CoreError;
