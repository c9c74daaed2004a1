//! # ccm-cml
//!
//! Will implement `ccm_core::ports::CmlClient` over reqwest for the CML REST API
//! (issue #5). It exposes nothing yet: until then, use the simulated CML of `ccm-sim`.
