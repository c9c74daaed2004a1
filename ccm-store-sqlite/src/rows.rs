//! SQLite's spelling of the shared rows ([`ccm_store_sql::rows`]) and what only
//! SQLite does: a run of updates as one `UPDATE … FROM (VALUES …)`.

pub(crate) use ccm_store_sql::rows::{
    api_key_body, decode, doc_from_row, lease_from_row, parse_ts, prepare, ts,
};
pub(crate) use ccm_store_sql::rows::{RowWrite, Table, Value};
use ccm_store_sql::Dialect;

/// SQLite: `?` parameters, JSON stored as text.
pub(crate) struct SqliteDialect;

impl Dialect for SqliteDialect {
    fn param(_position: usize) -> String {
        "?".to_owned()
    }

    fn json_param(_position: usize) -> String {
        "?".to_owned()
    }

    const BODY_AS_TEXT: &'static str = "body";

    fn in_byte_order(column: &str) -> String {
        column.to_owned()
    }
}

/// The update of `rows` distinct rows of `table` in one statement, each under
/// its version check, answering the keys of the rows it updated: binds per row
/// key, columns, new version, body, expected version.
pub(crate) fn update_rows_sql(table: &Table, rows: usize) -> String {
    let names: Vec<String> = (0..table.columns.len()).map(|i| format!("c{i}")).collect();
    let sets: String = table
        .columns
        .iter()
        .zip(&names)
        .map(|(column, name)| format!("{column} = v.{name}, "))
        .collect();
    let row = format!("({})", vec!["?"; table.columns.len() + 4].join(", "));
    format!(
        "WITH v(k, {names}, version, body, expected) AS (VALUES {values}) \
         UPDATE {t} SET {sets}version = v.version, body = v.body \
         FROM v WHERE {t}.{k} = v.k AND {t}.version = v.expected RETURNING {t}.{k}",
        names = names.join(", "),
        values = vec![row; rows].join(", "),
        t = table.name,
        k = table.key,
    )
}
