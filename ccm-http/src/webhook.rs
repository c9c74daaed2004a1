//! Alert webhooks: an [`EventSink`] that POSTs every worker alert (raised or
//! cleared) to the configured URLs, as one JSON object per event.
//!
//! Each delivery has a timeout and a bounded number of attempts with doubling
//! pauses; a `5xx`, `429`, timeout or refused connection is retried, any other
//! `4xx` is not (the receiver said no, asking again will not change that). After
//! the last attempt the event is dropped for that URL, logged and counted
//! (`failed()`): one unreachable receiver must not hold back the others or the
//! server. The body carries the event's `sequence`, and the `X-Ccm-Event-Sequence`
//! header repeats it, so a receiver can ignore an event it already has.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use ccm_core::event::StoredEvent;
use ccm_core::ports::event_sink::{EventSink, SinkError};
use reqwest::StatusCode;
use serde_json::json;

/// Event types sent to webhooks.
pub const ALERT_EVENT_TYPES: &[&str] = &["worker.alert.raised.v1", "worker.alert.cleared.v1"];

/// Where and how alerts are delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookSettings {
    /// Receivers.
    pub urls: Vec<String>,
    /// Time allowed for one POST.
    pub timeout: Duration,
    /// POSTs per event and URL before giving up (at least 1).
    pub attempts: u32,
    /// Pause after the first failed attempt; doubles after each further one.
    pub first_retry_delay: Duration,
}

/// Posts alert events to webhook URLs.
pub struct WebhookSink {
    client: reqwest::Client,
    settings: WebhookSettings,
    delivered: AtomicU64,
    failed: AtomicU64,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // URLs may carry tokens in their query; only their count is shown.
        f.debug_struct("WebhookSink")
            .field("urls", &self.settings.urls.len())
            .field("attempts", &self.settings.attempts)
            .finish_non_exhaustive()
    }
}

/// Why one POST did not land.
enum Attempt {
    Delivered,
    Retry(String),
    Refused(String),
}

impl WebhookSink {
    /// A sink for `settings`.
    pub fn new(settings: WebhookSettings) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("ccm/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            settings,
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }

    /// Events delivered (per URL) so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Events given up on (per URL) so far.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Prometheus lines for the two counters.
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str("# HELP ccm_webhook_deliveries_total Alert webhook deliveries, by outcome.\n# TYPE ccm_webhook_deliveries_total counter\n");
        let _ = writeln!(
            out,
            "ccm_webhook_deliveries_total{{outcome=\"delivered\"}} {}",
            self.delivered()
        );
        let _ = writeln!(
            out,
            "ccm_webhook_deliveries_total{{outcome=\"failed\"}} {}",
            self.failed()
        );
    }

    async fn post_once(&self, url: &str, body: &serde_json::Value, sequence: u64) -> Attempt {
        let response = self
            .client
            .post(url)
            .header("X-Ccm-Event-Sequence", sequence.to_string())
            .json(body)
            .send()
            .await;
        match response {
            Ok(r) if r.status().is_success() => Attempt::Delivered,
            Ok(r) => {
                let status = r.status();
                let reason = format!("HTTP {status}");
                if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
                    Attempt::Retry(reason)
                } else {
                    Attempt::Refused(reason)
                }
            }
            // Without the URL: it may hold a token.
            Err(error) => Attempt::Retry(error.without_url().to_string()),
        }
    }

    /// Delivers one event to one URL; true when it landed.
    async fn deliver(&self, url: &str, event: &StoredEvent, body: &serde_json::Value) -> bool {
        let attempts = self.settings.attempts.max(1);
        let mut delay = self.settings.first_retry_delay;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.post_once(url, body, event.sequence).await {
                Attempt::Delivered => {
                    self.delivered.fetch_add(1, Ordering::Relaxed);
                    return true;
                }
                Attempt::Refused(reason) => {
                    last = reason;
                    break;
                }
                Attempt::Retry(reason) => {
                    last = reason;
                    if attempt < attempts {
                        tokio::time::sleep(delay).await;
                        delay = delay.saturating_mul(2);
                    }
                }
            }
        }
        self.failed.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            sequence = event.sequence,
            event_type = event.event.type_name(),
            reason = %last,
            "alert webhook delivery failed; dropped for this receiver"
        );
        false
    }
}

/// The JSON a receiver gets for `event`: the event as the history API and the
/// event stream show it (`sequence`, `id`, `occurred_at`, `subject`, `type`, `data`).
pub fn webhook_body(event: &StoredEvent) -> serde_json::Value {
    serde_json::to_value(event).unwrap_or_else(|error| {
        json!({"sequence": event.sequence, "type": event.event.type_name(), "error": error.to_string()})
    })
}

fn is_alert(event: &StoredEvent) -> bool {
    ALERT_EVENT_TYPES.contains(&event.event.type_name())
}

#[async_trait]
impl EventSink for WebhookSink {
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
        for event in events.iter().filter(|e| is_alert(e)) {
            let body = webhook_body(event);
            let deliveries = self
                .settings
                .urls
                .iter()
                .map(|url| self.deliver(url, event, &body));
            futures_util::future::join_all(deliveries).await;
        }
        Ok(())
    }
}
