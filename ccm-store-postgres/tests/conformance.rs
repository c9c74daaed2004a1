//! The store conformance suite, concurrency included, against the real PostgreSQL
//! server, each test in a schema of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

ccm_core::store_conformance_tests!(common::PgFactory::new());
