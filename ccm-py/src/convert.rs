//! Plain Python values to JSON and back: the engine's records cross the boundary as
//! their JSON shape (the same the REST API returns), and arguments come in as the
//! same shape, so serde does the typing and its messages name the bad field.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::{Map, Number, Value};

use crate::error::BindingError;

/// Deepest nesting accepted, so a self-referencing list is an error, not a crash.
const MAX_DEPTH: usize = 64;

/// Converts a Python value made of `None`, `bool`, `int`, `float`, `str`,
/// `datetime`, lists, tuples and string-keyed dicts into JSON.
pub fn to_json(value: &Bound<'_, PyAny>) -> Result<Value, BindingError> {
    to_json_at(value, 0, "value")
}

fn to_json_at(value: &Bound<'_, PyAny>, depth: usize, at: &str) -> Result<Value, BindingError> {
    if depth > MAX_DEPTH {
        return Err(BindingError::input(at, "is nested too deeply"));
    }
    if value.is_none() {
        return Ok(Value::Null);
    }
    // `bool` first: Python's bool is a subclass of int.
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if value.is_instance_of::<PyInt>() {
        if let Ok(i) = value.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = value.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(BindingError::input(at, "is an integer out of range"));
    }
    if let Ok(f) = value.cast::<PyFloat>() {
        return Number::from_f64(f.value())
            .map(Value::Number)
            .ok_or_else(|| BindingError::input(at, "must be a finite number"));
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Value::String(s.extract::<String>()?));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = Map::new();
        for (key, item) in dict.iter() {
            let key: String = key
                .extract()
                .map_err(|_| BindingError::input(at, "has a key that is not a string"))?;
            let path = format!("{at}.{key}");
            let item = to_json_at(&item, depth + 1, &path)?;
            map.insert(key, item);
        }
        return Ok(Value::Object(map));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for (i, item) in value.try_iter()?.enumerate() {
            items.push(to_json_at(&item?, depth + 1, &format!("{at}[{i}]"))?);
        }
        return Ok(Value::Array(items));
    }
    // datetimes, UUIDs, paths and enums: their text form is what serde expects.
    if value.hasattr("isoformat")? {
        if value.getattr("tzinfo")?.is_none() {
            return Err(BindingError::input(
                at,
                "must be a timezone-aware datetime (naive times are ambiguous)",
            ));
        }
        let text: String = value.call_method0("isoformat")?.extract()?;
        return Ok(Value::String(text));
    }
    if let Ok(fspath) = value.getattr("__fspath__") {
        let text: String = fspath.call0()?.extract()?;
        return Ok(Value::String(text));
    }
    let type_name = value.get_type().name()?.to_string();
    if type_name == "UUID" {
        return Ok(Value::String(value.str()?.extract::<String>()?));
    }
    Err(BindingError::input(
        at,
        format!("has a value of type `{type_name}` that has no JSON form"),
    ))
}

/// Converts JSON into plain Python values (dicts, lists, str, int, float, bool, None).
pub fn to_python<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_python(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_python(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
