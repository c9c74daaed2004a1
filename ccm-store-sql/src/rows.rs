//! How domain records map to rows: a JSON document (`body`) beside the indexed
//! columns that filters use, and the SQL that writes them under a version check.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use ccm_core::api_key::ApiKeyRecord;
use ccm_core::event::ResourceKind;
use ccm_core::ports::store::{Lease, StoreError, Write};
use ccm_core::time::Timestamp;

use crate::{Dialect, SqlStoreError};

/// A column value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// Text or NULL.
    OptText(Option<String>),
    /// A boolean.
    Bool(bool),
}

/// A resource table: its name, key column and filter columns (besides `version`
/// and `body`).
pub struct Table {
    /// The table's name.
    pub name: &'static str,
    /// Its key column.
    pub key: &'static str,
    /// The filter columns, in the order [`prepare`] gives their values.
    pub columns: &'static [&'static str],
    /// The columns list pages are ordered by, in byte order (the order of the
    /// matching `list_*` of the port); each store keeps an index in this order
    /// (migration 6) so a page walks it. Empty for tables listed whole.
    pub page_order: &'static [&'static str],
}

/// Workers.
pub const WORKERS: Table = Table {
    name: "workers",
    key: "id",
    columns: &["name", "region", "lifecycle"],
    page_order: &["name", "id"],
};
/// Labs mirrored from CML.
pub const LABS: Table = Table {
    name: "labs",
    key: "id",
    columns: &["worker_id", "title", "gone"],
    page_order: &[],
};
/// Lablet definitions.
pub const DEFINITIONS: Table = Table {
    name: "definitions",
    key: "id",
    columns: &["name", "active"],
    page_order: &[],
};
/// Lablets.
pub const LABLETS: Table = Table {
    name: "lablets",
    key: "id",
    columns: &[
        "phase",
        "worker_id",
        "owner",
        "definition_id",
        "timeslot_start",
    ],
    // Fixed-width RFC 3339 text and hyphenated UUIDs in byte order sort as
    // `list_lablets` does: by start, then id.
    page_order: &["timeslot_start", "id"],
};
/// The job runner's jobs.
pub const JOBS: Table = Table {
    name: "jobs",
    key: "name",
    columns: &["next_run_at"],
    page_order: &[],
};

impl Table {
    /// The `ORDER BY` list of a page, each column compared in byte order.
    pub fn page_order_sql<D: Dialect>(&self) -> String {
        let columns: Vec<String> = self
            .page_order
            .iter()
            .map(|c| D::in_byte_order(c))
            .collect();
        columns.join(", ")
    }

    /// `INSERT … ON CONFLICT DO NOTHING`: binds key, columns, version, body.
    pub fn insert_sql<D: Dialect>(&self) -> String {
        let n = self.columns.len();
        let values: Vec<String> = (1..=n + 2).map(D::param).collect();
        format!(
            "INSERT INTO {t} ({k}, {columns}, version, body) VALUES ({values}, {body}) \
             ON CONFLICT ({k}) DO NOTHING",
            t = self.name,
            k = self.key,
            columns = self.columns.join(", "),
            values = values.join(", "),
            body = D::json_param(n + 3),
        )
    }

    /// `UPDATE … WHERE key = ? AND version = ?`: binds columns, version, body,
    /// key, expected version.
    pub fn update_sql<D: Dialect>(&self) -> String {
        let n = self.columns.len();
        let sets: String = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, column)| format!("{column} = {}, ", D::param(i + 1)))
            .collect();
        format!(
            "UPDATE {} SET {sets}version = {}, body = {} WHERE {} = {} AND version = {}",
            self.name,
            D::param(n + 1),
            D::json_param(n + 2),
            self.key,
            D::param(n + 3),
            D::param(n + 4),
        )
    }

    /// `DELETE … WHERE key = ? AND version = ?`.
    pub fn delete_sql<D: Dialect>(&self) -> String {
        format!(
            "DELETE FROM {} WHERE {} = {} AND version = {}",
            self.name,
            self.key,
            D::param(1),
            D::param(2)
        )
    }

    /// The stored version of one row.
    pub fn version_sql<D: Dialect>(&self) -> String {
        format!(
            "SELECT version FROM {} WHERE {} = {}",
            self.name,
            self.key,
            D::param(1)
        )
    }

    /// Every row's key and body (as JSON text), ready for `AND …` conditions.
    pub fn list_sql<D: Dialect>(&self) -> String {
        format!(
            "SELECT {}, {} FROM {} WHERE TRUE",
            self.key,
            D::BODY_AS_TEXT,
            self.name
        )
    }

    /// The body of one row, as JSON text.
    pub fn body_sql<D: Dialect>(&self) -> String {
        format!(
            "SELECT {} FROM {} WHERE {} = {}",
            D::BODY_AS_TEXT,
            self.name,
            self.key,
            D::param(1)
        )
    }
}

/// One write of a change set, encoded and ready to run.
pub enum RowWrite {
    /// Insert (`expected` 0) or update a row.
    Put {
        /// Where.
        table: &'static Table,
        /// The record's kind.
        kind: ResourceKind,
        /// Its key.
        id: String,
        /// The version it was read at (0: new).
        expected: u64,
        /// The filter columns' values, in [`Table::columns`] order.
        values: Vec<Value>,
        /// The record as JSON, carrying its new version.
        body: String,
    },
    /// Delete a row read at `expected`.
    Delete {
        /// Where.
        table: &'static Table,
        /// The record's kind.
        kind: ResourceKind,
        /// Its key.
        id: String,
        /// The version it was read at.
        expected: u64,
    },
}

impl RowWrite {
    /// The table and key written.
    pub fn target(&self) -> (&'static Table, &str) {
        match self {
            RowWrite::Put { table, id, .. } | RowWrite::Delete { table, id, .. } => (table, id),
        }
    }

    /// Checks the write against the version stored (or pending earlier in the same
    /// commit): the rule every store applies. Returns the version afterwards.
    pub fn check(&self, actual: Option<u64>) -> Result<Option<u64>, StoreError> {
        let (kind, id, expected, delete) = match self {
            RowWrite::Put {
                kind, id, expected, ..
            } => (*kind, id, *expected, false),
            RowWrite::Delete {
                kind, id, expected, ..
            } => (*kind, id, *expected, true),
        };
        let ok = match actual {
            None => expected == 0,
            Some(v) => v == expected && expected != 0,
        };
        if !ok {
            return Err(StoreError::Conflict {
                kind,
                id: id.clone(),
                expected,
                actual,
            });
        }
        Ok(if delete { None } else { Some(expected + 1) })
    }
}

/// A record's body: its JSON without `null` members (see [`crate::sparse_json`]).
fn encode<T: Serialize>(kind: ResourceKind, id: &str, value: &T) -> Result<String, SqlStoreError> {
    crate::sparse_json::to_string_without_nulls(value).map_err(|e| SqlStoreError::Encode {
        kind: kind.as_str().to_owned(),
        id: id.to_owned(),
        message: e.to_string(),
    })
}

/// The record in a row whose first column is its key and second its body.
pub fn doc_from_row<'r, R, T>(row: &'r R, kind: &str) -> Result<T, SqlStoreError>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    T: DeserializeOwned,
{
    let id: String = row.try_get(0)?;
    let body: String = row.try_get(1)?;
    decode(kind, &id, &body)
}

/// The counts of a `SELECT worker_id, COUNT(*) … GROUP BY worker_id`, keyed by
/// worker; an id the column holds that is not a worker id is a decoding error.
pub fn counts_per_worker(
    groups: Vec<(String, i64)>,
) -> Result<std::collections::BTreeMap<ccm_core::ids::WorkerId, usize>, SqlStoreError> {
    groups
        .into_iter()
        .map(|(id, n)| {
            let worker = id.parse().map_err(|e| SqlStoreError::Decode {
                kind: "lablet worker_id".to_owned(),
                id: id.clone(),
                message: format!("{e}"),
            })?;
            Ok((worker, usize::try_from(n).unwrap_or(0)))
        })
        .collect()
}

/// Appends ` ORDER BY order_by LIMIT … OFFSET …` for `page` to a list query.
pub fn push_page<'a, DB>(
    query: &mut sqlx::QueryBuilder<'a, DB>,
    order_by: &str,
    page: ccm_core::ports::store::PageRequest,
) where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB> + 'a,
{
    query
        .push(" ORDER BY ")
        .push(order_by)
        .push(" LIMIT ")
        .push_bind(i64::try_from(page.limit).unwrap_or(i64::MAX))
        .push(" OFFSET ")
        .push_bind(i64::try_from(page.offset).unwrap_or(i64::MAX));
}

/// An API key's row body: the record as JSON (its hash, never the key).
pub fn api_key_body(key: &ApiKeyRecord) -> Result<String, SqlStoreError> {
    serde_json::to_string(key).map_err(|e| SqlStoreError::Encode {
        kind: "api key".into(),
        id: key.id.to_string(),
        message: e.to_string(),
    })
}

/// Decodes a stored JSON document.
pub fn decode<T: DeserializeOwned>(kind: &str, id: &str, body: &str) -> Result<T, SqlStoreError> {
    serde_json::from_str(body).map_err(|e| SqlStoreError::Decode {
        kind: kind.to_owned(),
        id: id.to_owned(),
        message: e.to_string(),
    })
}

/// The version a put stores: the one read plus one.
fn next_version(kind: ResourceKind, id: &str, expected: u64) -> Result<u64, SqlStoreError> {
    expected
        .checked_add(1)
        .filter(|v| i64::try_from(*v).is_ok())
        .ok_or_else(|| SqlStoreError::Encode {
            kind: kind.as_str().to_owned(),
            id: id.to_owned(),
            message: format!("version {expected} is out of range"),
        })
}

/// A fixed-width RFC 3339 text with nanoseconds: sorts as the instant does.
pub fn ts(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses [`ts`] text back.
pub fn parse_ts(what: &str, id: &str, text: &str) -> Result<Timestamp, SqlStoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| SqlStoreError::Decode {
            kind: what.to_owned(),
            id: id.to_owned(),
            message: format!("bad timestamp `{text}`: {e}"),
        })
}

/// Encodes a write: the body carries the new version.
pub fn prepare(write: Write) -> Result<RowWrite, SqlStoreError> {
    let (kind, id) = write.target();
    let expected = write.expected_version();
    let put = |table: &'static Table, values: Vec<Value>, body: String| RowWrite::Put {
        table,
        kind,
        id: id.clone(),
        expected,
        values,
        body,
    };
    Ok(match write {
        Write::PutWorker(mut w) => {
            w.meta.version = next_version(kind, &id, expected)?;
            let body = encode(kind, &id, &w)?;
            put(
                &WORKERS,
                vec![
                    Value::Text(w.meta.name.clone()),
                    Value::Text(w.region.0.clone()),
                    Value::Text(w.status.lifecycle.as_str().to_owned()),
                ],
                body,
            )
        }
        Write::PutLab(mut l) => {
            l.version = next_version(kind, &id, expected)?;
            let body = encode(kind, &id, &l)?;
            put(
                &LABS,
                vec![
                    Value::Text(l.worker_id.to_string()),
                    Value::Text(l.title.clone()),
                    Value::Bool(l.gone),
                ],
                body,
            )
        }
        Write::PutDefinition(mut d) => {
            d.meta.version = next_version(kind, &id, expected)?;
            let body = encode(kind, &id, &d)?;
            put(
                &DEFINITIONS,
                vec![Value::Text(d.meta.name.clone()), Value::Bool(d.active)],
                body,
            )
        }
        Write::PutLablet(mut l) => {
            l.meta.version = next_version(kind, &id, expected)?;
            let body = encode(kind, &id, &l)?;
            put(
                &LABLETS,
                vec![
                    Value::Text(l.status.phase.as_str().to_owned()),
                    Value::OptText(l.status.worker_id.map(|w| w.to_string())),
                    Value::Text(l.spec.owner.clone()),
                    Value::Text(l.spec.definition_id.to_string()),
                    Value::Text(ts(l.spec.timeslot.start)),
                ],
                body,
            )
        }
        Write::PutJob(mut j) => {
            j.version = next_version(kind, &id, expected)?;
            let body = encode(kind, &id, &j)?;
            put(&JOBS, vec![Value::OptText(j.next_run_at.map(ts))], body)
        }
        Write::DeleteWorker { .. } => RowWrite::Delete {
            table: &WORKERS,
            kind,
            id,
            expected,
        },
        Write::DeleteLab { .. } => RowWrite::Delete {
            table: &LABS,
            kind,
            id,
            expected,
        },
        Write::DeleteLablet { .. } => RowWrite::Delete {
            table: &LABLETS,
            kind,
            id,
            expected,
        },
    })
}

/// Converts a stored lease row.
pub fn lease_from_row(
    name: &str,
    holder: String,
    token: i64,
    expires_at: &str,
) -> Result<Lease, SqlStoreError> {
    Ok(Lease {
        name: name.to_owned(),
        holder,
        token: u64::try_from(token).map_err(|_| SqlStoreError::Decode {
            kind: "lease".into(),
            id: name.to_owned(),
            message: format!("negative token {token}"),
        })?,
        expires_at: parse_ts("lease", name, expires_at)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    use crate::dialect::spellings::{Marks, Numbered};

    #[test]
    fn each_dialect_numbers_the_binds_in_the_documented_order() {
        assert_eq!(
            WORKERS.insert_sql::<Marks>(),
            "INSERT INTO workers (id, name, region, lifecycle, version, body) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
        );
        assert_eq!(
            WORKERS.insert_sql::<Numbered>(),
            "INSERT INTO workers (id, name, region, lifecycle, version, body) \
             VALUES ($1, $2, $3, $4, $5, CAST($6 AS jsonb)) ON CONFLICT (id) DO NOTHING"
        );
        assert_eq!(
            JOBS.update_sql::<Numbered>(),
            "UPDATE jobs SET next_run_at = $1, version = $2, body = CAST($3 AS jsonb) \
             WHERE name = $4 AND version = $5"
        );
        assert_eq!(
            JOBS.update_sql::<Marks>(),
            "UPDATE jobs SET next_run_at = ?, version = ?, body = ? WHERE name = ? AND version = ?"
        );
        assert_eq!(
            LABS.delete_sql::<Numbered>(),
            "DELETE FROM labs WHERE id = $1 AND version = $2"
        );
        assert_eq!(
            LABLETS.version_sql::<Marks>(),
            "SELECT version FROM lablets WHERE id = ?"
        );
        assert_eq!(
            DEFINITIONS.body_sql::<Numbered>(),
            "SELECT body::text FROM definitions WHERE id = $1"
        );
    }

    #[test]
    fn a_put_carries_its_new_version_in_the_body_and_is_checked_against_the_stored_one() {
        let job = ccm_core::job::JobRecord {
            name: "sweep".into(),
            schedule: ccm_core::job::JobSchedule::Every { seconds: 60 },
            next_run_at: None,
            last_run_at: None,
            last_duration_ms: None,
            last_outcome: None,
            paused: false,
            version: 4,
        };
        let write = prepare(Write::PutJob(Box::new(job))).unwrap();
        let RowWrite::Put {
            table,
            expected,
            body,
            ..
        } = &write
        else {
            panic!("a put");
        };
        assert_eq!((table.name, *expected), ("jobs", 4));
        let stored: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(stored["version"], 5);
        assert_eq!(write.check(Some(4)).unwrap(), Some(5));
        assert!(matches!(
            write.check(Some(5)),
            Err(StoreError::Conflict {
                expected: 4,
                actual: Some(5),
                ..
            })
        ));
        assert!(
            write.check(None).is_err(),
            "a row that went away is a conflict"
        );
    }

    #[test]
    fn timestamps_are_fixed_width_text_that_sorts_as_time_and_reads_back() {
        let early = chrono::DateTime::from_timestamp(1_700_000_000, 5).unwrap();
        let late = chrono::DateTime::from_timestamp(1_700_000_000, 500_000_000).unwrap();
        assert_eq!(ts(early).len(), ts(late).len());
        assert!(ts(early) < ts(late));
        assert_eq!(parse_ts("job", "x", &ts(late)).unwrap(), late);
        assert!(matches!(
            parse_ts("job", "x", "yesterday"),
            Err(SqlStoreError::Decode { .. })
        ));
        assert!(matches!(
            lease_from_row("leader", "p1".into(), -1, &ts(early)),
            Err(SqlStoreError::Decode { .. })
        ));
    }
}
