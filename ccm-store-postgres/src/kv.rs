//! The [`KeyValueStore`] port over the `kv` table, shared by every process on
//! the database. Every write is one statement whose `WHERE` carries the
//! expectation: PostgreSQL re-checks it against the newest row after waiting
//! for a concurrent writer of that row (and `INSERT … ON CONFLICT` after waiting
//! for a concurrent insert of the key), so of racing writers expecting the same
//! state exactly one succeeds, and of racing `take`s (`DELETE … RETURNING`)
//! exactly one gets the record.

use sqlx::postgres::PgRow;
use sqlx::Row;

use ccm_core::ports::kv::{check_bounds, Expect, KvEntry};
use ccm_core::ports::store::StoreError;
use ccm_core::time::Timestamp;

use crate::error::PostgresStoreError;
use crate::rows::{parse_ts, ts};
use crate::store::{to_i64, to_u64, PostgresStore};

type Result<T, E = PostgresStoreError> = std::result::Result<T, E>;

fn entry(namespace: &str, row: &PgRow) -> Result<KvEntry> {
    let key: String = row.try_get("key")?;
    let id = format!("{namespace}/{key}");
    let version: i64 = row.try_get("version")?;
    let expires_at: Option<String> = row.try_get("expires_at")?;
    Ok(KvEntry {
        value: row.try_get("value")?,
        version: to_u64("version", &id, version)?,
        expires_at: expires_at
            .map(|text| parse_ts("record", &id, &text))
            .transpose()?,
        key,
    })
}

impl PostgresStore {
    async fn kv_get(&self, namespace: &str, key: &str, now: Timestamp) -> Result<Option<KvEntry>> {
        let row = sqlx::query(
            "SELECT key, value, version, expires_at FROM kv \
             WHERE namespace = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(namespace)
        .bind(key)
        .bind(ts(now))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| entry(namespace, &row)).transpose()
    }

    async fn kv_put(
        &self,
        namespace: &str,
        key: &str,
        value: &str,
        expect: Expect,
        expires_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<u64> {
        check_bounds(namespace, key, value)?;
        let query = match expect {
            Expect::Any => sqlx::query_scalar::<_, i64>(
                "INSERT INTO kv (namespace, key, value, version, expires_at) \
                 VALUES ($1, $2, $3, 1, $4) ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, \
                 version = CASE WHEN kv.expires_at IS NULL OR kv.expires_at > $5 \
                 THEN kv.version + 1 ELSE 1 END \
                 RETURNING version",
            ),
            Expect::Absent => sqlx::query_scalar(
                "INSERT INTO kv (namespace, key, value, version, expires_at) \
                 VALUES ($1, $2, $3, 1, $4) ON CONFLICT (namespace, key) DO UPDATE SET \
                 value = EXCLUDED.value, expires_at = EXCLUDED.expires_at, version = 1 \
                 WHERE kv.expires_at IS NOT NULL AND kv.expires_at <= $5 \
                 RETURNING version",
            ),
            Expect::Version(_) => sqlx::query_scalar(
                "UPDATE kv SET value = $3, expires_at = $4, version = version + 1 \
                 WHERE namespace = $1 AND key = $2 AND version = $6 \
                 AND (expires_at IS NULL OR expires_at > $5) \
                 RETURNING version",
            ),
        };
        let mut query = query
            .bind(namespace)
            .bind(key)
            .bind(value)
            .bind(expires_at.map(ts))
            .bind(ts(now));
        if let Expect::Version(expected) = expect {
            query = query.bind(to_i64("version", expected)?);
        }
        match query.fetch_optional(&self.pool).await? {
            Some(version) => to_u64("version", key, version),
            None => {
                // Read only to name what was found: nothing was written either way.
                let actual = self.kv_get(namespace, key, now).await?.map(|e| e.version);
                Err(StoreError::RecordConflict {
                    namespace: namespace.to_owned(),
                    key: key.to_owned(),
                    expected: match expect {
                        Expect::Version(v) => Some(v),
                        Expect::Absent | Expect::Any => None,
                    },
                    actual,
                }
                .into())
            }
        }
    }

    async fn kv_take(&self, namespace: &str, key: &str, now: Timestamp) -> Result<Option<KvEntry>> {
        let row = sqlx::query(
            "DELETE FROM kv WHERE namespace = $1 AND key = $2 \
             RETURNING key, value, version, expires_at",
        )
        .bind(namespace)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row
            .map(|row| entry(namespace, &row))
            .transpose()?
            .filter(|e| e.is_live(now)))
    }

    async fn kv_delete(&self, namespace: &str, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM kv WHERE namespace = $1 AND key = $2")
            .bind(namespace)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn kv_list(&self, namespace: &str, now: Timestamp, limit: usize) -> Result<Vec<KvEntry>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT key, value, version, expires_at FROM kv \
             WHERE namespace = $1 AND (expires_at IS NULL OR expires_at > $2) \
             ORDER BY key LIMIT $3",
        )
        .bind(namespace)
        .bind(ts(now))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| entry(namespace, row)).collect()
    }

    async fn kv_count(&self, namespace: &str, now: Timestamp) -> Result<u64> {
        let count: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM kv \
             WHERE namespace = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(namespace)
        .bind(ts(now))
        .fetch_one(&self.pool)
        .await?;
        to_u64("count", namespace, count)
    }

    async fn kv_purge_expired(&self, now: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM kv WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(ts(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

ccm_store_sql::forward_key_value_store!(PostgresStore);
