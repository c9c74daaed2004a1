//! A small client for a ccm server, authenticated with an API key. Every request
//! names an [`Endpoint`] — the method and the route's path template as the
//! server's route table spells it — so the command line's coverage table
//! (`cli::coverage`) lists exactly what the commands call.

use std::time::Duration;

use ccm_core::secret::Secret;
use reqwest::Method;
use serde_json::Value;

use crate::error::Error;

/// An HTTP method the command line uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `DELETE`.
    Delete,
}

impl Verb {
    /// The method's name (`GET`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Delete => "DELETE",
        }
    }

    fn method(self) -> Method {
        match self {
            Self::Get => Method::GET,
            Self::Post => Method::POST,
            Self::Put => Method::PUT,
            Self::Delete => Method::DELETE,
        }
    }
}

/// One route of the server as the command line calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// Method.
    pub verb: Verb,
    /// Path template with `{name}` placeholders (`/api/v1/workers/{id}`).
    pub path: &'static str,
}

impl Endpoint {
    /// `GET path`.
    pub const fn get(path: &'static str) -> Self {
        Self {
            verb: Verb::Get,
            path,
        }
    }

    /// `POST path`.
    pub const fn post(path: &'static str) -> Self {
        Self {
            verb: Verb::Post,
            path,
        }
    }

    /// `PUT path`.
    pub const fn put(path: &'static str) -> Self {
        Self {
            verb: Verb::Put,
            path,
        }
    }

    /// `DELETE path`.
    pub const fn delete(path: &'static str) -> Self {
        Self {
            verb: Verb::Delete,
            path,
        }
    }

    /// The path with each `{…}` placeholder replaced, in order, by the next
    /// argument, percent-encoded; an error when the counts differ.
    pub fn fill(&self, args: &[&str]) -> Result<String, Error> {
        let mut out = String::with_capacity(self.path.len() + 40);
        let mut rest = self.path;
        let mut args = args.iter();
        while let Some(open) = rest.find('{') {
            let (before, after) = rest.split_at(open);
            out.push_str(before);
            let close = after.find('}').ok_or_else(|| self.mismatch())?;
            let arg = args.next().ok_or_else(|| self.mismatch())?;
            out.push_str(&encode(arg));
            rest = after.get(close + 1..).unwrap_or_default();
        }
        out.push_str(rest);
        if args.next().is_some() {
            return Err(self.mismatch());
        }
        Ok(out)
    }

    fn mismatch(&self) -> Error {
        Error::Usage(format!(
            "internal: wrong arguments for {} {}",
            self.verb.as_str(),
            self.path
        ))
    }
}

/// Query parameters, percent-encoded when sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query(Vec<(&'static str, String)>);

impl Query {
    /// No parameter.
    pub fn new() -> Self {
        Self::default()
    }

    /// `name=value`.
    pub fn add(mut self, name: &'static str, value: impl ToString) -> Self {
        self.0.push((name, value.to_string()));
        self
    }

    /// `name=value` when there is a value.
    pub fn opt<T: ToString>(self, name: &'static str, value: Option<T>) -> Self {
        match value {
            Some(v) => self.add(name, v),
            None => self,
        }
    }

    /// `name=true` when `on`.
    pub fn flag(self, name: &'static str, on: bool) -> Self {
        if on {
            self.add(name, true)
        } else {
            self
        }
    }

    /// `?a=b&c=d`, or nothing.
    pub fn render(&self) -> String {
        if self.0.is_empty() {
            return String::new();
        }
        let pairs: Vec<String> = self
            .0
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect();
        format!("?{}", pairs.join("&"))
    }
}

/// What a request carries.
#[derive(Clone, Debug)]
pub enum Payload {
    /// Nothing.
    Empty,
    /// A JSON document.
    Json(Value),
    /// Text of a media type (`application/yaml`).
    Text {
        /// `Content-Type`.
        content_type: &'static str,
        /// The text.
        text: String,
    },
}

/// Talks to one server.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    key: Option<Secret>,
    http: reqwest::Client,
    /// Without an overall timeout: an event stream lasts as long as it likes.
    streaming: reqwest::Client,
}

fn transport(url: &str, error: &reqwest::Error) -> Error {
    Error::Http {
        url: url.to_owned(),
        message: error.to_string(),
    }
}

impl Client {
    /// A client for `base` (`http://127.0.0.1:8020`) with an optional API key.
    pub fn new(base: &str, key: Option<Secret>) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| transport(base, &e))?;
        let streaming = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| transport(base, &e))?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key,
            http,
            streaming,
        })
    }

    fn request(
        &self,
        http: &reqwest::Client,
        endpoint: Endpoint,
        args: &[&str],
        query: &Query,
    ) -> Result<(String, reqwest::RequestBuilder), Error> {
        let url = format!("{}{}{}", self.base, endpoint.fill(args)?, query.render());
        let mut request = http.request(endpoint.verb.method(), &url);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key.expose());
        }
        Ok((url, request))
    }

    /// Calls the endpoint; the answer's text when it succeeded, the server's
    /// `error.code` and `error.message` otherwise.
    pub async fn text(
        &self,
        endpoint: Endpoint,
        args: &[&str],
        query: &Query,
        payload: Payload,
    ) -> Result<String, Error> {
        let (url, mut request) = self.request(&self.http, endpoint, args, query)?;
        request = match payload {
            Payload::Empty => request,
            Payload::Json(body) => request.json(&body),
            Payload::Text { content_type, text } => request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(text),
        };
        let response = request.send().await.map_err(|e| transport(&url, &e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| transport(&url, &e))?;
        if status.is_success() {
            Ok(text)
        } else {
            Err(api_error(status, &text))
        }
    }

    /// Calls the endpoint; the answer's JSON (`null` for an empty answer).
    pub async fn json(
        &self,
        endpoint: Endpoint,
        args: &[&str],
        query: &Query,
        payload: Payload,
    ) -> Result<Value, Error> {
        let text = self.text(endpoint, args, query, payload).await?;
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| Error::Http {
            url: format!("{}{}", self.base, endpoint.path),
            message: format!("the answer is not JSON: {e}"),
        })
    }

    /// `GET` (or another method without a body) of a JSON endpoint.
    pub async fn call(
        &self,
        endpoint: Endpoint,
        args: &[&str],
        query: &Query,
    ) -> Result<Value, Error> {
        self.json(endpoint, args, query, Payload::Empty).await
    }

    /// The endpoint with a JSON body.
    pub async fn send(
        &self,
        endpoint: Endpoint,
        args: &[&str],
        query: &Query,
        body: Value,
    ) -> Result<Value, Error> {
        self.json(endpoint, args, query, Payload::Json(body)).await
    }

    /// Opens a streaming `GET` (server-sent events), resuming after
    /// `last_event_id` when given; the open response, or the server's error.
    pub async fn stream(
        &self,
        endpoint: Endpoint,
        query: &Query,
        last_event_id: Option<u64>,
    ) -> Result<reqwest::Response, Error> {
        let (url, mut request) = self.request(&self.streaming, endpoint, &[], query)?;
        request = request.header(reqwest::header::ACCEPT, "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.map_err(|e| transport(&url, &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        Err(api_error(status, &text))
    }
}

/// The error of a failed answer: the server's `error.code` and `error.message`,
/// or its status and text when the body is not the API's error document.
fn api_error(status: reqwest::StatusCode, text: &str) -> Error {
    let json: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let error = json.get("error");
    let field = |name: &str| {
        error
            .and_then(|e| e.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let fallback_code = status
        .canonical_reason()
        .unwrap_or("error")
        .to_lowercase()
        .replace(' ', "_");
    let fallback_message: String = text.trim().chars().take(300).collect();
    Error::Api {
        status: status.as_u16(),
        code: field("code").unwrap_or(fallback_code),
        message: field("message").unwrap_or(fallback_message),
    }
}

/// Percent-encodes a query value or a path segment.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_in_order_and_encoded() {
        let e = Endpoint::delete("/api/v1/workers/{id}/tags/{key}");
        assert_eq!(
            e.fill(&["w1", "a b/c"]).ok().as_deref(),
            Some("/api/v1/workers/w1/tags/a%20b%2Fc")
        );
        assert!(e.fill(&["w1"]).is_err());
        assert!(e.fill(&["w1", "k", "extra"]).is_err());
        assert_eq!(
            Endpoint::get("/api/v1/jobs").fill(&[]).ok().as_deref(),
            Some("/api/v1/jobs")
        );
    }

    #[test]
    fn queries_render_only_what_is_given() {
        let q = Query::new()
            .add("limit", 10)
            .opt("owner", Some("a&b"))
            .opt::<String>("phase", None)
            .flag("force", false)
            .flag("all", true);
        assert_eq!(q.render(), "?limit=10&owner=a%26b&all=true");
        assert_eq!(Query::new().render(), "");
    }

    #[test]
    fn errors_carry_the_servers_code_and_message_or_its_text() {
        let e = api_error(
            reqwest::StatusCode::CONFLICT,
            r#"{"error":{"code":"worker_in_use","message":"bound"}}"#,
        );
        assert_eq!(e.to_string(), "409 worker_in_use: bound");
        let e = api_error(reqwest::StatusCode::NOT_FOUND, "no such page");
        assert_eq!(e.to_string(), "404 not_found: no such page");
    }
}
