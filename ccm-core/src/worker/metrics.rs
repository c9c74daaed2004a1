//! Observed metrics, grouped by source; each source keeps its own timestamp and error
//! so a failing CloudWatch call never hides fresh CML numbers.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// A value observed from one source, with when and how the last attempt went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sourced<T> {
    /// Last successfully observed value.
    pub value: Option<T>,
    /// When `value` was observed.
    pub observed_at: Option<Timestamp>,
    /// Error of the last attempt, if it failed (the previous value is kept).
    pub error: Option<String>,
}

impl<T> Default for Sourced<T> {
    fn default() -> Self {
        Self {
            value: None,
            observed_at: None,
            error: None,
        }
    }
}

impl<T> Sourced<T> {
    /// Records a successful observation.
    pub fn observed(&mut self, value: T, at: Timestamp) {
        self.value = Some(value);
        self.observed_at = Some(at);
        self.error = None;
    }

    /// Records a failed attempt, keeping the last good value.
    pub fn failed(&mut self, error: impl Into<String>) {
        self.error = Some(error.into());
    }
}

/// EC2 instance and system status checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ec2StatusChecks {
    /// Instance status check (`ok`, `impaired`, `initializing`, `insufficient-data`, …).
    pub instance_status: String,
    /// System status check.
    pub system_status: String,
}

impl Ec2StatusChecks {
    /// True when both checks pass.
    pub fn all_ok(&self) -> bool {
        self.instance_status == "ok" && self.system_status == "ok"
    }
}

/// CloudWatch utilisation figures in percent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct CloudWatchMetrics {
    /// `AWS/EC2 CPUUtilization`.
    pub cpu_percent: Option<f64>,
    /// `CWAgent mem_used_percent`.
    pub memory_percent: Option<f64>,
    /// `CWAgent disk_used_percent`.
    pub disk_percent: Option<f64>,
}

/// CML's own telemetry (`system_stats`, `system_information`, labs).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
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

/// All metrics of a worker, one slot per source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct WorkerMetrics {
    /// EC2 status checks.
    pub ec2: Sourced<Ec2StatusChecks>,
    /// CloudWatch utilisation.
    pub cloudwatch: Sourced<CloudWatchMetrics>,
    /// CML telemetry.
    pub cml: Sourced<CmlStats>,
}

impl WorkerMetrics {
    /// Best available CPU percent: CML's own first, then CloudWatch.
    pub fn cpu_percent(&self) -> Option<f64> {
        self.cml
            .value
            .as_ref()
            .and_then(|m| m.cpu_percent)
            .or_else(|| self.cloudwatch.value.as_ref().and_then(|m| m.cpu_percent))
    }

    /// Best available memory percent.
    pub fn memory_percent(&self) -> Option<f64> {
        self.cml
            .value
            .as_ref()
            .and_then(|m| m.memory_percent)
            .or_else(|| {
                self.cloudwatch
                    .value
                    .as_ref()
                    .and_then(|m| m.memory_percent)
            })
    }

    /// Best available disk percent.
    pub fn disk_percent(&self) -> Option<f64> {
        self.cml
            .value
            .as_ref()
            .and_then(|m| m.disk_percent)
            .or_else(|| self.cloudwatch.value.as_ref().and_then(|m| m.disk_percent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    #[test]
    fn failure_keeps_last_value_and_success_clears_error() {
        let mut s = Sourced::<u32>::default();
        s.observed(3, epoch());
        s.failed("timeout");
        assert_eq!(s.value, Some(3));
        assert_eq!(s.error.as_deref(), Some("timeout"));
        s.observed(4, epoch());
        assert_eq!(s.error, None);
    }

    #[test]
    fn cml_numbers_win_over_cloudwatch() {
        let mut m = WorkerMetrics::default();
        m.cloudwatch.observed(
            CloudWatchMetrics {
                cpu_percent: Some(10.0),
                memory_percent: Some(20.0),
                disk_percent: None,
            },
            epoch(),
        );
        assert_eq!(m.cpu_percent(), Some(10.0));
        m.cml.observed(
            CmlStats {
                cpu_percent: Some(55.0),
                ..CmlStats::default()
            },
            epoch(),
        );
        assert_eq!(m.cpu_percent(), Some(55.0));
        assert_eq!(m.memory_percent(), Some(20.0));
        assert_eq!(m.disk_percent(), None);
    }
}
