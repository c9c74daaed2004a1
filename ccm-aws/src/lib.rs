//! # ccm-aws
//!
//! [`AwsCloud`] implements [`ccm_core::ports::cloud::CloudProvider`] over
//! `aws-sdk-ec2` and `aws-sdk-cloudwatch`: launching, starting, stopping and
//! terminating EC2 workers, describing them and their status checks, finding AMIs,
//! discovering instances for import, tagging, and reading CloudWatch metrics — all
//! batch-first, so a fleet-wide sweep costs a handful of calls.
//!
//! ## Configuring
//!
//! ```no_run
//! use ccm_aws::{AwsCloud, AwsConfig};
//!
//! // Production: the standard credential and region chain (environment, profile,
//! // web identity, ECS / instance roles) and the regional AWS endpoints.
//! let cloud = AwsCloud::new(AwsConfig::default())?;
//!
//! // An emulator or a VPC endpoint: explicit URL (and here static credentials).
//! let moto = AwsCloud::new(AwsConfig::for_endpoint("http://127.0.0.1:5000", "us-east-1"))?;
//! # Ok::<(), ccm_aws::AwsError>(())
//! ```
//!
//! [`AwsConfig`] also sets the retry policy ([`RetryPolicy`]), timeouts, page and
//! batch sizes, and the owners searched for AMIs by name. Every call names its
//! region; one provider serves any number of regions, creating a region's clients
//! on first use and caching them.
//!
//! ## Invariants
//!
//! - **Idempotent launch.** Every instance is tagged `ccm:worker-id=<id>` in the
//!   `RunInstances` request itself, and `launch` looks that tag up first: a launch
//!   retried after a crash returns the instance it already made. The `ClientToken`
//!   (derived from the worker id) additionally covers retries of the call itself.
//! - **Batching within EC2's limits.** Ids go into filters at most 200 at a time,
//!   `DescribeInstanceStatus` gets 100 ids per call, `GetMetricData` 500 queries per
//!   call, and every paginated answer is read to the end. Unknown ids are left out
//!   of describe and status answers, never an error.
//! - **Retries.** Throttling (`RequestLimitExceeded`, `Throttling`,
//!   `ThrottlingException`, HTTP 429…) and transient failures (5xx, timeouts,
//!   connection errors) are retried with capped exponential backoff and full jitter;
//!   the SDK's own retries are off, so [`AwsCloud::call_counts`] counts every HTTP
//!   attempt (each page, each retry). Everything else becomes a typed
//!   [`ccm_core::ports::cloud::CloudError`] carrying the operation, the AWS error
//!   code and the request id.
//! - **Secrets** (secret key, session token) are [`ccm_core::secret::Secret`]s and
//!   never appear in `Debug` output or logs.
//! - No `unwrap`, `expect` or panics outside tests.
//!
//! The `test-support` feature adds [`testing`], which runs a private moto server
//! for integration tests and benches.

mod calls;
mod config;
mod convert;
mod error;
mod metrics;
mod provider;
mod retry;

#[cfg(feature = "test-support")]
pub mod testing;

pub use aws_sdk_cloudwatch;
pub use aws_sdk_ec2;
pub use config::{AwsConfig, RetryPolicy, StaticCredentials};
pub use error::AwsError;
pub use provider::{ops, AwsCloud};
