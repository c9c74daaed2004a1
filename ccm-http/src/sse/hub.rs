//! One reader of the event log per process, fanning each committed event out to
//! every open stream as a frame serialised once.
//!
//! Without it every stream read the log itself after every commit: 1,000 open
//! streams meant 1,000 store reads and 1,000 serialisations per commit, each
//! holding a pooled connection the engine needs. The hub reads once per wake-up
//! and hands out `Arc`s; a stream only filters on the parsed event it is given.
//!
//! Invariants:
//! * The hub publishes events in log order, each once, from the position it
//!   started at (the log's end when the first stream subscribed).
//! * It wakes on [`Store::subscribe`] and also every [`RESYNC`], so a missed
//!   wake-up (another process's commit on a shared SQLite file) delays an event
//!   by at most that long; it is never lost.
//! * The hub's buffer is one ring of `server.sse_buffer_events` events shared by
//!   all streams: a
//!   stream that falls further behind than that gets `Lagged` from its receiver and
//!   reads its way back from the log itself (see `crate::sse`), so a slow client
//!   neither holds memory nor holds the others back.
//! * The reader task starts with the first subscription and stops at shutdown;
//!   a process nobody streams from reads nothing.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use axum::response::sse::Event;
use ccm_core::event::StoredEvent;
use ccm_core::ports::Store;
use tokio::sync::{broadcast, watch};

use crate::metrics::{LogReader, Metrics};

/// Longest wait between two reads of the log when no wake-up comes.
pub const RESYNC: Duration = Duration::from_secs(1);

/// Events read per store query.
const BATCH: usize = 500;

/// One committed event as every stream receives it.
#[derive(Debug)]
pub struct HubEvent {
    /// The event, parsed once, for filtering.
    pub stored: StoredEvent,
    /// Its SSE frame (`id`, `event`, `data`), serialised once.
    pub frame: Event,
}

impl HubEvent {
    /// The frame of `stored`, or `None` (logged) when it cannot be serialised.
    pub fn of(stored: StoredEvent) -> Option<Self> {
        match serde_json::to_string(&stored) {
            Ok(data) => Some(Self {
                frame: Event::default()
                    .id(stored.sequence.to_string())
                    .event(stored.event.type_name())
                    .data(data),
                stored,
            }),
            Err(error) => {
                tracing::error!(%error, sequence = stored.sequence, "event not serialisable; skipped");
                None
            }
        }
    }
}

/// The fan-out point of the process's streams. Cheap to share (`Arc`).
pub struct EventHub {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    sender: broadcast::Sender<Arc<HubEvent>>,
    reader: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for EventHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventHub")
            .field("streams", &self.sender.receiver_count())
            .finish_non_exhaustive()
    }
}

impl EventHub {
    /// A hub over `store`; its reader starts with the first [`subscribe`](Self::subscribe).
    pub fn new(
        store: Arc<dyn Store>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
        buffer_events: usize,
    ) -> Self {
        Self {
            store,
            metrics,
            shutdown,
            // A broadcast channel of capacity 0 is refused; the configuration
            // check bounds it above.
            sender: broadcast::channel(buffer_events.max(1)).0,
            reader: Mutex::new(None),
        }
    }

    /// A receiver of every event the hub publishes from now on. The caller
    /// first reads the log itself from its own position until a read comes back
    /// short (see `crate::sse`): whatever the hub published before this call is
    /// in the log by then.
    pub async fn subscribe(
        &self,
    ) -> Result<broadcast::Receiver<Arc<HubEvent>>, ccm_core::ports::store::StoreError> {
        let receiver = self.sender.subscribe();
        self.ensure_reader().await?;
        Ok(receiver)
    }

    async fn ensure_reader(&self) -> Result<(), ccm_core::ports::store::StoreError> {
        let running = |slot: &Option<tokio::task::JoinHandle<()>>| {
            slot.as_ref().is_some_and(|task| !task.is_finished())
        };
        if running(&self.lock()) {
            return Ok(());
        }
        // Read before taking the slot: the lock is not held across an await.
        let start = self.store.last_sequence().await?;
        let mut slot = self.lock();
        if !running(&slot) && !*self.shutdown.borrow() {
            let reader = Reader {
                store: Arc::downgrade(&self.store),
                metrics: self.metrics.clone(),
                sender: self.sender.clone(),
                cursor: start,
            };
            *slot = Some(tokio::spawn(reader.run(self.shutdown.clone())));
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<tokio::task::JoinHandle<()>>> {
        match self.reader.lock() {
            Ok(guard) => guard,
            Err(poison) => poison.into_inner(),
        }
    }
}

/// The task that reads the log for the hub. It holds the store weakly: a server
/// that is dropped releases its store (and a SQLite file's lock) at once, even
/// before this task next runs and sees the shutdown.
struct Reader {
    store: Weak<dyn Store>,
    metrics: Arc<Metrics>,
    sender: broadcast::Sender<Arc<HubEvent>>,
    cursor: u64,
}

impl Reader {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let Some(mut newest) = self.store.upgrade().map(|store| store.subscribe()) else {
            return;
        };
        loop {
            newest.borrow_and_update();
            let Some(store) = self.store.upgrade() else {
                return;
            };
            self.read_to_end(store.as_ref()).await;
            drop(store);
            tokio::select! {
                changed = newest.changed() => if changed.is_err() { return },
                _ = shutdown.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(RESYNC) => {}
            }
        }
    }

    async fn read_to_end(&mut self, store: &dyn Store) {
        loop {
            self.metrics.count_log_read(LogReader::Hub);
            let batch = match store.read_events(self.cursor, BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::warn!(%error, cursor = self.cursor, "event hub could not read the log; retrying");
                    return;
                }
            };
            let full = batch.len() == BATCH;
            for stored in batch {
                self.cursor = stored.sequence;
                if let Some(event) = HubEvent::of(stored) {
                    // No receiver is fine: nobody streams at the moment.
                    let _ = self.sender.send(Arc::new(event));
                }
            }
            if !full {
                return;
            }
        }
    }
}
