//! The [`MetricSeries`] port over the `metric_points` table: instants as unix
//! nanoseconds, so buckets are integer arithmetic in SQL; each row carries the
//! number of raw observations it stands for (its weight in later averages).
//!
//! Compaction is one write transaction: the averages are staged in a temporary
//! table, the points of their buckets deleted, and the averages inserted.

use sqlx::{QueryBuilder, Sqlite};

use ccm_core::ports::metric_series::{CompactReport, MetricPoint, MetricRetention};
use ccm_core::time::Timestamp;

use ccm_store_sql::series::{bound, nanos};

use crate::error::SqliteStoreError;
use crate::rows::SqliteDialect;
use crate::store::{to_i64, SqliteStore};

type Result<T, E = SqliteStoreError> = std::result::Result<T, E>;

/// Points per multi-row insert (6 parameters each, well under SQLite's limit).
const POINTS_PER_INSERT: usize = 500;

/// The start (in nanoseconds) of the `?1`-nanosecond bucket holding `at_ns`,
/// aligned to the epoch (floored for instants before it too).
macro_rules! bucket_of {
    ($column:literal) => {
        concat!("(", $column, " - (((", $column, " % ?1) + ?1) % ?1))")
    };
}

/// The averages of one compaction, on the transaction's connection (temporary
/// tables belong to a connection; emptied before the transaction ends).
const STAGING: &str = "CREATE TEMP TABLE IF NOT EXISTS compacted (\
    worker_id TEXT NOT NULL, at_ns INTEGER NOT NULL, cpu_percent REAL, \
    memory_percent REAL, disk_percent REAL, running_nodes INTEGER, \
    samples INTEGER NOT NULL, PRIMARY KEY (worker_id, at_ns))";

/// Stages the weighted average of every bucket (`?1` ns long) in `[?2, ?3)` ns
/// that holds a raw point, per worker.
const AVERAGE: &str = concat!(
    "INSERT INTO temp.compacted SELECT worker_id, bucket, \
     SUM(cpu_percent * samples) / SUM(CASE WHEN cpu_percent IS NOT NULL THEN samples END), \
     SUM(memory_percent * samples) \
       / SUM(CASE WHEN memory_percent IS NOT NULL THEN samples END), \
     SUM(disk_percent * samples) / SUM(CASE WHEN disk_percent IS NOT NULL THEN samples END), \
     CAST(ROUND(1.0 * SUM(running_nodes * samples) \
       / SUM(CASE WHEN running_nodes IS NOT NULL THEN samples END)) AS INTEGER), \
     SUM(samples) FROM (SELECT *, ",
    bucket_of!("at_ns"),
    " AS bucket FROM metric_points WHERE at_ns >= ?2 AND at_ns < ?3) \
     GROUP BY worker_id, bucket HAVING MIN(averaged) = 0"
);

/// Deletes the points of the staged buckets.
const REPLACED: &str = concat!(
    "DELETE FROM metric_points WHERE at_ns >= ?2 AND at_ns < ?3 AND (worker_id, ",
    bucket_of!("at_ns"),
    ") IN (SELECT worker_id, at_ns FROM temp.compacted)"
);

impl SqliteStore {
    async fn series_append(&self, points: &[MetricPoint]) -> Result<()> {
        let rows = points
            .iter()
            .map(|p| Ok((p, nanos("metric point", p.at)?)))
            .collect::<Result<Vec<_>>>()?;
        let (_guard, mut tx) = self.begin_write().await?;
        for chunk in rows.chunks(POINTS_PER_INSERT) {
            let mut query = QueryBuilder::<Sqlite>::new(
                "INSERT INTO metric_points (worker_id, at_ns, cpu_percent, memory_percent, \
                 disk_percent, running_nodes) ",
            );
            query.push_values(chunk, |mut row, (p, at_ns)| {
                row.push_bind(p.worker_id.to_string())
                    .push_bind(*at_ns)
                    .push_bind(p.cpu_percent)
                    .push_bind(p.memory_percent)
                    .push_bind(p.disk_percent)
                    .push_bind(p.running_nodes.map(i64::from));
            });
            query.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn series_prune(&self, before: Timestamp) -> Result<u64> {
        let _guard = self.write_guard().await;
        let done = sqlx::query("DELETE FROM metric_points WHERE at_ns < ?")
            .bind(bound(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn series_compact(
        &self,
        now: Timestamp,
        retention: &MetricRetention,
    ) -> Result<CompactReport> {
        let mut report = CompactReport::default();
        let (_guard, mut tx) = self.begin_write().await?;
        report.expired = sqlx::query("DELETE FROM metric_points WHERE at_ns < ?")
            .bind(bound(retention.delete_before(now)))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if let Some(before) = retention.downsample_before(now) {
            let step = to_i64("step", u64::from(retention.step_seconds) * 1_000_000_000)?;
            let before = bound(before);
            // Only buckets from the oldest raw point on can change.
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(at_ns) FROM metric_points WHERE averaged = 0 AND at_ns < ?",
            )
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(oldest) = oldest {
                let from = oldest - oldest.rem_euclid(step);
                sqlx::query(STAGING).execute(&mut *tx).await?;
                report.written = sqlx::query(AVERAGE)
                    .bind(step)
                    .bind(from)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                report.replaced = sqlx::query(REPLACED)
                    .bind(step)
                    .bind(from)
                    .bind(before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(
                    "INSERT INTO metric_points (worker_id, at_ns, cpu_percent, memory_percent, \
                     disk_percent, running_nodes, samples, averaged) \
                     SELECT worker_id, at_ns, cpu_percent, memory_percent, disk_percent, \
                     running_nodes, samples, 1 FROM temp.compacted",
                )
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM temp.compacted")
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

ccm_store_sql::forward_metric_series!(SqliteStore, SqliteDialect);
