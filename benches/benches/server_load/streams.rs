//! The SSE clients: dashboards following every event (one in ten) and lab
//! portals following lablet phases, spread over the processes. Each delivery's
//! latency is wall time at reception minus the wall time at which the servers'
//! scaled clock stood at the event's `occurred_at` (stamped just before its
//! commit; for engine events, at the start of the step that made them). A
//! stream that ends is resumed with `Last-Event-ID`, and counted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, Timebase};
use crate::histogram::Histogram;

pub const PORTAL_TYPE: &str = "lablet.phase.changed.v1";
/// The event the bench's own bookings make: its latency is commit to delivery.
const BOOKED_TYPE: &str = "lablet.created.v2";

#[derive(Clone, Debug, Default)]
pub struct StreamStats {
    pub all: Histogram,
    pub booked: Histogram,
    pub deliveries: u64,
    pub connects: u64,
    pub reconnects: u64,
    pub refused: u64,
}

impl StreamStats {
    fn merge(&mut self, other: &StreamStats) {
        self.all.merge(&other.all);
        self.booked.merge(&other.booked);
        self.deliveries += other.deliveries;
        self.connects += other.connects;
        self.reconnects += other.reconnects;
        self.refused += other.refused;
    }
}

pub struct Streams {
    stop: watch::Sender<bool>,
    clients: Vec<JoinHandle<StreamStats>>,
    connected: Arc<Mutex<usize>>,
}

fn occurred_at(data: &str) -> Option<DateTime<Utc>> {
    let from = data.find("\"occurred_at\":\"")? + "\"occurred_at\":\"".len();
    let len = data[from..].find('"')?;
    DateTime::parse_from_rfc3339(&data[from..from + len])
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

async fn client(
    http: reqwest::Client,
    url: String,
    key: String,
    time: Timebase,
    connected: Arc<Mutex<usize>>,
    mut stop: watch::Receiver<bool>,
) -> StreamStats {
    let mut stats = StreamStats::default();
    let mut last_id: Option<String> = None;
    let mut counted = false;
    loop {
        let mut request = http.get(&url).bearer_auth(&key);
        if let Some(id) = &last_id {
            request = request.header("last-event-id", id);
        }
        let response = tokio::select! {
            r = request.send() => r,
            _ = stop.changed() => return stats,
        };
        match response {
            Ok(r) if r.status().is_success() => {
                stats.connects += 1;
                if stats.connects > 1 {
                    stats.reconnects += 1;
                }
                if !counted {
                    counted = true;
                    *connected.lock().unwrap() += 1;
                }
                let mut body = r.bytes_stream();
                let mut buffer = String::new();
                loop {
                    let chunk = tokio::select! {
                        c = body.next() => c,
                        _ = stop.changed() => return stats,
                    };
                    let Some(Ok(chunk)) = chunk else { break };
                    let at = Utc::now();
                    buffer.push_str(&String::from_utf8_lossy(&chunk));
                    while let Some(end) = buffer.find("\n\n") {
                        let block: String = buffer.drain(..end + 2).collect();
                        let (mut kind, mut data) = ("", "");
                        for line in block.lines() {
                            if let Some(id) = line.strip_prefix("id:") {
                                last_id = Some(id.trim().to_owned());
                            } else if let Some(k) = line.strip_prefix("event:") {
                                kind = k.trim();
                            } else if let Some(d) = line.strip_prefix("data:") {
                                data = d;
                            }
                        }
                        let Some(occurred) = occurred_at(data) else {
                            continue;
                        };
                        let latency = (at - time.wall_of(occurred)).to_std().unwrap_or_default();
                        stats.deliveries += 1;
                        stats.all.record(latency);
                        if kind == BOOKED_TYPE {
                            stats.booked.record(latency);
                        }
                    }
                }
            }
            Ok(_) | Err(_) => {
                stats.refused += 1;
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => return stats,
                }
            }
        }
    }
}

impl Streams {
    /// Opens `n` streams over the processes and waits until all are connected.
    pub async fn open(cluster: &Cluster, n: usize) -> Self {
        let (stop, stopped) = watch::channel(false);
        let connected = Arc::new(Mutex::new(0));
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("an HTTP client");
        let clients = (0..n)
            .map(|i| {
                let base = &cluster.processes[i % cluster.processes.len()].base;
                let url = if i % 10 == 0 {
                    format!("{base}/api/v1/events/stream")
                } else {
                    format!("{base}/api/v1/events/stream?type={PORTAL_TYPE}")
                };
                tokio::spawn(client(
                    http.clone(),
                    url,
                    cluster.key.clone(),
                    cluster.time,
                    connected.clone(),
                    stopped.clone(),
                ))
            })
            .collect();
        let streams = Self {
            stop,
            clients,
            connected,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while *streams.connected.lock().unwrap() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {n} SSE clients connected within 120 s",
                streams.connected.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        streams
    }

    /// Stops every client and adds up what they saw.
    pub async fn close(self) -> StreamStats {
        let _ = self.stop.send(true);
        let mut total = StreamStats::default();
        for client in self.clients {
            if let Ok(stats) = client.await {
                total.merge(&stats);
            }
        }
        total
    }
}
