//! A deduplicating, time-ordered work queue for level-triggered controllers: each
//! key is queued at most once, never handed to two workers at the same time, and
//! requeued with backoff after failures.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};

use crate::runtime::backoff::Backoff;
use crate::time::{plus_seconds, Timestamp};

/// How one reconcile of a key ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReconcileOutcome {
    /// Converged; wait for the next nudge.
    Done,
    /// Look again after this many seconds (polling an operation in progress).
    RequeueAfter(u32),
    /// Failed; retry with backoff.
    Failed(String),
}

/// Keys due for reconciliation, in due-time order.
#[derive(Debug)]
pub struct WorkQueue<K: Ord + Clone + Hash> {
    due: BTreeSet<(Timestamp, K)>,
    due_at: HashMap<K, Timestamp>,
    in_flight: BTreeSet<K>,
    // A nudge that arrived while the key was in flight: run again right after.
    dirty: BTreeMap<K, Timestamp>,
    failures: HashMap<K, u32>,
    backoff: Backoff,
}

impl<K: Ord + Clone + Hash> WorkQueue<K> {
    /// An empty queue using `backoff` for failures.
    pub fn new(backoff: Backoff) -> Self {
        Self {
            due: BTreeSet::new(),
            due_at: HashMap::new(),
            in_flight: BTreeSet::new(),
            dirty: BTreeMap::new(),
            failures: HashMap::new(),
            backoff,
        }
    }

    /// Queues `key` for `at`. An earlier due time wins over a later one; a key in
    /// flight is remembered and queued again when its current run finishes.
    pub fn enqueue(&mut self, key: K, at: Timestamp) {
        if self.in_flight.contains(&key) {
            let entry = self.dirty.entry(key).or_insert(at);
            if at < *entry {
                *entry = at;
            }
            return;
        }
        match self.due_at.get(&key) {
            Some(existing) if *existing <= at => {}
            Some(existing) => {
                let existing = *existing;
                self.due.remove(&(existing, key.clone()));
                self.due.insert((at, key.clone()));
                self.due_at.insert(key, at);
            }
            None => {
                self.due.insert((at, key.clone()));
                self.due_at.insert(key, at);
            }
        }
    }

    /// Takes up to `limit` keys due at `now`, earliest first, marking them in flight.
    pub fn take_due(&mut self, now: Timestamp, limit: usize) -> Vec<K> {
        let mut taken = Vec::new();
        while taken.len() < limit {
            let Some((at, key)) = self.due.first().cloned() else {
                break;
            };
            if at > now {
                break;
            }
            self.due.remove(&(at, key.clone()));
            self.due_at.remove(&key);
            self.in_flight.insert(key.clone());
            taken.push(key);
        }
        taken
    }

    /// Records how the run of `key` ended and requeues it as the outcome asks.
    pub fn finish(&mut self, key: &K, outcome: &ReconcileOutcome, now: Timestamp) {
        self.in_flight.remove(key);
        match outcome {
            ReconcileOutcome::Done => {
                self.failures.remove(key);
            }
            ReconcileOutcome::RequeueAfter(seconds) => {
                self.failures.remove(key);
                self.enqueue(key.clone(), plus_seconds(now, i64::from(*seconds)));
            }
            ReconcileOutcome::Failed(_) => {
                let attempt = self.failures.entry(key.clone()).or_insert(0);
                *attempt += 1;
                let delay = self.backoff.delay_seconds(*attempt, salt(key));
                self.enqueue(key.clone(), plus_seconds(now, i64::from(delay)));
            }
        }
        if let Some(at) = self.dirty.remove(key) {
            self.enqueue(key.clone(), at.max(now));
        }
    }

    /// Puts `key` back, due at `now`, after a run that never ended (its future was
    /// dropped): there is no outcome to record, so its failure count stays.
    pub fn abandon(&mut self, key: &K, now: Timestamp) {
        self.in_flight.remove(key);
        self.dirty.remove(key);
        self.enqueue(key.clone(), now);
    }

    /// Consecutive failures of `key`.
    pub fn failures(&self, key: &K) -> u32 {
        self.failures.get(key).copied().unwrap_or(0)
    }

    /// Earliest due time of a queued key.
    pub fn next_due(&self) -> Option<Timestamp> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Keys queued (not in flight).
    pub fn len(&self) -> usize {
        self.due.len()
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.due.is_empty()
    }

    /// True when `key` is being worked on.
    pub fn is_in_flight(&self, key: &K) -> bool {
        self.in_flight.contains(key)
    }
}

fn salt<K: Hash>(key: &K) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::epoch;

    fn at(s: i64) -> Timestamp {
        plus_seconds(epoch(), s)
    }

    #[test]
    fn keys_are_deduplicated_and_earliest_time_wins() {
        let mut q = WorkQueue::new(Backoff::default());
        q.enqueue("a", at(10));
        q.enqueue("a", at(5));
        q.enqueue("a", at(20));
        assert_eq!(q.len(), 1);
        assert_eq!(q.next_due(), Some(at(5)));
        assert!(q.take_due(at(4), 10).is_empty());
        assert_eq!(q.take_due(at(5), 10), vec!["a"]);
    }

    #[test]
    fn a_key_in_flight_is_never_handed_out_twice() {
        let mut q = WorkQueue::new(Backoff::default());
        q.enqueue("a", at(0));
        assert_eq!(q.take_due(at(0), 10), vec!["a"]);
        q.enqueue("a", at(0));
        assert!(q.take_due(at(100), 10).is_empty(), "still in flight");
        q.finish(&"a", &ReconcileOutcome::Done, at(1));
        assert_eq!(q.take_due(at(1), 10), vec!["a"], "nudge during run is kept");
    }

    #[test]
    fn failures_back_off_and_success_resets() {
        let backoff = Backoff {
            base_seconds: 10,
            max_seconds: 1000,
            jitter_percent: 0,
        };
        let mut q = WorkQueue::new(backoff);
        q.enqueue("a", at(0));
        q.take_due(at(0), 1);
        q.finish(&"a", &ReconcileOutcome::Failed("x".into()), at(0));
        assert_eq!(q.next_due(), Some(at(10)));
        q.take_due(at(10), 1);
        q.finish(&"a", &ReconcileOutcome::Failed("x".into()), at(10));
        assert_eq!(q.next_due(), Some(at(30)));
        assert_eq!(q.failures(&"a"), 2);
        q.take_due(at(30), 1);
        q.finish(&"a", &ReconcileOutcome::RequeueAfter(7), at(30));
        assert_eq!(q.failures(&"a"), 0);
        assert_eq!(q.next_due(), Some(at(37)));
    }

    #[test]
    fn an_abandoned_key_is_due_again_and_keeps_its_failures() {
        let mut q = WorkQueue::new(Backoff::default());
        q.enqueue("a", at(0));
        q.take_due(at(0), 1);
        q.finish(&"a", &ReconcileOutcome::Failed("x".into()), at(0));
        let retry = q.next_due().unwrap();
        q.take_due(retry, 1);
        q.enqueue("a", at(500));
        q.abandon(&"a", retry);
        assert!(!q.is_in_flight(&"a"));
        assert_eq!(q.next_due(), Some(retry));
        assert_eq!(q.failures(&"a"), 1);
        assert_eq!(q.take_due(retry, 10), vec!["a"]);
    }

    #[test]
    fn take_respects_the_limit_and_order() {
        let mut q = WorkQueue::new(Backoff::default());
        q.enqueue("c", at(3));
        q.enqueue("a", at(1));
        q.enqueue("b", at(2));
        assert_eq!(q.take_due(at(10), 2), vec!["a", "b"]);
        assert_eq!(q.take_due(at(10), 2), vec!["c"]);
    }
}
