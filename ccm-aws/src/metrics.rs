//! `GetMetricData` planning: one query per (instance, metric), batched 500 to a
//! call, and the latest datapoint of each query kept across pages.

use std::collections::BTreeSet;

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use aws_sdk_ec2::primitives::DateTime;
use ccm_core::ids::InstanceId;
use ccm_core::ports::cloud::{MetricName, MetricSample, MetricsQuery};
use ccm_core::time::Timestamp;

use crate::convert::to_timestamp;

/// The dimension CloudWatch keys EC2 and CloudWatch-agent metrics by.
pub(crate) const INSTANCE_DIMENSION: &str = "InstanceId";
/// The statistic read.
pub(crate) const STATISTIC: &str = "Average";

/// The (instance, metric) pairs of a query, deduplicated, in query order; the
/// position of a pair is its query id (`q<position>`).
pub(crate) fn plan(query: &MetricsQuery) -> Vec<(InstanceId, MetricName)> {
    let mut seen_ids = BTreeSet::new();
    let mut seen_metrics = BTreeSet::new();
    let metrics: Vec<MetricName> = query
        .metrics
        .iter()
        .copied()
        .filter(|m| seen_metrics.insert(*m))
        .collect();
    query
        .instance_ids
        .iter()
        .filter(|id| seen_ids.insert((*id).clone()))
        .flat_map(|id| metrics.iter().map(move |m| (id.clone(), *m)))
        .collect()
}

/// Query id of the pair at `index` (CloudWatch ids start with a lower-case letter).
pub(crate) fn query_id(index: usize) -> String {
    format!("q{index}")
}

/// Index of a query id made by [`query_id`].
pub(crate) fn query_index(id: &str) -> Option<usize> {
    id.strip_prefix('q')?.parse().ok()
}

/// The CloudWatch query for one pair.
pub(crate) fn data_query(
    index: usize,
    instance: &InstanceId,
    metric: MetricName,
    period_seconds: i32,
) -> MetricDataQuery {
    let (namespace, name) = metric.cloudwatch_name();
    MetricDataQuery::builder()
        .id(query_id(index))
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(namespace)
                        .metric_name(name)
                        .dimensions(
                            Dimension::builder()
                                .name(INSTANCE_DIMENSION)
                                .value(instance.as_str())
                                .build(),
                        )
                        .build(),
                )
                .period(period_seconds)
                .stat(STATISTIC)
                .build(),
        )
        .return_data(true)
        .build()
}

/// The latest (value, time) among datapoints, whatever order they come in.
pub(crate) fn latest(timestamps: &[DateTime], values: &[f64]) -> Option<(f64, Timestamp)> {
    timestamps
        .iter()
        .zip(values)
        .filter_map(|(t, v)| to_timestamp(t).map(|t| (*v, t)))
        .max_by_key(|(_, t)| *t)
}

/// Keeps the later of two datapoints.
pub(crate) fn keep_latest(
    current: Option<(f64, Timestamp)>,
    candidate: Option<(f64, Timestamp)>,
) -> Option<(f64, Timestamp)> {
    match (current, candidate) {
        (Some(a), Some(b)) => Some(if b.1 > a.1 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// One sample per planned pair.
pub(crate) fn samples(
    plan: &[(InstanceId, MetricName)],
    latest: &[Option<(f64, Timestamp)>],
) -> Vec<MetricSample> {
    plan.iter()
        .zip(latest)
        .map(|((instance_id, metric), point)| MetricSample {
            instance_id: instance_id.clone(),
            metric: *metric,
            value: point.map(|(v, _)| v),
            at: point.map(|(_, t)| t),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::from_unix_seconds;

    fn query(ids: &[&str], metrics: &[MetricName]) -> MetricsQuery {
        MetricsQuery {
            instance_ids: ids.iter().map(|i| InstanceId::new(*i)).collect(),
            metrics: metrics.to_vec(),
            start: from_unix_seconds(0),
            end: from_unix_seconds(600),
            period_seconds: 60,
        }
    }

    #[test]
    fn plan_is_deduplicated_and_ids_round_trip() {
        let q = query(
            &["i-1", "i-2", "i-1"],
            &[
                MetricName::CpuUtilization,
                MetricName::MemUsedPercent,
                MetricName::CpuUtilization,
            ],
        );
        let plan = plan(&q);
        assert_eq!(plan.len(), 4);
        assert_eq!(
            plan[0],
            (InstanceId::new("i-1"), MetricName::CpuUtilization)
        );
        assert_eq!(
            plan[3],
            (InstanceId::new("i-2"), MetricName::MemUsedPercent)
        );
        assert_eq!(query_index(&query_id(417)), Some(417));
        assert_eq!(query_index("x1"), None);
    }

    #[test]
    fn thousand_instances_need_six_calls() {
        let ids: Vec<String> = (0..1000).map(|i| format!("i-{i}")).collect();
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let plan = plan(&query(&refs, &MetricName::ALL));
        assert_eq!(plan.len(), 3000);
        assert_eq!(
            plan.chunks(crate::config::METRIC_QUERIES_PER_CALL).count(),
            6
        );
    }

    #[test]
    fn the_query_names_namespace_metric_and_dimension() {
        let q = data_query(3, &InstanceId::new("i-9"), MetricName::DiskUsedPercent, 300);
        assert_eq!(q.id(), Some("q3"));
        let stat = q.metric_stat().expect("stat");
        assert_eq!(stat.period(), Some(300));
        assert_eq!(stat.stat(), Some("Average"));
        let metric = stat.metric().expect("metric");
        assert_eq!(metric.namespace(), Some("CWAgent"));
        assert_eq!(metric.metric_name(), Some("disk_used_percent"));
        assert_eq!(metric.dimensions()[0].value(), Some("i-9"));
    }

    #[test]
    fn the_latest_datapoint_wins_in_any_order_and_across_pages() {
        let ts = [
            DateTime::from_secs(100),
            DateTime::from_secs(300),
            DateTime::from_secs(200),
        ];
        let point = latest(&ts, &[1.0, 3.0, 2.0]);
        assert_eq!(point, Some((3.0, from_unix_seconds(300))));
        let earlier = Some((9.0, from_unix_seconds(50)));
        assert_eq!(keep_latest(point, earlier), point);
        assert_eq!(keep_latest(earlier, point), point);
        assert_eq!(keep_latest(None, earlier), earlier);
        assert_eq!(latest(&[], &[]), None);
    }
}
