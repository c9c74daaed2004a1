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

    #[test]
    fn time_never_goes_backwards() {
        let clock = VirtualClock::new(plus_seconds(epoch(), 100));
        clock.advance_to(epoch());
        assert_eq!(clock.now(), plus_seconds(epoch(), 100));
        clock.advance_seconds(-5);
        assert_eq!(clock.now(), plus_seconds(epoch(), 100));
    }
}
