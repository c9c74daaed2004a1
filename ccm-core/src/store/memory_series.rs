//! An in-memory [`MetricSeries`], the reference for adapters' behaviour.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ids::WorkerId;
use crate::ports::metric_series::{
    average, bucket_start, bucket_weighted, CompactReport, MetricPoint, MetricRetention,
    MetricSeries, Weighted,
};
use crate::ports::store::StoreError;
use crate::time::Timestamp;

/// A point as kept: how many raw observations it stands for, and whether it is
/// an average written by compaction (raw points are what compaction looks for).
#[derive(Clone, Debug)]
struct Stored {
    point: MetricPoint,
    samples: u64,
    averaged: bool,
}

/// Points by worker, each list kept in time order.
#[derive(Debug, Default)]
pub struct MemoryMetricSeries {
    points: Mutex<BTreeMap<WorkerId, Vec<Stored>>>,
}

impl MemoryMetricSeries {
    /// An empty series store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned() -> StoreError {
    StoreError::Unavailable("metric series lock poisoned".into())
}

/// Deletes a worker's points before `before`; returns how many went.
fn drop_before(list: &mut Vec<Stored>, before: Timestamp) -> u64 {
    let keep_from = list.partition_point(|s| s.point.at < before);
    list.drain(..keep_from);
    keep_from as u64
}

/// Averages the buckets before `before` that hold a raw point (one worker's
/// time-ordered list), adding to `report`.
fn downsample(list: &mut Vec<Stored>, before: Timestamp, step: u32, report: &mut CompactReport) {
    let recent = list.split_off(list.partition_point(|s| s.point.at < before));
    let old = std::mem::take(list);
    let same_bucket =
        |a: &Stored, b: &Stored| bucket_start(a.point.at, step) == bucket_start(b.point.at, step);
    for group in old.chunk_by(same_bucket) {
        let Some(first) = group.first() else { continue };
        if group.iter().all(|s| s.averaged) {
            list.extend_from_slice(group);
            continue;
        }
        let weighted: Vec<Weighted> = group.iter().map(|s| (s.point.clone(), s.samples)).collect();
        if let Some((point, samples)) = average(&weighted, bucket_start(first.point.at, step)) {
            report.replaced += group.len() as u64;
            report.written += 1;
            list.push(Stored {
                point,
                samples,
                averaged: true,
            });
        }
    }
    list.extend(recent);
}

#[async_trait]
impl MetricSeries for MemoryMetricSeries {
    async fn append(&self, points: &[MetricPoint]) -> Result<(), StoreError> {
        let mut guard = self.points.lock().map_err(|_| poisoned())?;
        for p in points {
            let list = guard.entry(p.worker_id).or_default();
            let at = list.partition_point(|q| q.point.at <= p.at);
            list.insert(
                at,
                Stored {
                    point: p.clone(),
                    samples: 1,
                    averaged: false,
                },
            );
        }
        Ok(())
    }

    async fn read(
        &self,
        worker: WorkerId,
        since: Timestamp,
        until: Timestamp,
        step_seconds: u32,
    ) -> Result<Vec<MetricPoint>, StoreError> {
        let stored: Vec<Weighted> = {
            let guard = self.points.lock().map_err(|_| poisoned())?;
            guard
                .get(&worker)
                .map(|list| {
                    list.iter()
                        .filter(|s| s.point.at >= since && s.point.at < until)
                        .map(|s| (s.point.clone(), s.samples))
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(bucket_weighted(stored, since, step_seconds))
    }

    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut guard = self.points.lock().map_err(|_| poisoned())?;
        Ok(guard
            .values_mut()
            .map(|list| drop_before(list, before))
            .sum())
    }

    async fn compact(
        &self,
        now: Timestamp,
        retention: &MetricRetention,
    ) -> Result<CompactReport, StoreError> {
        let mut guard = self.points.lock().map_err(|_| poisoned())?;
        let mut report = CompactReport::default();
        let delete_before = retention.delete_before(now);
        for list in guard.values_mut() {
            report.expired += drop_before(list, delete_before);
            if let Some(before) = retention.downsample_before(now) {
                downsample(list, before, retention.step_seconds, &mut report);
            }
        }
        guard.retain(|_, list| !list.is_empty());
        Ok(report)
    }
}
