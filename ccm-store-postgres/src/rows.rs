//! PostgreSQL's spelling of the shared rows ([`ccm_store_sql::rows`]) and what
//! only PostgreSQL does here: locking a batch's rows in key order.

pub(crate) use ccm_store_sql::rows::{
    api_key_body, decode, doc_from_row, lease_from_row, parse_ts, prepare, ts,
};
pub(crate) use ccm_store_sql::rows::{RowWrite, Table, Value};
use ccm_store_sql::Dialect;

/// PostgreSQL: `$n` parameters, bodies in `jsonb` columns.
pub(crate) struct PostgresDialect;

impl Dialect for PostgresDialect {
    fn param(position: usize) -> String {
        format!("${position}")
    }

    fn json_param(position: usize) -> String {
        format!("CAST(${position} AS jsonb)")
    }

    const BODY_AS_TEXT: &'static str = "body::text";

    fn in_byte_order(column: &str) -> String {
        format!("{column} COLLATE \"C\"")
    }
}

/// Locks the rows of `key = ANY($1)` of `table` in key order (deadlock-free batches).
pub(crate) fn lock_sql(table: &Table) -> String {
    format!(
        "SELECT 1 FROM {} WHERE {} = ANY($1) ORDER BY {} FOR UPDATE",
        table.name, table.key, table.key
    )
}
