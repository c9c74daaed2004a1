//! Stored bodies without `null` members.
//!
//! A record's `None` fields are most of a fresh worker's JSON (about 40 % of its
//! bytes), and a body's bytes are what a batch commit on SQLite is bound by: each
//! worker row used to fill most of a 4 KiB page. Leaving the `null` members out is
//! lossless for the records ccm stores: serde reads a missing `Option` field as
//! `None`, and bodies written with their `null`s still read as before, so no
//! migration is needed. Only members of objects are left out; a `null` inside an
//! array keeps its place. The bodies are never parsed by SQL (the columns that
//! filters use are written beside them), and records whose meaning depends on a
//! present `null` (free-form JSON such as event payloads) are not written this way.
//!
//! The formatter works while serde_json streams the value: a member's key is held
//! back until its value starts, then written or dropped, so there is no
//! intermediate `serde_json::Value`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// `value` as compact JSON whose objects have no `null` members.
pub fn to_string_without_nulls<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(1024);
    let mut serializer =
        serde_json::Serializer::with_formatter(&mut out, NullMemberSkipper::default());
    value.serialize(&mut serializer)?;
    // Every byte came from serde_json's writer calls on UTF-8 text or ASCII.
    String::from_utf8(out).map_err(|e| serde::ser::Error::custom(e.to_string()))
}

/// A compact formatter that leaves out object members whose value is `null`.
#[derive(Default)]
struct NullMemberSkipper {
    /// For each open object, innermost last: whether a member was written yet
    /// (the next one needs a comma).
    objects: Vec<bool>,
    /// True between a key's start and its end: its bytes go to `held`.
    in_key: bool,
    /// The member's key and colon, held until its value shows whether it is `null`.
    held: Vec<u8>,
    /// True from the colon until the value's first write.
    holding: bool,
}

impl NullMemberSkipper {
    /// Writes the held key (after a comma when the object has members) before a
    /// value that is not `null`.
    fn release<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if !self.holding {
            return Ok(());
        }
        self.holding = false;
        if let Some(has_members) = self.objects.last_mut() {
            if *has_members {
                writer.write_all(b",")?;
            }
            *has_members = true;
        }
        writer.write_all(&self.held)?;
        self.held.clear();
        Ok(())
    }
}

/// Methods that write part of a scalar: into the held key while one is being
/// written, else to the output after the held key.
macro_rules! scalar_writes {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(
            fn $method<W: ?Sized + Write>(&mut self, writer: &mut W, value: $ty) -> io::Result<()> {
                if self.in_key {
                    return CompactFormatter.$method(&mut self.held, value);
                }
                self.release(writer)?;
                CompactFormatter.$method(writer, value)
            }
        )*
    };
}

/// Methods that write a fixed token of a string: the same routing.
macro_rules! token_writes {
    ($($method:ident),* $(,)?) => {
        $(
            fn $method<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
                if self.in_key {
                    return CompactFormatter.$method(&mut self.held);
                }
                self.release(writer)?;
                CompactFormatter.$method(writer)
            }
        )*
    };
}

impl Formatter for NullMemberSkipper {
    scalar_writes!(
        write_bool(bool),
        write_i8(i8),
        write_i16(i16),
        write_i32(i32),
        write_i64(i64),
        write_i128(i128),
        write_u8(u8),
        write_u16(u16),
        write_u32(u32),
        write_u64(u64),
        write_u128(u128),
        write_f32(f32),
        write_f64(f64),
        write_number_str(&str),
        write_string_fragment(&str),
        write_char_escape(CharEscape),
        write_raw_fragment(&str),
    );

    token_writes!(begin_string, end_string, begin_array);

    fn write_null<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        if self.holding {
            // The member is left out: its key was never written.
            self.holding = false;
            self.held.clear();
            return Ok(());
        }
        writer.write_all(b"null")
    }

    fn begin_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.release(writer)?;
        self.objects.push(false);
        writer.write_all(b"{")
    }

    fn end_object<W: ?Sized + Write>(&mut self, writer: &mut W) -> io::Result<()> {
        self.objects.pop();
        writer.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + Write>(
        &mut self,
        _writer: &mut W,
        _first: bool,
    ) -> io::Result<()> {
        // The comma waits with the key: whether one is needed depends on the
        // members written, not the members serialised.
        self.in_key = true;
        self.held.clear();
        Ok(())
    }

    fn end_object_key<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.in_key = false;
        Ok(())
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.held.push(b':');
        self.holding = true;
        Ok(())
    }

    fn end_object_value<W: ?Sized + Write>(&mut self, _writer: &mut W) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde_json::{json, Value};

    use super::*;

    /// `value` with every `null` object member removed, at any depth.
    fn without_null_members(value: Value) -> Value {
        match value {
            Value::Object(members) => Value::Object(
                members
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k, without_null_members(v)))
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.into_iter().map(without_null_members).collect())
            }
            other => other,
        }
    }

    #[test]
    fn null_members_are_left_out_and_commas_follow_the_members_written() {
        let value = json!({
            "a": null, "b": 1, "c": null, "d": {"x": null}, "e": [null, {"y": null, "z": "q"}],
            "f": null
        });
        assert_eq!(
            to_string_without_nulls(&value).unwrap(),
            r#"{"b":1,"d":{},"e":[null,{"z":"q"}]}"#
        );
    }

    #[test]
    fn an_object_of_nulls_is_empty_and_a_bare_null_stays() {
        assert_eq!(
            to_string_without_nulls(&json!({"a": null, "b": null})).unwrap(),
            "{}"
        );
        assert_eq!(to_string_without_nulls(&json!(null)).unwrap(), "null");
        assert_eq!(to_string_without_nulls(&json!([null])).unwrap(), "[null]");
    }

    #[test]
    fn keys_that_need_escaping_or_are_numbers_are_written_whole() {
        let escaped: BTreeMap<&str, Option<u8>> = BTreeMap::from([
            ("\"quoted\"\n", Some(1)),
            ("gone", None),
            ("é\u{1}", Some(2)),
        ]);
        let text = to_string_without_nulls(&escaped).unwrap();
        assert_eq!(text, r#"{"\"quoted\"\n":1,"é\u0001":2}"#);
        let numbered: BTreeMap<i64, Option<&str>> =
            BTreeMap::from([(-3, None), (7, Some("seven"))]);
        assert_eq!(
            to_string_without_nulls(&numbered).unwrap(),
            r#"{"7":"seven"}"#
        );
    }

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Record {
        name: String,
        note: Option<String>,
        nested: Option<Box<Record>>,
        tags: Vec<Option<u32>>,
    }

    #[test]
    fn a_record_reads_back_the_same_with_or_without_its_nulls() {
        let record = Record {
            name: "w".into(),
            note: None,
            nested: Some(Box::new(Record {
                name: "inner".into(),
                note: Some("n".into()),
                nested: None,
                tags: vec![None, Some(3)],
            })),
            tags: vec![],
        };
        let sparse = to_string_without_nulls(&record).unwrap();
        assert!(!sparse.contains("\"note\":null"), "{sparse}");
        assert_eq!(serde_json::from_str::<Record>(&sparse).unwrap(), record);
        let full = serde_json::to_string(&record).unwrap();
        assert!(sparse.len() < full.len());
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::btree_map(".{0,4}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_output_is_the_input_less_its_null_members(value in any_json()) {
            let text = to_string_without_nulls(&value).unwrap();
            // Both sides go through the same parser, whose float reading is not
            // exact without serde_json's `float_roundtrip`.
            let expected = serde_json::to_string(&without_null_members(value)).unwrap();
            let parsed: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(parsed, serde_json::from_str::<Value>(&expected).unwrap());
        }
    }
}
