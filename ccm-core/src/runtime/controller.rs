//! The controller runtime: one generic driver for level-triggered controllers (the
//! worker and the lablet controllers both run on it). A [`Controller`] owns a
//! [`WorkQueue`] of keys and, when its caller asks, runs a reconcile function on
//! the keys that are due and requeues each as its outcome says.
//!
//! # Guarantees
//!
//! In the manner of kube-runtime's `Controller`, for every key `k`:
//!
//! 1. **One reconcile per key at a time.** `k` is never handed to two reconciles
//!    at once, not even when two [`Controller::run_due`] calls overlap.
//! 2. **A nudge during a run is not lost.** Queueing `k` while its reconcile runs
//!    runs it again right after that run ends (at the later of the two times).
//! 3. **Earliest due wins.** `k` is queued at most once; queueing it again keeps
//!    the earlier of the two due times.
//! 4. **Failures back off.** A failed reconcile (an `Err`, or
//!    [`ReconcileOutcome::Failed`]) is logged and retried after a delay that grows
//!    exponentially with consecutive failures up to the [`Backoff`] cap, with
//!    deterministic jitter; any success resets the count.
//! 5. **Requeue-after is honoured.** [`ReconcileOutcome::RequeueAfter`]`(s)` runs
//!    `k` again `s` seconds after its reconcile ended (sooner if nudged), and
//!    [`ReconcileOutcome::Done`] leaves it alone until the next nudge.
//! 6. **Bounded work.** One `run_due` takes at most `limit` due keys, earliest
//!    first, and runs at most `concurrency` reconciles at once.
//! 7. **Nothing is spawned.** Reconciles are futures of the `run_due` call, driven
//!    by the caller's task, and every time is read from the [`Clock`] the
//!    controller was given, so a simulation drives it on virtual time. Dropping a
//!    `run_due` future (a step cancelled when its lease ran out) drops its
//!    reconciles and puts the keys they held back in the queue, due at once, so no
//!    key is stranded in flight.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use futures_util::stream::{self, StreamExt};

use crate::ports::Clock;
use crate::runtime::backoff::Backoff;
use crate::runtime::work_queue::{ReconcileOutcome, WorkQueue};
use crate::time::Timestamp;

/// A work queue of keys and the bounded, clock-driven loop that reconciles them.
#[derive(Debug)]
pub struct Controller<K: Ord + Clone + Hash> {
    /// What the keys name, for logs (`worker`, `lablet`).
    kind: &'static str,
    queue: Mutex<WorkQueue<K>>,
    clock: Arc<dyn Clock>,
    concurrency: usize,
}

impl<K> Controller<K>
where
    K: Ord + Clone + Hash + Display,
{
    /// A controller for keys naming `kind`, timed by `clock`, backing failures off
    /// by `backoff` and running at most `concurrency` (at least one) reconciles at
    /// once.
    pub fn new(
        kind: &'static str,
        clock: Arc<dyn Clock>,
        backoff: Backoff,
        concurrency: usize,
    ) -> Self {
        Self {
            kind,
            queue: Mutex::new(WorkQueue::new(backoff)),
            clock,
            concurrency: concurrency.max(1),
        }
    }

    /// Queues `key` now.
    pub fn enqueue(&self, key: K) {
        self.enqueue_at(key, self.clock.now());
    }

    /// Queues `key` for `at` (an earlier time already queued wins).
    pub fn enqueue_at(&self, key: K, at: Timestamp) {
        self.with_queue(|q| q.enqueue(key, at));
    }

    /// Runs `reconcile` on up to `limit` keys that are due now, earliest first, at
    /// most `concurrency` at a time, and requeues each as its outcome says the
    /// moment it ends. Returns how many ran.
    pub async fn run_due<F, Fut, E>(&self, limit: usize, reconcile: F) -> usize
    where
        F: Fn(K) -> Fut,
        Fut: Future<Output = Result<ReconcileOutcome, E>>,
        E: Display,
    {
        let now = self.clock.now();
        let due = self.with_queue(|q| q.take_due(now, limit));
        let count = due.len();
        let mut unfinished = Unfinished {
            controller: self,
            keys: due.iter().cloned().collect(),
        };
        let reconcile = &reconcile;
        let mut runs = stream::iter(due)
            .map(|key| async move {
                let outcome = reconcile(key.clone())
                    .await
                    .unwrap_or_else(|error| ReconcileOutcome::Failed(error.to_string()));
                (key, outcome)
            })
            .buffer_unordered(self.concurrency);
        while let Some((key, outcome)) = runs.next().await {
            if let ReconcileOutcome::Failed(error) = &outcome {
                tracing::warn!(kind = self.kind, key = %key, %error, "reconcile failed");
            }
            unfinished.keys.remove(&key);
            let now = self.clock.now();
            self.with_queue(|q| q.finish(&key, &outcome, now));
        }
        count
    }

    /// When the earliest queued key is due, if any is queued.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.with_queue(|q| q.next_due())
    }

    /// Keys queued (not counting those being reconciled).
    pub fn len(&self) -> usize {
        self.with_queue(|q| q.len())
    }

    /// True when no key is queued.
    pub fn is_empty(&self) -> bool {
        self.with_queue(|q| q.is_empty())
    }

    // A poisoned lock still holds a consistent queue (every change to it is one
    // call that cannot fail halfway), so it is used rather than panicking.
    fn with_queue<T>(&self, f: impl FnOnce(&mut WorkQueue<K>) -> T) -> T {
        match self.queue.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }
}

/// The keys a `run_due` took and has not finished; if its future is dropped they
/// go back to the queue (guarantee 7).
struct Unfinished<'a, K>
where
    K: Ord + Clone + Hash + Display,
{
    controller: &'a Controller<K>,
    keys: BTreeSet<K>,
}

impl<K> Drop for Unfinished<'_, K>
where
    K: Ord + Clone + Hash + Display,
{
    fn drop(&mut self) {
        if self.keys.is_empty() {
            return;
        }
        let now = self.controller.clock.now();
        let keys = std::mem::take(&mut self.keys);
        self.controller.with_queue(|q| {
            for key in &keys {
                q.abandon(key, now);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures_util::FutureExt;

    use super::*;
    use crate::ports::VirtualClock;
    use crate::time::{epoch, plus_seconds};

    fn at(seconds: i64) -> Timestamp {
        plus_seconds(epoch(), seconds)
    }

    fn no_jitter(base_seconds: u32, max_seconds: u32) -> Backoff {
        Backoff {
            base_seconds,
            max_seconds,
            jitter_percent: 0,
        }
    }

    fn controller(clock: &VirtualClock, concurrency: usize) -> Controller<u32> {
        Controller::new(
            "test",
            Arc::new(clock.clone()),
            no_jitter(5, 60),
            concurrency,
        )
    }

    /// Counts reconciles in progress, overall and per key, and remembers the peaks.
    #[derive(Default)]
    struct InFlight {
        now: AtomicUsize,
        peak: AtomicUsize,
        per_key: Mutex<BTreeMap<u32, usize>>,
        same_key_overlaps: AtomicUsize,
    }

    impl InFlight {
        fn enter(&self, key: u32) {
            let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(now, Ordering::SeqCst);
            let mut per_key = self.per_key.lock().unwrap();
            let running = per_key.entry(key).or_insert(0);
            *running += 1;
            if *running > 1 {
                self.same_key_overlaps.fetch_add(1, Ordering::SeqCst);
            }
        }

        fn leave(&self, key: u32) {
            self.now.fetch_sub(1, Ordering::SeqCst);
            *self.per_key.lock().unwrap().get_mut(&key).unwrap() -= 1;
        }
    }

    /// Lets the other futures of the stream run, so overlapping reconciles overlap.
    async fn interleave() {
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn no_more_than_the_bound_run_at_once_and_the_bound_is_used() {
        let clock = VirtualClock::new(epoch());
        let c = controller(&clock, 3);
        for key in 0..10 {
            c.enqueue(key);
        }
        let flight = InFlight::default();
        let ran = c
            .run_due(usize::MAX, |key| {
                let flight = &flight;
                async move {
                    flight.enter(key);
                    interleave().await;
                    flight.leave(key);
                    Ok::<_, String>(ReconcileOutcome::Done)
                }
            })
            .await;
        assert_eq!(ran, 10);
        assert_eq!(flight.peak.load(Ordering::SeqCst), 3);
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn a_key_never_runs_twice_at_once_and_a_nudge_during_its_run_reruns_it() {
        let clock = VirtualClock::new(epoch());
        let c = controller(&clock, 4);
        c.enqueue(1);
        c.enqueue(2);
        let flight = InFlight::default();
        let reconcile = |key: u32| {
            let flight = &flight;
            let c = &c;
            async move {
                flight.enter(key);
                // Nudged by someone else while it runs.
                c.enqueue(key);
                interleave().await;
                flight.leave(key);
                Ok::<_, String>(ReconcileOutcome::Done)
            }
        };
        // Two overlapping passes over the same queue.
        let (first, second) = tokio::join!(c.run_due(10, reconcile), c.run_due(10, reconcile));
        assert_eq!(first + second, 2, "each key taken by one pass only");
        assert_eq!(flight.same_key_overlaps.load(Ordering::SeqCst), 0);
        assert_eq!(c.len(), 2, "both nudged keys are queued again");
        assert_eq!(c.next_due(), Some(epoch()), "rerun right after, not later");
        assert_eq!(c.run_due(10, reconcile).await, 2);
    }

    #[tokio::test]
    async fn the_earliest_due_time_wins_and_only_due_keys_run_earliest_first() {
        let clock = VirtualClock::new(epoch());
        let c = controller(&clock, 1);
        c.enqueue_at(7, at(10));
        c.enqueue_at(7, at(5));
        c.enqueue_at(7, at(20));
        c.enqueue_at(8, at(3));
        c.enqueue_at(9, at(30));
        assert_eq!(c.len(), 3);
        assert_eq!(c.next_due(), Some(at(3)));
        clock.advance_to(at(5));
        let order = Mutex::new(Vec::new());
        let record = |key: u32| {
            let order = &order;
            async move {
                order.lock().unwrap().push(key);
                Ok::<_, String>(ReconcileOutcome::Done)
            }
        };
        assert_eq!(c.run_due(1, record).await, 1, "the limit holds");
        assert_eq!(c.run_due(10, record).await, 1, "key 9 is not due yet");
        assert_eq!(*order.lock().unwrap(), vec![8, 7]);
        assert_eq!(c.next_due(), Some(at(30)));
    }

    #[tokio::test]
    async fn failures_back_off_exponentially_up_to_the_cap_and_success_resets() {
        let clock = VirtualClock::new(epoch());
        let c = controller(&clock, 1);
        c.enqueue(1);
        let mut delays = Vec::new();
        for _ in 0..6 {
            let start = clock.now();
            assert_eq!(
                c.run_due(10, |_| async { Err::<ReconcileOutcome, _>("boom") })
                    .await,
                1
            );
            let next = c.next_due().unwrap();
            delays.push((next - start).num_seconds());
            clock.advance_to(next);
        }
        assert_eq!(delays, vec![5, 10, 20, 40, 60, 60]);
        // A returned `Failed` counts like an error.
        c.run_due(10, |_| async {
            Ok::<_, String>(ReconcileOutcome::Failed("no".into()))
        })
        .await;
        assert_eq!(c.next_due(), Some(plus_seconds(clock.now(), 60)));
        clock.advance_seconds(60);
        c.run_due(10, |_| async {
            Ok::<_, String>(ReconcileOutcome::RequeueAfter(1))
        })
        .await;
        clock.advance_seconds(1);
        c.run_due(10, |_| async { Err::<ReconcileOutcome, _>("again") })
            .await;
        assert_eq!(
            c.next_due(),
            Some(plus_seconds(clock.now(), 5)),
            "the count restarted after the success"
        );
    }

    #[tokio::test]
    async fn requeue_after_counts_from_the_end_of_the_run_and_done_waits_for_a_nudge() {
        let clock = VirtualClock::new(epoch());
        let c = controller(&clock, 2);
        c.enqueue(1);
        c.enqueue(2);
        c.run_due(10, |key| {
            let clock = &clock;
            async move {
                if key == 1 {
                    // The run itself takes 7 seconds.
                    clock.advance_seconds(7);
                    Ok::<_, String>(ReconcileOutcome::RequeueAfter(30))
                } else {
                    Ok(ReconcileOutcome::Done)
                }
            }
        })
        .await;
        assert_eq!(c.len(), 1, "the key that is done is not queued");
        assert_eq!(c.next_due(), Some(at(37)));
        clock.advance_to(at(36));
        let ran = c.run_due(10, |_| async { Ok::<_, String>(ReconcileOutcome::Done) });
        assert_eq!(ran.await, 0, "not before its time");
    }

    #[tokio::test]
    async fn a_dropped_run_puts_its_keys_back_due_at_once() {
        let clock = VirtualClock::new(epoch());
        let c = controller(&clock, 2);
        c.enqueue(1);
        c.enqueue(2);
        let started = AtomicUsize::new(0);
        let run = c.run_due(10, |_| {
            let started = &started;
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                std::future::pending::<Result<ReconcileOutcome, String>>().await
            }
        });
        // Polled once (both reconciles start and hang), then cancelled.
        assert!(run.now_or_never().is_none());
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(c.len(), 2, "no key is stranded in flight");
        clock.advance_seconds(3);
        assert_eq!(c.next_due(), Some(epoch()));
        let ran = c.run_due(10, |_| async { Ok::<_, String>(ReconcileOutcome::Done) });
        assert_eq!(ran.await, 2);
    }
}
