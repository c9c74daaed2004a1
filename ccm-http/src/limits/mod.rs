//! What bounds the server's resources against its callers: how long a client may
//! take to send headers, how long a request may run, how long a connection may
//! sit without moving a byte, how many connections are served at once, and how
//! many event streams one caller may hold open, and how many events the event
//! hub keeps for streams that are behind.

pub mod listener;
pub mod request_timeout;
pub mod stream_slots;

use std::time::Duration;

/// The server's bounds (`[server]` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time a client may take to send a request's headers; also how long a
    /// kept-alive connection may wait for its next request.
    pub header_read_timeout: Duration,
    /// Time a request may take to be answered (the event stream excepted).
    pub request_timeout: Duration,
    /// Time a connection may go without moving a byte either way (a client that
    /// stopped reading its responses, a stalled upload).
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Event streams one caller may hold open.
    pub sse_streams_per_principal: usize,
    /// Events the process's event hub keeps for streams that are momentarily
    /// behind; a stream further behind reads its own way back from the log.
    pub sse_buffer_events: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            sse_streams_per_principal: 8,
            sse_buffer_events: 1024,
        }
    }
}
