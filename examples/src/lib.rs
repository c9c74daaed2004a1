//! # ccm-examples
//!
//! Runnable programs that embed the ccm crates; see the `[[example]]` entries in
//! this crate's `Cargo.toml` and run them with `cargo run -p ccm-examples --example NAME`.
//!
//! The examples that need more than a page keep their logic here, so that the
//! tests in `examples/tests/` run the same code the programs do:
//! * [`embed`] — ccm's HTTP API mounted inside another axum service, behind that
//!   service's own authentication (`examples/embed_server.rs`);
//! * [`custom_cloud`] — another cloud behind ccm-core's `CloudProvider` port, and an
//!   engine driving a worker on it (`examples/custom_cloud.rs`).

pub mod custom_cloud;
pub mod embed;
