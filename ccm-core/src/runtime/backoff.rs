//! Capped exponential backoff with deterministic jitter: retries spread out without
//! a random source, so simulations replay identically.

use serde::{Deserialize, Serialize};

/// Retry delays: `base * 2^(attempt-1)`, capped, with up to `jitter_percent` shaved
/// off by a hash of the key and attempt so many failing objects do not retry in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// First delay in seconds.
    pub base_seconds: u32,
    /// Largest delay in seconds.
    pub max_seconds: u32,
    /// Share of the delay (0–100) that jitter may remove.
    pub jitter_percent: u8,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base_seconds: 5,
            max_seconds: 300,
            jitter_percent: 20,
        }
    }
}

impl Backoff {
    /// Delay before retry number `attempt` (1-based) of the object hashed as `salt`.
    pub fn delay_seconds(&self, attempt: u32, salt: u64) -> u32 {
        let exponent = attempt.saturating_sub(1).min(30);
        let raw = u64::from(self.base_seconds).saturating_mul(1u64 << exponent);
        let capped = raw.min(u64::from(self.max_seconds));
        let jitter_room = capped * u64::from(self.jitter_percent.min(100)) / 100;
        let shave = if jitter_room == 0 {
            0
        } else {
            mix(salt ^ u64::from(attempt)) % (jitter_room + 1)
        };
        u32::try_from(capped - shave)
            .unwrap_or(self.max_seconds)
            .max(1)
    }
}

// SplitMix64 finaliser: a cheap, well-spread hash for jitter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_until_the_cap() {
        let b = Backoff {
            base_seconds: 5,
            max_seconds: 60,
            jitter_percent: 0,
        };
        let delays: Vec<u32> = (1..=6).map(|a| b.delay_seconds(a, 0)).collect();
        assert_eq!(delays, vec![5, 10, 20, 40, 60, 60]);
        assert_eq!(b.delay_seconds(u32::MAX, 0), 60);
    }

    #[test]
    fn jitter_stays_within_bounds_and_is_deterministic() {
        let b = Backoff::default();
        for salt in 0..200u64 {
            let d = b.delay_seconds(3, salt);
            assert!((16..=20).contains(&d), "{d}");
            assert_eq!(d, b.delay_seconds(3, salt));
        }
        let spread: std::collections::BTreeSet<u32> =
            (0..200u64).map(|s| b.delay_seconds(3, s)).collect();
        assert!(spread.len() > 1, "jitter should spread retries");
    }

    #[test]
    fn never_returns_zero() {
        let b = Backoff {
            base_seconds: 0,
            max_seconds: 0,
            jitter_percent: 100,
        };
        assert_eq!(b.delay_seconds(1, 7), 1);
    }
}
