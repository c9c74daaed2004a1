//! # ccm-store-postgres
//!
//! Will implement `ccm_core::ports::Store` over sqlx and PostgreSQL so several ccm
//! processes share one database (issue #3). It exposes nothing yet.
