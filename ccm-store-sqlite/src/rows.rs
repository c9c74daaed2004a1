//! How domain records map to rows: a JSON document (`body`) beside the indexed
//! columns that filters use, and the SQL that writes them under a version check.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use ccm_core::event::ResourceKind;
use ccm_core::ports::store::{Lease, StoreError, Write};
use ccm_core::time::Timestamp;

use crate::error::SqliteStoreError;

/// A column value.
pub(crate) enum Value {
    Text(String),
    OptText(Option<String>),
    Bool(bool),
}

/// A resource table: its name, key column and filter columns (besides `version`
/// and `body`).
pub(crate) struct Table {
    pub name: &'static str,
    pub key: &'static str,
    pub columns: &'static [&'static str],
}

pub(crate) const WORKERS: Table = Table {
    name: "workers",
    key: "id",
    columns: &["name", "region", "lifecycle"],
};
pub(crate) const LABS: Table = Table {
    name: "labs",
    key: "id",
    columns: &["worker_id", "title", "gone"],
};
pub(crate) const DEFINITIONS: Table = Table {
    name: "definitions",
    key: "id",
    columns: &["name", "active"],
};
pub(crate) const LABLETS: Table = Table {
    name: "lablets",
    key: "id",
    columns: &[
        "phase",
        "worker_id",
        "owner",
        "definition_id",
        "timeslot_start",
    ],
};
pub(crate) const JOBS: Table = Table {
    name: "jobs",
    key: "name",
    columns: &["next_run_at"],
};

impl Table {
    /// `INSERT … ON CONFLICT DO NOTHING`: binds key, columns, version, body.
    pub fn insert_sql(&self) -> String {
        let columns = self.columns.join(", ");
        let marks = vec!["?"; self.columns.len() + 3].join(", ");
        format!(
            "INSERT INTO {} ({}, {columns}, version, body) VALUES ({marks}) \
             ON CONFLICT ({}) DO NOTHING",
            self.name, self.key, self.key
        )
    }

    /// `UPDATE … WHERE key = ? AND version = ?`: binds columns, version, body,
    /// key, expected version.
    pub fn update_sql(&self) -> String {
        let sets: String = self.columns.iter().map(|c| format!("{c} = ?, ")).collect();
        format!(
            "UPDATE {} SET {sets}version = ?, body = ? WHERE {} = ? AND version = ?",
            self.name, self.key
        )
    }

    /// The update of `rows` distinct rows in one statement, each under its
    /// version check, answering the keys of the rows it updated: binds per row
    /// key, columns, new version, body, expected version.
    pub fn update_rows_sql(&self, rows: usize) -> String {
        let names: Vec<String> = (0..self.columns.len()).map(|i| format!("c{i}")).collect();
        let sets: String = self
            .columns
            .iter()
            .zip(&names)
            .map(|(column, name)| format!("{column} = v.{name}, "))
            .collect();
        let row = format!("({})", vec!["?"; self.columns.len() + 4].join(", "));
        format!(
            "WITH v(k, {names}, version, body, expected) AS (VALUES {values}) \
             UPDATE {t} SET {sets}version = v.version, body = v.body \
             FROM v WHERE {t}.{k} = v.k AND {t}.version = v.expected RETURNING {t}.{k}",
            names = names.join(", "),
            values = vec![row; rows].join(", "),
            t = self.name,
            k = self.key,
        )
    }

    /// `DELETE … WHERE key = ? AND version = ?`.
    pub fn delete_sql(&self) -> String {
        format!(
            "DELETE FROM {} WHERE {} = ? AND version = ?",
            self.name, self.key
        )
    }

    /// The stored version of one row.
    pub fn version_sql(&self) -> String {
        format!("SELECT version FROM {} WHERE {} = ?", self.name, self.key)
    }

    /// The body of one row.
    pub fn body_sql(&self) -> String {
        format!("SELECT body FROM {} WHERE {} = ?", self.name, self.key)
    }
}

/// One write of a change set, encoded and ready to run.
pub(crate) enum RowWrite {
    Put {
        table: &'static Table,
        kind: ResourceKind,
        id: String,
        expected: u64,
        values: Vec<Value>,
        body: String,
    },
    Delete {
        table: &'static Table,
        kind: ResourceKind,
        id: String,
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

fn encode<T: Serialize>(
    kind: ResourceKind,
    id: &str,
    value: &T,
) -> Result<String, SqliteStoreError> {
    serde_json::to_string(value).map_err(|e| SqliteStoreError::Encode {
        kind: kind.as_str().to_owned(),
        id: id.to_owned(),
        message: e.to_string(),
    })
}

/// Decodes a stored JSON document.
pub(crate) fn decode<T: DeserializeOwned>(
    kind: &str,
    id: &str,
    body: &str,
) -> Result<T, SqliteStoreError> {
    serde_json::from_str(body).map_err(|e| SqliteStoreError::Decode {
        kind: kind.to_owned(),
        id: id.to_owned(),
        message: e.to_string(),
    })
}

/// The version a put stores: the one read plus one.
fn next_version(kind: ResourceKind, id: &str, expected: u64) -> Result<u64, SqliteStoreError> {
    expected
        .checked_add(1)
        .filter(|v| i64::try_from(*v).is_ok())
        .ok_or_else(|| SqliteStoreError::Encode {
            kind: kind.as_str().to_owned(),
            id: id.to_owned(),
            message: format!("version {expected} is out of range"),
        })
}

/// A fixed-width RFC 3339 text with nanoseconds: sorts as the instant does.
pub(crate) fn ts(t: Timestamp) -> String {
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Parses [`ts`] text back.
pub(crate) fn parse_ts(what: &str, id: &str, text: &str) -> Result<Timestamp, SqliteStoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| SqliteStoreError::Decode {
            kind: what.to_owned(),
            id: id.to_owned(),
            message: format!("bad timestamp `{text}`: {e}"),
        })
}

/// Encodes a write: the body carries the new version.
pub(crate) fn prepare(write: Write) -> Result<RowWrite, SqliteStoreError> {
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
pub(crate) fn lease_from_row(
    name: &str,
    holder: String,
    token: i64,
    expires_at: &str,
) -> Result<Lease, SqliteStoreError> {
    Ok(Lease {
        name: name.to_owned(),
        holder,
        token: u64::try_from(token).map_err(|_| SqliteStoreError::Decode {
            kind: "lease".into(),
            id: name.to_owned(),
            message: format!("negative token {token}"),
        })?,
        expires_at: parse_ts("lease", name, expires_at)?,
    })
}
