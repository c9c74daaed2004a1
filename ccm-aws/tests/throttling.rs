//! Retries against a proxy in front of moto that throttles or fails requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use ccm_aws::testing::MotoServer;
use ccm_aws::{AwsCloud, AwsConfig, RetryPolicy};
use ccm_core::ids::{InstanceId, WorkerId};
use ccm_core::ports::cloud::{CloudError, CloudProvider, MetricName, MetricsQuery};
use ccm_core::time::plus_seconds;
use common::proxy::{Fault, FaultProxy};
use common::{pattern, put_metrics, region, request};

fn upstream(server: &MotoServer) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], server.port()))
}

/// A provider through `proxy` with `attempts` attempts and millisecond backoff.
fn through(proxy: &FaultProxy, server: &MotoServer, attempts: u32) -> AwsCloud {
    AwsCloud::new(AwsConfig {
        endpoint_url: Some(proxy.endpoint()),
        retry: RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(2),
            max_delay: Duration::from_millis(20),
        },
        ..server.config()
    })
    .unwrap()
}

async fn start_moto() -> MotoServer {
    MotoServer::start().await.unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn throttled_calls_succeed_after_retries() {
    let server = start_moto().await;
    let direct = server.cloud().unwrap();
    let made = direct
        .launch(&request(WorkerId::new(), "throttled", pattern("cml-2.9*")))
        .await
        .unwrap();

    let proxy = FaultProxy::start(upstream(&server), Fault::ec2_throttle(), 2).await;
    let cloud = through(&proxy, &server, 4);
    let found = cloud
        .describe(&region(), std::slice::from_ref(&made.instance_id))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].instance_id, made.instance_id);
    assert_eq!(proxy.received(), 3);
    assert_eq!(proxy.failed(), 2);
    assert_eq!(cloud.call_counts()["DescribeInstances"], 3);
    assert_eq!(cloud.retry_counts()["DescribeInstances"], 2);
    assert_eq!(cloud.total_calls(), 3);
}

#[tokio::test]
async fn plain_503s_are_retried_like_throttling() {
    let server = start_moto().await;
    let proxy = FaultProxy::start(upstream(&server), Fault::unavailable(), 3).await;
    let cloud = through(&proxy, &server, 4);
    let images = cloud.find_images(&region(), "cml-2.9*").await.unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(cloud.call_counts()["DescribeImages"], 4);
    assert_eq!(cloud.retry_counts()["DescribeImages"], 3);
}

#[tokio::test]
async fn cloudwatch_throttling_is_retried() {
    let server = start_moto().await;
    let direct = server.cloud().unwrap();
    let id = InstanceId::new("i-0000000000000beef");
    let now = chrono::Utc::now();
    put_metrics(
        &direct,
        std::slice::from_ref(&id),
        plus_seconds(now, -30),
        |_, _| 12.5,
    )
    .await;

    let proxy = FaultProxy::start(upstream(&server), Fault::cloudwatch_throttle(), 1).await;
    let cloud = through(&proxy, &server, 3);
    let samples = cloud
        .metrics(
            &region(),
            &MetricsQuery {
                instance_ids: vec![id],
                metrics: MetricName::ALL.to_vec(),
                start: plus_seconds(now, -300),
                end: plus_seconds(now, 60),
                period_seconds: 60,
            },
        )
        .await
        .unwrap();
    assert!(samples.iter().all(|s| s.value == Some(12.5)), "{samples:?}");
    assert_eq!(cloud.call_counts()["GetMetricData"], 2);
    assert_eq!(cloud.retry_counts()["GetMetricData"], 1);
}

#[tokio::test]
async fn a_launch_throttled_before_it_reached_ec2_launches_once() {
    let server = start_moto().await;
    // The first two requests (the worker-tag lookup and its first retry) are
    // throttled; everything after goes through.
    let proxy = FaultProxy::start(upstream(&server), Fault::ec2_throttle(), 2).await;
    let cloud = through(&proxy, &server, 5);
    let worker = WorkerId::new();
    let instance = cloud
        .launch(&request(worker, "patient", pattern("cml-2.9*")))
        .await
        .unwrap();
    assert_eq!(cloud.call_counts()["RunInstances"], 1);
    assert_eq!(cloud.retry_counts()["DescribeInstances"], 2);
    let again = server
        .cloud()
        .unwrap()
        .launch(&request(worker, "patient", pattern("cml-2.9*")))
        .await
        .unwrap();
    assert_eq!(again.instance_id, instance.instance_id);
}

#[tokio::test]
async fn always_throttled_calls_end_in_throttled() {
    let server = start_moto().await;
    let proxy = FaultProxy::always(upstream(&server), Fault::ec2_throttle()).await;
    let cloud = through(&proxy, &server, 4);
    let result = cloud
        .describe(&region(), &[InstanceId::new("i-0000000000000dead")])
        .await;
    match result {
        Err(CloudError::Throttled { operation, message }) => {
            assert_eq!(operation, "DescribeInstances");
            assert!(message.contains("RequestLimitExceeded"), "{message}");
            assert!(
                message.contains("proxy-req-3"),
                "names the last request id: {message}"
            );
            assert!(message.contains("4 attempts"), "{message}");
        }
        other => panic!("expected Throttled, got {other:?}"),
    }
    assert_eq!(proxy.received(), 4);
    assert_eq!(cloud.call_counts()["DescribeInstances"], 4);
    assert!(CloudError::Throttled {
        operation: String::new(),
        message: String::new()
    }
    .is_retryable());
}

#[tokio::test]
async fn always_unavailable_calls_end_in_unavailable() {
    let server = start_moto().await;
    let proxy = FaultProxy::always(upstream(&server), Fault::unavailable()).await;
    let cloud = through(&proxy, &server, 3);
    let result = cloud
        .stop(&region(), &[InstanceId::new("i-0000000000000dead")])
        .await;
    assert!(
        matches!(&result, Err(CloudError::Unavailable { operation, message })
            if operation == "StopInstances" && message.contains("HTTP 503")),
        "{result:?}"
    );
    assert_eq!(proxy.received(), 3);
}

#[tokio::test]
async fn one_attempt_means_no_retry() {
    let server = start_moto().await;
    let proxy = FaultProxy::start(upstream(&server), Fault::ec2_throttle(), 1).await;
    let cloud = through(&proxy, &server, 1);
    let result = cloud.describe(&region(), &[InstanceId::new("i-1")]).await;
    assert!(
        matches!(result, Err(CloudError::Throttled { .. })),
        "{result:?}"
    );
    assert_eq!(proxy.received(), 1);
    assert!(cloud.retry_counts().is_empty());
}
