//! `ccm probe`: asks a running server's `/livez` or `/readyz` and succeeds only on
//! a 200 — the health check of the container image, which carries no curl.

use std::time::Duration;

use crate::error::Error;

/// Which probe to ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Probe {
    /// The process is up (`/livez`).
    Livez,
    /// The store answers (`/readyz`).
    Readyz,
}

impl Probe {
    /// The probe's path on the server.
    pub fn path(self) -> &'static str {
        match self {
            Self::Livez => "/livez",
            Self::Readyz => "/readyz",
        }
    }
}

/// Asks `probe` of the server at `base` within `timeout`: the body of a 200, else
/// an error naming the URL and what it answered.
pub async fn ask(base: &str, probe: Probe, timeout: Duration) -> Result<String, Error> {
    let url = format!("{}{}", base.trim_end_matches('/'), probe.path());
    let failed = |message: String| Error::Http {
        url: url.clone(),
        message,
    };
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| failed(e.to_string()))?;
    if status == reqwest::StatusCode::OK {
        Ok(body)
    } else {
        Err(failed(format!("HTTP {status}: {}", body.trim())))
    }
}
