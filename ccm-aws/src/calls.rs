//! API call counters by operation: every HTTP attempt (each page, each retry)
//! counts once.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Counts per operation name (`DescribeInstances`, `GetMetricData`, …).
#[derive(Debug, Default)]
pub(crate) struct CallCounter {
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    attempts: BTreeMap<&'static str, u64>,
    retries: BTreeMap<&'static str, u64>,
}

impl CallCounter {
    fn with<R>(&self, f: impl FnOnce(&mut Counts) -> R) -> R {
        match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    /// Records one attempt of `operation`; `retry` when it is not the first.
    pub(crate) fn record(&self, operation: &'static str, retry: bool) {
        self.with(|c| {
            *c.attempts.entry(operation).or_default() += 1;
            if retry {
                *c.retries.entry(operation).or_default() += 1;
            }
        });
    }

    pub(crate) fn attempts(&self) -> BTreeMap<String, u64> {
        self.with(|c| {
            c.attempts
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect()
        })
    }

    pub(crate) fn retries(&self) -> BTreeMap<String, u64> {
        self.with(|c| {
            c.retries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect()
        })
    }

    pub(crate) fn reset(&self) {
        self.with(|c| {
            c.attempts.clear();
            c.retries.clear();
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_and_retries_are_counted_per_operation() {
        let counter = CallCounter::default();
        counter.record("DescribeInstances", false);
        counter.record("DescribeInstances", true);
        counter.record("GetMetricData", false);
        assert_eq!(counter.attempts()["DescribeInstances"], 2);
        assert_eq!(counter.attempts()["GetMetricData"], 1);
        assert_eq!(counter.retries()["DescribeInstances"], 1);
        assert!(!counter.retries().contains_key("GetMetricData"));
        counter.reset();
        assert!(counter.attempts().is_empty());
    }
}
