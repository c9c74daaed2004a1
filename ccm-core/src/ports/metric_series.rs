//! The metric-series port: a time series of utilisation points per worker for
//! charts, with bounded retention. Kept apart from [`crate::ports::Store`] because
//! it is append-mostly, needs no versions or events, and may live elsewhere.
//!
//! Recent points stay raw; older ones are averaged down by [`MetricSeries::compact`]
//! to one point per worker and epoch-aligned bucket, and the oldest are deleted
//! ([`MetricRetention`]). An averaged point stands for the raw points it replaced:
//! it weighs as many of them wherever points are averaged again (a later
//! compaction, a bucketed read), so charts over mixed raw and downsampled points
//! show true averages.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::WorkerId;
use crate::ports::store::StoreError;
use crate::time::{from_unix_seconds, plus_seconds, seconds_between, Timestamp};

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

/// How long points stay raw, how they are averaged down, and when they go.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRetention {
    /// Points younger than this stay raw.
    pub raw_seconds: u32,
    /// Older points are averaged per worker and bucket of this many seconds,
    /// aligned to multiples of it since the unix epoch (0: never averaged).
    pub step_seconds: u32,
    /// Points older than this are deleted.
    pub keep_seconds: u32,
}

impl Default for MetricRetention {
    /// One day raw, then 5-minute averages, kept 30 days.
    fn default() -> Self {
        Self {
            raw_seconds: 86_400,
            step_seconds: 300,
            keep_seconds: 30 * 86_400,
        }
    }
}

impl MetricRetention {
    /// Points before this instant are deleted.
    pub fn delete_before(&self, now: Timestamp) -> Timestamp {
        plus_seconds(now, -i64::from(self.keep_seconds))
    }

    /// Points before this instant are averaged down: the start of the bucket that
    /// holds `now - raw_seconds`. Only whole buckets are averaged, so a bucket is
    /// never split between a raw and an averaged part. `None` when `step_seconds`
    /// is 0.
    pub fn downsample_before(&self, now: Timestamp) -> Option<Timestamp> {
        (self.step_seconds > 0).then(|| {
            bucket_start(
                plus_seconds(now, -i64::from(self.raw_seconds)),
                self.step_seconds,
            )
        })
    }
}

/// What one [`MetricSeries::compact`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactReport {
    /// Points replaced by averages (raw ones, and earlier averages of a bucket
    /// that received late raw points).
    pub replaced: u64,
    /// Averaged points written in their place.
    pub written: u64,
    /// Points deleted for being older than the retention.
    pub expired: u64,
}

/// Stores and reads per-worker metric series.
#[async_trait]
pub trait MetricSeries: Send + Sync {
    /// Appends points (any workers, any order).
    async fn append(&self, points: &[MetricPoint]) -> Result<(), StoreError>;

    /// Points of `worker` with `since <= at < until`, oldest first. With `step`
    /// seconds > 0, points are averaged per `step`-long bucket aligned to `since`
    /// (the bucket's start is the point's time), each averaged point weighing as
    /// many raw points as it replaced; 0 returns the stored points.
    async fn read(
        &self,
        worker: WorkerId,
        since: Timestamp,
        until: Timestamp,
        step_seconds: u32,
    ) -> Result<Vec<MetricPoint>, StoreError>;

    /// Deletes points older than `before`; returns how many went.
    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Deletes points older than [`MetricRetention::delete_before`], then replaces
    /// the points of every whole bucket before
    /// [`MetricRetention::downsample_before`] that holds a raw point by their
    /// weighted average, stamped at the bucket's start. Idempotent: a second run
    /// at the same `now` changes nothing.
    async fn compact(
        &self,
        now: Timestamp,
        retention: &MetricRetention,
    ) -> Result<CompactReport, StoreError>;
}

/// The start of the `step_seconds`-long bucket holding `at`, buckets aligned to
/// multiples of the step since the unix epoch (`at` itself when the step is 0).
pub fn bucket_start(at: Timestamp, step_seconds: u32) -> Timestamp {
    if step_seconds == 0 {
        return at;
    }
    let step = i64::from(step_seconds);
    from_unix_seconds(at.timestamp().div_euclid(step) * step)
}

/// A stored point and how many raw observations it stands for (1 when raw).
pub type Weighted = (MetricPoint, u64);

/// Averages raw points (sorted by time) into `step`-long buckets aligned to `since`.
/// Shared by adapters that read raw rows and bucket in Rust.
pub fn bucket(points: Vec<MetricPoint>, since: Timestamp, step_seconds: u32) -> Vec<MetricPoint> {
    bucket_weighted(points.into_iter().map(|p| (p, 1)), since, step_seconds)
}

/// [`bucket`] over points that may be averages: each weighs its sample count.
pub fn bucket_weighted(
    points: impl IntoIterator<Item = Weighted>,
    since: Timestamp,
    step_seconds: u32,
) -> Vec<MetricPoint> {
    if step_seconds == 0 {
        return points.into_iter().map(|(p, _)| p).collect();
    }
    let step = i64::from(step_seconds);
    let mut out: Vec<Average> = Vec::new();
    for (p, samples) in points {
        let index = seconds_between(since, p.at).max(0) / step;
        let start = plus_seconds(since, index * step);
        match out.last_mut() {
            Some(acc) if acc.at == start => acc.add(&p, samples),
            _ => out.push(Average::new(&p, samples, start)),
        }
    }
    out.into_iter().map(|acc| acc.finish().0).collect()
}

/// Averages one bucket's points (any order) into one stamped `at`, returning it
/// with the total sample count: what compaction writes.
pub fn average(points: &[Weighted], at: Timestamp) -> Option<Weighted> {
    let ((first, first_samples), rest) = points.split_first()?;
    let mut acc = Average::new(first, *first_samples, at);
    for (p, samples) in rest {
        acc.add(p, *samples);
    }
    Some(acc.finish())
}

/// A weighted mean of the values present.
#[derive(Default)]
struct Mean {
    sum: f64,
    weight: u64,
}

impl Mean {
    fn add(&mut self, value: Option<f64>, weight: u64) {
        if let Some(v) = value {
            self.sum += v * weight as f64;
            self.weight += weight;
        }
    }

    fn get(&self) -> Option<f64> {
        (self.weight > 0).then(|| self.sum / self.weight as f64)
    }
}

struct Average {
    worker_id: WorkerId,
    at: Timestamp,
    cpu: Mean,
    memory: Mean,
    disk: Mean,
    nodes: Mean,
    samples: u64,
}

impl Average {
    fn new(p: &MetricPoint, samples: u64, at: Timestamp) -> Self {
        let mut acc = Self {
            worker_id: p.worker_id,
            at,
            cpu: Mean::default(),
            memory: Mean::default(),
            disk: Mean::default(),
            nodes: Mean::default(),
            samples: 0,
        };
        acc.add(p, samples);
        acc
    }

    fn add(&mut self, p: &MetricPoint, samples: u64) {
        let samples = samples.max(1);
        self.cpu.add(p.cpu_percent, samples);
        self.memory.add(p.memory_percent, samples);
        self.disk.add(p.disk_percent, samples);
        self.nodes.add(p.running_nodes.map(f64::from), samples);
        self.samples += samples;
    }

    fn finish(self) -> Weighted {
        let point = MetricPoint {
            worker_id: self.worker_id,
            at: self.at,
            cpu_percent: self.cpu.get(),
            memory_percent: self.memory.get(),
            disk_percent: self.disk.get(),
            // Rounded half away from zero, as the SQL adapters' ROUND does.
            running_nodes: self.nodes.get().map(|v| v.round() as u32),
        };
        (point, self.samples)
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

    #[test]
    fn buckets_weigh_averaged_points_by_their_samples() {
        let weighted = vec![
            (point(0, Some(20.0), Some(2)), 3),
            (point(300, Some(50.0), Some(4)), 2),
        ];
        let out = bucket_weighted(weighted.clone(), epoch(), 600);
        assert_eq!(out[0].cpu_percent, Some(32.0));
        // (2 * 3 + 4 * 2) / 5 = 2.8
        assert_eq!(out[0].running_nodes, Some(3));
        let (avg, samples) = average(&weighted, epoch()).unwrap();
        assert_eq!((avg.cpu_percent, samples), (Some(32.0), 5));
        assert!(average(&[], epoch()).is_none());
    }

    #[test]
    fn retention_downsamples_whole_epoch_aligned_buckets_only() {
        let retention = MetricRetention {
            raw_seconds: 3600,
            step_seconds: 600,
            keep_seconds: 7200,
        };
        let now = plus_seconds(epoch(), 10 * 3600 + 100);
        assert_eq!(
            retention.downsample_before(now),
            Some(plus_seconds(epoch(), 9 * 3600))
        );
        assert_eq!(
            retention.delete_before(now),
            plus_seconds(epoch(), 8 * 3600 + 100)
        );
        let never = MetricRetention {
            step_seconds: 0,
            ..retention
        };
        assert_eq!(never.downsample_before(now), None);
        assert_eq!(
            bucket_start(plus_seconds(epoch(), 1199), 600),
            plus_seconds(epoch(), 600)
        );
        assert_eq!(
            bucket_start(plus_seconds(epoch(), -1), 600),
            plus_seconds(epoch(), -600)
        );
    }
}
