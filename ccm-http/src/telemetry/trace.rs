//! Trace ids of requests and engine steps: taken from a W3C `traceparent` header
//! when the caller sends one, otherwise the exported span's id, otherwise new.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Response header carrying the request's trace id.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

/// The trace id of a `traceparent` value (`00-<32 hex>-<16 hex>-<2 hex>`), when
/// well formed and not all zeros.
pub fn parse_traceparent(value: &str) -> Option<String> {
    let mut parts = value.trim().split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && version != "ff"
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0');
    valid.then(|| trace.to_ascii_lowercase())
}

/// A fresh random trace id (32 hex digits).
pub fn new_trace_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Gives `span` the caller's trace (if any) and returns the span's trace id: the
/// exporter's when spans are exported, else the caller's, else a new one.
fn adopt_trace(span: &tracing::Span, headers: &HeaderMap) -> String {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    exported_trace_id(span)
        .or_else(|| {
            headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .and_then(parse_traceparent)
        })
        .unwrap_or_else(new_trace_id)
}

/// The trace id OpenTelemetry gave `span`, when an exporter is installed.
fn exported_trace_id(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let otel = context.span();
    let span_context = otel.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// A root span for one engine step, with its trace id recorded.
pub fn engine_step_span() -> tracing::Span {
    let span = tracing::info_span!("engine.step", trace_id = tracing::field::Empty);
    let id = exported_trace_id(&span).unwrap_or_else(new_trace_id);
    span.record("trace_id", id.as_str());
    span
}

/// Middleware: runs each request in a span with its trace id, logs one line when
/// it is answered (method, route, status, milliseconds) and returns the id in
/// `x-trace-id`.
pub async fn trace_requests(
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let route = matched
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!(
        "http.request",
        method = %method,
        route = %route,
        trace_id = tracing::field::Empty,
    );
    let trace_id = adopt_trace(&span, request.headers());
    span.record("trace_id", trace_id.as_str());
    let started = std::time::Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            millis = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&trace_id) {
        response.headers_mut().insert(TRACE_ID_HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_ids_are_taken_only_when_well_formed() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        assert_eq!(
            parse_traceparent(&format!("00-{id}-00f067aa0ba902b7-01")).as_deref(),
            Some(id)
        );
        assert_eq!(
            parse_traceparent(&format!("00-{}-00f067aa0ba902b7-01", id.to_uppercase())).as_deref(),
            Some(id)
        );
        for bad in [
            "",
            "garbage",
            "00-0000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert_eq!(parse_traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn new_ids_are_32_hex_digits_and_differ() {
        let (a, b) = (new_trace_id(), new_trace_id());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_traces_url_is_derived_from_a_base_or_kept() {
        assert_eq!(
            crate::telemetry::traces_url("http://c:4318/"),
            "http://c:4318/v1/traces"
        );
        assert_eq!(
            crate::telemetry::traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
