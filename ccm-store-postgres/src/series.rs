//! The [`MetricSeries`] port over the `metric_points` table: instants as unix
//! nanoseconds, so buckets are integer arithmetic in SQL; each row carries the
//! number of raw observations it stands for (its weight in later averages).
//!
//! Compaction averages in one statement (`DELETE … RETURNING` feeding the
//! `INSERT` of the averages), so the rows averaged are exactly the rows deleted,
//! even while other processes append; compactions by several processes queue on
//! a transaction-scoped advisory lock of the schema.

use sqlx::Row;

use ccm_core::ports::metric_series::{CompactReport, MetricPoint, MetricRetention};
use ccm_core::time::Timestamp;

use ccm_store_sql::series::{bound, nanos};

use crate::error::PostgresStoreError;
use crate::rows::PostgresDialect;
use crate::store::{to_i64, to_u64, PostgresStore};

type Result<T, E = PostgresStoreError> = std::result::Result<T, E>;

/// Averages the buckets (`$1` ns long) in `[$2, $3)` ns that hold a raw point:
/// deletes their rows and inserts one weighted average per worker and bucket.
/// Returns (rows replaced, averages written).
const DOWNSAMPLE: &str = "\
WITH candidates AS (
    SELECT DISTINCT worker_id, at_ns - (((at_ns % $1) + $1) % $1) AS bucket
    FROM metric_points WHERE NOT averaged AND at_ns >= $2 AND at_ns < $3
), gone AS (
    DELETE FROM metric_points AS m USING candidates AS c
    WHERE m.at_ns >= $2 AND m.at_ns < $3 AND m.worker_id = c.worker_id
      AND m.at_ns - (((m.at_ns % $1) + $1) % $1) = c.bucket
    RETURNING m.worker_id, c.bucket, m.cpu_percent, m.memory_percent, m.disk_percent,
              m.running_nodes, m.samples
), written AS (
    INSERT INTO metric_points (worker_id, at_ns, cpu_percent, memory_percent,
                               disk_percent, running_nodes, samples, averaged)
    SELECT worker_id, bucket,
        SUM(cpu_percent * samples)
            / NULLIF(SUM(samples) FILTER (WHERE cpu_percent IS NOT NULL), 0)::float8,
        SUM(memory_percent * samples)
            / NULLIF(SUM(samples) FILTER (WHERE memory_percent IS NOT NULL), 0)::float8,
        SUM(disk_percent * samples)
            / NULLIF(SUM(samples) FILTER (WHERE disk_percent IS NOT NULL), 0)::float8,
        -- numeric: rounds half away from zero, as the other adapters do.
        round(SUM(running_nodes * samples)::numeric
            / NULLIF(SUM(samples) FILTER (WHERE running_nodes IS NOT NULL), 0))::bigint,
        SUM(samples), TRUE
    FROM gone GROUP BY worker_id, bucket
    RETURNING 1
)
SELECT (SELECT COUNT(*) FROM gone), (SELECT COUNT(*) FROM written)";

fn count(what: &str, value: i64) -> Result<u64> {
    to_u64(what, "metric_points", value)
}

impl PostgresStore {
    async fn series_append(&self, points: &[MetricPoint]) -> Result<()> {
        let mut workers = Vec::with_capacity(points.len());
        let mut ats = Vec::with_capacity(points.len());
        let mut cpu = Vec::with_capacity(points.len());
        let mut memory = Vec::with_capacity(points.len());
        let mut disk = Vec::with_capacity(points.len());
        let mut nodes = Vec::with_capacity(points.len());
        for p in points {
            workers.push(p.worker_id.to_string());
            ats.push(nanos("metric point", p.at)?);
            cpu.push(p.cpu_percent);
            memory.push(p.memory_percent);
            disk.push(p.disk_percent);
            nodes.push(p.running_nodes.map(i64::from));
        }
        sqlx::query(
            "INSERT INTO metric_points (worker_id, at_ns, cpu_percent, memory_percent, \
             disk_percent, running_nodes) SELECT * FROM UNNEST($1::text[], $2::bigint[], \
             $3::float8[], $4::float8[], $5::float8[], $6::bigint[])",
        )
        .bind(&workers)
        .bind(&ats)
        .bind(&cpu)
        .bind(&memory)
        .bind(&disk)
        .bind(&nodes)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn series_prune(&self, before: Timestamp) -> Result<u64> {
        let done = sqlx::query("DELETE FROM metric_points WHERE at_ns < $1")
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
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.metric_points'))")
            .execute(&mut *tx)
            .await?;
        report.expired = sqlx::query("DELETE FROM metric_points WHERE at_ns < $1")
            .bind(bound(retention.delete_before(now)))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if let Some(before) = retention.downsample_before(now) {
            let step = to_i64("step", u64::from(retention.step_seconds) * 1_000_000_000)?;
            let before = bound(before);
            // Only buckets from the oldest raw point on can change.
            let oldest: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(at_ns) FROM metric_points WHERE NOT averaged AND at_ns < $1",
            )
            .bind(before)
            .fetch_one(&mut *tx)
            .await?;
            if let Some(oldest) = oldest {
                let row = sqlx::query(DOWNSAMPLE)
                    .bind(step)
                    .bind(oldest - oldest.rem_euclid(step))
                    .bind(before)
                    .fetch_one(&mut *tx)
                    .await?;
                report.replaced = count("replaced", row.try_get(0)?)?;
                report.written = count("written", row.try_get(1)?)?;
            }
        }
        tx.commit().await?;
        Ok(report)
    }
}

ccm_store_sql::forward_metric_series!(PostgresStore, PostgresDialect);
