//! One view of a collection of records, given as rows or as columns.
//!
//! Rows are any iterable of dicts or objects. Columns are a dict (or any
//! `Mapping`) from key to a column of equal length, read once by
//! [`super::columns`]; records index into them.
//!
//! Keys outside a kind's fields are refused, naming the key and the accepted ones:
//! a dict's keys, a column's name, and for objects the names that can be listed —
//! a dataclass's fields, `__slots__`, a named tuple's `_fields` and the public
//! entries of other objects' instance `__dict__` (see [`super::object`]).

use std::cell::{Cell, OnceCell};
use std::rc::Rc;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyMapping, PyString};

use super::columns::{Bulk, Columns};
use super::object::{Lookup, TypePlan, TypePlans};
use super::values::{Read, Value};
use super::Field;
use super::IdList;
use crate::error::BindingError;

/// A kind of record: the collection's name in error paths and its fields.
pub(crate) struct Kind {
    /// `workers`, `requests` or `price_table`.
    pub what: &'static str,
    /// The accepted keys in groups (kinds share groups), in the order error
    /// messages list them.
    pub fields: &'static [&'static [Field]],
    /// Fields read as amounts (any number), converted in bulk from columns.
    pub amounts: &'static [Field],
    /// Fields read as counts (non-negative integers), converted in bulk from columns.
    pub counts: &'static [Field],
}

impl Kind {
    /// Every accepted field.
    pub(super) fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        self.fields.iter().flat_map(|group| group.iter().copied())
    }

    /// The field spelt `name`, if this kind accepts it.
    pub(super) fn field(&self, name: &str) -> Option<Field> {
        self.fields().find(|f| f.name() == name)
    }

    /// How a column of `field` converts in bulk, if it is numeric.
    pub(super) fn bulk(&self, field: Field) -> Option<Bulk> {
        if self.amounts.contains(&field) {
            Some(Bulk::Floats)
        } else if self.counts.contains(&field) {
            Some(Bulk::Counts)
        } else {
            None
        }
    }

    /// "is not a known {noun}; accepted: id, cpus, …".
    pub(super) fn unknown(&self, noun: &str) -> String {
        let names: Vec<&str> = self.fields().map(|f| f.name()).collect();
        format!("is not a known {noun}; accepted: {}", names.join(", "))
    }
}

/// Field names as Python strings, interned once per call.
pub(super) struct Keys<'py> {
    py: Python<'py>,
    names: Vec<Bound<'py, PyString>>,
}

impl<'py> Keys<'py> {
    fn new(py: Python<'py>) -> Self {
        let names = Field::ALL
            .iter()
            .map(|f| PyString::intern(py, f.name()))
            .collect();
        Self { py, names }
    }

    pub(super) fn get(&self, field: Field) -> Option<&Bound<'py, PyString>> {
        self.names.get(field as usize)
    }
}

enum Shape<'py> {
    Rows(Bound<'py, PyAny>),
    Columns(Columns<'py>),
}

/// A collection of records of one kind.
pub(crate) struct Records<'k, 'py> {
    kind: &'k Kind,
    keys: Keys<'py>,
    shape: Shape<'py>,
}

impl<'k, 'py> Records<'k, 'py> {
    /// Rows, or columns when `source` is a mapping (its columns checked here).
    pub(crate) fn open(source: &Bound<'py, PyAny>, kind: &'k Kind) -> Result<Self, BindingError> {
        let shape = match source.cast::<PyMapping>() {
            Ok(mapping) => Shape::Columns(Columns::open(mapping, kind)?),
            Err(_) => Shape::Rows(source.clone()),
        };
        Ok(Self {
            kind,
            keys: Keys::new(source.py()),
            shape,
        })
    }

    /// How many records there are, if known beforehand (for capacities).
    pub(crate) fn len_hint(&self) -> usize {
        match &self.shape {
            Shape::Columns(columns) => columns.len(),
            Shape::Rows(rows) => rows.len().unwrap_or(0),
        }
    }

    /// `reader` called on every record in order, and the records' ids (none for
    /// a kind without `id`, which each record must have otherwise); each row's
    /// keys are checked once it is read (columns were checked at `open`).
    pub(crate) fn each(&self, reader: &mut impl Reader<'py>) -> Result<IdList, BindingError> {
        let with_ids = self.kind.fields().any(|f| f == Field::Id);
        let rows = match &self.shape {
            Shape::Columns(columns) => {
                return columns.each(self.kind.what, with_ids, |row| reader.read(row));
            }
            Shape::Rows(rows) => rows,
        };
        let mut plans = TypePlans::new(rows.py());
        let mut ids = Vec::with_capacity(if with_ids { self.len_hint() } else { 0 });
        for (index, object) in rows.try_iter()?.enumerate() {
            let row = Row {
                records: self,
                index,
                view: View::of(object?, &mut plans, self)?,
                found: Cell::new(0),
            };
            reader.read(&row)?;
            if with_ids {
                ids.push(row.required(Field::Id)?.unbind());
            }
            row.reject_unknown()?;
        }
        Ok(IdList::Objects(ids))
    }

    pub(super) fn kind(&self) -> &Kind {
        self.kind
    }

    pub(super) fn keys(&self) -> &Keys<'py> {
        &self.keys
    }
}

/// A record's fields, whatever holds them.
pub(crate) trait Fields<'py> {
    fn py(&self) -> Python<'py>;

    /// The record's position in its collection.
    fn index(&self) -> usize;

    /// The field's value; absent and `None` are the same.
    fn get(&self, field: Field) -> Result<Option<Value<'py>>, BindingError>;

    /// Where `name` of this record is, for error messages.
    fn path(&self, name: &str) -> String;

    /// An input error about `field` of this record.
    fn error(&self, field: Field, reason: impl Into<String>) -> BindingError {
        BindingError::input(self.path(field.name()), reason)
    }
}

/// Reads records of one kind, the same code for rows and for columns (each
/// compiled on its own, so a column's row reads its values directly).
pub(crate) trait Reader<'py> {
    fn read<R: Fields<'py>>(&mut self, record: &R) -> Result<(), BindingError>;
}

/// Where a row's values come from.
enum View<'py> {
    /// A dict, read by key.
    Dict(Bound<'py, PyDict>),
    /// An object, read by attribute or from its instance dict (fetched when first
    /// needed) as its type's plan says.
    Object {
        object: Bound<'py, PyAny>,
        dict: OnceCell<Option<Bound<'py, PyDict>>>,
        plan: Rc<TypePlan>,
    },
}

impl<'py> View<'py> {
    fn of(
        object: Bound<'py, PyAny>,
        plans: &mut TypePlans<'py>,
        records: &Records<'_, 'py>,
    ) -> Result<Self, BindingError> {
        match object.cast_into::<PyDict>() {
            Ok(dict) => Ok(View::Dict(dict)),
            Err(error) => {
                let object = error.into_inner();
                let plan = plans.plan(&object, records)?;
                Ok(View::Object {
                    object,
                    dict: OnceCell::new(),
                    plan,
                })
            }
        }
    }
}

/// An object's instance `__dict__`, if it has one.
fn instance_dict<'a, 'py>(
    object: &Bound<'py, PyAny>,
    dict: &'a OnceCell<Option<Bound<'py, PyDict>>>,
) -> Option<&'a Bound<'py, PyDict>> {
    dict.get_or_init(|| {
        object
            .getattr(intern!(object.py(), "__dict__"))
            .ok()
            .and_then(|d| d.cast_into::<PyDict>().ok())
    })
    .as_ref()
}

/// One row of a collection: a dict or an object.
struct Row<'a, 'py> {
    records: &'a Records<'a, 'py>,
    index: usize,
    view: View<'py>,
    /// Fields found in a dict (one bit each), to notice unknown keys without
    /// walking every dict.
    found: Cell<u32>,
}

impl<'py> Fields<'py> for Row<'_, 'py> {
    fn py(&self) -> Python<'py> {
        self.records.keys.py
    }

    fn index(&self) -> usize {
        self.index
    }

    fn get(&self, field: Field) -> Result<Option<Value<'py>>, BindingError> {
        let Some(key) = self.records.keys.get(field) else {
            return Ok(None);
        };
        let value = match &self.view {
            View::Dict(dict) => self.counted(field, dict.get_item(key)?),
            View::Object { object, dict, plan } => match plan.lookup(field) {
                Lookup::Absent => None,
                Lookup::Attr => object.getattr_opt(key)?,
                lookup => {
                    let in_dict = match instance_dict(object, dict) {
                        Some(dict) => self.counted(field, dict.get_item(key)?),
                        None => None,
                    };
                    match in_dict {
                        None if lookup == Lookup::InDictElseAttr => object.getattr_opt(key)?,
                        in_dict => in_dict,
                    }
                }
            },
        };
        Ok(value.filter(|v| !v.is_none()).map(Value::Object))
    }

    /// `requests[3].cpus`.
    fn path(&self, name: &str) -> String {
        format!("{}[{}].{name}", self.records.kind.what, self.index)
    }
}

impl<'py> Row<'_, 'py> {
    fn counted(&self, field: Field, value: Option<Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
        if value.is_some() {
            self.found.set(self.found.get() | 1 << (field as u32));
        }
        value
    }

    /// Refuses a key, slot or public attribute outside the kind's fields.
    fn reject_unknown(&self) -> Result<(), BindingError> {
        let (dict, noun, private_ok) = match &self.view {
            View::Dict(dict) => (dict, "key", false),
            View::Object { object, dict, plan } => {
                if let Some(name) = plan.unknown() {
                    return Err(self.unknown(name, "attribute"));
                }
                if !plan.check_dict() {
                    return Ok(());
                }
                match instance_dict(object, dict) {
                    Some(dict) => (dict, "attribute", true),
                    None => return Ok(()),
                }
            }
        };
        // Every key was read: nothing to walk.
        if dict.len() <= self.found.get().count_ones() as usize {
            return Ok(());
        }
        for key in dict.keys().iter() {
            let name = key.str()?.to_string();
            let known =
                key.is_instance_of::<PyString>() && self.records.kind.field(&name).is_some();
            let ignored = private_ok && name.starts_with('_');
            if !known && !ignored {
                return Err(self.unknown(&name, noun));
            }
        }
        Ok(())
    }

    fn unknown(&self, name: &str, noun: &str) -> BindingError {
        BindingError::input(self.path(name), self.records.kind.unknown(noun))
    }
}
