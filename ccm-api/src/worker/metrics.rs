//! Observed metrics of a worker, one slot per source (EC2, CloudWatch, CML), each
//! with its own timestamp and error.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use ccm_core::worker as core;

/// EC2 instance and system status checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Ec2StatusChecks {
    /// Instance status check (`ok`, `impaired`, `initializing`, `insufficient-data`, …).
    pub instance_status: String,
    /// System status check.
    pub system_status: String,
}

impl From<&core::Ec2StatusChecks> for Ec2StatusChecks {
    fn from(c: &core::Ec2StatusChecks) -> Self {
        Self {
            instance_status: c.instance_status.clone(),
            system_status: c.system_status.clone(),
        }
    }
}

/// CloudWatch utilisation figures in percent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CloudWatchMetrics {
    /// `AWS/EC2 CPUUtilization`.
    pub cpu_percent: Option<f64>,
    /// `CWAgent mem_used_percent`.
    pub memory_percent: Option<f64>,
    /// `CWAgent disk_used_percent`.
    pub disk_percent: Option<f64>,
}

impl From<&core::CloudWatchMetrics> for CloudWatchMetrics {
    fn from(m: &core::CloudWatchMetrics) -> Self {
        Self {
            cpu_percent: m.cpu_percent,
            memory_percent: m.memory_percent,
            disk_percent: m.disk_percent,
        }
    }
}

/// CML's own telemetry (`system_stats`, `system_information`, labs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CmlStats {
    /// CPU in percent.
    pub cpu_percent: Option<f64>,
    /// Memory used in percent.
    pub memory_percent: Option<f64>,
    /// Disk used in percent.
    pub disk_percent: Option<f64>,
    /// vCPUs allocated to nodes (summed over computes).
    pub allocated_cpus: Option<u32>,
    /// Memory allocated to nodes, as reported (KiB).
    pub allocated_memory_kib: Option<u64>,
    /// Nodes running.
    pub running_nodes: Option<u32>,
    /// Nodes defined.
    pub total_nodes: Option<u32>,
    /// Labs on the server.
    pub labs_count: Option<u32>,
    /// CML version.
    pub version: Option<String>,
    /// `ready` from `system_information`.
    pub ready: Option<bool>,
}

impl From<&core::CmlStats> for CmlStats {
    fn from(s: &core::CmlStats) -> Self {
        Self {
            cpu_percent: s.cpu_percent,
            memory_percent: s.memory_percent,
            disk_percent: s.disk_percent,
            allocated_cpus: s.allocated_cpus,
            allocated_memory_kib: s.allocated_memory_kib,
            running_nodes: s.running_nodes,
            total_nodes: s.total_nodes,
            labs_count: s.labs_count,
            version: s.version.clone(),
            ready: s.ready,
        }
    }
}

/// A sourced value: the last good value, when it was observed, and the error of
/// the last attempt (the previous value is kept when it failed).
macro_rules! sourced {
    ($(#[$doc:meta])* $name:ident, $value:ty, $core:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
        pub struct $name {
            /// Last successfully observed value.
            pub value: Option<$value>,
            /// When `value` was observed.
            pub observed_at: Option<DateTime<Utc>>,
            /// Error of the last attempt, if it failed (the previous value is kept).
            pub error: Option<String>,
        }

        impl From<&core::Sourced<$core>> for $name {
            fn from(s: &core::Sourced<$core>) -> Self {
                Self {
                    value: s.value.as_ref().map(Into::into),
                    observed_at: s.observed_at,
                    error: s.error.clone(),
                }
            }
        }
    };
}

sourced!(
    /// EC2 status checks with when and how the last attempt went.
    SourcedEc2StatusChecks,
    Ec2StatusChecks,
    core::Ec2StatusChecks
);
sourced!(
    /// CloudWatch utilisation with when and how the last attempt went.
    SourcedCloudWatchMetrics,
    CloudWatchMetrics,
    core::CloudWatchMetrics
);
sourced!(
    /// CML telemetry with when and how the last attempt went.
    SourcedCmlStats,
    CmlStats,
    core::CmlStats
);

/// All metrics of a worker, one slot per source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WorkerMetrics {
    /// EC2 status checks.
    pub ec2: SourcedEc2StatusChecks,
    /// CloudWatch utilisation.
    pub cloudwatch: SourcedCloudWatchMetrics,
    /// CML telemetry.
    pub cml: SourcedCmlStats,
}

impl From<&core::WorkerMetrics> for WorkerMetrics {
    fn from(m: &core::WorkerMetrics) -> Self {
        Self {
            ec2: (&m.ec2).into(),
            cloudwatch: (&m.cloudwatch).into(),
            cml: (&m.cml).into(),
        }
    }
}
