//! # ccm-assembly
//!
//! From a configuration to a running engine, for every program that runs one:
//! the `ccm` server (`ccm-http`) and the Python bindings (`ccm-py`). It names the
//! adapters (SQLite, PostgreSQL, memory; the simulator or AWS with real CML
//! servers) so that `ccm-core` does not, and it links no web server, so a program
//! that embeds the engine does not carry one.
//!
//! * [`config`] — TOML file + `CCM_*` environment, `*_file` secrets, checks with
//!   field paths (`ccm config check`).
//! * [`settings`] — the engine's settings, price table and lease timing in force.
//! * [`store`] — the configured store, seen through each port it serves.
//! * [`cloud`] — the cloud, CML and clock: a simulated world or AWS.
//! * [`engine`] — the fleet with its jobs registered, and this process's name in
//!   the engine's lease.
//!
//! Invariant: nothing here runs the engine or serves requests; it only builds.
//! Errors at the crate boundary are [`Error`].

pub mod cloud;
pub mod config;
pub mod engine;
pub mod error;
pub mod settings;
pub mod store;

pub use error::Error;
