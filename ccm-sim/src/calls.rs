//! API call accounting. Calls are counted the way the real API would bill them:
//! a batch over many ids counts one call per page the real API needs.

use std::collections::BTreeMap;

/// `DescribeInstances`: instance ids per page.
pub const DESCRIBE_PAGE: usize = 1000;
/// `DescribeInstanceStatus`: instance ids per call.
pub const STATUS_PAGE: usize = 100;
/// `GetMetricData`: metric queries per call.
pub const METRIC_QUERIES_PAGE: usize = 500;
/// `StartInstances`/`StopInstances`/`TerminateInstances`/`CreateTags`/…: ids per call.
pub const MUTATION_PAGE: usize = 1000;

/// Calls made, by operation name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallCounts {
    by_operation: BTreeMap<String, u64>,
}

impl CallCounts {
    /// Calls made to `operation`.
    pub fn get(&self, operation: &str) -> u64 {
        self.by_operation.get(operation).copied().unwrap_or(0)
    }

    /// Calls made in total.
    pub fn total(&self) -> u64 {
        self.by_operation.values().sum()
    }

    /// Every operation called, with its count, by name.
    pub fn by_operation(&self) -> &BTreeMap<String, u64> {
        &self.by_operation
    }

    pub(crate) fn add(&mut self, operation: &str, calls: u64) {
        *self.by_operation.entry(operation.to_owned()).or_insert(0) += calls;
    }

    pub(crate) fn clear(&mut self) {
        self.by_operation.clear();
    }
}

/// Calls needed for `items` items at `page` per call (at least one).
pub(crate) fn pages(items: usize, page: usize) -> u64 {
    let page = page.max(1);
    items.div_ceil(page).max(1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_round_up_and_never_drop_to_zero() {
        assert_eq!(pages(0, 100), 1);
        assert_eq!(pages(100, 100), 1);
        assert_eq!(pages(101, 100), 2);
        assert_eq!(pages(1000, DESCRIBE_PAGE), 1);
        assert_eq!(pages(3000, METRIC_QUERIES_PAGE), 6);
    }

    #[test]
    fn counts_add_up() {
        let mut counts = CallCounts::default();
        counts.add("DescribeInstances", 2);
        counts.add("RunInstances", 1);
        counts.add("DescribeInstances", 1);
        assert_eq!(counts.get("DescribeInstances"), 3);
        assert_eq!(counts.total(), 4);
        counts.clear();
        assert_eq!(counts.total(), 0);
    }
}
