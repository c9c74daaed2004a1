//! CloudWatch-like metrics. The latest datapoint of the window is computed from the
//! load the instance's CML puts on the host, so utilisation follows the labs running
//! there; an instance that was not running at the datapoint has no value.

use ccm_core::ids::Region;
use ccm_core::ports::cloud::{CloudError, MetricName, MetricSample, MetricsQuery};
use ccm_core::time::{from_unix_seconds, Timestamp};

use super::ops::unique;
use crate::calls::{pages, METRIC_QUERIES_PAGE};
use crate::world::World;

/// Start of the newest complete period before `end` (CloudWatch stamps a datapoint
/// with the start of its period). Basic monitoring only has 5-minute periods.
pub(crate) fn datapoint_at(end: Timestamp, period_seconds: u32, detailed: bool) -> Timestamp {
    let mut period = i64::from(period_seconds.max(60));
    if !detailed {
        period = period.max(300);
    }
    let last_start = end.timestamp() - period;
    from_unix_seconds(last_start.div_euclid(period) * period)
}

impl World {
    /// `GetMetricData`: one sample per (instance, metric), in query order.
    pub(crate) fn metrics(
        &mut self,
        region: &Region,
        query: &MetricsQuery,
        now: Timestamp,
    ) -> Result<Vec<MetricSample>, CloudError> {
        let ids = unique(&query.instance_ids);
        let queries = ids.len() * query.metrics.len();
        if queries == 0 {
            return Ok(Vec::new());
        }
        self.cloud_gate(
            "GetMetricData",
            region,
            pages(queries, METRIC_QUERIES_PAGE),
            now,
        )?;
        let state = self.region("GetMetricData", region)?;
        let end = query.end.min(now);
        let mut samples = Vec::with_capacity(queries);
        for id in ids {
            let record = state.instances.get(id);
            for &metric in &query.metrics {
                let point = record.and_then(|r| {
                    let at = datapoint_at(end, query.period_seconds, r.detailed_monitoring);
                    let agent =
                        self.config.cloudwatch_agent || metric == MetricName::CpuUtilization;
                    let ok = agent && at >= query.start && r.was_running_at(at, now);
                    let server = self.servers.get(id).filter(|_| ok)?;
                    let load = server.load(at, &self.config.cml);
                    let value = match metric {
                        MetricName::CpuUtilization => load.cpu_percent,
                        MetricName::MemUsedPercent => load.memory_percent,
                        MetricName::DiskUsedPercent => load.disk_percent,
                    };
                    Some((value, at))
                });
                samples.push(MetricSample {
                    instance_id: id.clone(),
                    metric,
                    value: point.map(|p| p.0),
                    at: point.map(|p| p.1),
                });
            }
        }
        Ok(samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datapoints_align_to_complete_periods() {
        let end = from_unix_seconds(10_000);
        assert_eq!(datapoint_at(end, 60, true), from_unix_seconds(9_900));
        assert_eq!(datapoint_at(end, 300, true), from_unix_seconds(9_600));
        assert_eq!(datapoint_at(end, 60, false), from_unix_seconds(9_600));
    }
}
