//! # ccm-py
//!
//! The pyo3 extension `ccm._native` behind the Python package `ccm` (built with
//! maturin, abi3 for Python ≥ 3.9). The Python package (`python/ccm`) wraps it
//! with typed domain classes, the exception hierarchy and the asyncio API.
//!
//! * [`place`] — `ccm.place`: ccm-core's placement on plain Python objects, the
//!   GIL released while it works; [`placement_input`] reads rows or columns
//!   (refusing unknown keys), [`placement_output`] holds the plan classes.
//! * [`engine`] — `ccm.Engine`: the embedded engine, assembled with the server's
//!   assembly (`ccm-assembly`) from a `ccm_assembly::config::Config` built by
//!   [`settings`]; a virtual clock for the simulator. The web server is not
//!   linked. [`ops`] lists its use cases.
//! * [`week`] — `ccm.simulate_week`: the simulated week under one policy.
//! * [`convert`] — Python values ↔ JSON, the shape records cross in.
//! * [`error`] — the crate's error type and its mapping onto `ccm.errors`.

pub mod convert;
pub mod engine;
pub mod error;
pub mod ops;
pub mod place;
pub mod placement_input;
pub mod placement_output;
pub mod settings;
pub mod week;

use pyo3::prelude::*;

/// The extension module `ccm._native`.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(place::place, m)?)?;
    m.add_function(wrap_pyfunction!(place::native_place_seconds, m)?)?;
    m.add_function(wrap_pyfunction!(week::simulate_week, m)?)?;
    m.add_class::<engine::Engine>()?;
    m.add_class::<placement_output::Plan>()?;
    m.add_class::<placement_output::Assignment>()?;
    m.add_class::<placement_output::Unplaced>()?;
    m.add_class::<placement_output::ScaleUp>()?;
    m.add_class::<placement_output::ScaleUpLine>()?;
    let aliases: Vec<(&str, &str)> = settings::ALIASES.to_vec();
    m.add("SETTING_ALIASES", aliases)?;
    // The crate's version is the package's (`dynamic = ["version"]` in pyproject).
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
