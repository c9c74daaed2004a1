//! Logs and traces: the `tracing` subscriber of the binary (text or JSON lines on
//! stderr, filtered by `log.level`) and, when `telemetry.otlp_endpoint` is set, an
//! OpenTelemetry layer exporting spans over OTLP/HTTP. Every HTTP request and every
//! engine step runs in a span carrying a `trace_id` ([`trace`]), so the log lines
//! of one request share an id, which is also the exported trace's id and the
//! `x-trace-id` response header.

pub mod trace;

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::error::Error;
use ccm_assembly::config::{LogConfig, LogFormat, TelemetryConfig};

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes what is queued.
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still queued and stops the exporter. Call outside any
    /// async runtime (the exporter's HTTP client blocks).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider {
            if let Err(error) = provider.shutdown() {
                eprintln!("ccm: trace export did not shut down cleanly: {error}");
            }
        }
    }
}

/// The OTLP/HTTP traces URL for an endpoint given as a base (`http://host:4318`)
/// or as the full traces URL.
pub fn traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.ends_with("/v1/traces") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

fn exporter_provider(telemetry: &TelemetryConfig) -> Result<Option<SdkTracerProvider>, Error> {
    let Some(endpoint) = &telemetry.otlp_endpoint else {
        return Ok(None);
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(traces_url(endpoint))
        .build()
        .map_err(|e| Error::Adapter {
            adapter: "otlp",
            message: e.to_string(),
        })?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(telemetry.service_name.clone())
        .build();
    Ok(Some(
        SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build(),
    ))
}

/// Installs the global subscriber. Call before starting the async runtime: the
/// exporter's blocking HTTP client must not be created inside it.
pub fn init(log: &LogConfig, telemetry: &TelemetryConfig) -> Result<Telemetry, Error> {
    let filter = EnvFilter::try_new(&log.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt: Box<dyn Layer<Registry> + Send + Sync> = match log.format {
        LogFormat::Json => Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_writer(std::io::stderr),
        ),
        // Colours only for a person at a terminal, not in files and journals.
        LogFormat::Text => Box::new(
            tracing_subscriber::fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr),
        ),
    };
    let provider = exporter_provider(telemetry)?;
    let otel = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("ccm")));
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = Registry::default()
        .with(fmt)
        .with(otel)
        .with(filter)
        .try_init();
    Ok(Telemetry { provider })
}
