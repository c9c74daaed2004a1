//! Conformance suite for [`MetricSeries`] adapters.

use crate::ids::WorkerId;
use crate::ports::metric_series::{MetricPoint, MetricSeries};
use crate::time::{from_unix_seconds, plus_seconds, Timestamp};

fn t0() -> Timestamp {
    from_unix_seconds(1_750_000_000)
}

fn point(worker: u128, at: i64, cpu: f64) -> MetricPoint {
    MetricPoint {
        worker_id: WorkerId::from_u128(worker),
        at: plus_seconds(t0(), at),
        cpu_percent: Some(cpu),
        memory_percent: Some(cpu / 2.0),
        disk_percent: None,
        running_nodes: Some(3),
    }
}

/// Runs every check against an empty series store; returns the first failure.
pub async fn run_all(series: &dyn MetricSeries) -> Result<(), String> {
    let err = |e: crate::ports::store::StoreError| e.to_string();
    // Out of order, two workers.
    series
        .append(&[
            point(1, 600, 30.0),
            point(1, 0, 10.0),
            point(2, 0, 99.0),
            point(1, 300, 20.0),
        ])
        .await
        .map_err(err)?;
    let raw = series
        .read(WorkerId::from_u128(1), t0(), plus_seconds(t0(), 3600), 0)
        .await
        .map_err(err)?;
    let cpus: Vec<Option<f64>> = raw.iter().map(|p| p.cpu_percent).collect();
    if cpus != vec![Some(10.0), Some(20.0), Some(30.0)] {
        return Err(format!(
            "raw read not in time order or mixed workers: {cpus:?}"
        ));
    }
    if raw[0].memory_percent != Some(5.0)
        || raw[0].disk_percent.is_some()
        || raw[0].running_nodes != Some(3)
    {
        return Err(format!("fields not kept: {:?}", raw[0]));
    }
    let window = series
        .read(
            WorkerId::from_u128(1),
            plus_seconds(t0(), 300),
            plus_seconds(t0(), 600),
            0,
        )
        .await
        .map_err(err)?;
    if window.len() != 1 {
        return Err(format!(
            "window [300, 600) should hold 1 point, got {}",
            window.len()
        ));
    }
    let bucketed = series
        .read(WorkerId::from_u128(1), t0(), plus_seconds(t0(), 3600), 600)
        .await
        .map_err(err)?;
    let avg: Vec<Option<f64>> = bucketed.iter().map(|p| p.cpu_percent).collect();
    if avg != vec![Some(15.0), Some(30.0)] || bucketed[1].at != plus_seconds(t0(), 600) {
        return Err(format!(
            "600 s buckets should average to [15, 30]: {bucketed:?}"
        ));
    }
    let pruned = series.prune(plus_seconds(t0(), 300)).await.map_err(err)?;
    if pruned != 2 {
        return Err(format!(
            "prune before +300 s should remove 2 points, removed {pruned}"
        ));
    }
    let left = series
        .read(WorkerId::from_u128(2), t0(), plus_seconds(t0(), 3600), 0)
        .await
        .map_err(err)?;
    if !left.is_empty() {
        return Err("worker 2's old point survived the prune".into());
    }
    Ok(())
}
