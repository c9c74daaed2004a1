//! # ccm-py
//!
//! Will hold the pyo3 bindings published as the `ccm` Python package (issue #10). It
//! exposes nothing yet.
