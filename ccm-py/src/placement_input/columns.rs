//! Columnar input: a mapping from key to a column of equal length.
//!
//! Numeric columns are converted in bulk, without a Python object per value: a
//! buffer (numpy arrays, `array.array`) is read from its bytes, and a list or
//! tuple of numbers is first packed by `array.array` in one call. The bytes are
//! read a chunk of rows at a time into buffers reused from chunk to chunk, which
//! keeps the memory touched small (at 100k rows, faulting in fresh memory costs
//! as much as the conversion). A column or chunk that does not convert that way
//! (a `None`, a string, a negative count) is read value by value as the other
//! columns are, so its error names the row. Other columns (ids, strings, flags)
//! are read as a tuple — through `tolist()` for arrays and series, iteration for
//! other iterables.

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyMapping, PyMemoryView, PySlice, PyString, PyTuple};

use super::buffer::{decode_into, format_of, Format, Number};
use super::records::{Fields, Kind};
use super::values::Value;
use super::{Field, IdList};
use crate::error::BindingError;

/// Rows converted at a time: 64 KiB per numeric column.
const CHUNK: usize = 8192;

/// How a numeric column is converted in bulk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bulk {
    /// Amounts (`cpus`, `memory_gib`): any number, as `f64`.
    Floats,
    /// Counts (`nodes`, `ports`): non-negative integers, as `u64`.
    Counts,
}

enum Column<'py> {
    /// Values read one by one.
    Objects(Bound<'py, PyTuple>),
    /// A one-dimensional buffer in a format [`format_of`] reads (the column's own,
    /// or a list or tuple packed by `array.array`), converted a chunk at a time;
    /// `values` are the column as given, read value by value where a chunk does
    /// not convert.
    Buffer {
        bulk: Bulk,
        values: Bound<'py, PyAny>,
        view: Bound<'py, PyMemoryView>,
        format: Format,
    },
}

/// The columns of one collection, checked to be known and of equal length.
pub(super) struct Columns<'py> {
    py: Python<'py>,
    len: usize,
    /// Per field (indexed by `Field as usize`), its column if given.
    columns: Vec<Option<Column<'py>>>,
}

impl<'py> Columns<'py> {
    pub(super) fn open(mapping: &Bound<'py, PyMapping>, kind: &Kind) -> Result<Self, BindingError> {
        let mut columns: Vec<Option<Column<'py>>> = (0..Field::COUNT).map(|_| None).collect();
        // The length every column must have: the `id` column's, else the first's.
        let mut reference: Option<(Field, usize)> = None;
        let mut given = Vec::new();
        for item in mapping.items()?.iter() {
            let (key, values) = item.extract::<(Bound<'py, PyAny>, Bound<'py, PyAny>)>()?;
            let name = key.str()?.to_string();
            let at = format!("{}.{name}", kind.what);
            let field = kind
                .field(&name)
                .filter(|_| key.is_instance_of::<PyString>())
                .ok_or_else(|| BindingError::input(&at, kind.unknown("column")))?;
            let (column, len) = open_column(&values, kind.bulk(field)).ok_or_else(|| {
                BindingError::input(&at, "must be a list, tuple or array of values")
            })??;
            if field == Field::Id || reference.is_none() {
                reference = Some((field, len));
            }
            given.push((field, len));
            if let Some(slot) = columns.get_mut(field as usize) {
                *slot = Some(column);
            }
        }
        let (reference, len) = reference.unwrap_or((Field::Id, 0));
        if let Some((field, other)) = given.iter().find(|(_, l)| *l != len) {
            return Err(BindingError::input(
                format!("{}.{}", kind.what, field.name()),
                format!(
                    "has {other} values where {}.{} has {len}; columns must be of equal length",
                    kind.what,
                    reference.name()
                ),
            ));
        }
        Ok(Self {
            py: mapping.py(),
            len,
            columns,
        })
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// `read` on every row in order, errors naming `what` (`requests.cpus[3]`),
    /// and the `id` column when `with_ids` (every row must have an id).
    pub(super) fn each(
        &self,
        what: &'static str,
        with_ids: bool,
        mut read: impl FnMut(&ColumnRow<'_, 'py>) -> Result<(), BindingError>,
    ) -> Result<IdList, BindingError> {
        let ids = match self.columns.get(Field::Id as usize) {
            Some(Some(Column::Objects(ids))) if with_ids => Some(ids),
            _ => None,
        };
        let mut chunk = Chunk {
            start: 0,
            numbers: (0..Field::COUNT).map(|_| Numbers::default()).collect(),
        };
        for start in (0..self.len).step_by(CHUNK) {
            let end = self.len.min(start.saturating_add(CHUNK));
            chunk.start = start;
            for (column, numbers) in self.columns.iter().zip(chunk.numbers.iter_mut()) {
                numbers.fill(column.as_ref(), start, end);
            }
            for index in start..end {
                let row = ColumnRow {
                    columns: self,
                    chunk: &chunk,
                    what,
                    index,
                };
                read(&row)?;
                // Only looked at: the ids are handed on as the column.
                let has_id = match ids {
                    Some(ids) => !ids.get_borrowed_item(index)?.is_none(),
                    None => !with_ids,
                };
                if !has_id {
                    return Err(row.error(Field::Id, "is required"));
                }
            }
        }
        Ok(match ids {
            Some(ids) => IdList::Column(ids.clone().unbind()),
            None => IdList::Objects(Vec::new()),
        })
    }
}

/// The numbers of one chunk of rows, per field.
struct Chunk {
    start: usize,
    numbers: Vec<Numbers>,
}

/// A numeric column's values for one chunk, when they converted in bulk.
#[derive(Default)]
struct Numbers {
    /// Which of the buffers holds the chunk (none: read value by value).
    bulk: Option<Bulk>,
    floats: Vec<f64>,
    counts: Vec<u64>,
}

impl Numbers {
    /// Converts rows `start..end` of `column`, reusing the buffers.
    fn fill(&mut self, column: Option<&Column<'_>>, start: usize, end: usize) {
        self.floats.clear();
        self.counts.clear();
        self.bulk = None;
        if let Some(Column::Buffer {
            bulk, view, format, ..
        }) = column
        {
            if self.decode(*bulk, view, *format, start, end) {
                self.bulk = Some(*bulk);
            }
        }
    }

    /// Rows `start..end` of a buffer; false if one does not convert.
    fn decode(
        &mut self,
        bulk: Bulk,
        view: &Bound<'_, PyMemoryView>,
        format: Format,
        start: usize,
        end: usize,
    ) -> bool {
        let Some(bytes) = part(view, start, end) else {
            return false;
        };
        let data = bytes.as_bytes();
        match bulk {
            Bulk::Floats => decode_into(data, format, &mut self.floats, |n| match n {
                Number::Float(x) => Some(x),
                Number::Signed(i) => Some(i as f64),
                Number::Unsigned(u) => Some(u as f64),
            }),
            Bulk::Counts => decode_into(data, format, &mut self.counts, |n| match n {
                Number::Float(_) => None,
                Number::Signed(i) => u64::try_from(i).ok(),
                Number::Unsigned(u) => Some(u),
            }),
        }
    }
}

/// Rows `start..end` of a buffer, as bytes.
fn part<'py>(
    view: &Bound<'py, PyMemoryView>,
    start: usize,
    end: usize,
) -> Option<Bound<'py, PyBytes>> {
    let py = view.py();
    let slice = PySlice::new(
        py,
        isize::try_from(start).ok()?,
        isize::try_from(end).ok()?,
        1,
    );
    view.get_item(slice)
        .ok()?
        .call_method0(intern!(py, "tobytes"))
        .ok()?
        .cast_into::<PyBytes>()
        .ok()
}

/// One row of columns.
pub(super) struct ColumnRow<'a, 'py> {
    columns: &'a Columns<'py>,
    chunk: &'a Chunk,
    what: &'static str,
    index: usize,
}

impl<'py> Fields<'py> for ColumnRow<'_, 'py> {
    fn py(&self) -> Python<'py> {
        self.columns.py
    }

    fn index(&self) -> usize {
        self.index
    }

    #[inline(always)]
    fn get(&self, field: Field) -> Result<Option<Value<'py>>, BindingError> {
        let object = |values: &Bound<'py, PyAny>| -> PyResult<Option<Value<'py>>> {
            Ok(Some(values.get_item(self.index)?)
                .filter(|v| !v.is_none())
                .map(Value::Object))
        };
        let at = self.index.wrapping_sub(self.chunk.start);
        let numbers = self.chunk.numbers.get(field as usize);
        Ok(match self.columns.columns.get(field as usize) {
            Some(Some(Column::Objects(tuple))) => Some(tuple.get_item(self.index)?)
                .filter(|v| !v.is_none())
                .map(Value::Object),
            Some(Some(Column::Buffer { values, .. })) => match numbers {
                Some(n) if n.bulk == Some(Bulk::Floats) => {
                    n.floats.get(at).copied().map(Value::Float)
                }
                Some(n) if n.bulk == Some(Bulk::Counts) => {
                    n.counts.get(at).copied().map(Value::Count)
                }
                _ => object(values)?,
            },
            _ => None,
        })
    }

    /// `requests.cpus[3]`.
    fn path(&self, name: &str) -> String {
        format!("{}.{name}[{}]", self.what, self.index)
    }
}

/// A column and its length; `None` for what is not a column (a string, a
/// mapping, a number).
fn open_column<'py>(
    values: &Bound<'py, PyAny>,
    bulk: Option<Bulk>,
) -> Option<PyResult<(Column<'py>, usize)>> {
    if values.is_instance_of::<PyString>()
        || values.is_instance_of::<PyBytes>()
        || values.cast::<PyMapping>().is_ok()
    {
        return None;
    }
    if let Some(bulk) = bulk {
        let packed = if values.is_instance_of::<PyList>() || values.is_instance_of::<PyTuple>() {
            packed(values, bulk)
        } else {
            Some(values.clone())
        };
        if let Some(column) = packed.and_then(|p| buffer(values, &p, bulk)) {
            return Some(Ok(column));
        }
    }
    as_list(values).map(|list| {
        list.map(|list| {
            let tuple = list.to_tuple();
            let len = tuple.len();
            (Column::Objects(tuple), len)
        })
    })
}

/// A list or tuple of numbers packed by `array.array` in one call: as `Q` (the
/// quickest), else — for amounts that are not all non-negative integers — `d`.
fn packed<'py>(values: &Bound<'py, PyAny>, bulk: Bulk) -> Option<Bound<'py, PyAny>> {
    let py = values.py();
    let array = py
        .import(intern!(py, "array"))
        .ok()?
        .getattr(intern!(py, "array"))
        .ok()?;
    let codes: &[&str] = match bulk {
        Bulk::Floats => &["Q", "d"],
        Bulk::Counts => &["Q"],
    };
    // `fromlist` reads a list without a reference per item: quicker than the
    // constructor.
    let list = values.cast::<PyList>().ok();
    codes.iter().find_map(|code| match list {
        Some(list) => {
            let packed = array.call1((*code,)).ok()?;
            packed.call_method1(intern!(py, "fromlist"), (list,)).ok()?;
            Some(packed)
        }
        None => array.call1((*code, values)).ok(),
    })
}

/// `values` read through `packed`, a one-dimensional buffer whose format
/// [`format_of`] reads, and its length.
fn buffer<'py>(
    values: &Bound<'py, PyAny>,
    packed: &Bound<'py, PyAny>,
    bulk: Bulk,
) -> Option<(Column<'py>, usize)> {
    let py = values.py();
    let view = PyMemoryView::from(packed).ok()?;
    if view
        .getattr(intern!(py, "ndim"))
        .ok()?
        .extract::<usize>()
        .ok()?
        != 1
    {
        return None;
    }
    let format = view
        .getattr(intern!(py, "format"))
        .ok()?
        .extract::<String>()
        .ok()?;
    let size = view
        .getattr(intern!(py, "itemsize"))
        .ok()?
        .extract::<usize>()
        .ok()?;
    let format = format_of(&format, size)?;
    let len = view.len().ok()?;
    let column = Column::Buffer {
        bulk,
        values: values.clone(),
        view,
        format,
    };
    Some((column, len))
}

/// The values as a list: a list as is, a tuple copied, `tolist()` for numpy
/// arrays, pandas series and `array.array` (one call in C), else by iteration.
fn as_list<'py>(values: &Bound<'py, PyAny>) -> Option<PyResult<Bound<'py, PyList>>> {
    let py = values.py();
    if let Ok(list) = values.cast::<PyList>() {
        return Some(Ok(list.clone()));
    }
    if let Ok(tuple) = values.cast::<PyTuple>() {
        return Some(PyList::new(py, tuple.iter()));
    }
    if let Ok(Some(tolist)) = values.getattr_opt(intern!(py, "tolist")) {
        return match tolist.call0() {
            Ok(list) => list.cast_into::<PyList>().ok().map(Ok),
            Err(error) => Some(Err(error)),
        };
    }
    let items = values.try_iter().ok()?;
    Some(
        items
            .collect::<PyResult<Vec<_>>>()
            .and_then(|items| PyList::new(py, items)),
    )
}
