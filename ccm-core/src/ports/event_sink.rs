//! Where published events go once committed: the SSE hub, webhooks, bindings.

use async_trait::async_trait;

use crate::event::StoredEvent;

/// A sink failed to take events; the log still holds them, so a sink can catch up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event sink `{sink}` failed: {message}")]
pub struct SinkError {
    /// Sink name.
    pub sink: String,
    /// What happened.
    pub message: String,
}

/// Receives committed events in log order.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Delivers a batch, ordered by sequence.
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError>;
}

/// A sink that keeps everything in memory; for tests and embedding.
#[derive(Debug, Default)]
pub struct CollectingSink {
    events: std::sync::Mutex<Vec<StoredEvent>>,
}

impl CollectingSink {
    /// Everything received so far.
    pub fn events(&self) -> Vec<StoredEvent> {
        self.events
            .lock()
            .map(|guard| guard.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl EventSink for CollectingSink {
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
        let mut guard = self.events.lock().map_err(|_| SinkError {
            sink: "collecting".into(),
            message: "lock poisoned".into(),
        })?;
        guard.extend_from_slice(events);
        Ok(())
    }
}
