//! What the SQL stores' metric series share: instants as unix nanoseconds in a
//! `BIGINT`, and the read of one worker's points with their sample counts.

use chrono::DateTime;

use ccm_core::ids::WorkerId;
use ccm_core::ports::metric_series::{MetricPoint, Weighted};
use ccm_core::time::Timestamp;

use crate::{to_u64, Dialect, SqlStoreError};

/// Nanoseconds since the epoch of an instant to store; one outside what an
/// `i64` of nanoseconds holds is refused.
pub fn nanos(what: &str, at: Timestamp) -> Result<i64, SqlStoreError> {
    at.timestamp_nanos_opt()
        .ok_or_else(|| SqlStoreError::Encode {
            kind: what.to_owned(),
            id: at.to_string(),
            message: "outside the years 1677 to 2262".into(),
        })
}

/// Nanoseconds of a query bound, clamped to the representable range.
pub fn bound(at: Timestamp) -> i64 {
    at.timestamp_nanos_opt().unwrap_or(if at.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// One worker's points in `[since, until)` in time order, with their sample
/// counts: binds the worker id and the two bounds ([`bound`]).
pub fn read_sql<D: Dialect>() -> String {
    format!(
        "SELECT at_ns, cpu_percent, memory_percent, disk_percent, running_nodes, samples \
         FROM metric_points WHERE worker_id = {} AND at_ns >= {} AND at_ns < {} \
         ORDER BY at_ns",
        D::param(1),
        D::param(2),
        D::param(3)
    )
}

/// A row of [`read_sql`] as a point of `worker` and the samples it averages.
pub fn weighted_point<'r, R>(row: &'r R, worker: WorkerId) -> Result<Weighted, SqlStoreError>
where
    R: sqlx::Row,
    &'r str: sqlx::ColumnIndex<R>,
    i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<f64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let nodes: Option<i64> = row.try_get("running_nodes")?;
    let samples: i64 = row.try_get("samples")?;
    let point = MetricPoint {
        worker_id: worker,
        at: DateTime::from_timestamp_nanos(row.try_get("at_ns")?),
        cpu_percent: row.try_get("cpu_percent")?,
        memory_percent: row.try_get("memory_percent")?,
        disk_percent: row.try_get("disk_percent")?,
        running_nodes: nodes.and_then(|n| u32::try_from(n).ok()),
    };
    Ok((point, to_u64("samples", &worker.to_string(), samples)?))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn instants_outside_i64_nanoseconds_are_refused_or_clamped() {
        let late = chrono::Utc.with_ymd_and_hms(2300, 1, 1, 0, 0, 0).unwrap();
        let early = chrono::Utc.with_ymd_and_hms(1600, 1, 1, 0, 0, 0).unwrap();
        assert!(matches!(
            nanos("point", late),
            Err(SqlStoreError::Encode { .. })
        ));
        assert_eq!(bound(late), i64::MAX);
        assert_eq!(bound(early), i64::MIN);
        let now = chrono::Utc.with_ymd_and_hms(2026, 12, 6, 0, 0, 0).unwrap();
        assert_eq!(nanos("point", now).ok(), now.timestamp_nanos_opt());
        assert_eq!(bound(now), nanos("point", now).unwrap_or_default());
    }
}
