//! # ccm-benches
//!
//! Criterion benches live in `benches/`; this library holds the fixtures they share
//! (synthetic fleets and demand) so every bench measures the same inputs.

pub mod fleet;
