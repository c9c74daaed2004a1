//! The Python bindings' records (`ccm-py/python/ccm/models.py`) are generated
//! from the OpenAPI document, so the classes a Python user reads and the schemas
//! the document publishes cannot drift: every schema reachable from what the
//! engine answers becomes a class (objects), a `str` enum (string enums) or a
//! tagged family (the `Event` discriminator, internally tagged `oneOf`s), and
//! every `date-time` a `datetime`.
//!
//! The test regenerates the file and fails when the checked-in copy differs,
//! writing the new one (commit it), as rust-analyzer's sourcegen tests do.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

/// The schemas the engine's operations answer with; everything they refer to
/// is generated too.
const ROOTS: &[&str] = &[
    "Worker",
    "LabletDefinition",
    "Lablet",
    "LabRecord",
    "JobRecord",
    "TriggerOutcome",
    "Event",
    "ImportReport",
    "WorkerDeletion",
    "RefreshOutcome",
    "IdleStatus",
    "MetricPoint",
    "PlacementPreview",
    "CapacityForecast",
    "CostReport",
];

/// Properties that read a nested field: (class, name, path, annotation, doc).
const SHORTCUTS: &[(&str, &str, &[&str], &str, &str)] = &[
    ("Worker", "name", &["meta", "name"], "str", "The worker's name (``meta.name``)."),
    (
        "Worker",
        "lifecycle",
        &["status", "lifecycle"],
        "LifecycleState",
        "The observed lifecycle state (``status.lifecycle``): ``running``, ``stopped``…",
    ),
    (
        "LabletDefinition",
        "name",
        &["meta", "name"],
        "str",
        "The definition's name (``meta.name``).",
    ),
    (
        "Lablet",
        "phase",
        &["status", "phase"],
        "LabletPhase",
        "The lablet's phase (``status.phase``): ``pending``, ``ready``, ``terminated``…",
    ),
    (
        "Lablet",
        "worker_id",
        &["status", "worker_id"],
        "Optional[str]",
        "The worker it is bound to (``status.worker_id``), if any.",
    ),
    (
        "Lablet",
        "access",
        &["status", "access"],
        "List[LabletAccess]",
        "How students reach its nodes' consoles (``status.access``): one entry per node given a port when its lab was imported, empty before and after.",
    ),
];

/// What `repr` shows, where the first fields would not say enough.
const SHOWN: &[(&str, &[&str])] = &[
    ("Worker", &["id", "name", "region", "lifecycle"]),
    ("ObjectMeta", &["name", "version", "generation"]),
    ("LabletDefinition", &["id", "name", "version", "active"]),
    ("Lablet", &["id", "phase", "worker_id"]),
    ("LabRecord", &["cml_lab_id", "title", "state"]),
    ("JobRecord", &["name", "next_run_at", "paused"]),
    ("Event", &["sequence", "type", "subject"]),
];

/// Names earlier releases of the bindings used, kept as aliases.
const ALIASES: &[(&str, &str)] = &[
    ("Meta", "ObjectMeta"),
    ("Lab", "LabRecord"),
    ("Job", "JobRecord"),
];

/// Python's keywords: a field named like one is read as `name_`.
const KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.rsplit('/').next()
}

fn refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = ref_name(value) {
                found.push(name.to_owned());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

/// Every schema reachable from [`ROOTS`].
fn reachable(schemas: &serde_json::Map<String, Value>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<String> = ROOTS.iter().map(|r| (*r).to_owned()).collect();
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone()) {
            let schema = schemas
                .get(&name)
                .unwrap_or_else(|| panic!("{name} is not in the document"));
            refs(schema, &mut stack);
        }
    }
    seen
}

/// `Pascal` spelling of an API string (`not_running` → `NotRunning`).
fn pascal(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A Python enum member name for an API string (`shutting-down` → `SHUTTING_DOWN`).
fn member(text: &str) -> String {
    let name: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name
    }
}

fn docstring(text: &str, indent: &str) -> String {
    let text = text
        .trim()
        .replace('\\', "\\\\")
        .replace("\"\"\"", "\\\"\\\"\\\"");
    if !text.contains('\n') {
        return format!("{indent}\"\"\"{text}\"\"\"\n");
    }
    let mut out = format!("{indent}\"\"\"");
    for (n, line) in text.lines().enumerate() {
        if n > 0 && !line.is_empty() {
            out.push_str(indent);
        }
        out.push_str(line);
        out.push('\n');
    }
    format!("{out}{indent}\"\"\"\n")
}

/// A field's description as `#:` comment lines.
fn field_comment(schema: &Value, indent: &str) -> String {
    let text = schema
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| format!("{indent}#: {line}\n"))
        .collect()
}

/// What a generated schema becomes.
enum Kind {
    /// A `str` enum.
    Enum(Vec<String>),
    /// A record with fields.
    Record,
    /// A family of records told apart by `tag`: (tag value, variant class).
    Family {
        tag: String,
        variants: Vec<(String, String)>,
    },
}

/// A record class to write.
struct Class {
    name: String,
    base: String,
    doc: String,
    /// JSON name → schema.
    fields: BTreeMap<String, Value>,
    required: BTreeSet<String>,
    tag: Option<String>,
    variants: Vec<(String, String)>,
}

struct Generator<'a> {
    schemas: &'a serde_json::Map<String, Value>,
    kinds: BTreeMap<String, Kind>,
    classes: Vec<Class>,
}

impl<'a> Generator<'a> {
    fn new(schemas: &'a serde_json::Map<String, Value>) -> Self {
        Self {
            schemas,
            kinds: BTreeMap::new(),
            classes: Vec::new(),
        }
    }

    fn object_class(name: &str, base: &str, schema: &Value, fallback_doc: &str) -> Class {
        let fields: BTreeMap<String, Value> = schema["properties"]
            .as_object()
            .map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let required = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Class {
            name: name.to_owned(),
            base: base.to_owned(),
            doc: schema["description"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| fallback_doc.to_owned()),
            fields,
            required,
            tag: None,
            variants: Vec::new(),
        }
    }

    /// The tag of a `oneOf` of inline objects that each fix one string
    /// property to one value (a serde internally tagged enum).
    fn inline_tag(schema: &Value) -> Option<String> {
        let variants = schema["oneOf"].as_array()?;
        let first = variants.first()?["properties"].as_object()?;
        first
            .iter()
            .find(|(name, _)| {
                variants.iter().all(|v| {
                    v["properties"][name.as_str()]["enum"]
                        .as_array()
                        .is_some_and(|e| e.len() == 1)
                })
            })
            .map(|(name, _)| name.clone())
    }

    /// Decides what every reachable schema becomes and gathers the classes.
    fn plan(&mut self, names: &BTreeSet<String>) {
        for name in names {
            let schema = &self.schemas[name];
            if let Some(values) = schema["enum"].as_array() {
                let values = values
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect();
                self.kinds.insert(name.clone(), Kind::Enum(values));
            } else if let Some(discriminator) = schema.get("discriminator") {
                let tag = discriminator["propertyName"].as_str().unwrap().to_owned();
                let variants: Vec<(String, String)> = discriminator["mapping"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(value, r)| {
                        (
                            value.clone(),
                            r.as_str().unwrap().rsplit('/').next().unwrap().to_owned(),
                        )
                    })
                    .collect();
                // The family's own fields: those every variant has alike (the
                // envelope), then the tag and a `data` of any class.
                let mut common: Option<BTreeMap<String, Value>> = None;
                for (_, variant) in &variants {
                    let here: BTreeMap<String, Value> = self.schemas[variant]["properties"]
                        .as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    common = Some(match common {
                        None => here,
                        Some(c) => c
                            .into_iter()
                            .filter(|(k, v)| here.get(k) == Some(v))
                            .collect(),
                    });
                }
                let mut base = Self::object_class(name, "Record", schema, name);
                base.fields = common.unwrap_or_default();
                base.fields.insert(
                    tag.clone(),
                    serde_json::json!({"type": "string", "description": "Which member of the family this is."}),
                );
                base.fields.insert(
                    "data".into(),
                    serde_json::json!({"description": "What happened; its class depends on the type."}),
                );
                base.required = base.fields.keys().cloned().collect();
                base.tag = Some(tag.clone());
                base.variants = variants.clone();
                self.classes.push(base);
                self.kinds
                    .insert(name.clone(), Kind::Family { tag, variants });
            } else if let Some(tag) = Self::inline_tag(schema) {
                let mut variants = Vec::new();
                let mut base = Self::object_class(name, "Record", schema, name);
                base.fields = BTreeMap::from([(
                    tag.clone(),
                    serde_json::json!({"type": "string", "description": "Which member of the family this is."}),
                )]);
                base.required = BTreeSet::from([tag.clone()]);
                let mut members = Vec::new();
                for variant in schema["oneOf"].as_array().unwrap() {
                    let value = variant["properties"][tag.as_str()]["enum"][0]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    let class = format!("{name}{}", pascal(&value));
                    members.push(Self::object_class(
                        &class,
                        name,
                        variant,
                        &format!("`{tag}` is `{value}`."),
                    ));
                    variants.push((value, class));
                }
                base.tag = Some(tag.clone());
                base.variants = variants.clone();
                self.classes.push(base);
                self.classes.extend(members);
                self.kinds
                    .insert(name.clone(), Kind::Family { tag, variants });
            } else {
                self.kinds.insert(name.clone(), Kind::Record);
            }
        }
        // Plain records, and the variants of discriminated families, which
        // subclass their family.
        let family_of: BTreeMap<String, String> = self
            .kinds
            .iter()
            .filter(|(_, kind)| matches!(kind, Kind::Family { .. }))
            .flat_map(|(family, kind)| match kind {
                Kind::Family { variants, .. } => variants
                    .iter()
                    .map(|(_, v)| (v.clone(), family.clone()))
                    .collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect();
        for name in names {
            if matches!(self.kinds[name], Kind::Record) {
                let base = family_of
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| "Record".into());
                let class = Self::object_class(
                    name,
                    &base,
                    &self.schemas[name],
                    &format!("The `{name}` schema of the REST API."),
                );
                self.classes.push(class);
            }
        }
        // A member of a family states only what it adds to its base.
        let bases: BTreeMap<String, BTreeMap<String, Value>> = self
            .classes
            .iter()
            .map(|c| (c.name.clone(), c.fields.clone()))
            .collect();
        for class in &mut self.classes {
            if let Some(inherited) = bases.get(&class.base) {
                class
                    .fields
                    .retain(|name, schema| inherited.get(name) != Some(schema));
            }
        }
    }

    /// The Python annotation and converter of a field's schema.
    fn python_type(&self, schema: &Value) -> (String, Option<String>) {
        if let Some(name) = ref_name(schema) {
            return match self.kinds.get(name) {
                Some(_) => (name.to_owned(), Some(name.to_owned())),
                None => ("Any".into(), None),
            };
        }
        if let Some(options) = schema["oneOf"].as_array() {
            let others: Vec<&Value> = options.iter().filter(|o| o["type"] != "null").collect();
            if others.len() == 1 && others.len() < options.len() {
                let (annotation, converter) = self.python_type(others[0]);
                return (format!("Optional[{annotation}]"), converter);
            }
            return ("Any".into(), None);
        }
        let (kind, nullable) = match &schema["type"] {
            Value::String(t) => (t.as_str(), false),
            Value::Array(types) => {
                let named: Vec<&str> = types
                    .iter()
                    .filter_map(Value::as_str)
                    .filter(|t| *t != "null")
                    .collect();
                match named.as_slice() {
                    [one] => (*one, named.len() < types.len()),
                    _ => return ("Any".into(), None),
                }
            }
            _ => return ("Any".into(), None),
        };
        let (annotation, converter) = match kind {
            "string" if schema["format"] == "date-time" => {
                ("datetime".to_owned(), Some("datetime".to_owned()))
            }
            "string" => ("str".into(), None),
            "integer" => ("int".into(), None),
            "number" => ("float".into(), None),
            "boolean" => ("bool".into(), None),
            "array" => {
                let (item, converter) = self.python_type(&schema["items"]);
                (
                    format!("List[{item}]"),
                    converter.map(|c| format!("_list({c})")),
                )
            }
            "object" => match schema.get("additionalProperties") {
                Some(values @ Value::Object(_)) => {
                    let (value, converter) = self.python_type(values);
                    (
                        format!("Dict[str, {value}]"),
                        converter.map(|c| format!("_map({c})")),
                    )
                }
                _ => ("Dict[str, Any]".into(), None),
            },
            _ => ("Any".into(), None),
        };
        if nullable {
            (format!("Optional[{annotation}]"), converter)
        } else {
            (annotation, converter)
        }
    }

    fn attribute(json_name: &str) -> String {
        if KEYWORDS.contains(&json_name) {
            format!("{json_name}_")
        } else {
            json_name.to_owned()
        }
    }

    fn write_enum(out: &mut String, name: &str, doc: &str, values: &[String]) {
        writeln!(out, "\n\nclass {name}(WireEnum):").unwrap();
        out.push_str(&docstring(doc, "    "));
        out.push('\n');
        for value in values {
            writeln!(out, "    {} = {value:?}", member(value)).unwrap();
        }
    }

    fn write_class(&self, out: &mut String, class: &Class, converters: &mut String) {
        writeln!(out, "\n\nclass {}({}):", class.name, class.base).unwrap();
        out.push_str(&docstring(&class.doc, "    "));
        let mut types = Vec::new();
        let mut names = Vec::new();
        if !class.fields.is_empty() {
            out.push('\n');
        }
        for (json_name, schema) in &class.fields {
            let (mut annotation, converter) = self.python_type(schema);
            if json_name == "data" && class.tag.is_some() {
                annotation = "Any".into();
            }
            if !class.required.contains(json_name) && !annotation.starts_with("Optional[") {
                annotation = format!("Optional[{annotation}]");
            }
            out.push_str(&field_comment(schema, "    "));
            let attribute = Self::attribute(json_name);
            writeln!(out, "    {attribute}: {annotation}").unwrap();
            if attribute != *json_name {
                names.push(format!("{attribute:?}: {json_name:?}"));
            }
            if let Some(converter) = converter {
                types.push(format!("{json_name:?}: {converter}"));
            }
        }
        if !names.is_empty() {
            writeln!(out, "    _names = {{{}}}", names.join(", ")).unwrap();
        }
        if let Some((_, shown)) = SHOWN.iter().find(|(c, _)| *c == class.name) {
            let shown: Vec<String> = shown.iter().map(|s| format!("{s:?}")).collect();
            writeln!(out, "    _shown = ({},)", shown.join(", ")).unwrap();
        }
        if let Some(tag) = &class.tag {
            writeln!(out, "    _tag = {tag:?}").unwrap();
        }
        for (owner, name, path, annotation, doc) in SHORTCUTS {
            if *owner == class.name {
                writeln!(
                    out,
                    "\n    @property\n    def {name}(self) -> {annotation}:"
                )
                .unwrap();
                out.push_str(&docstring(doc, "        "));
                writeln!(
                    out,
                    "        return self._path({})",
                    path.iter()
                        .map(|p| format!("{p:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
                .unwrap();
            }
        }
        if !types.is_empty() {
            writeln!(
                converters,
                "{}._types = {{{}}}",
                class.name,
                types.join(", ")
            )
            .unwrap();
        }
        if !class.variants.is_empty() {
            let variants: Vec<String> = class
                .variants
                .iter()
                .map(|(value, variant)| format!("{value:?}: {variant}"))
                .collect();
            writeln!(
                converters,
                "{}._variants = {{{}}}",
                class.name,
                variants.join(", ")
            )
            .unwrap();
        }
    }

    fn write(&self) -> String {
        let mut out = String::from(
            "\"\"\"The records :class:`ccm.Engine` returns: the REST API's wire types, one class\n\
             per schema of its OpenAPI document (``GET /api/v1/openapi.json``).\n\
             \n\
             Generated from the document by ``ccm-http/tests/it/python_models.rs``; do not\n\
             edit (the test rewrites this file when the document changes). Records are\n\
             read-only views over the JSON the engine answers: timestamps read as aware\n\
             :class:`datetime.datetime`, enumerations as :class:`str` enums, nested objects\n\
             as records, and ``to_dict()`` gives the JSON back. An event or a tagged answer\n\
             is read as the class its tag names (``Event(...)`` of a ``worker.created.v1``\n\
             is a :class:`WorkerCreatedEvent`).\n\
             \"\"\"\n\
             \n\
             from __future__ import annotations\n\
             \n\
             from datetime import datetime\n\
             from typing import Any, Dict, List, Optional\n\
             \n\
             from ._record import Record, WireEnum, _list, _map, parse_time\n",
        );
        let mut all: Vec<String> = vec!["Record".into(), "WireEnum".into(), "parse_time".into()];
        for (name, kind) in &self.kinds {
            if let Kind::Enum(values) = kind {
                let doc = self.schemas[name]["description"].as_str().unwrap_or(name);
                Self::write_enum(&mut out, name, doc, values);
                all.push(name.clone());
            }
        }
        // Bases before the classes that extend them.
        let mut written = BTreeSet::from(["Record".to_owned()]);
        let mut converters = String::new();
        let mut pending: Vec<&Class> = self.classes.iter().collect();
        pending.sort_by(|a, b| a.name.cmp(&b.name));
        while !pending.is_empty() {
            let before = pending.len();
            pending.retain(|class| {
                if written.contains(&class.base) {
                    self.write_class(&mut out, class, &mut converters);
                    written.insert(class.name.clone());
                    all.push(class.name.clone());
                    false
                } else {
                    true
                }
            });
            assert!(
                pending.len() < before,
                "classes without a base: {}",
                pending.len()
            );
        }
        out.push_str("\n\n# Aliases kept from earlier releases.\n");
        for (alias, target) in ALIASES {
            writeln!(out, "{alias} = {target}").unwrap();
            all.push((*alias).to_owned());
        }
        out.push_str("\n# How each field reads, once every class exists.\n");
        out.push_str(&converters);
        all.sort();
        out.push_str("\n__all__ = [\n");
        for name in all {
            writeln!(out, "    {name:?},").unwrap();
        }
        out.push_str("]\n");
        out
    }
}

/// The module text for `document`.
fn python_models(document: &Value) -> String {
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let mut generator = Generator::new(schemas);
    generator.plan(&reachable(schemas));
    generator.write()
}

fn models_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ccm-py/python/ccm/models.py")
}

#[test]
fn the_python_records_are_generated_from_the_document() {
    let generated = python_models(&ccm_http::openapi::document_value());
    let path = models_path();
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if checked_in != generated {
        std::fs::write(&path, &generated).unwrap();
        panic!(
            "{} was not what the OpenAPI document gives; it has been regenerated: review and commit it",
            path.display()
        );
    }
}

#[test]
fn every_answer_schema_becomes_a_class_and_timestamps_datetimes() {
    let generated = python_models(&ccm_http::openapi::document_value());
    for root in ROOTS {
        assert!(
            generated.contains(&format!("\nclass {root}(")),
            "{root} missing"
        );
    }
    assert!(generated.contains("class LifecycleState(WireEnum):"));
    assert!(generated.contains("    created_at: datetime\n"));
    assert!(generated.contains("class WorkerCreatedEvent(Event):"));
    assert!(generated.contains("class JobScheduleEvery(JobSchedule):"));
    // `from` is a keyword: read as `from_`.
    assert!(generated.contains("    from_: LabletPhase\n"));
}

#[test]
fn a_schema_change_changes_the_records() {
    let mut document = ccm_http::openapi::document_value();
    let before = python_models(&document);
    document["components"]["schemas"]["Timeslot"]["properties"]["start"]["format"] = "".into();
    let after = python_models(&document);
    assert_ne!(before, after);
    assert!(before.contains("Timeslot._types = {\"end\": datetime, \"start\": datetime}"));
    assert!(after.contains("Timeslot._types = {\"end\": datetime}"));
}
