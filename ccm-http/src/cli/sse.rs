//! `ccm events tail`: follows the server's event stream (server-sent events,
//! `crate::sse` on the server side) and prints each event. A dropped connection
//! (network, a server restart, its `shutdown` event) is opened again after a
//! bounded backoff with `Last-Event-ID` set to the last id seen, so nothing is
//! lost nor repeated; a `gone` event (the log was compacted past that id) is
//! reported and the stream opened again from the log's end. A 4xx answer or a
//! `credential_expired` event ends the command with the server's reason.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::time::Instant;

use super::client::{Client, Endpoint, Query};
use super::output::{at, cell};
use crate::error::Error;

/// One frame of the stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// `id:`, when the frame had one.
    pub id: Option<String>,
    /// `event:` (`message` when absent).
    pub event: String,
    /// The `data:` lines joined by newlines.
    pub data: String,
}

/// Splits bytes into frames as they arrive (any chunking, `\r\n` or `\n`).
#[derive(Debug, Default)]
pub struct Parser {
    pending: Vec<u8>,
    id: Option<String>,
    event: Option<String>,
    data: Vec<String>,
}

impl Parser {
    /// Feeds bytes; the frames they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Frame> {
        self.pending.extend_from_slice(bytes);
        let mut frames = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            if let Some(frame) = self.line(text) {
                frames.push(frame);
            }
        }
        frames
    }

    fn line(&mut self, line: &str) -> Option<Frame> {
        if line.is_empty() {
            if self.data.is_empty() && self.event.is_none() {
                self.id = None;
                return None;
            }
            return Some(Frame {
                id: self.id.take(),
                event: self.event.take().unwrap_or_else(|| "message".into()),
                data: std::mem::take(&mut self.data).join("\n"),
            });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => self.id = Some(value.to_owned()),
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
        None
    }
}

/// What `events tail` follows and when it stops.
#[derive(Clone, Debug)]
pub struct TailOptions {
    /// Worker ids, comma-separated (`?worker=`).
    pub worker: Option<String>,
    /// Event types, comma-separated, `*` suffix for a prefix (`?type=`).
    pub types: Option<String>,
    /// Start after this sequence (`Last-Event-ID`); the log's end otherwise.
    pub after: Option<u64>,
    /// Stop after this many events.
    pub count: Option<u64>,
    /// Stop when no event came for this long.
    pub until_idle: Option<Duration>,
    /// Print the `snapshot` the stream starts with.
    pub snapshot: bool,
    /// Print `heartbeat` events.
    pub heartbeats: bool,
    /// One JSON document per line.
    pub json: bool,
    /// First wait before reconnecting; doubled up to `max_backoff`.
    pub backoff: Duration,
    /// Longest wait before reconnecting.
    pub max_backoff: Duration,
    /// Reconnect when nothing (not even a heartbeat) came for this long.
    pub stall: Duration,
}

impl Default for TailOptions {
    fn default() -> Self {
        Self {
            worker: None,
            types: None,
            after: None,
            count: None,
            until_idle: None,
            snapshot: false,
            heartbeats: false,
            json: false,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stall: Duration::from_secs(90),
        }
    }
}

/// The stream's endpoint.
pub const STREAM: Endpoint = Endpoint::get("/api/v1/events/stream");

/// Why one connection ended.
enum Ended {
    /// The bound (`--count`, `--until-idle`) was reached.
    Done,
    /// Open it again after a backoff.
    Dropped,
    /// Open it again at once (after `gone`).
    Restart,
}

struct Tail<'a, W: Write> {
    options: &'a TailOptions,
    out: &'a mut W,
    last_id: Option<u64>,
    printed: u64,
    idle_until: Option<Instant>,
}

fn io_error(source: std::io::Error) -> Error {
    Error::Io {
        what: "writing an event".into(),
        source,
    }
}

impl<W: Write> Tail<'_, W> {
    fn touch(&mut self) {
        self.idle_until = self.options.until_idle.map(|idle| Instant::now() + idle);
    }

    fn idle(&self) -> bool {
        self.idle_until.is_some_and(|t| Instant::now() >= t)
    }

    fn print(&mut self, frame: &Frame) -> Result<(), Error> {
        let data: Value =
            serde_json::from_str(&frame.data).unwrap_or_else(|_| Value::String(frame.data.clone()));
        let line = if self.options.json {
            json!({"id": frame.id, "event": frame.event, "data": data}).to_string()
        } else if data.get("sequence").is_some() {
            format!(
                "{:>8}  {}  {}  {}/{}",
                cell(at(&data, "sequence")),
                cell(at(&data, "occurred_at")),
                frame.event,
                cell(at(&data, "subject.kind")),
                cell(at(&data, "subject.id")),
            )
        } else {
            format!("{:>8}  {}  {}", "-", frame.event, frame.data)
        };
        writeln!(self.out, "{line}").map_err(io_error)?;
        self.out.flush().map_err(io_error)
    }

    /// Handles one frame; `Some` when the connection is over.
    fn frame(&mut self, frame: Frame) -> Result<Option<Ended>, Error> {
        if let Some(id) = frame.id.as_deref().and_then(|id| id.trim().parse().ok()) {
            self.last_id = Some(id);
        }
        match frame.event.as_str() {
            "heartbeat" if self.options.heartbeats => self.print(&frame)?,
            "snapshot" if self.options.snapshot => self.print(&frame)?,
            "heartbeat" | "snapshot" | "progress" => {}
            "shutdown" => {
                eprintln!("ccm: the server is stopping; reconnecting");
                return Ok(Some(Ended::Dropped));
            }
            "gone" => {
                eprintln!(
                    "ccm: events after {} were compacted out of the log ({}); following from the log's end",
                    self.last_id.map_or_else(|| "the start".into(), |id| id.to_string()),
                    frame.data
                );
                self.last_id = None;
                return Ok(Some(Ended::Restart));
            }
            "credential_expired" => {
                let data: Value = serde_json::from_str(&frame.data).unwrap_or(Value::Null);
                return Err(Error::Api {
                    status: 401,
                    code: "credential_expired".into(),
                    message: cell(data.get("reason")),
                });
            }
            _ => {
                self.print(&frame)?;
                self.printed += 1;
                self.touch();
                if self.options.count.is_some_and(|n| self.printed >= n) {
                    return Ok(Some(Ended::Done));
                }
            }
        }
        Ok(None)
    }

    /// Reads one open stream until it ends.
    async fn read(&mut self, mut response: reqwest::Response) -> Result<Ended, Error> {
        let mut parser = Parser::default();
        loop {
            let mut wait = self.options.stall;
            if let Some(until) = self.idle_until {
                wait = wait.min(until.saturating_duration_since(Instant::now()));
            }
            let chunk = tokio::time::timeout(wait, response.chunk()).await;
            if self.idle() {
                return Ok(Ended::Done);
            }
            let bytes = match chunk {
                Ok(Ok(Some(bytes))) => bytes,
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return Ok(Ended::Dropped),
            };
            for frame in parser.push(&bytes) {
                if let Some(ended) = self.frame(frame)? {
                    return Ok(ended);
                }
            }
        }
    }
}

/// Follows the stream until `--count` or `--until-idle` says stop (for ever
/// otherwise), writing each event to `out`.
pub async fn tail<W: Write>(
    client: &Client,
    options: &TailOptions,
    out: &mut W,
) -> Result<(), Error> {
    let query = Query::new()
        .opt("worker", options.worker.as_deref())
        .opt("type", options.types.as_deref());
    let mut tail = Tail {
        options,
        out,
        last_id: options.after,
        printed: 0,
        idle_until: None,
    };
    tail.touch();
    let mut backoff = options.backoff;
    loop {
        let ended = match client.stream(STREAM, &query, tail.last_id).await {
            Ok(response) => {
                let before = tail.last_id;
                let ended = tail.read(response).await?;
                if tail.last_id != before {
                    backoff = options.backoff;
                }
                ended
            }
            Err(Error::Api { status, .. }) if status >= 500 => Ended::Dropped,
            Err(error @ Error::Api { .. }) => return Err(error),
            Err(error) => {
                eprintln!("ccm: {error}; reconnecting");
                Ended::Dropped
            }
        };
        match ended {
            Ended::Done => return Ok(()),
            Ended::Restart => continue,
            Ended::Dropped => {}
        }
        let mut pause = backoff;
        if let Some(until) = tail.idle_until {
            pause = pause.min(until.saturating_duration_since(Instant::now()));
        }
        tokio::time::sleep(pause).await;
        if tail.idle() {
            return Ok(());
        }
        backoff = (backoff * 2).min(options.max_backoff);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[test]
    fn frames_split_anywhere_are_parsed() {
        let text = b": comment\r\nevent: snapshot\r\ndata: {\"a\":1}\r\n\r\nid: 7\nevent: worker.created.v1\ndata: x\ndata: y\n\n\n";
        for split in 0..text.len() {
            let mut parser = Parser::default();
            let mut frames = parser.push(&text[..split]);
            frames.extend(parser.push(&text[split..]));
            assert_eq!(frames.len(), 2, "split at {split}");
            assert_eq!(frames[0].event, "snapshot");
            assert_eq!(frames[0].data, "{\"a\":1}");
            assert_eq!(frames[0].id, None);
            assert_eq!(frames[1].id.as_deref(), Some("7"));
            assert_eq!(frames[1].data, "x\ny");
        }
    }

    /// Serves one SSE answer per connection from `bodies`, closing after each,
    /// and reports each request's head.
    async fn serve(
        bodies: Vec<&'static str>,
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (heads, received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for body in bodies {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if socket.read(&mut byte).await.unwrap() == 0 {
                        break;
                    }
                    head.push(byte[0]);
                }
                heads
                    .send(String::from_utf8_lossy(&head).to_lowercase())
                    .unwrap();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n{body}"
                );
                socket.write_all(answer.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            }
        });
        (url, received)
    }

    #[tokio::test]
    async fn a_dropped_stream_is_resumed_after_the_last_id_seen() {
        let (url, mut heads) = serve(vec![
            "event: snapshot\ndata: {\"workers\":[]}\n\nid: 5\nevent: worker.created.v1\ndata: {\"sequence\":5}\n\n",
            "event: snapshot\ndata: {}\n\nid: 6\nevent: progress\ndata: {}\n\n",
            "id: 7\nevent: worker.imported.v1\ndata: {\"sequence\":7}\n\n",
        ])
        .await;
        let client = Client::new(&url, None).unwrap();
        let options = TailOptions {
            count: Some(2),
            json: true,
            types: Some("worker.*".into()),
            backoff: Duration::from_millis(10),
            ..TailOptions::default()
        };
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), tail(&client, &options, &mut out))
            .await
            .unwrap()
            .unwrap();
        let first = heads.recv().await.unwrap();
        assert!(
            first.contains("type=worker.*") || first.contains("type=worker.%2a"),
            "{first}"
        );
        assert!(!first.contains("last-event-id"), "{first}");
        assert!(heads.recv().await.unwrap().contains("last-event-id: 5"));
        assert!(
            heads.recv().await.unwrap().contains("last-event-id: 6"),
            "progress ids count"
        );
        let lines: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert_eq!(lines[0]["id"], "5");
        assert_eq!(lines[1]["event"], "worker.imported.v1");
        assert_eq!(lines[1]["data"]["sequence"], 7);
    }

    #[tokio::test]
    async fn until_idle_ends_a_quiet_stream() {
        let (url, _heads) = serve(vec!["event: snapshot\ndata: {}\n\n"; 50]).await;
        let client = Client::new(&url, None).unwrap();
        let options = TailOptions {
            until_idle: Some(Duration::from_millis(300)),
            backoff: Duration::from_millis(20),
            ..TailOptions::default()
        };
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(20), tail(&client, &options, &mut out))
            .await
            .unwrap()
            .unwrap();
        assert!(out.is_empty());
    }
}
