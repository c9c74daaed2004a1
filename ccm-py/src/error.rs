//! The one error type of the bindings and its translation into the Python
//! exception hierarchy of `ccm.errors` (`CcmError` and its subclasses).
//!
//! Each exception carries `message`, a stable `code` (the REST API's) and a
//! `details` dict, built here from the structured Rust error so Python code can
//! branch on fields rather than parse text.

use ccm_core::ports::store::StoreError;
use ccm_core::CoreError;
use ccm_core::DomainError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{json, Value};

/// Everything a binding call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum BindingError {
    /// An engine use case failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The store failed outside a use case (event reads).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Opening the engine failed (configuration, store, adapters).
    #[error(transparent)]
    Open(#[from] ccm_assembly::Error),
    /// A Python argument was not acceptable.
    #[error("invalid {field}: {reason}")]
    Input {
        /// Which argument (dotted path).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// This engine could not take the engine lease (another process holds it, or
    /// the store did not answer): it does not drive.
    #[error(
        "this engine does not lead (lease `{lease}`, held by {}), so it does not drive",
        holder.as_deref().unwrap_or("nobody known: the store may not have answered")
    )]
    NotLeading {
        /// The lease's name.
        lease: String,
        /// Who holds it, when the store says.
        holder: Option<String>,
    },
    /// The call is not possible on this engine (closed, or not simulated).
    #[error("{0}")]
    Unsupported(String),
    /// A Python error raised while reading arguments.
    #[error("{0}")]
    Python(#[from] PyErr),
}

impl From<DomainError> for BindingError {
    fn from(error: DomainError) -> Self {
        BindingError::Core(error.into())
    }
}

impl BindingError {
    /// Shorthand for [`BindingError::Input`].
    pub fn input(field: impl Into<String>, reason: impl Into<String>) -> Self {
        BindingError::Input {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// The `ccm.errors` class name, the stable code and the details.
    fn parts(&self) -> (&'static str, &'static str, Value) {
        match self {
            BindingError::Core(error) => core_parts(error),
            BindingError::Store(error) => store_parts(error),
            BindingError::Open(error) => open_parts(error),
            BindingError::Input { field, reason } => (
                "InvalidInput",
                "validation_failed",
                json!({"field": field, "reason": reason}),
            ),
            BindingError::NotLeading { lease, holder } => (
                "Conflict",
                "not_leading",
                json!({"lease": lease, "holder": holder}),
            ),
            BindingError::Unsupported(_) => ("Unsupported", "unsupported", json!({})),
            BindingError::Python(_) => ("CcmError", "python_error", json!({})),
        }
    }
}

fn core_parts(error: &CoreError) -> (&'static str, &'static str, Value) {
    let code = error.code();
    match error {
        CoreError::Domain(domain) => domain_parts(domain),
        CoreError::Store(store) => store_parts(store),
        CoreError::Cloud(cloud) => ("CloudError", code, json!({"kind": variant_name(cloud)})),
        CoreError::Cml(cml) => ("CmlError", code, json!({"kind": variant_name(cml)})),
    }
}

fn domain_parts(error: &DomainError) -> (&'static str, &'static str, Value) {
    let code = error.code();
    match error {
        DomainError::InvalidTransition(t) => (
            "InvalidTransition",
            code,
            json!({"machine": t.machine, "from": t.from, "to": t.to}),
        ),
        DomainError::Replay(_) => ("CorruptEventLog", code, json!({})),
        DomainError::Validation { field, reason } => (
            "InvalidInput",
            code,
            json!({"field": field, "reason": reason}),
        ),
        DomainError::NotFound { kind, id } => ("NotFound", code, json!({"kind": kind, "id": id})),
        DomainError::AlreadyExists { kind, id, existing } => (
            "Conflict",
            code,
            json!({"kind": kind, "id": id, "existing": existing}),
        ),
        DomainError::CapacityExceeded {
            worker,
            lablet,
            dimension,
        } => (
            "CapacityExceeded",
            code,
            json!({"worker": worker, "lablet": lablet, "dimension": dimension}),
        ),
        DomainError::WorkerInUse { worker, lablets } => (
            "Conflict",
            code,
            json!({"worker": worker, "lablets": lablets}),
        ),
        DomainError::LabInUse {
            worker,
            lab,
            lablet,
        } => (
            "Conflict",
            code,
            json!({"worker": worker, "lab": lab, "lablet": lablet}),
        ),
    }
}

fn store_parts(error: &StoreError) -> (&'static str, &'static str, Value) {
    match error {
        StoreError::Conflict {
            kind,
            id,
            expected,
            actual,
        } => (
            "Conflict",
            "conflict",
            json!({"kind": format!("{kind:?}"), "id": id, "expected": expected, "actual": actual}),
        ),
        StoreError::AlreadyExists { kind, id } => (
            "Conflict",
            "already_exists",
            json!({"kind": kind, "id": id}),
        ),
        StoreError::EventsGone {
            after,
            first_sequence,
        } => (
            "EventsGone",
            "gone",
            json!({
                "after": after,
                "first_sequence": first_sequence,
                "resume_after": first_sequence.saturating_sub(1),
            }),
        ),
        other => (
            "StoreError",
            "store_error",
            json!({"kind": variant_name(other)}),
        ),
    }
}

fn open_parts(error: &ccm_assembly::Error) -> (&'static str, &'static str, Value) {
    match error {
        ccm_assembly::Error::Config(problems) => (
            "InvalidInput",
            "invalid_config",
            json!({"problems": problems
                .0
                .iter()
                .map(|p| json!({"path": p.path, "reason": p.reason}))
                .collect::<Vec<_>>()}),
        ),
        ccm_assembly::Error::Store(store) => store_parts(store),
        ccm_assembly::Error::Core(core) => core_parts(core),
        ccm_assembly::Error::Adapter { adapter, .. } => {
            ("CcmError", "adapter_error", json!({"adapter": adapter}))
        }
        ccm_assembly::Error::Io { .. } => ("CcmError", "open_failed", json!({})),
    }
}

/// The variant name from a `Debug` rendering (`Throttled { .. }` → `Throttled`):
/// the port errors have many variants and no code of their own.
fn variant_name(error: &impl std::fmt::Debug) -> String {
    let text = format!("{error:?}");
    text.split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or_default()
        .to_owned()
}

impl From<BindingError> for PyErr {
    fn from(error: BindingError) -> PyErr {
        if let BindingError::Python(inner) = error {
            return inner;
        }
        let (class, code, details) = error.parts();
        let message = error.to_string();
        Python::attach(|py| {
            raise_as(py, class, code, &message, &details).unwrap_or_else(|failure| failure)
        })
    }
}

/// Builds the `ccm.errors` exception; if that module cannot be imported (a broken
/// install), a `RuntimeError` with the same message still reaches the caller.
fn raise_as(
    py: Python<'_>,
    class: &str,
    code: &str,
    message: &str,
    details: &Value,
) -> Result<PyErr, PyErr> {
    let module = py
        .import("ccm.errors")
        .map_err(|_| PyRuntimeError::new_err(message.to_owned()))?;
    let details = crate::convert::to_python(py, details)?;
    let details = details
        .cast_into::<PyDict>()
        .unwrap_or_else(|_| PyDict::new(py));
    let instance = module.getattr(class)?.call1((message, code, details))?;
    Ok(PyErr::from_value(instance))
}
