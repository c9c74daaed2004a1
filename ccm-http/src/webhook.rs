//! Alert webhooks: every worker alert (raised or cleared) is POSTed to each
//! configured URL as one CloudEvents 1.0 event in structured JSON mode
//! (`Content-Type: application/cloudevents+json`; [`webhook_body`]): `id` is the
//! event's sequence in the log, `type` its versioned type name, `source`
//! [`CLOUDEVENTS_SOURCE`], `subject` `<kind>/<id>`, `time` when it happened, `data`
//! its payload as the history API shows it, and the extension `sequence` the
//! sequence as a number. The OpenAPI document describes it under `webhooks`.
//!
//! Each URL is a [`WebhookReceiver`], an [`EventSink`] fed by a relay of its own
//! ([`ccm_core::runtime::relay::LeaderRelay`]): only the process holding the
//! controller lease delivers, from a cursor per URL kept in the key-value store
//! (key [`WebhookReceiver::cursor_key`]), so several replicas do not repeat
//! alerts, alerts raised while no process ran are delivered after a restart, and
//! one unreachable receiver holds back no other.
//!
//! Delivery is **at least once**. The body carries the event's `sequence`, and
//! the `Idempotency-Key` header (and `X-Ccm-Event-Sequence`, kept for existing
//! receivers) repeats it, so a receiver drops an event it already has; a repeat
//! happens only when a process stops between a delivery and the cursor write.
//!
//! Each POST has a timeout; a `5xx`, `429`, timeout or refused connection is
//! retried a bounded number of times with doubling pauses, after which the
//! delivery fails: the cursor stays before the event and the relay tries again
//! later (with its own backoff), and later alerts wait behind it so order holds.
//! Any other `4xx` is final: the receiver said no and asking again will not
//! change that, so the event is dropped for that URL, logged and counted.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use ccm_core::event::StoredEvent;
use ccm_core::ports::event_sink::{EventSink, SinkError};
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};

/// Event types sent to webhooks.
pub const ALERT_EVENT_TYPES: &[&str] = &["worker.alert.raised.v1", "worker.alert.cleared.v1"];

/// The CloudEvents `source` of every event ccm sends.
pub const CLOUDEVENTS_SOURCE: &str = "urn:ccm:events";

/// The media type of a structured-mode CloudEvent.
pub const CLOUDEVENTS_MEDIA_TYPE: &str = "application/cloudevents+json; charset=utf-8";

/// The header carrying the event's sequence, for receivers to drop repeats.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

/// Where and how alerts are delivered.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookSettings {
    /// Receivers.
    pub urls: Vec<String>,
    /// Time allowed for one POST.
    pub timeout: Duration,
    /// POSTs per event and URL before the delivery counts as failed (at least 1).
    pub attempts: u32,
    /// Pause after the first failed attempt; doubles after each further one.
    pub first_retry_delay: Duration,
}

/// The HTTP client and counters shared by the receivers of one configuration.
pub struct WebhookSink {
    client: reqwest::Client,
    settings: WebhookSettings,
    delivered: AtomicU64,
    failed: AtomicU64,
    refused: AtomicU64,
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

/// How one POST went.
enum Attempt {
    Delivered,
    Retry(String),
    Refused(String),
}

/// How one event's delivery to one URL ended, after its attempts.
enum Delivery {
    /// The receiver took it.
    Delivered,
    /// The receiver refused it for good; it is dropped for that URL.
    Refused,
    /// Every attempt failed; the relay retries later.
    Failed(String),
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
            refused: AtomicU64::new(0),
        })
    }

    /// One receiver per configured URL, each to be fed by a relay of its own.
    pub fn receivers(self: &Arc<Self>) -> Vec<WebhookReceiver> {
        self.settings
            .urls
            .iter()
            .enumerate()
            .map(|(index, url)| WebhookReceiver {
                sink: self.clone(),
                index,
                cursor_key: cursor_key(url),
            })
            .collect()
    }

    /// Events delivered (per URL) by this process so far.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Deliveries that failed after all their attempts (each retried later).
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Events a receiver refused with a `4xx` (dropped for that URL).
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Prometheus lines for the counters.
    pub fn render_metrics(&self, out: &mut String) {
        out.push_str("# HELP ccm_webhook_deliveries_total Alert webhook deliveries by this process, by outcome.\n# TYPE ccm_webhook_deliveries_total counter\n");
        for (outcome, value) in [
            ("delivered", self.delivered()),
            ("failed", self.failed()),
            ("refused", self.refused()),
        ] {
            let _ = writeln!(
                out,
                "ccm_webhook_deliveries_total{{outcome=\"{outcome}\"}} {value}"
            );
        }
    }

    async fn post_once(&self, url: &str, body: &serde_json::Value, sequence: u64) -> Attempt {
        let sequence = sequence.to_string();
        let response = self
            .client
            .post(url)
            .header(IDEMPOTENCY_KEY_HEADER, &sequence)
            .header("X-Ccm-Event-Sequence", &sequence)
            .header(reqwest::header::CONTENT_TYPE, CLOUDEVENTS_MEDIA_TYPE)
            .body(body.to_string())
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

    /// Delivers one event to one URL, with the configured attempts.
    async fn deliver(&self, url: &str, event: &StoredEvent, body: &serde_json::Value) -> Delivery {
        let attempts = self.settings.attempts.max(1);
        let mut delay = self.settings.first_retry_delay;
        let mut last = String::new();
        for attempt in 1..=attempts {
            match self.post_once(url, body, event.sequence).await {
                Attempt::Delivered => {
                    self.delivered.fetch_add(1, Ordering::Relaxed);
                    return Delivery::Delivered;
                }
                Attempt::Refused(reason) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        sequence = event.sequence,
                        event_type = event.event.type_name(),
                        %reason,
                        "alert webhook refused the event; dropped for this receiver"
                    );
                    return Delivery::Refused;
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
        Delivery::Failed(last)
    }
}

/// One webhook URL as an [`EventSink`]: delivers the alert events it is given
/// and fails on the first one that could not be delivered, so the relay's cursor
/// stays before it.
pub struct WebhookReceiver {
    sink: Arc<WebhookSink>,
    index: usize,
    cursor_key: String,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key, not the URL: the URL may carry a token.
        f.debug_struct("WebhookReceiver")
            .field("cursor_key", &self.cursor_key)
            .finish_non_exhaustive()
    }
}

impl WebhookReceiver {
    /// The relay cursor's key: `webhook-` and a digest of the URL, so each URL
    /// keeps its own position (a URL added later starts at the log tail) and the
    /// stored key reveals no token the URL may hold.
    pub fn cursor_key(&self) -> &str {
        &self.cursor_key
    }
}

/// The relay cursor key of `url` (see [`WebhookReceiver::cursor_key`]).
pub fn cursor_key(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    format!("webhook-{}", hex::encode(&digest[..8]))
}

/// The CloudEvent a receiver gets for `event` (structured JSON mode).
pub fn webhook_body(event: &StoredEvent) -> serde_json::Value {
    // The payload serialises adjacently tagged: `{"type", "data"}`.
    let data = serde_json::to_value(&event.event.payload)
        .ok()
        .and_then(|mut tagged| tagged.get_mut("data").map(serde_json::Value::take))
        .unwrap_or_else(|| json!({}));
    let subject = &event.event.subject;
    json!({
        "specversion": "1.0",
        "id": event.sequence.to_string(),
        "source": CLOUDEVENTS_SOURCE,
        "type": event.event.type_name(),
        "subject": format!("{}/{}", subject.kind.as_str(), subject.id),
        "time": event.event.occurred_at,
        "datacontenttype": "application/json",
        "data": data,
        "sequence": event.sequence,
        "ccmeventid": event.event.id,
    })
}

/// Whether webhooks get `event` (the relay's filter).
pub fn is_alert(event: &StoredEvent) -> bool {
    ALERT_EVENT_TYPES.contains(&event.event.type_name())
}

#[async_trait]
impl EventSink for WebhookReceiver {
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
        let Some(url) = self.sink.settings.urls.get(self.index) else {
            return Ok(());
        };
        for event in events.iter().filter(|e| is_alert(e)) {
            let body = webhook_body(event);
            if let Delivery::Failed(reason) = self.sink.deliver(url, event, &body).await {
                return Err(SinkError {
                    sink: self.cursor_key.clone(),
                    message: format!("event {} not delivered: {reason}", event.sequence),
                });
            }
        }
        Ok(())
    }
}
