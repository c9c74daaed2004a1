//! # ccm-examples
//!
//! Runnable programs that embed the ccm crates; see the `[[example]]` entries in
//! this crate's `Cargo.toml` and run them with `cargo run -p ccm-examples --example NAME`.
