//! Fault-injection switches. They live inside the world, behind the same lock, so a
//! switch flipped between two calls affects exactly the calls after it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ccm_core::ids::InstanceId;

/// What the simulation should break. The default breaks nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Probability (0–1) that any cloud call fails with `CloudError::Unavailable`.
    pub cloud_error_rate: f64,
    /// Per-operation probability, by EC2/CloudWatch operation name (`RunInstances`,
    /// `DescribeInstances`, `GetMetricData`…); overrides `cloud_error_rate`.
    pub cloud_error_rates: BTreeMap<String, f64>,
    /// Every cloud call answers `Throttled`.
    pub throttle_all: bool,
    /// Calls to these operations answer `Throttled`.
    pub throttled_operations: BTreeSet<String>,
    /// Launches and starts fail with `InsufficientCapacity`.
    pub capacity_errors: bool,
    /// Probability (0–1) that any CML call fails with a 500.
    pub cml_error_rate: f64,
    /// Per-operation probability, by `CmlClient` method name (`start_lab`, …).
    pub cml_error_rates: BTreeMap<String, f64>,
    /// Every CML server is unreachable.
    pub cml_unreachable: bool,
    /// These instances' CML servers are unreachable.
    pub cml_unreachable_instances: BTreeSet<InstanceId>,
    /// Real (tokio) delay added before every port call, for benches.
    pub latency: Option<Duration>,
}

impl Faults {
    /// Error probability for a cloud operation.
    pub(crate) fn cloud_rate(&self, operation: &str) -> f64 {
        self.cloud_error_rates
            .get(operation)
            .copied()
            .unwrap_or(self.cloud_error_rate)
    }

    /// Error probability for a CML operation.
    pub(crate) fn cml_rate(&self, operation: &str) -> f64 {
        self.cml_error_rates
            .get(operation)
            .copied()
            .unwrap_or(self.cml_error_rate)
    }

    /// True when calls to `operation` are throttled by a switch.
    pub(crate) fn throttles(&self, operation: &str) -> bool {
        self.throttle_all || self.throttled_operations.contains(operation)
    }

    /// True when the CML server of `instance` is forced unreachable.
    pub(crate) fn cml_cut_off(&self, instance: &InstanceId) -> bool {
        self.cml_unreachable || self.cml_unreachable_instances.contains(instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_operation_rates_override_the_global_one() {
        let mut faults = Faults {
            cloud_error_rate: 0.1,
            ..Faults::default()
        };
        faults.cloud_error_rates.insert("RunInstances".into(), 1.0);
        assert_eq!(faults.cloud_rate("RunInstances"), 1.0);
        assert_eq!(faults.cloud_rate("DescribeInstances"), 0.1);
        assert_eq!(faults.cml_rate("start_lab"), 0.0);
    }

    #[test]
    fn throttle_switches() {
        let mut faults = Faults::default();
        assert!(!faults.throttles("RunInstances"));
        faults.throttled_operations.insert("RunInstances".into());
        assert!(faults.throttles("RunInstances"));
        assert!(!faults.throttles("DescribeInstances"));
        faults.throttle_all = true;
        assert!(faults.throttles("DescribeInstances"));
    }
}
