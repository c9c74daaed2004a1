//! A worker's billed compute time, kept on the worker itself: when its current
//! billed stretch began and the seconds of the stretches closed before, per UTC
//! day for the last [`BILLING_DAYS_KEPT`] days. It changes only when the
//! lifecycle moves (applied from `worker.status.updated.v1`, so a replay of the
//! log gives the same ledger), and any process reads the cost of today or this
//! week from the worker records alone.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::time::{seconds_between, Timestamp};

/// Days of closed stretches kept: this week and the day before it began.
pub const BILLING_DAYS_KEPT: usize = 8;

/// Billed compute time of one worker.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingLedger {
    /// Since when the instance bills, while it does.
    pub billing_since: Option<Timestamp>,
    /// Seconds of closed billed stretches per UTC day, the last
    /// [`BILLING_DAYS_KEPT`] days.
    pub days: BTreeMap<NaiveDate, u64>,
}

fn midnight_after(t: Timestamp) -> Timestamp {
    let next = t.date_naive() + Duration::days(1);
    next.and_time(NaiveTime::MIN).and_utc()
}

impl BillingLedger {
    /// The lifecycle moved at `at`: a stretch opens when billing starts and is
    /// booked day by day when it stops.
    pub fn transition(&mut self, was_billing: bool, is_billing: bool, at: Timestamp) {
        match (was_billing, is_billing) {
            (false, true) => {
                self.billing_since.get_or_insert(at);
            }
            (true, false) => {
                if let Some(since) = self.billing_since.take() {
                    self.book(since, at);
                }
            }
            _ => {}
        }
    }

    /// Books `[from, to)` on the UTC days it covers, keeping the last days only.
    fn book(&mut self, from: Timestamp, to: Timestamp) {
        let mut at = from;
        while at < to {
            let end = midnight_after(at).min(to);
            let seconds = u64::try_from(seconds_between(at, end)).unwrap_or(0);
            *self.days.entry(at.date_naive()).or_default() += seconds;
            at = end;
        }
        while self.days.len() > BILLING_DAYS_KEPT {
            self.days.pop_first();
        }
    }

    /// Billed seconds within `[from, now)`, `from` a UTC midnight no more than
    /// [`BILLING_DAYS_KEPT`] − 1 days back: the closed stretches' days from `from`
    /// on, plus the open stretch's part after `from`.
    pub fn billed_since(&self, from: Timestamp, now: Timestamp) -> u64 {
        let first_day = from.date_naive();
        let closed: u64 = self.days.range(first_day..).map(|(_, s)| *s).sum();
        let open = self
            .billing_since
            .map(|since| seconds_between(since.max(from), now).max(0))
            .and_then(|s| u64::try_from(s).ok())
            .unwrap_or(0);
        closed + open
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{from_unix_seconds, plus_seconds};

    /// Monday 2025-12-01 00:00 UTC.
    fn monday() -> Timestamp {
        from_unix_seconds(1_764_547_200)
    }

    fn hours(h: i64) -> Timestamp {
        plus_seconds(monday(), h * 3600)
    }

    #[test]
    fn a_stretch_over_midnight_is_booked_on_both_days() {
        let mut ledger = BillingLedger::default();
        ledger.transition(false, true, hours(22));
        ledger.transition(true, true, hours(23));
        ledger.transition(true, false, hours(27));
        assert_eq!(ledger.billing_since, None);
        assert_eq!(
            ledger.days.values().copied().collect::<Vec<_>>(),
            vec![7200, 10_800]
        );
        // Since Tuesday's midnight: Tuesday's three hours.
        assert_eq!(ledger.billed_since(hours(24), hours(30)), 10_800);
        // The whole week so far.
        assert_eq!(ledger.billed_since(monday(), hours(30)), 18_000);
    }

    #[test]
    fn the_open_stretch_counts_up_to_now_from_the_window() {
        let mut ledger = BillingLedger::default();
        ledger.transition(false, true, hours(20));
        assert_eq!(ledger.billed_since(hours(24), hours(26)), 7200);
        assert_eq!(ledger.billed_since(monday(), hours(26)), 6 * 3600);
        // A window starting after now counts nothing.
        assert_eq!(ledger.billed_since(hours(30), hours(26)), 0);
    }

    #[test]
    fn only_the_last_days_are_kept() {
        let mut ledger = BillingLedger::default();
        for day in 0..12 {
            ledger.transition(false, true, hours(day * 24 + 1));
            ledger.transition(true, false, hours(day * 24 + 2));
        }
        assert_eq!(ledger.days.len(), BILLING_DAYS_KEPT);
        assert_eq!(ledger.billed_since(monday(), hours(12 * 24)), 8 * 3600);
    }

    #[test]
    fn moves_that_keep_billing_or_not_billing_change_nothing() {
        let mut ledger = BillingLedger::default();
        ledger.transition(false, false, hours(1));
        assert_eq!(ledger, BillingLedger::default());
        ledger.transition(true, false, hours(2));
        assert_eq!(ledger, BillingLedger::default());
    }
}
