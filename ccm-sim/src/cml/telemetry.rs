//! A CML server's telemetry log: the whole history, oldest first, capped.

use std::collections::VecDeque;

use ccm_core::ports::cml::TelemetryEvent;
use ccm_core::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Telemetry events of one server.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct TelemetryLog {
    events: VecDeque<TelemetryEvent>,
}

impl TelemetryLog {
    /// Appends an event, dropping the oldest past `cap`.
    pub(crate) fn push(
        &mut self,
        category: &str,
        at: Timestamp,
        data: serde_json::Value,
        cap: usize,
    ) {
        self.events.push_back(TelemetryEvent {
            category: category.to_owned(),
            timestamp: at,
            data,
        });
        while self.events.len() > cap.max(1) {
            self.events.pop_front();
        }
    }

    /// Events strictly after `after` (all of them for `None`), oldest first.
    pub(crate) fn after(&self, after: Option<Timestamp>) -> Vec<TelemetryEvent> {
        self.events
            .iter()
            .filter(|e| after.is_none_or(|t| e.timestamp > t))
            .cloned()
            .collect()
    }

    /// Number of events kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.events.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ccm_core::time::{epoch, plus_seconds};
    use serde_json::json;

    #[test]
    fn filters_strictly_after_and_caps() {
        let mut log = TelemetryLog::default();
        for i in 0..5 {
            log.push(
                "user_activity",
                plus_seconds(epoch(), i),
                json!({"i": i}),
                4,
            );
        }
        assert_eq!(log.len(), 4);
        assert_eq!(log.after(None).len(), 4);
        let later = log.after(Some(plus_seconds(epoch(), 2)));
        assert_eq!(later.len(), 2);
        assert!(later.iter().all(|e| e.timestamp > plus_seconds(epoch(), 2)));
    }
}
