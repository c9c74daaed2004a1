//! Time as a port: the real clock in production, a virtual one in simulations so a
//! whole day runs in milliseconds and no test depends on timing luck.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::watch;

use crate::time::{plus_seconds, Timestamp};

/// A source of the current time that can also wait.
#[async_trait]
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now.
    fn now(&self) -> Timestamp;

    /// Returns once `now() >= deadline`.
    async fn sleep_until(&self, deadline: Timestamp);
}

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        let wait = (deadline - self.now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
    }
}

/// Time that only moves when told to. Clones share the same time.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    now: Arc<Mutex<Timestamp>>,
    ticks: watch::Sender<Timestamp>,
}

impl VirtualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        let (ticks, _) = watch::channel(start);
        Self {
            now: Arc::new(Mutex::new(start)),
            ticks,
        }
    }

    /// Moves time forward by `seconds` and wakes sleepers whose deadline passed.
    pub fn advance_seconds(&self, seconds: i64) {
        let target = plus_seconds(self.now(), seconds.max(0));
        self.advance_to(target);
    }

    /// Moves time to `target`; time never goes backwards.
    pub fn advance_to(&self, target: Timestamp) {
        let now = {
            let mut guard = self.now.lock().unwrap_or_else(|poison| poison.into_inner());
            if target > *guard {
                *guard = target;
            }
            *guard
        };
        self.ticks.send_replace(now);
    }
}

#[async_trait]
impl Clock for VirtualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().unwrap_or_else(|poison| poison.into_inner())
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        let mut ticks = self.ticks.subscribe();
        // `wait_for` checks the current value first, so a deadline already passed returns at once.
        let _ = ticks.wait_for(|now| *now >= deadline).await;
    }
}

/// Wall-clock time run faster by a constant factor from a shared origin, so a
/// simulated fleet served by real processes lives a day in minutes (a load test
/// of the whole server). Every process built with the same origin and factor
/// reads the same time; the elapsed part is measured on tokio's monotonic clock,
/// so a paused tokio runtime makes it exact in tests.
#[derive(Clone, Debug)]
pub struct ScaledClock {
    origin: Timestamp,
    /// Real time from `origin` to `started`.
    elapsed_at_start: std::time::Duration,
    started: tokio::time::Instant,
    factor: f64,
}

impl ScaledClock {
    /// Time that stood at `origin` when the wall clock did, and runs `factor` times
    /// as fast as the wall clock (which reads `wall_now` at this call). A factor
    /// below 1 (or not a number) is taken as 1. An origin after `wall_now` counts
    /// as no time elapsed yet: the clock starts at `origin` and runs from there.
    pub fn new(origin: Timestamp, factor: f64, wall_now: Timestamp) -> Self {
        Self {
            origin,
            elapsed_at_start: (wall_now - origin).to_std().unwrap_or_default(),
            started: tokio::time::Instant::now(),
            factor: if factor >= 1.0 { factor } else { 1.0 },
        }
    }

    /// How many times faster than the wall clock this clock runs.
    pub fn factor(&self) -> f64 {
        self.factor
    }
}

#[async_trait]
impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let real = self.elapsed_at_start + self.started.elapsed();
        let scaled = real.mul_f64(self.factor);
        chrono::Duration::from_std(scaled)
            .ok()
            .and_then(|d| self.origin.checked_add_signed(d))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
    }

    async fn sleep_until(&self, deadline: Timestamp) {
        loop {
            let Ok(left) = (deadline - self.now()).to_std() else {
                return;
            };
            if left.is_zero() {
                return;
            }
            // Rounded up to the microsecond so the loop does not spin on a
            // remainder the division lost.
            let wait = left.div_f64(self.factor) + std::time::Duration::from_micros(1);
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    #[tokio::test]
    async fn sleepers_wake_only_when_time_reaches_their_deadline() {
        let clock = VirtualClock::new(epoch());
        let deadline = plus_seconds(epoch(), 60);
        let sleeper = {
            let clock = clock.clone();
            tokio::spawn(async move {
                clock.sleep_until(deadline).await;
                clock.now()
            })
        };
        tokio::task::yield_now().await;
        clock.advance_seconds(30);
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance_seconds(30);
        assert_eq!(sleeper.await.unwrap(), deadline);
    }

    #[tokio::test(start_paused = true)]
    async fn a_scaled_clock_runs_its_factor_faster_from_the_shared_origin() {
        let origin = plus_seconds(epoch(), 1_000);
        // The wall clock read 10 s after the origin: 600 scaled seconds have passed.
        let clock = ScaledClock::new(origin, 60.0, plus_seconds(origin, 10));
        assert_eq!(clock.now(), plus_seconds(origin, 600));
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        assert_eq!(clock.now(), plus_seconds(origin, 720));

        // A 3,600 s wait takes a minute of real time, not less.
        let deadline = plus_seconds(clock.now(), 3_600);
        let before = tokio::time::Instant::now();
        clock.sleep_until(deadline).await;
        let real = before.elapsed();
        assert!(clock.now() >= deadline);
        assert!(real >= std::time::Duration::from_secs(60), "{real:?}");
        assert!(real < std::time::Duration::from_millis(60_010), "{real:?}");

        // Another process with the same origin and factor reads the same time
        // (up to the real time the sleep overshot, tokio's timer having
        // millisecond steps, times the factor).
        let wall =
            origin + chrono::Duration::from_std(std::time::Duration::from_secs(12) + real).unwrap();
        let twin = ScaledClock::new(origin, 60.0, wall);
        assert_eq!(clock.now(), twin.now());
    }

    #[test]
    fn a_scaled_clock_never_runs_slower_than_the_wall() {
        let origin = epoch();
        assert_eq!(ScaledClock::new(origin, 0.5, origin).factor(), 1.0);
        assert_eq!(ScaledClock::new(origin, f64::NAN, origin).factor(), 1.0);
    }

    #[test]
    fn time_never_goes_backwards() {
        let clock = VirtualClock::new(plus_seconds(epoch(), 100));
        clock.advance_to(epoch());
        assert_eq!(clock.now(), plus_seconds(epoch(), 100));
        clock.advance_seconds(-5);
        assert_eq!(clock.now(), plus_seconds(epoch(), 100));
    }
}
