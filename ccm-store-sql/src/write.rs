//! Running a commit's row writes under their version checks, once for both
//! databases: a backend only says how to run one statement
//! ([`RowStatements`]); the order of statements and the conflict rule are here.

use std::future::Future;

use ccm_core::ports::store::StoreError;

use crate::rows::{RowWrite, Table, Value};
use crate::{to_i64, to_u64, Dialect, SqlStoreError};

/// One parameter bound to a statement, in the order of its placeholders.
#[derive(Clone, Debug, PartialEq)]
pub enum Param {
    /// A filter column's value, a key or a JSON body ([`Value::Text`]).
    Value(Value),
    /// A version.
    Int(i64),
}

/// A connection (or transaction) that runs the shared statements: each backend
/// binds [`Param`]s in its own driver's types.
pub trait RowStatements: Send {
    /// Runs `sql` with `params`; returns how many rows it changed.
    fn execute(
        &mut self,
        sql: &str,
        params: Vec<Param>,
    ) -> impl Future<Output = Result<u64, SqlStoreError>> + Send;

    /// Runs `sql`, a query of one `BIGINT` with one text parameter `key`.
    fn fetch_int(
        &mut self,
        sql: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<i64>, SqlStoreError>> + Send;
}

/// The stored version of row `id` in `table` (`None`: no such row).
pub async fn version_in<D: Dialect, S: RowStatements>(
    conn: &mut S,
    table: &Table,
    id: &str,
) -> Result<Option<u64>, SqlStoreError> {
    let version = conn.fetch_int(&table.version_sql::<D>(), id).await?;
    version.map(|v| to_u64("version", id, v)).transpose()
}

/// Checks a small commit against the committed versions before any lock is
/// taken, so a commit that is already stale fails at once instead of queueing
/// behind other writers. The check inside the transaction stays authoritative.
pub async fn precheck<D: Dialect, S: RowStatements>(
    conn: &mut S,
    writes: &[RowWrite],
) -> Result<(), SqlStoreError> {
    let mut pending: Vec<((&str, &str), Option<u64>)> = Vec::new();
    for write in writes {
        let (table, id) = write.target();
        let earlier = pending
            .iter()
            .rev()
            .find(|(key, _)| *key == (table.name, id))
            .map(|(_, version)| *version);
        let actual = match earlier {
            Some(version) => version,
            None => version_in::<D, S>(conn, table, id).await?,
        };
        pending.push(((table.name, id), write.check(actual)?));
    }
    Ok(())
}

/// Runs one write under its version check inside the commit's transaction;
/// returns the row's new version (0 for a deletion). A failed check is
/// [`StoreError::Conflict`] with the version found.
pub async fn apply<D: Dialect, S: RowStatements>(
    tx: &mut S,
    write: RowWrite,
) -> Result<u64, SqlStoreError> {
    let (table, kind, id, expected) = match write {
        RowWrite::Put {
            table,
            kind,
            id,
            expected,
            values,
            body,
        } => {
            let new_version = Param::Int(to_i64("version", expected + 1)?);
            let mut params: Vec<Param> = Vec::with_capacity(values.len() + 4);
            let sql = if expected == 0 {
                params.push(Param::Value(Value::Text(id.clone())));
                params.extend(values.into_iter().map(Param::Value));
                params.extend([new_version, Param::Value(Value::Text(body))]);
                table.insert_sql::<D>()
            } else {
                params.extend(values.into_iter().map(Param::Value));
                params.extend([
                    new_version,
                    Param::Value(Value::Text(body)),
                    Param::Value(Value::Text(id.clone())),
                    Param::Int(to_i64("version", expected)?),
                ]);
                table.update_sql::<D>()
            };
            if tx.execute(&sql, params).await? == 1 {
                return Ok(expected + 1);
            }
            (table, kind, id, expected)
        }
        RowWrite::Delete {
            table,
            kind,
            id,
            expected,
        } => {
            if expected == 0 {
                // Deleting "version 0" means "must not exist": a no-op when absent.
                if version_in::<D, S>(tx, table, &id).await?.is_none() {
                    return Ok(0);
                }
            } else {
                let params = vec![
                    Param::Value(Value::Text(id.clone())),
                    Param::Int(to_i64("version", expected)?),
                ];
                if tx.execute(&table.delete_sql::<D>(), params).await? == 1 {
                    return Ok(0);
                }
            }
            (table, kind, id, expected)
        }
    };
    let actual = version_in::<D, S>(tx, table, &id).await?;
    Err(StoreError::Conflict {
        kind,
        id,
        expected,
        actual,
    }
    .into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::HashMap;

    use ccm_core::event::ResourceKind;

    use super::*;
    use crate::rows::LABS;

    use crate::dialect::spellings::Marks as SqliteLike;

    /// A table of versions standing in for the database: `execute` changes a
    /// row only when the version it names is the stored one.
    #[derive(Default)]
    struct Versions {
        rows: HashMap<String, i64>,
        statements: Vec<(String, Vec<Param>)>,
    }

    fn text(param: &Param) -> String {
        match param {
            Param::Value(Value::Text(s)) => s.clone(),
            other => panic!("expected text, got {other:?}"),
        }
    }

    fn int(param: &Param) -> i64 {
        match param {
            Param::Int(i) => *i,
            other => panic!("expected a version, got {other:?}"),
        }
    }

    impl RowStatements for Versions {
        async fn execute(&mut self, sql: &str, params: Vec<Param>) -> Result<u64, SqlStoreError> {
            self.statements.push((sql.to_owned(), params.clone()));
            let n = params.len();
            let changed = if sql.starts_with("INSERT") {
                let id = text(&params[0]);
                let fresh = !self.rows.contains_key(&id);
                if fresh {
                    self.rows.insert(id, int(&params[n - 2]));
                }
                fresh
            } else if sql.starts_with("UPDATE") {
                let (id, expected) = (text(&params[n - 2]), int(&params[n - 1]));
                let matches = self.rows.get(&id) == Some(&expected);
                if matches {
                    self.rows.insert(id, int(&params[n - 4]));
                }
                matches
            } else {
                let (id, expected) = (text(&params[0]), int(&params[1]));
                let matches = self.rows.get(&id) == Some(&expected);
                if matches {
                    self.rows.remove(&id);
                }
                matches
            };
            Ok(u64::from(changed))
        }

        async fn fetch_int(&mut self, _: &str, key: &str) -> Result<Option<i64>, SqlStoreError> {
            Ok(self.rows.get(key).copied())
        }
    }

    fn put(id: &str, expected: u64) -> RowWrite {
        RowWrite::Put {
            table: &LABS,
            kind: ResourceKind::Lab,
            id: id.into(),
            expected,
            values: LABS.columns.iter().map(|_| Value::Bool(false)).collect(),
            body: "{}".into(),
        }
    }

    fn delete(id: &str, expected: u64) -> RowWrite {
        RowWrite::Delete {
            table: &LABS,
            kind: ResourceKind::Lab,
            id: id.into(),
            expected,
        }
    }

    fn run<T>(future: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }

    fn conflict_of(result: Result<u64, SqlStoreError>) -> (u64, Option<u64>) {
        match result {
            Err(SqlStoreError::Store(StoreError::Conflict {
                expected, actual, ..
            })) => (expected, actual),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn puts_insert_then_update_under_the_version_read() {
        run(async {
            let mut db = Versions::default();
            assert_eq!(
                apply::<SqliteLike, _>(&mut db, put("a", 0)).await.ok(),
                Some(1)
            );
            assert_eq!(
                apply::<SqliteLike, _>(&mut db, put("a", 1)).await.ok(),
                Some(2)
            );
            assert_eq!(db.rows.get("a"), Some(&2));
            // Placeholders and parameters agree in number for both statements.
            for (sql, params) in &db.statements {
                assert_eq!(sql.matches('?').count(), params.len(), "{sql}");
            }
        });
    }

    #[test]
    fn stale_or_duplicate_writes_conflict_and_name_the_version_found() {
        run(async {
            let mut db = Versions::default();
            apply::<SqliteLike, _>(&mut db, put("a", 0)).await.ok();
            assert_eq!(
                conflict_of(apply::<SqliteLike, _>(&mut db, put("a", 0)).await),
                (0, Some(1))
            );
            assert_eq!(
                conflict_of(apply::<SqliteLike, _>(&mut db, put("a", 5)).await),
                (5, Some(1))
            );
            assert_eq!(
                conflict_of(apply::<SqliteLike, _>(&mut db, delete("a", 2)).await),
                (2, Some(1))
            );
            assert_eq!(
                conflict_of(apply::<SqliteLike, _>(&mut db, put("b", 1)).await),
                (1, None)
            );
            assert_eq!(db.rows.get("a"), Some(&1), "nothing changed");
        });
    }

    #[test]
    fn deletes_remove_the_row_and_version_zero_means_absent() {
        run(async {
            let mut db = Versions::default();
            assert_eq!(
                apply::<SqliteLike, _>(&mut db, delete("a", 0)).await.ok(),
                Some(0)
            );
            apply::<SqliteLike, _>(&mut db, put("a", 0)).await.ok();
            assert_eq!(
                conflict_of(apply::<SqliteLike, _>(&mut db, delete("a", 0)).await),
                (0, Some(1))
            );
            assert_eq!(
                apply::<SqliteLike, _>(&mut db, delete("a", 1)).await.ok(),
                Some(0)
            );
            assert!(db.rows.is_empty());
        });
    }

    #[test]
    fn precheck_follows_earlier_writes_of_the_same_commit() {
        run(async {
            let mut db = Versions::default();
            apply::<SqliteLike, _>(&mut db, put("a", 0)).await.ok();
            let reads = db.statements.len();
            let fine = [put("a", 1), put("a", 2), delete("a", 3), put("a", 0)];
            assert!(precheck::<SqliteLike, _>(&mut db, &fine).await.is_ok());
            assert_eq!(db.statements.len(), reads, "a precheck writes nothing");
            let stale = [put("a", 1), put("a", 1)];
            let err = precheck::<SqliteLike, _>(&mut db, &stale).await;
            assert!(
                matches!(
                    err,
                    Err(SqlStoreError::Store(StoreError::Conflict {
                        expected: 1,
                        actual: Some(2),
                        ..
                    }))
                ),
                "{err:?}"
            );
        });
    }
}
