//! A small JSON client for a ccm server, authenticated with an API key.

use ccm_core::secret::Secret;
use reqwest::Method;
use serde_json::Value;

use crate::error::Error;

/// Talks to one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    key: Option<Secret>,
    http: reqwest::Client,
}

impl Client {
    /// A client for `base` (`http://127.0.0.1:8020`) with an optional API key.
    pub fn new(base: &str, key: Option<Secret>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .map_err(|e| Error::Http {
                url: base.to_owned(),
                message: e.to_string(),
            })?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key,
            http,
        })
    }

    /// Calls `method path` with an optional JSON body; the answer's JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose());
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| Error::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| Error::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let json: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).map_err(|e| Error::Http {
                url: url.clone(),
                message: format!("HTTP {status}, not JSON: {e}"),
            })?
        };
        if status.is_success() {
            return Ok(json);
        }
        let error = json.get("error");
        Err(Error::Api {
            status: status.as_u16(),
            code: error
                .and_then(|e| e.get("code"))
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            message: error
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
        })
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Result<Value, Error> {
        self.call(Method::GET, path, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Result<Value, Error> {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Value, Error> {
        self.call(Method::DELETE, path, None).await
    }
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
