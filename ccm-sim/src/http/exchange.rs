//! Recorded request/answer pairs, for tests that check every answer the simulator
//! sends (e.g. against the OpenAPI document's schemas), and the requests still
//! waiting for their answer, for tests that need to know a call is in flight
//! (e.g. held by the latency switch) or when a call arrived.

use std::time::SystemTime;

/// One request and the answer it got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// `GET`, `PUT`…
    pub method: String,
    /// The path as requested (`/api/v0/labs/8e0…/state`), without the query.
    pub path: String,
    /// The route that answered, in the OpenAPI document's spelling and without the
    /// `/api/v0` prefix (`/labs/{lab_id}/state`); `None` when no route matched.
    pub template: Option<String>,
    /// Status code.
    pub status: u16,
    /// `Content-Type` of the answer.
    pub content_type: Option<String>,
    /// The answer's body.
    pub body: Vec<u8>,
    /// When the request arrived, before any latency: when the client made the
    /// call, whenever it was answered.
    pub received_at: SystemTime,
}

/// A request received and not answered yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight {
    /// `GET`, `PUT`…
    pub method: String,
    /// The path as requested, without the query.
    pub path: String,
    /// When it arrived.
    pub received_at: SystemTime,
}

impl Exchange {
    /// The body as JSON, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        let is_json = self
            .content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/json"));
        if !is_json {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
