//! Printing answers: `--json` prints the server's JSON as is; otherwise aligned
//! columns for lists and `key: value` lines for single resources.

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
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
        );
    } else {
        println!("{}", human(value));
    }
}

/// `key: value` lines for the given paths.
pub fn fields(value: &Value, paths: &[(&str, &str)]) -> String {
    paths
        .iter()
        .map(|(label, path)| format!("{label:<16} {}", cell(at(value, path))))
        .collect::<Vec<_>>()
        .join("\n")
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
}
