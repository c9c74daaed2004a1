//! Printing answers: `--json` prints the server's JSON as is; otherwise aligned
//! columns for lists, `key: value` lines for single resources, and every field
//! as a dotted `key: value` line for documents without a fixed layout
//! (settings, leadership).

use serde_json::Value;

/// Text of a JSON value for a table cell.
pub fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "-".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The value at a dotted path.
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(value, |v, part| v.get(part))
}

/// Rows as aligned columns under a header.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.clone()));
    }
    out
}

/// Prints `value` as JSON or through `human`.
pub fn print(json: bool, value: &Value, human: impl FnOnce(&Value) -> String) {
    let text = if json {
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    } else {
        human(value)
    };
    emit(&format!("{text}\n"));
}

/// Writes `text` to standard output as is. A closed pipe (`ccm … | head`) is
/// not an error worth a message, nor a panic as `println!` would make it.
pub fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

/// `key: value` lines for the given paths.
pub fn fields(value: &Value, paths: &[(&str, &str)]) -> String {
    paths
        .iter()
        .map(|(label, path)| format!("{label:<16} {}", cell(at(value, path))))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The items of a page (`{"items": [...]}`) or of an array.
pub fn items(value: &Value) -> Vec<Value> {
    value
        .get("items")
        .unwrap_or(value)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Rows of `items` with one cell per path.
pub fn rows(items: &[Value], paths: &[&str]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|item| paths.iter().map(|p| cell(at(item, p))).collect())
        .collect()
}

/// Every field of `value` as a `dotted.key: value` line; an array of scalars on
/// one line, an array of objects numbered (`relays.0.sink`).
pub fn flat(value: &Value) -> String {
    let mut lines = Vec::new();
    flatten("", value, &mut lines);
    let width = lines
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    lines
        .iter()
        .map(|(k, v)| format!("{k:<width$}  {v}").trim_end().to_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, String)>) {
    let key = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (name, v) in map {
                flatten(&key(name), v, out);
            }
        }
        Value::Array(list) if list.iter().any(|v| v.is_object() || v.is_array()) => {
            for (i, v) in list.iter().enumerate() {
                flatten(&key(&i.to_string()), v, out);
            }
        }
        Value::Array(list) => {
            let text: Vec<String> = list.iter().map(|v| cell(Some(v))).collect();
            out.push((prefix.to_owned(), text.join(", ")));
        }
        other => out.push((prefix.to_owned(), cell(Some(other)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_paths_reach_nested_fields() {
        let t = table(&["A", "LONG"], &[vec!["xyz".into(), "1".into()]]);
        assert_eq!(t, "A    LONG\nxyz  1");
        let v = serde_json::json!({"a": {"b": "c"}, "n": 3});
        assert_eq!(cell(at(&v, "a.b")), "c");
        assert_eq!(cell(at(&v, "n")), "3");
        assert_eq!(cell(at(&v, "missing")), "-");
    }

    #[test]
    fn documents_flatten_to_dotted_lines() {
        let v = serde_json::json!({"a": {"b": [1, 2]}, "r": [{"s": "x"}], "n": null});
        let mut lines: Vec<String> = flat(&v).lines().map(str::to_owned).collect();
        lines.sort();
        assert_eq!(lines, ["a.b    1, 2", "n      -", "r.0.s  x"]);
        let page = serde_json::json!({"items": [{"id": 1}]});
        assert_eq!(rows(&items(&page), &["id", "x"]), vec![vec!["1", "-"]]);
    }
}
