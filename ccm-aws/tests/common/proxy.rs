//! A tiny HTTP proxy in front of moto that fails the first N requests (or all of
//! them) the way AWS does when it throttles or hiccups, and forwards the rest.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// The failure answered instead of forwarding.
#[derive(Clone, Debug)]
pub struct Fault {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Fault {
    /// EC2's throttling answer (query protocol, `RequestLimitExceeded`, HTTP 503).
    pub fn ec2_throttle() -> Self {
        Self {
            status: 503,
            content_type: "text/xml;charset=UTF-8",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>\
                   <Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>\
                   </Error></Errors><RequestID>proxy-throttle</RequestID></Response>"
                .to_owned(),
        }
    }

    /// CloudWatch's throttling answer (awsQuery protocol, `Throttling`, HTTP 400).
    pub fn cloudwatch_throttle() -> Self {
        Self {
            status: 400,
            content_type: "text/xml",
            body: "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
                   <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>\
                   </Error><RequestId>proxy-throttle</RequestId></ErrorResponse>"
                .to_owned(),
        }
    }

    /// A load balancer's bare 503.
    pub fn unavailable() -> Self {
        Self {
            status: 503,
            content_type: "text/html",
            body: "<html><body><h1>503 Service Unavailable</h1></body></html>".to_owned(),
        }
    }
}

struct State {
    upstream: SocketAddr,
    fault: Fault,
    /// Requests to fail before forwarding; `u64::MAX` fails all.
    fail_first: u64,
    received: AtomicU64,
    failed: AtomicU64,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// A running proxy; its accept loop ends when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` failing the first `fail_first` requests with `fault`.
    pub async fn start(upstream: SocketAddr, fault: Fault, fail_first: u64) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State {
            upstream,
            fault,
            fail_first,
            received: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            client: Client::builder(TokioExecutor::new()).build_http(),
        });
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, state, task }
    }

    /// A proxy that fails every request.
    pub async fn always(upstream: SocketAddr, fault: Fault) -> Self {
        Self::start(upstream, fault, u64::MAX).await
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests received.
    pub fn received(&self) -> u64 {
        self.state.received.load(Ordering::SeqCst)
    }

    /// Requests answered with the fault.
    pub fn failed(&self) -> u64 {
        self.state.failed.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let n = state.received.fetch_add(1, Ordering::SeqCst);
    if n < state.fail_first {
        state.failed.fetch_add(1, Ordering::SeqCst);
        let fault = &state.fault;
        let response = Response::builder()
            .status(StatusCode::from_u16(fault.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE))
            .header("content-type", fault.content_type)
            .header("x-amzn-requestid", format!("proxy-req-{n}"))
            .body(Full::new(Bytes::from(fault.body.clone())))
            .expect("response");
        return Ok(response);
    }
    Ok(forward(&state, req).await.unwrap_or_else(|e| {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Full::new(Bytes::from(format!("proxy: {e}"))))
            .expect("response")
    }))
}

async fn forward(
    state: &State,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let (mut parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    parts.uri = format!("http://{}{}", state.upstream, path).parse()?;
    let upstream = state
        .client
        .request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = upstream.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
