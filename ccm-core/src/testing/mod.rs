//! Conformance suites for the ports (feature `test-support`). Every adapter of a
//! port — in-memory, simulated, real — runs the same suite from its own tests.

pub mod cloud;
pub mod cml;
pub mod hooked_store;
pub mod kv;
pub mod metric_series;
pub mod store;
