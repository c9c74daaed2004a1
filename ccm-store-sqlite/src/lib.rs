//! # ccm-store-sqlite
//!
//! Will implement `ccm_core::ports::Store` over sqlx and SQLite, the embedded default
//! (issue #3). It exposes nothing yet: until then, use `ccm_core::store::MemoryStore`.
