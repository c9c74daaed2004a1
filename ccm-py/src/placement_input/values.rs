//! Typed values of a record's fields: amounts, counts, flags, licence kinds,
//! versions and port ranges, each error naming the field where it was read. A
//! value is a Python object, or a number a column gave in bulk; either converts
//! the same way and fails with the same message.

use std::str::FromStr;

use ccm_core::resources::{PortRange, Resources};
use ccm_core::time::{from_unix_seconds, Timestamp};
use ccm_core::version::SemVer;
use ccm_core::worker::LicenceKind;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString};

use super::records::Fields;
use super::Field;
use crate::error::BindingError;

/// 9999-12-31T23:59:59Z, the last second a moment may name.
const LAST_SECOND: f64 = 253_402_300_799.0;

/// 2^53: the largest integer an f64 holds exactly.
const EXACT_F64: f64 = 9_007_199_254_740_992.0;

/// A field's value: a Python object, or a number read in bulk from a column.
pub(crate) enum Value<'py> {
    Object(Bound<'py, PyAny>),
    Float(f64),
    Count(u64),
}

impl<'py> Value<'py> {
    #[inline(always)]
    fn object(&self) -> Option<&Bound<'py, PyAny>> {
        match self {
            Value::Object(object) => Some(object),
            _ => None,
        }
    }

    #[inline(always)]
    fn float(&self) -> Option<f64> {
        match self {
            Value::Object(object) => object.extract().ok(),
            Value::Float(x) => Some(*x),
            // Counts above 2^53 round, as Python's `float()` does.
            #[allow(clippy::cast_precision_loss)]
            Value::Count(n) => Some(*n as f64),
        }
    }

    #[inline(always)]
    fn count(&self) -> Option<u64> {
        match self {
            Value::Object(object) => object.extract().ok(),
            Value::Float(_) => None,
            Value::Count(n) => Some(*n),
        }
    }
}

/// Typed reads of any record's fields.
pub(crate) trait Read<'py>: Fields<'py> {
    /// The field's value as a Python object, which must be there.
    #[inline(always)]
    fn required(&self, field: Field) -> Result<Bound<'py, PyAny>, BindingError> {
        let py = self.py();
        match self.get(field)? {
            Some(Value::Object(object)) => Ok(object),
            Some(Value::Float(x)) => Ok(PyFloat::new(py, x).into_any()),
            Some(Value::Count(n)) => Ok(PyInt::new(py, n).into_any()),
            None => Err(self.error(field, "is required")),
        }
    }

    /// A required number (`hourly_usd`).
    fn number(&self, field: Field) -> Result<f64, BindingError> {
        self.get(field)?
            .ok_or_else(|| self.error(field, "is required"))?
            .float()
            .ok_or_else(|| self.error(field, "must be a number"))
    }

    #[inline(always)]
    fn bool_or(&self, field: Field, default: bool) -> Result<bool, BindingError> {
        match self.get(field)? {
            Some(v) => v
                .object()
                .and_then(|o| o.extract::<bool>().ok())
                .ok_or_else(|| self.error(field, "must be a bool")),
            None => Ok(default),
        }
    }

    #[inline(always)]
    fn u64_or(&self, field: Field, default: u64) -> Result<u64, BindingError> {
        match self.get(field)? {
            Some(v) => v
                .count()
                .ok_or_else(|| self.error(field, "must be a non-negative integer")),
            None => Ok(default),
        }
    }

    #[inline(always)]
    fn u32_or(&self, field: Field, default: u32) -> Result<u32, BindingError> {
        let value = self.u64_or(field, u64::from(default))?;
        u32::try_from(value).map_err(|_| self.error(field, "is too large"))
    }

    /// A non-negative amount given in whole units (may be fractional), as an integer
    /// count of `scale` sub-units: `cpus=1.5` → 1500 milli-vCPU.
    #[inline(always)]
    fn scaled(&self, field: Field, scale: f64) -> Result<Option<u64>, BindingError> {
        let Some(v) = self.get(field)? else {
            return Ok(None);
        };
        let number = v
            .float()
            .ok_or_else(|| self.error(field, "must be a number"))?;
        let scaled = number * scale;
        // Below 2^53 (and not NaN): the cast truncates exactly, and rounding half
        // away from zero is done by hand (`f64::round` is a libm call, per value).
        if !(0.0..EXACT_F64).contains(&scaled) {
            return Err(self.error(field, "must be a finite, non-negative number"));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let whole = scaled as u64;
        #[allow(clippy::cast_precision_loss)]
        let half_or_more = scaled - whole as f64 >= 0.5;
        Ok(Some(whole + u64::from(half_or_more)))
    }

    /// `cpus` (vCPU) or `cpu_millis`, `memory_gib` or `memory_mib`, and `storage_gib`.
    #[inline(always)]
    fn resources(&self) -> Result<Resources, BindingError> {
        let cpu_millis = match self.scaled(Field::Cpus, 1000.0)? {
            Some(m) => m,
            None => self.u64_or(Field::CpuMillis, 0)?,
        };
        let memory_mib = match self.scaled(Field::MemoryGib, 1024.0)? {
            Some(m) => m,
            None => self.u64_or(Field::MemoryMib, 0)?,
        };
        Ok(Resources {
            cpu_millis,
            memory_mib,
            storage_gib: self.u64_or(Field::StorageGib, 0)?,
        })
    }

    #[inline(always)]
    fn string(&self, field: Field) -> Result<Option<String>, BindingError> {
        match self.get(field)? {
            Some(v) => match v.object().and_then(|o| o.cast::<PyString>().ok()) {
                Some(s) => Ok(Some(s.extract::<String>()?)),
                None => Err(self.error(field, "must be a string")),
            },
            None => Ok(None),
        }
    }

    #[inline(always)]
    fn licence(&self, field: Field) -> Result<Option<LicenceKind>, BindingError> {
        self.string(field)?
            .map(|text| {
                serde_json::from_value(serde_json::Value::String(text.trim().to_lowercase()))
                    .map_err(|_| {
                        self.error(
                            field,
                            format!(
                                "`{text}` is not a licence kind (personal, enterprise, evaluation)"
                            ),
                        )
                    })
            })
            .transpose()
    }

    #[inline(always)]
    fn version(&self, field: Field) -> Result<Option<SemVer>, BindingError> {
        self.string(field)?
            .map(|text| {
                SemVer::from_str(&text)
                    .map_err(|_| self.error(field, format!("`{text}` is not a version")))
            })
            .transpose()
    }

    /// A moment: a timezone-aware `datetime`, or seconds since the Unix epoch.
    /// Naive datetimes are refused: reading them in local time would place by
    /// the wrong hour on any machine not set to UTC.
    fn moment(&self, field: Field) -> Result<Option<Timestamp>, BindingError> {
        let Some(v) = self.get(field)? else {
            return Ok(None);
        };
        let seconds = match v.object() {
            // `True` is an int in Python: read as seconds it would be 1970.
            Some(object) if object.is_instance_of::<PyBool>() => {
                return Err(self.error(
                    field,
                    "must be a datetime or seconds since the epoch, not a bool",
                ));
            }
            Some(object) if object.hasattr("tzinfo")? => {
                if object.getattr("tzinfo")?.is_none() {
                    return Err(self.error(field, "must be a timezone-aware datetime"));
                }
                object.call_method0("timestamp")?.extract::<f64>().ok()
            }
            _ => v.float(),
        }
        .ok_or_else(|| self.error(field, "must be a datetime or seconds since the epoch"))?;
        if !(0.0..=LAST_SECOND).contains(&seconds) {
            return Err(self.error(field, "must fall between 1970 and 9999"));
        }
        // In range and not NaN (checked above), so the cast is exact after floor.
        #[allow(clippy::cast_possible_truncation)]
        Ok(Some(from_unix_seconds(seconds.floor() as i64)))
    }

    /// Free port ranges: a list of `(first, last)` pairs, inclusive.
    fn port_ranges(&self, field: Field) -> Result<Option<Vec<PortRange>>, BindingError> {
        let Some(v) = self.get(field)? else {
            return Ok(None);
        };
        let pairs: Vec<(u16, u16)> = v
            .object()
            .and_then(|o| o.extract().ok())
            .ok_or_else(|| self.error(field, "must be a list of (first, last) port pairs"))?;
        if let Some((first, last)) = pairs.iter().find(|(first, last)| first > last) {
            return Err(self.error(
                field,
                format!("range ({first}, {last}) ends before it starts"),
            ));
        }
        Ok(Some(
            pairs
                .into_iter()
                .map(|(first, last)| PortRange { first, last })
                .collect(),
        ))
    }
}

impl<'py, R: Fields<'py>> Read<'py> for R {}
