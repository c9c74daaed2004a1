//! The bench's HTTP client of the API: an admin key, JSON bodies, and the
//! answer's status with its JSON.

use std::time::Duration;

use serde_json::Value;

#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub key: String,
}

impl Api {
    pub fn new(key: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
            key: key.to_owned(),
        }
    }

    /// Sends one request; `None` when it did not get an answer at all.
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Option<(u16, Value)> {
        let mut request = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.ok()?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.ok()?;
        Some((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }
}
