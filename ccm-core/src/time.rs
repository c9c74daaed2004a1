//! Time as the domain sees it: UTC instants with whole-second arithmetic helpers.

use chrono::{DateTime, TimeZone, Utc};

/// An instant in UTC.
pub type Timestamp = DateTime<Utc>;

/// 1970-01-01T00:00:00Z, a fixed origin for tests and simulations.
pub fn epoch() -> Timestamp {
    DateTime::<Utc>::UNIX_EPOCH
}

/// A fixed instant from seconds since the epoch (saturates instead of panicking).
pub fn from_unix_seconds(seconds: i64) -> Timestamp {
    Utc.timestamp_opt(seconds, 0).single().unwrap_or_else(epoch)
}

/// `t + seconds`, saturating at the representable range.
pub fn plus_seconds(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add_signed(chrono::Duration::seconds(seconds))
        .unwrap_or(t)
}

/// Whole seconds from `earlier` to `later` (negative when `later` is before `earlier`).
pub fn seconds_between(earlier: Timestamp, later: Timestamp) -> i64 {
    (later - earlier).num_seconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_round_trips() {
        let t = from_unix_seconds(1_700_000_000);
        let later = plus_seconds(t, 90);
        assert_eq!(seconds_between(t, later), 90);
        assert_eq!(seconds_between(later, t), -90);
    }
}
