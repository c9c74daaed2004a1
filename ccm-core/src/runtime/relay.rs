//! The outbox relays: they tail the store's event log from a cursor and hand the
//! events to a sink in order. Events reach sinks only after they are committed,
//! and a sink that fails is retried from the same cursor, so nothing is skipped.
//!
//! Two kinds:
//! * [`EventRelay`] keeps its cursor in memory and runs in every process, for
//!   what each process must see itself (its metrics). It starts at the log tail.
//! * [`LeaderRelay`] feeds a sink outside ccm (alert webhooks) that must get each
//!   event once for the whole deployment, whatever the number of processes and
//!   restarts. Its guarantees:
//!   - **Only the leader relays.** It pumps only while this process holds the
//!     controller lease ([`LeaderElector::fence`]), checked before each batch and
//!     each event, so replicas do not deliver the same events.
//!   - **The position survives the process.** The cursor lives in the
//!     [`KeyValueStore`] (namespace [`RELAY_NAMESPACE`], key = sink name, value
//!     `{"sequence": n, "updated_at": "…"}`), re-read at each pump, so a new
//!     leader or a restarted process continues where the last one stopped, and
//!     events committed while no process ran are delivered once one does.
//!   - **At least once.** The cursor is written after each delivered event, with
//!     compare-and-swap on the version read: two leaders briefly overlapping
//!     cannot both advance it unnoticed (the loser stops and re-reads). A crash,
//!     or a lost lease, between a delivery and its cursor write delivers that
//!     event again; sinks carry the event's sequence so that receivers can drop
//!     the repeat. A clean hand-over (resign, stop, restart) repeats nothing.
//!   - **Failures hold the position.** A failed delivery leaves the cursor
//!     before the event and is retried with capped exponential backoff on the
//!     clock; later events wait behind it, so order is kept.
//!   - **Compaction.** A relay stopped for longer than the log's retention
//!     finds the events it missed compacted away; it says so in a warning and
//!     continues from the oldest event kept.
//!   - **First start at the tail.** With no cursor stored yet (a new deployment,
//!     a new sink), the relay starts at the current end of the log rather than
//!     replaying history to a receiver that never asked for it.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::event::StoredEvent;
use crate::ports::event_sink::SinkError;
use crate::ports::kv::Expect;
use crate::ports::store::{check_resumable, StoreError};
use crate::ports::{Clock, EventSink, KeyValueStore, Store};
use crate::runtime::{Backoff, LeaderElector};
use crate::time::{plus_seconds, Timestamp};

/// Key-value namespace of [`LeaderRelay`] cursors (key = sink name).
pub const RELAY_NAMESPACE: &str = "relay";

/// Moves committed events from the log to one sink, from a cursor held in this
/// process's memory.
pub struct EventRelay {
    store: Arc<dyn Store>,
    sink: Arc<dyn EventSink>,
    cursor: u64,
    batch: usize,
}

/// Why a pump stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// Reading the log, or reading or writing the stored cursor, failed; a
    /// [`StoreError::RecordConflict`] means another process moved the cursor.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sink refused a batch; the cursor stays before it.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// The stored cursor of `sink` is not a cursor record; the relay holds until
    /// an operator deletes or repairs it (skipping could lose events).
    #[error("relay cursor `{sink}` is unreadable: {message}")]
    Cursor {
        /// The sink (the record's key).
        sink: String,
        /// The parse error.
        message: String,
    },
}

impl std::fmt::Debug for EventRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRelay")
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl EventRelay {
    /// A relay delivering events with `sequence > cursor`.
    pub fn new(store: Arc<dyn Store>, sink: Arc<dyn EventSink>, cursor: u64) -> Self {
        Self {
            store,
            sink,
            cursor,
            batch: 500,
        }
    }

    /// Sequence of the last delivered event.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// Delivers everything committed so far; returns how many events went out.
    pub async fn pump(&mut self) -> Result<usize, RelayError> {
        let mut delivered = 0;
        loop {
            let events = self.store.read_events(self.cursor, self.batch).await?;
            let Some(last) = events.last().map(|e| e.sequence) else {
                return Ok(delivered);
            };
            self.sink.publish(&events).await?;
            delivered += events.len();
            self.cursor = last;
        }
    }

    /// Pumps whenever the log grows, until `shutdown` turns true. Sink failures are
    /// logged and retried on the next wake-up.
    pub async fn run(&mut self, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        let mut newest = self.store.subscribe();
        loop {
            if let Err(error) = self.pump().await {
                tracing::warn!(%error, cursor = self.cursor, "event relay could not deliver");
            }
            tokio::select! {
                changed = newest.changed() => if changed.is_err() { break },
                _ = shutdown.wait_for(|stop| *stop) => break,
            }
        }
    }
}

/// The stored position of a [`LeaderRelay`]: the last event its sink took.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayCursor {
    /// Sequence of the last delivered (or skipped as irrelevant) event.
    pub sequence: u64,
    /// When it was written.
    pub updated_at: Timestamp,
}

/// The cursor of sink `name` as stored, with its record version.
pub async fn stored_cursor(
    kv: &dyn KeyValueStore,
    name: &str,
    now: Timestamp,
) -> Result<Option<(RelayCursor, u64)>, RelayError> {
    let Some(entry) = kv.get(RELAY_NAMESPACE, name, now).await? else {
        return Ok(None);
    };
    let cursor = serde_json::from_str(&entry.value).map_err(|e| RelayError::Cursor {
        sink: name.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Some((cursor, entry.version)))
}

/// Moves committed events to one sink for the whole deployment: only while this
/// process leads, from a cursor kept in the key-value store (see the module
/// documentation for the guarantees).
pub struct LeaderRelay {
    store: Arc<dyn Store>,
    kv: Arc<dyn KeyValueStore>,
    elector: Arc<LeaderElector>,
    clock: Arc<dyn Clock>,
    name: String,
    sink: Arc<dyn EventSink>,
    relevant: fn(&StoredEvent) -> bool,
    backoff: Backoff,
    batch: usize,
}

impl std::fmt::Debug for LeaderRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaderRelay")
            .field("name", &self.name)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Where a pump stands: the cursor and the version of its record.
struct Position {
    cursor: u64,
    version: u64,
}

fn every_event(_: &StoredEvent) -> bool {
    true
}

impl LeaderRelay {
    /// A relay feeding `sink`, whose cursor is stored under `name`.
    pub fn new(
        store: Arc<dyn Store>,
        kv: Arc<dyn KeyValueStore>,
        elector: Arc<LeaderElector>,
        clock: Arc<dyn Clock>,
        name: impl Into<String>,
        sink: Arc<dyn EventSink>,
    ) -> Self {
        Self {
            store,
            kv,
            elector,
            clock,
            name: name.into(),
            sink,
            relevant: every_event,
            // A receiver that is down for long is asked every 5 minutes at most.
            backoff: Backoff {
                base_seconds: 2,
                max_seconds: 300,
                jitter_percent: 20,
            },
            batch: 500,
        }
    }

    /// Hands the sink only events for which `relevant` holds; the others are
    /// passed over (the cursor still moves past them), which saves the sink
    /// calls and the cursor writes per event.
    pub fn only(mut self, relevant: fn(&StoredEvent) -> bool) -> Self {
        self.relevant = relevant;
        self
    }

    /// Pauses between retries after failed deliveries.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The cursor's key in [`RELAY_NAMESPACE`].
    pub fn name(&self) -> &str {
        &self.name
    }

    fn leading(&self) -> bool {
        self.elector.fence().is_some()
    }

    /// The stored position, or the log tail stored as the first one.
    async fn position(&self) -> Result<Position, RelayError> {
        let now = self.clock.now();
        if let Some((cursor, version)) = stored_cursor(self.kv.as_ref(), &self.name, now).await? {
            return Ok(Position {
                cursor: cursor.sequence,
                version,
            });
        }
        let tail = self.store.last_sequence().await?;
        let version = self.write(tail, Expect::Absent).await?;
        tracing::info!(
            sink = %self.name,
            sequence = tail,
            "no relay cursor stored yet: starting at the end of the event log"
        );
        Ok(Position {
            cursor: tail,
            version,
        })
    }

    async fn write(&self, sequence: u64, expect: Expect) -> Result<u64, RelayError> {
        let now = self.clock.now();
        let record = RelayCursor {
            sequence,
            updated_at: now,
        };
        let value = serde_json::to_string(&record).map_err(|e| RelayError::Cursor {
            sink: self.name.clone(),
            message: e.to_string(),
        })?;
        let version = self
            .kv
            .put(RELAY_NAMESPACE, &self.name, &value, expect, None, now)
            .await?;
        Ok(version)
    }

    async fn advance(&self, at: &mut Position, sequence: u64) -> Result<(), RelayError> {
        at.version = self.write(sequence, Expect::Version(at.version)).await?;
        at.cursor = sequence;
        Ok(())
    }

    /// Delivers everything committed since the stored cursor while this process
    /// leads; returns how many events the sink took. Stops, without error, as
    /// soon as the lease is lost.
    pub async fn pump(&mut self) -> Result<usize, RelayError> {
        if !self.leading() {
            return Ok(0);
        }
        let mut at = self.position().await?;
        let first = self.store.first_sequence().await?;
        if check_resumable(at.cursor, first).is_err() {
            // Reads from here return compaction snapshots, which sinks pass over;
            // what was compacted away is lost to this sink, so it is said loudly.
            tracing::warn!(
                sink = %self.name,
                cursor = at.cursor,
                first_sequence = first,
                "events this sink had not taken were compacted out of the log before delivery"
            );
        }
        let mut delivered = 0;
        loop {
            if !self.leading() {
                return Ok(delivered);
            }
            let events = self.store.read_events(at.cursor, self.batch).await?;
            let Some(last) = events.last().map(|e| e.sequence) else {
                return Ok(delivered);
            };
            for event in events.iter().filter(|e| (self.relevant)(e)) {
                if !self.leading() {
                    return Ok(delivered);
                }
                self.sink.publish(std::slice::from_ref(event)).await?;
                self.advance(&mut at, event.sequence).await?;
                delivered += 1;
            }
            if at.cursor < last {
                self.advance(&mut at, last).await?;
            }
        }
    }

    /// Pumps whenever the log grows or leadership changes, until `shutdown`
    /// turns true. After a failure it waits out the backoff before trying again.
    pub async fn run(&mut self, mut shutdown: watch::Receiver<bool>) {
        let mut newest = self.store.subscribe();
        let mut leadership = self.elector.subscribe();
        let salt = {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            self.name.hash(&mut hasher);
            hasher.finish()
        };
        let mut failures: u32 = 0;
        loop {
            let retry_at = match self.pump().await {
                Ok(_) => {
                    failures = 0;
                    None
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let delay = self.backoff.delay_seconds(failures, salt);
                    tracing::warn!(
                        %error,
                        sink = %self.name,
                        retry_in_seconds = delay,
                        "relay could not deliver; the cursor stays and the delivery is retried"
                    );
                    Some(plus_seconds(self.clock.now(), i64::from(delay)))
                }
            };
            let stop = match retry_at {
                None => tokio::select! {
                    changed = newest.changed() => changed.is_err(),
                    changed = leadership.changed() => changed.is_err(),
                    _ = shutdown.wait_for(|stop| *stop) => true,
                },
                Some(at) => tokio::select! {
                    () = self.clock.sleep_until(at) => false,
                    _ = shutdown.wait_for(|stop| *stop) => true,
                },
            };
            if stop {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::event::{DomainEvent, EventPayload, ResourceKind, StoredEvent, Subject};
    use crate::ports::event_sink::CollectingSink;
    use crate::ports::store::ChangeSet;
    use crate::store::MemoryStore;
    use crate::time::epoch;

    fn event() -> DomainEvent {
        DomainEvent::new(
            Subject {
                kind: ResourceKind::Lablet,
                id: "x".into(),
            },
            EventPayload::LabletCancelRequested { by: None },
            epoch(),
        )
    }

    async fn append(store: &MemoryStore, n: usize) {
        store
            .commit(ChangeSet::new().events((0..n).map(|_| event())))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn delivers_in_order_exactly_once() {
        let store = Arc::new(MemoryStore::new());
        let sink = Arc::new(CollectingSink::default());
        let mut relay = EventRelay::new(store.clone(), sink.clone(), 0);
        append(&store, 3).await;
        assert_eq!(relay.pump().await.unwrap(), 3);
        append(&store, 2).await;
        assert_eq!(relay.pump().await.unwrap(), 2);
        assert_eq!(relay.pump().await.unwrap(), 0);
        let seqs: Vec<u64> = sink.events().iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4, 5]);
    }

    struct Flaky {
        fail: AtomicBool,
        inner: CollectingSink,
    }

    #[async_trait]
    impl EventSink for Flaky {
        async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
            if self.fail.swap(false, Ordering::SeqCst) {
                return Err(SinkError {
                    sink: "flaky".into(),
                    message: "down".into(),
                });
            }
            self.inner.publish(events).await
        }
    }

    #[tokio::test]
    async fn a_failed_batch_is_retried_not_skipped() {
        let store = Arc::new(MemoryStore::new());
        let sink = Arc::new(Flaky {
            fail: AtomicBool::new(true),
            inner: CollectingSink::default(),
        });
        let mut relay = EventRelay::new(store.clone(), sink.clone(), 0);
        append(&store, 2).await;
        assert!(relay.pump().await.is_err());
        assert_eq!(relay.cursor(), 0);
        assert_eq!(relay.pump().await.unwrap(), 2);
        assert_eq!(sink.inner.events().len(), 2);
    }
    mod leader {
        use std::sync::Mutex;

        use super::*;
        use crate::ports::VirtualClock;
        use crate::runtime::LeaseSettings;
        use crate::store::MemoryKeyValueStore;

        /// One process: its elector and its relay, over the shared store and kv.
        struct Process {
            elector: Arc<LeaderElector>,
            relay: LeaderRelay,
        }

        struct Deployment {
            clock: VirtualClock,
            store: Arc<MemoryStore>,
            kv: Arc<MemoryKeyValueStore>,
        }

        impl Deployment {
            fn new() -> Self {
                Self {
                    clock: VirtualClock::new(epoch()),
                    store: Arc::new(MemoryStore::new()),
                    kv: Arc::new(MemoryKeyValueStore::new()),
                }
            }

            fn process(&self, holder: &str, sink: Arc<dyn EventSink>) -> Process {
                let elector = Arc::new(LeaderElector::new(
                    self.store.clone(),
                    Arc::new(self.clock.clone()),
                    holder,
                    LeaseSettings::default(),
                ));
                let relay = LeaderRelay::new(
                    self.store.clone(),
                    self.kv.clone(),
                    elector.clone(),
                    Arc::new(self.clock.clone()),
                    "test-sink",
                    sink,
                );
                Process { elector, relay }
            }

            async fn cursor(&self) -> Option<u64> {
                stored_cursor(self.kv.as_ref(), "test-sink", self.clock.now())
                    .await
                    .unwrap()
                    .map(|(c, _)| c.sequence)
            }
        }

        fn sequences(sink: &CollectingSink) -> Vec<u64> {
            sink.events().iter().map(|e| e.sequence).collect()
        }

        #[tokio::test]
        async fn only_the_leader_relays_and_the_first_start_begins_at_the_tail() {
            let d = Deployment::new();
            let (sink_a, sink_b) = (
                Arc::new(CollectingSink::default()),
                Arc::new(CollectingSink::default()),
            );
            let mut a = d.process("a", sink_a.clone());
            let mut b = d.process("b", sink_b.clone());
            append(&d.store, 2).await;
            assert_eq!(a.relay.pump().await.unwrap(), 0, "not leading yet");
            assert_eq!(d.cursor().await, None, "a follower does not even read");
            a.elector.step().await;
            b.elector.step().await;
            assert_eq!(
                a.relay.pump().await.unwrap(),
                0,
                "history before the first start"
            );
            assert_eq!(d.cursor().await, Some(2));
            append(&d.store, 3).await;
            assert_eq!(b.relay.pump().await.unwrap(), 0);
            assert_eq!(a.relay.pump().await.unwrap(), 3);
            assert_eq!(sequences(&sink_a), vec![3, 4, 5]);
            assert!(sink_b.events().is_empty());
            assert_eq!(d.cursor().await, Some(5));
        }

        #[tokio::test]
        async fn a_new_leader_continues_from_the_stored_cursor_exactly_once() {
            let d = Deployment::new();
            let (sink_a, sink_b) = (
                Arc::new(CollectingSink::default()),
                Arc::new(CollectingSink::default()),
            );
            let mut a = d.process("a", sink_a.clone());
            let mut b = d.process("b", sink_b.clone());
            a.elector.step().await;
            a.relay.pump().await.unwrap();
            append(&d.store, 2).await;
            a.relay.pump().await.unwrap();
            // `a` dies; events committed while nobody relays wait in the log.
            append(&d.store, 2).await;
            d.clock.advance_seconds(20);
            assert!(matches!(
                b.elector.step().await,
                crate::runtime::Leadership::Leading { .. }
            ));
            assert_eq!(a.relay.pump().await.unwrap(), 0, "the deposed leader stops");
            assert_eq!(b.relay.pump().await.unwrap(), 2);
            assert_eq!(sequences(&sink_a), vec![1, 2]);
            assert_eq!(sequences(&sink_b), vec![3, 4]);
            // A restart of `b` (a new relay over the same kv) repeats nothing.
            let mut b2 = d.process("b", sink_b.clone());
            b2.elector.step().await;
            append(&d.store, 1).await;
            b.elector.resign().await;
            assert!(matches!(
                b2.elector.step().await,
                crate::runtime::Leadership::Leading { .. }
            ));
            assert_eq!(b2.relay.pump().await.unwrap(), 1);
            assert_eq!(sequences(&sink_b), vec![3, 4, 5]);
        }

        #[tokio::test]
        async fn only_relevant_events_reach_the_sink_and_the_cursor_passes_the_rest() {
            let d = Deployment::new();
            let sink = Arc::new(CollectingSink::default());
            let mut a = d.process("a", sink.clone());
            a.relay = a.relay.only(|e| e.sequence % 2 == 0);
            a.elector.step().await;
            a.relay.pump().await.unwrap();
            append(&d.store, 5).await;
            assert_eq!(a.relay.pump().await.unwrap(), 2);
            assert_eq!(sequences(&sink), vec![2, 4]);
            assert_eq!(d.cursor().await, Some(5));
        }

        #[tokio::test]
        async fn a_failed_delivery_holds_the_cursor_and_is_retried() {
            let d = Deployment::new();
            let sink = Arc::new(Flaky {
                fail: AtomicBool::new(false),
                inner: CollectingSink::default(),
            });
            let mut a = d.process("a", sink.clone());
            a.elector.step().await;
            a.relay.pump().await.unwrap();
            append(&d.store, 2).await;
            sink.fail.store(true, Ordering::SeqCst);
            assert!(matches!(a.relay.pump().await, Err(RelayError::Sink(_))));
            assert_eq!(d.cursor().await, Some(0));
            assert_eq!(a.relay.pump().await.unwrap(), 2);
            assert_eq!(sequences(&sink.inner), vec![1, 2]);
            assert_eq!(d.cursor().await, Some(2));
        }

        /// Moves the stored cursor behind the relay's back during a delivery, as
        /// a second leader overlapping this one would.
        struct Overtaken {
            kv: Arc<MemoryKeyValueStore>,
            inner: CollectingSink,
        }

        #[async_trait]
        impl EventSink for Overtaken {
            async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
                let value = serde_json::json!({"sequence": 99, "updated_at": epoch()});
                self.kv
                    .put(
                        RELAY_NAMESPACE,
                        "test-sink",
                        &value.to_string(),
                        Expect::Any,
                        None,
                        epoch(),
                    )
                    .await
                    .unwrap();
                self.inner.publish(events).await
            }
        }

        #[tokio::test]
        async fn overlapping_leaders_cannot_both_advance_the_cursor() {
            let d = Deployment::new();
            let sink = Arc::new(Overtaken {
                kv: d.kv.clone(),
                inner: CollectingSink::default(),
            });
            let mut a = d.process("a", sink.clone());
            a.elector.step().await;
            d.kv.put(
                RELAY_NAMESPACE,
                "test-sink",
                r#"{"sequence": 0, "updated_at": "1970-01-01T00:00:00Z"}"#,
                Expect::Absent,
                None,
                epoch(),
            )
            .await
            .unwrap();
            append(&d.store, 3).await;
            let outcome = a.relay.pump().await;
            assert!(
                matches!(
                    outcome,
                    Err(RelayError::Store(StoreError::RecordConflict { .. }))
                ),
                "{outcome:?}"
            );
            assert_eq!(sink.inner.events().len(), 1, "stopped after the conflict");
            assert_eq!(
                d.cursor().await,
                Some(99),
                "the other leader's write stands"
            );
        }

        /// Loses the lease while taking the first event.
        struct Deposing {
            elector: Mutex<Option<Arc<LeaderElector>>>,
            inner: CollectingSink,
        }

        #[async_trait]
        impl EventSink for Deposing {
            async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
                let elector = self.elector.lock().unwrap().take();
                if let Some(elector) = elector {
                    elector.resign().await;
                }
                self.inner.publish(events).await
            }
        }

        #[tokio::test]
        async fn a_lost_lease_stops_the_relay_between_events() {
            let d = Deployment::new();
            let sink = Arc::new(Deposing {
                elector: Mutex::new(None),
                inner: CollectingSink::default(),
            });
            let mut a = d.process("a", sink.clone());
            *sink.elector.lock().unwrap() = Some(a.elector.clone());
            a.elector.step().await;
            a.relay.pump().await.unwrap();
            append(&d.store, 3).await;
            assert_eq!(a.relay.pump().await.unwrap(), 1);
            assert_eq!(d.cursor().await, Some(1));
        }

        #[tokio::test]
        async fn an_unreadable_cursor_holds_the_relay() {
            let d = Deployment::new();
            let sink = Arc::new(CollectingSink::default());
            let mut a = d.process("a", sink.clone());
            a.elector.step().await;
            d.kv.put(
                RELAY_NAMESPACE,
                "test-sink",
                "{}",
                Expect::Absent,
                None,
                epoch(),
            )
            .await
            .unwrap();
            append(&d.store, 1).await;
            assert!(matches!(
                a.relay.pump().await,
                Err(RelayError::Cursor { .. })
            ));
            assert!(sink.events().is_empty());
        }

        #[tokio::test]
        async fn run_relays_on_becoming_leader_and_retries_after_the_backoff() {
            let d = Deployment::new();
            let sink = Arc::new(Flaky {
                fail: AtomicBool::new(false),
                inner: CollectingSink::default(),
            });
            let mut a = d.process("a", sink.clone());
            a.relay = a.relay.with_backoff(Backoff {
                base_seconds: 10,
                max_seconds: 10,
                jitter_percent: 0,
            });
            let elector = a.elector.clone();
            let (stop, stopped) = watch::channel(false);
            let task = tokio::spawn(async move { a.relay.run(stopped).await });
            elector.step().await;
            wait_for(|| async { d.cursor().await == Some(0) }).await;
            sink.fail.store(true, Ordering::SeqCst);
            append(&d.store, 1).await;
            wait_for(|| async { !sink.fail.load(Ordering::SeqCst) }).await;
            // The failed attempt is retried only once the backoff has passed.
            append(&d.store, 1).await;
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            assert_eq!(d.cursor().await, Some(0), "no retry before the backoff");
            d.clock.advance_seconds(10);
            wait_for(|| async { d.cursor().await == Some(2) }).await;
            assert_eq!(sequences(&sink.inner), vec![1, 2]);
            stop.send(true).unwrap();
            task.await.unwrap();
        }

        async fn wait_for<F, Fut>(mut check: F)
        where
            F: FnMut() -> Fut,
            Fut: std::future::Future<Output = bool>,
        {
            for _ in 0..400 {
                if check().await {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("condition not reached within 20 s");
        }
    }
}
