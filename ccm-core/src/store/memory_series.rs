//! An in-memory [`MetricSeries`], the reference for adapters' behaviour.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ids::WorkerId;
use crate::ports::metric_series::{bucket, MetricPoint, MetricSeries};
use crate::ports::store::StoreError;
use crate::time::Timestamp;

/// Points by worker, each list kept in time order.
#[derive(Debug, Default)]
pub struct MemoryMetricSeries {
    points: Mutex<BTreeMap<WorkerId, Vec<MetricPoint>>>,
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

#[async_trait]
impl MetricSeries for MemoryMetricSeries {
    async fn append(&self, points: &[MetricPoint]) -> Result<(), StoreError> {
        let mut guard = self.points.lock().map_err(|_| poisoned())?;
        for p in points {
            let list = guard.entry(p.worker_id).or_default();
            let at = list.partition_point(|q| q.at <= p.at);
            list.insert(at, p.clone());
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
        let raw: Vec<MetricPoint> = {
            let guard = self.points.lock().map_err(|_| poisoned())?;
            guard
                .get(&worker)
                .map(|list| {
                    list.iter()
                        .filter(|p| p.at >= since && p.at < until)
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        Ok(bucket(raw, since, step_seconds))
    }

    async fn prune(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut guard = self.points.lock().map_err(|_| poisoned())?;
        let mut removed = 0u64;
        for list in guard.values_mut() {
            let keep_from = list.partition_point(|p| p.at < before);
            removed += keep_from as u64;
            list.drain(..keep_from);
        }
        Ok(removed)
    }
}
