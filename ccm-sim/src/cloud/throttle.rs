//! A token bucket refilled in virtual time.

use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use crate::config::ThrottleConfig;

/// One region's request budget.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct TokenBucket {
    config: ThrottleConfig,
    tokens: f64,
    refilled_at: Timestamp,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(config: ThrottleConfig, now: Timestamp) -> Self {
        Self {
            config,
            tokens: f64::from(config.burst),
            refilled_at: now,
        }
    }

    /// Takes `n` tokens if there are that many; otherwise takes none.
    pub(crate) fn try_take(&mut self, n: u64, now: Timestamp) -> bool {
        if now > self.refilled_at {
            let elapsed = (now - self.refilled_at).num_milliseconds() as f64 / 1000.0;
            self.tokens = (self.tokens + elapsed * self.config.refill_per_second)
                .min(f64::from(self.config.burst));
            self.refilled_at = now;
        }
        let wanted = n as f64;
        if self.tokens >= wanted {
            self.tokens -= wanted;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::{epoch, plus_seconds};

    #[test]
    fn bucket_empties_then_refills_with_virtual_time() {
        let config = ThrottleConfig {
            burst: 3,
            refill_per_second: 1.0,
        };
        let mut bucket = TokenBucket::new(config, epoch());
        assert!(bucket.try_take(2, epoch()));
        assert!(bucket.try_take(1, epoch()));
        assert!(!bucket.try_take(1, epoch()));
        assert!(bucket.try_take(1, plus_seconds(epoch(), 1)));
        assert!(!bucket.try_take(1, plus_seconds(epoch(), 1)));
        // Never more than the burst, however long we wait.
        assert!(!bucket.try_take(4, plus_seconds(epoch(), 1000)));
        assert!(bucket.try_take(3, plus_seconds(epoch(), 1000)));
    }
}
