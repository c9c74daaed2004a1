//! How to read the fields of objects of one type, worked out once per type.
//!
//! Python finds `obj.name` in a data descriptor of the type (a property, a slot),
//! else in the instance `__dict__`, else in the type (a class default), else
//! through `__getattr__`. A dataclass's fields are read with `getattr` (CPython
//! reads them from the instance's inline values without building its `__dict__`).
//! Other names, and every name of other types with ordinary attribute access, are
//! read where Python would find them: from the instance dict when no data
//! descriptor of that name exists — a dict lookup, and no `AttributeError` raised
//! and swallowed when the attribute is absent — and with `getattr` otherwise.
//!
//! Unknown names are refused where they can be listed: a dataclass's fields, the
//! public `__slots__` along the MRO and a named tuple's `_fields`, per type (the
//! plan keeps the first unknown one); the public instance-dict entries of other
//! objects, per record ([`super::records`]). Properties, class attributes and what
//! `__getattr__` may answer cannot be listed and are not checked, nor are
//! attributes added to a dataclass instance beyond its fields.

use std::rc::Rc;

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyString, PyTuple, PyType};

use super::records::Records;
use super::Field;
use crate::error::BindingError;

/// Where a field of an object is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Lookup {
    /// Nowhere: the attribute cannot exist.
    Absent,
    /// In the instance dict only.
    InDict,
    /// In the instance dict, else on the type (a class default).
    InDictElseAttr,
    /// With `getattr` (a data descriptor, or custom attribute access).
    Attr,
}

/// The reading plan of one type.
pub(super) struct TypePlan {
    ty: Py<PyType>,
    check_dict: bool,
    lookups: Vec<Lookup>,
    unknown: Option<String>,
}

impl TypePlan {
    /// Where `field` is read.
    pub(super) fn lookup(&self, field: Field) -> Lookup {
        self.lookups
            .get(field as usize)
            .copied()
            .unwrap_or(Lookup::Attr)
    }

    /// Whether each instance's `__dict__` is checked for unknown names.
    pub(super) fn check_dict(&self) -> bool {
        self.check_dict
    }

    /// The first declared public slot or named-tuple field not accepted.
    pub(super) fn unknown(&self) -> Option<&str> {
        self.unknown.as_deref()
    }
}

/// The plans of the types met so far in one collection (usually one type).
pub(super) struct TypePlans<'py> {
    plans: Vec<Rc<TypePlan>>,
    object_type: Bound<'py, PyType>,
}

impl<'py> TypePlans<'py> {
    pub(super) fn new(py: Python<'py>) -> Self {
        Self {
            plans: Vec::new(),
            object_type: py.get_type::<PyAny>(),
        }
    }

    /// The plan of `object`'s type.
    pub(super) fn plan(
        &mut self,
        object: &Bound<'py, PyAny>,
        records: &Records<'_, 'py>,
    ) -> Result<Rc<TypePlan>, BindingError> {
        let ty = object.get_type();
        if let Some(plan) = self.plans.iter().find(|p| p.ty.is(&ty)) {
            return Ok(Rc::clone(plan));
        }
        let plan = Rc::new(self.work_out(object, ty, records)?);
        self.plans.push(Rc::clone(&plan));
        Ok(plan)
    }

    fn work_out(
        &self,
        object: &Bound<'py, PyAny>,
        ty: Bound<'py, PyType>,
        records: &Records<'_, 'py>,
    ) -> Result<TypePlan, BindingError> {
        let py = ty.py();
        let mro = ty.mro();
        let has_dict = ty
            .getattr(intern!(py, "__dictoffset__"))?
            .extract::<isize>()?
            != 0;
        let ordinary = match class_attribute(&mro, intern!(py, "__getattribute__"))? {
            Some((owner, _)) => owner.is(&self.object_type),
            None => false,
        } && class_attribute(&mro, intern!(py, "__getattr__"))?.is_none();
        let fields = dataclass_fields(object, &mro)?;
        let mut lookups = vec![Lookup::Attr; Field::COUNT];
        for field in records.kind().fields() {
            let (Some(key), Some(lookup)) =
                (records.keys().get(field), lookups.get_mut(field as usize))
            else {
                continue;
            };
            let declared = fields
                .as_ref()
                .is_some_and(|f| f.iter().any(|n| n == field.name()));
            *lookup = match class_attribute(&mro, key)? {
                _ if !ordinary || declared => Lookup::Attr,
                None if has_dict => Lookup::InDict,
                None => Lookup::Absent,
                Some((_, attr)) if !has_dict || is_data_descriptor(&attr)? => Lookup::Attr,
                Some(_) => Lookup::InDictElseAttr,
            };
        }
        let check_dict = has_dict && fields.is_none();
        let mut declared = declared_names(object, &mro)?;
        declared.extend(fields.unwrap_or_default());
        let unknown = declared
            .into_iter()
            .find(|name| !name.starts_with('_') && records.kind().field(name).is_none());
        Ok(TypePlan {
            ty: ty.unbind(),
            check_dict,
            lookups,
            unknown,
        })
    }
}

/// A dataclass's field names (`dataclasses.fields`), `None` for other types.
fn dataclass_fields<'py>(
    object: &Bound<'py, PyAny>,
    mro: &Bound<'py, PyTuple>,
) -> PyResult<Option<Vec<String>>> {
    let py = object.py();
    if class_attribute(mro, intern!(py, "__dataclass_fields__"))?.is_none() {
        return Ok(None);
    }
    let fields = py
        .import(intern!(py, "dataclasses"))?
        .call_method1(intern!(py, "fields"), (object,))?;
    let mut names = Vec::new();
    for field in fields.try_iter()? {
        names.push(field?.getattr(intern!(py, "name"))?.extract::<String>()?);
    }
    Ok(Some(names))
}

/// `name` as the type's MRO defines it, with the class defining it, without
/// calling descriptors.
fn class_attribute<'py>(
    mro: &Bound<'py, PyTuple>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    for class in mro.iter() {
        let namespace = class.getattr(intern!(class.py(), "__dict__"))?;
        if namespace.contains(name)? {
            let value = namespace.get_item(name)?;
            return Ok(Some((class, value)));
        }
    }
    Ok(None)
}

/// A descriptor with `__set__` or `__delete__` overrides the instance dict.
fn is_data_descriptor(attr: &Bound<'_, PyAny>) -> PyResult<bool> {
    let py = attr.py();
    let ty = attr.get_type();
    Ok(ty.hasattr(intern!(py, "__set__"))? || ty.hasattr(intern!(py, "__delete__"))?)
}

/// The names a type declares for its instances: `__slots__` along the MRO and a
/// named tuple's `_fields`.
fn declared_names<'py>(
    object: &Bound<'py, PyAny>,
    mro: &Bound<'py, PyTuple>,
) -> PyResult<Vec<String>> {
    let py = object.py();
    let mut names = Vec::new();
    for class in mro.iter() {
        let namespace = class.getattr(intern!(py, "__dict__"))?;
        let slots = intern!(py, "__slots__");
        if namespace.contains(slots)? {
            names.extend(strings(&namespace.get_item(slots)?)?);
        }
    }
    if object.is_instance_of::<PyTuple>() {
        if let Some((_, fields)) = class_attribute(mro, intern!(py, "_fields"))? {
            names.extend(strings(&fields)?);
        }
    }
    Ok(names)
}

/// A string, or the strings of an iterable (other items skipped).
fn strings(value: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(vec![text.to_string()]);
    }
    let mut out = Vec::new();
    for item in value.try_iter()? {
        if let Ok(text) = item?.cast::<PyString>() {
            out.push(text.to_string());
        }
    }
    Ok(out)
}
