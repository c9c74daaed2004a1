//! The metric-series port: a time series of utilisation points per worker for
//! charts, with bounded retention. Kept apart from [`crate::ports::Store`] because
//! it is append-mostly, needs no versions or events, and may live elsewhere.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::WorkerId;
use crate::ports::store::StoreError;
use crate::time::Timestamp;

/// One observation of a worker's utilisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// The worker.
    pub worker_id: WorkerId,
    /// When it was observed.
    pub at: Timestamp,
    /// CPU percent.
    pub cpu_percent: Option<f64>,
    /// Memory percent.
    pub memory_percent: Option<f64>,
    /// Disk percent.
    pub disk_percent: Option<f64>,
    /// CML nodes running.
    pub running_nodes: Option<u32>,
}

/// Stores and reads per-worker metric series.
#[async_trait]
pub trait MetricSeries: Send + Sync {
    /// Appends points (any workers, any order).
    async fn append(&self, points: &[MetricPoint]) -> Result<(), StoreError>;

    /// Points of `worker` with `since <= at < until`, oldest first. With `step`
    /// seconds > 0, points are averaged per `step`-long bucket aligned to `since`
    /// (the bucket's start is the point's time); 0 returns raw points.
    async fn read(
        &self,
        worker: WorkerId,
        since: Timestamp,
        until: Timestamp,
        step_seconds: u32,
    ) -> Result<Vec<MetricPoint>, StoreError>;

    /// Deletes points older than `before`; returns how many went.
    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// Averages raw points (sorted by time) into `step`-long buckets aligned to `since`.
/// Shared by adapters that read raw rows and bucket in Rust.
pub fn bucket(points: Vec<MetricPoint>, since: Timestamp, step_seconds: u32) -> Vec<MetricPoint> {
    if step_seconds == 0 {
        return points;
    }
    let step = i64::from(step_seconds);
    let mut out: Vec<(MetricPoint, [u32; 4])> = Vec::new();
    for p in points {
        let index = crate::time::seconds_between(since, p.at).max(0) / step;
        let start = crate::time::plus_seconds(since, index * step);
        match out.last_mut() {
            Some((acc, counts)) if acc.at == start => {
                add(&mut acc.cpu_percent, &mut counts[0], p.cpu_percent);
                add(&mut acc.memory_percent, &mut counts[1], p.memory_percent);
                add(&mut acc.disk_percent, &mut counts[2], p.disk_percent);
                let nodes = p.running_nodes.map(f64::from);
                let mut total = acc.running_nodes.map(f64::from);
                add(&mut total, &mut counts[3], nodes);
                acc.running_nodes = total.map(|t| t as u32);
            }
            _ => {
                let counts = [
                    u32::from(p.cpu_percent.is_some()),
                    u32::from(p.memory_percent.is_some()),
                    u32::from(p.disk_percent.is_some()),
                    u32::from(p.running_nodes.is_some()),
                ];
                out.push((MetricPoint { at: start, ..p }, counts));
            }
        }
    }
    out.into_iter()
        .map(|(mut p, counts)| {
            p.cpu_percent = p.cpu_percent.map(|v| v / f64::from(counts[0].max(1)));
            p.memory_percent = p.memory_percent.map(|v| v / f64::from(counts[1].max(1)));
            p.disk_percent = p.disk_percent.map(|v| v / f64::from(counts[2].max(1)));
            p.running_nodes = p
                .running_nodes
                .map(|v| (f64::from(v) / f64::from(counts[3].max(1))).round() as u32);
            p
        })
        .collect()
}

fn add(sum: &mut Option<f64>, count: &mut u32, value: Option<f64>) {
    if let Some(v) = value {
        *sum = Some(sum.unwrap_or(0.0) + v);
        *count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{epoch, plus_seconds};

    fn point(at: i64, cpu: Option<f64>, nodes: Option<u32>) -> MetricPoint {
        MetricPoint {
            worker_id: WorkerId::from_u128(1),
            at: plus_seconds(epoch(), at),
            cpu_percent: cpu,
            memory_percent: None,
            disk_percent: None,
            running_nodes: nodes,
        }
    }

    #[test]
    fn buckets_average_present_values_only() {
        let points = vec![
            point(0, Some(10.0), Some(2)),
            point(100, Some(30.0), None),
            point(299, None, Some(4)),
            point(300, Some(50.0), Some(1)),
        ];
        let out = bucket(points.clone(), epoch(), 300);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].at, epoch());
        assert_eq!(out[0].cpu_percent, Some(20.0));
        assert_eq!(out[0].running_nodes, Some(3));
        assert_eq!(out[1].cpu_percent, Some(50.0));
        assert_eq!(bucket(points.clone(), epoch(), 0), points);
    }
}
