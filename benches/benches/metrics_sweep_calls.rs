//! `metrics_sweep_calls`: one full status + metrics sweep of a 1,000-instance fleet
//! against moto (started privately, see `ccm_aws::testing`), batched — the
//! port's batch calls: `describe`, `status_checks` and `metrics` over every id —
//! versus one instance at a time (`describe` / `status_checks` / `metrics` per
//! instance), in the same run. Prints the AWS calls of each pattern by operation.
//!
//! Batched, 1,000 instances cost 21 calls: `DescribeInstances` 5 (ids go into
//! `instance-id` filters 200 at a time, EC2's limit on filter values),
//! `DescribeInstanceStatus` 10 (100 ids each) and `GetMetricData` 6 (500 queries
//! each); one at a time costs 3 calls per instance.
//!
//! moto's times are moto's: it scans every datapoint for every metric query and
//! every instance for every describe, in Python, so the batched sweep's seconds are
//! mostly `GetMetricData` scanning, and neither pattern's time says much about AWS,
//! where per-call latency dominates. One per-instance sweep of 1,000 takes about
//! 20 s on moto, too slow for 10 samples, so that baseline sweeps the first
//! `CCM_BENCH_PER_INSTANCE` instances (default 100) and the printout extrapolates
//! its calls and time to 1,000; the batched sweep always covers all 1,000.
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ccm_aws::aws_sdk_cloudwatch::primitives::DateTime;
use ccm_aws::aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
use ccm_aws::aws_sdk_ec2::types::{InstanceType, ResourceType, Tag, TagSpecification};
use ccm_aws::testing::{MotoServer, MOTO_REGION, NEWEST_CML_IMAGE};
use ccm_aws::AwsCloud;
use ccm_core::ids::{InstanceId, Region};
use ccm_core::ports::cloud::{CloudProvider, MetricName, MetricsQuery};
use ccm_core::time::{from_unix_seconds, plus_seconds, Timestamp};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode};
use tokio::runtime::Runtime;

const FLEET: usize = 1_000;
const PERIOD: i64 = 300;

fn now() -> Timestamp {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    from_unix_seconds(i64::try_from(secs).unwrap_or(0))
}

fn per_instance_count() -> usize {
    std::env::var("CCM_BENCH_PER_INSTANCE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100)
        .clamp(1, FLEET)
}

/// Launches the fleet (10 × `RunInstances` of 100) and publishes one datapoint of
/// every metric of every instance.
async fn setup(server: &MotoServer) -> (Vec<InstanceId>, Timestamp) {
    let cloud = server.cloud().unwrap();
    let region = Region::new(MOTO_REGION);
    let ec2 = cloud.ec2_client(&region).await.unwrap();
    let mut ids = Vec::with_capacity(FLEET);
    for batch in 0..FLEET / 100 {
        let launched = ec2
            .run_instances()
            .image_id(NEWEST_CML_IMAGE)
            .instance_type(InstanceType::from("m5zn.metal"))
            .min_count(100)
            .max_count(100)
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::Instance)
                    .tags(
                        Tag::builder()
                            .key("ccm:bench")
                            .value("metrics_sweep")
                            .build(),
                    )
                    .tags(Tag::builder().key("batch").value(batch.to_string()).build())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        ids.extend(
            launched
                .instances()
                .iter()
                .map(|i| InstanceId::new(i.instance_id().unwrap())),
        );
    }
    let cw = cloud.cloudwatch_client(&region).await.unwrap();
    let at = plus_seconds(now(), -60);
    for namespace in ["AWS/EC2", "CWAgent"] {
        let datums: Vec<MetricDatum> = ids
            .iter()
            .enumerate()
            .flat_map(|(i, id)| {
                MetricName::ALL
                    .into_iter()
                    .filter(|m| m.cloudwatch_name().0 == namespace)
                    .map(move |m| {
                        MetricDatum::builder()
                            .metric_name(m.cloudwatch_name().1)
                            .dimensions(
                                Dimension::builder()
                                    .name("InstanceId")
                                    .value(id.as_str())
                                    .build(),
                            )
                            .timestamp(DateTime::from_secs(at.timestamp()))
                            .value((i % 100) as f64)
                            .build()
                    })
            })
            .collect();
        for chunk in datums.chunks(1000) {
            cw.put_metric_data()
                .namespace(namespace)
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap();
        }
    }
    (ids, at)
}

fn query(ids: &[InstanceId], at: Timestamp) -> MetricsQuery {
    // One period ending just after the datapoints.
    let end = plus_seconds(at, 30);
    MetricsQuery {
        instance_ids: ids.to_vec(),
        metrics: MetricName::ALL.to_vec(),
        start: plus_seconds(end, -PERIOD),
        end,
        period_seconds: 300,
    }
}

/// Describe, status checks and metrics of every instance in three batch calls.
async fn batched_sweep(cloud: &AwsCloud, ids: &[InstanceId], at: Timestamp) -> usize {
    let region = Region::new(MOTO_REGION);
    let described = cloud.describe(&region, ids).await.unwrap();
    let checks = cloud.status_checks(&region, ids).await.unwrap();
    let samples = cloud.metrics(&region, &query(ids, at)).await.unwrap();
    assert_eq!(described.len(), ids.len());
    assert_eq!(checks.len(), ids.len());
    assert!(samples.iter().all(|s| s.value.is_some()));
    samples.len()
}

/// The same, one instance at a time.
async fn per_instance_sweep(cloud: &AwsCloud, ids: &[InstanceId], at: Timestamp) -> usize {
    let region = Region::new(MOTO_REGION);
    let mut samples = 0;
    for id in ids {
        let one = std::slice::from_ref(id);
        assert_eq!(cloud.describe(&region, one).await.unwrap().len(), 1);
        assert_eq!(cloud.status_checks(&region, one).await.unwrap().len(), 1);
        samples += cloud.metrics(&region, &query(one, at)).await.unwrap().len();
    }
    samples
}

fn show(counts: &BTreeMap<String, u64>) -> String {
    let total: u64 = counts.values().sum();
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    format!("{total} calls ({})", parts.join(", "))
}

fn metrics_sweep_calls(c: &mut Criterion) {
    let rt = Runtime::new().unwrap();
    let server = match rt.block_on(MotoServer::start()) {
        Ok(server) => server,
        Err(e) => panic!("metrics_sweep_calls needs moto: {e}"),
    };
    let started = Instant::now();
    let (ids, at) = rt.block_on(setup(&server));
    println!(
        "metrics_sweep_calls: launched {FLEET} instances and published {} datapoints in {:.1?}",
        FLEET * 3,
        started.elapsed()
    );
    let per_n = per_instance_count();
    let per_ids = &ids[..per_n];

    // One counted sweep of each pattern; the batched one timed call by call.
    let batched = server.cloud().unwrap();
    let region = Region::new(MOTO_REGION);
    let t = Instant::now();
    rt.block_on(batched.describe(&region, &ids)).unwrap();
    let describe_time = t.elapsed();
    rt.block_on(batched.status_checks(&region, &ids)).unwrap();
    let status_time = t.elapsed() - describe_time;
    rt.block_on(batched.metrics(&region, &query(&ids, at)))
        .unwrap();
    let batched_time = t.elapsed();
    let metrics_time = batched_time - describe_time - status_time;
    let per = server.cloud().unwrap();
    let t = Instant::now();
    rt.block_on(per_instance_sweep(&per, per_ids, at));
    let per_time = t.elapsed();
    let scale = FLEET as f64 / per_n as f64;
    println!(
        "metrics_sweep_calls: batched, {FLEET} instances: {} in {batched_time:.2?} \
         (describe {describe_time:.2?}, status checks {status_time:.2?}, metrics {metrics_time:.2?})",
        show(&batched.call_counts())
    );
    println!(
        "metrics_sweep_calls: one at a time, {per_n} instances: {} in {per_time:.2?} \
         (≈ {:.0} calls and {:.1?} for {FLEET})",
        show(&per.call_counts()),
        per.total_calls() as f64 * scale,
        per_time.mul_f64(scale)
    );

    let mut group = c.benchmark_group("metrics_sweep_calls");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(20));
    group.bench_function(BenchmarkId::new("batched", FLEET), |b| {
        b.iter(|| rt.block_on(batched_sweep(&batched, &ids, at)))
    });
    group.bench_function(BenchmarkId::new("one_at_a_time", per_n), |b| {
        b.iter(|| rt.block_on(per_instance_sweep(&per, per_ids, at)))
    });
    group.finish();
    drop(server);
}

criterion_group!(benches, metrics_sweep_calls);
criterion_main!(benches);
