//! The outbox relay: tails the store's event log from a cursor and hands each batch
//! to the event sinks in order. Events reach sinks only after they are committed,
//! and a sink that fails is retried from the same cursor, so nothing is skipped.

use std::sync::Arc;

use crate::ports::event_sink::SinkError;
use crate::ports::store::StoreError;
use crate::ports::{EventSink, Store};

/// Moves committed events from the log to one sink.
pub struct EventRelay {
    store: Arc<dyn Store>,
    sink: Arc<dyn EventSink>,
    cursor: u64,
    batch: usize,
}

/// Why a pump stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// Reading the log failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sink refused a batch; the cursor stays before it.
    #[error(transparent)]
    Sink(#[from] SinkError),
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
}
