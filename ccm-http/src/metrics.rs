//! Prometheus metrics: request latencies by route, engine step durations, events
//! relayed by type (counted by an [`EventSink`] fed by the outbox relay), and, on
//! each scrape, fleet counts by status, lablets by phase, the fleet's cost per
//! hour from the price table, jobs, the lease, and cloud API calls by operation
//! when the provider counts them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use async_trait::async_trait;
use axum::extract::{MatchedPath, NestedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use ccm_core::event::StoredEvent;
use ccm_core::fleet::StepPhase;
use ccm_core::job::JobOutcome;
use ccm_core::lablet::LabletPhase;
use ccm_core::ports::event_sink::{EventSink, SinkError};
use ccm_core::ports::store::{LabletFilter, PageRequest, WorkerFilter};

use crate::api::error::ApiError;
use crate::api::routes;
use crate::state::AppState;

const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                self.counts[i] += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {}", self.count);
    }
}

#[derive(Debug, Default)]
struct Inner {
    requests: BTreeMap<(&'static str, &'static str, u16), Histogram>,
    steps: Histogram,
    /// Seconds and items of each part of the engine's steps, so far.
    step_phases: BTreeMap<StepPhase, (f64, u64)>,
    events: BTreeMap<String, u64>,
    log_reads: BTreeMap<LogReader, u64>,
    /// List pages served from the page cache, and built afresh.
    page_hits: u64,
    page_builds: u64,
}

/// Who read the event log for the event streams: the process's one hub, or a
/// stream reading its own way (on connect, resuming, or after falling behind).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogReader {
    /// The hub that fans events out to every stream (`crate::sse::hub`).
    Hub,
    /// One stream catching up from its own position.
    Stream,
}

impl LogReader {
    fn label(self) -> &'static str {
        match self {
            Self::Hub => "hub",
            Self::Stream => "stream",
        }
    }
}

/// Counters kept by the process.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        match self.inner.lock() {
            Ok(mut guard) => f(&mut guard),
            Err(poison) => f(&mut poison.into_inner()),
        }
    }

    /// Records one request. Labels are `'static` so only known values (see
    /// [`method_label`], [`route_label`]) can become series.
    pub fn observe_request(
        &self,
        method: &'static str,
        route: &'static str,
        status: u16,
        seconds: f64,
    ) {
        self.with(|m| {
            m.requests
                .entry((method, route, status))
                .or_default()
                .observe(seconds)
        });
    }

    /// Records one engine step (jobs and reconciles).
    pub fn observe_step(&self, seconds: f64) {
        self.with(|m| m.steps.observe(seconds));
    }

    /// Adds one part of an engine step: its wall seconds and the items it
    /// handled (events read, jobs run, reconciles).
    pub fn observe_step_phase(&self, phase: StepPhase, seconds: f64, items: usize) {
        self.with(|m| {
            let entry = m.step_phases.entry(phase).or_default();
            entry.0 += seconds;
            entry.1 += u64::try_from(items).unwrap_or(u64::MAX);
        });
    }

    /// Counts one store query of the event log made for the event streams.
    pub fn count_log_read(&self, reader: LogReader) {
        self.with(|m| *m.log_reads.entry(reader).or_default() += 1);
    }

    /// Counts one list page: served from the page cache (`hit`) or built.
    pub fn count_page(&self, hit: bool) {
        self.with(|m| {
            if hit {
                m.page_hits += 1;
            } else {
                m.page_builds += 1;
            }
        });
    }

    /// List pages served from the cache and built, so far.
    pub fn pages(&self) -> (u64, u64) {
        self.with(|m| (m.page_hits, m.page_builds))
    }

    /// Store queries of the event log made so far by `reader`.
    pub fn log_reads(&self, reader: LogReader) -> u64 {
        self.with(|m| m.log_reads.get(&reader).copied().unwrap_or(0))
    }

    fn render_own(&self, out: &mut String) {
        self.with(|m| {
            out.push_str("# HELP ccm_http_request_duration_seconds Time to answer HTTP requests.\n");
            out.push_str("# TYPE ccm_http_request_duration_seconds histogram\n");
            for ((method, route, status), h) in &m.requests {
                let labels = format!(
                    "method=\"{}\",route=\"{}\",status=\"{status}\"",
                    escape(method),
                    escape(route)
                );
                h.render(out, "ccm_http_request_duration_seconds", &labels);
            }
            out.push_str("# HELP ccm_engine_step_duration_seconds Time of one engine step (due jobs and reconciles).\n");
            out.push_str("# TYPE ccm_engine_step_duration_seconds histogram\n");
            m.steps.render(out, "ccm_engine_step_duration_seconds", "");
            out.push_str("# HELP ccm_engine_step_phase_seconds_total Time spent in each part of the engine steps: log (following the event log), jobs (due jobs), workers and lablets (due controller passes).\n");
            out.push_str("# TYPE ccm_engine_step_phase_seconds_total counter\n");
            for phase in StepPhase::ALL {
                let seconds = m.step_phases.get(&phase).map_or(0.0, |p| p.0);
                let _ = writeln!(out, "ccm_engine_step_phase_seconds_total{{phase=\"{}\"}} {seconds}", phase.as_str());
            }
            out.push_str("# HELP ccm_engine_step_phase_items_total What each part of the engine steps handled: events read (log), jobs run (jobs), controller passes (workers, lablets).\n");
            out.push_str("# TYPE ccm_engine_step_phase_items_total counter\n");
            for phase in StepPhase::ALL {
                let items = m.step_phases.get(&phase).map_or(0, |p| p.1);
                let _ = writeln!(out, "ccm_engine_step_phase_items_total{{phase=\"{}\"}} {items}", phase.as_str());
            }
            out.push_str("# HELP ccm_events_relayed_total Events relayed from the log, by type.\n");
            out.push_str("# TYPE ccm_events_relayed_total counter\n");
            for (kind, n) in &m.events {
                let _ = writeln!(out, "ccm_events_relayed_total{{type=\"{}\"}} {n}", escape(kind));
            }
            out.push_str("# HELP ccm_event_log_reads_total Store queries of the event log made for event streams, by reader (one hub per process; streams only while catching up).\n");
            out.push_str("# TYPE ccm_event_log_reads_total counter\n");
            for (reader, n) in &m.log_reads {
                let _ = writeln!(out, "ccm_event_log_reads_total{{reader=\"{}\"}} {n}", reader.label());
            }
            out.push_str("# HELP ccm_list_pages_total List pages answered, by source (cache: reused while the store generations were unchanged; built: read and serialised).\n");
            out.push_str("# TYPE ccm_list_pages_total counter\n");
            let _ = writeln!(out, "ccm_list_pages_total{{source=\"cache\"}} {}", m.page_hits);
            let _ = writeln!(out, "ccm_list_pages_total{{source=\"built\"}} {}", m.page_builds);
        });
    }
}

#[async_trait]
impl EventSink for Metrics {
    async fn publish(&self, events: &[StoredEvent]) -> Result<(), SinkError> {
        self.with(|m| {
            for e in events {
                *m.events.entry(e.event.type_name().to_owned()).or_default() += 1;
            }
        });
        Ok(())
    }
}

/// The method label: one of the methods the API serves, else `other`, so a
/// client inventing methods cannot grow the exposition.
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The route label: the route table's path template when the request matched
/// one, else `unmatched` (never the raw path, which callers choose freely). A
/// router nested in another program's (`nested`) is labelled by the table's path,
/// without the mount.
pub fn route_label(matched: Option<&MatchedPath>, nested: Option<&NestedPath>) -> &'static str {
    matched
        .and_then(|m| {
            let path = crate::auth::middleware::table_path(m, nested);
            routes::ROUTES
                .iter()
                .find(|spec| spec.path == path)
                .map(|spec| spec.path)
        })
        .unwrap_or("unmatched")
}

/// Middleware recording every request's latency by method, route and status.
pub async fn track_requests(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method());
    let route = route_label(matched.as_ref(), request.extensions().get::<NestedPath>());
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.observe_request(
        method,
        route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The whole exposition.
pub async fn render(state: &AppState) -> Result<String, ApiError> {
    let mut out = String::new();
    state.metrics.render_own(&mut out);
    if let Some(webhooks) = &state.webhooks {
        webhooks.render_metrics(&mut out);
    }

    let workers = state
        .store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await?;
    let mut by_status: BTreeMap<&'static str, u64> = BTreeMap::new();
    for w in &workers {
        *by_status.entry(w.status.lifecycle.as_str()).or_default() += 1;
    }
    out.push_str("# HELP ccm_workers Workers by lifecycle status.\n# TYPE ccm_workers gauge\n");
    for (status, n) in &by_status {
        let _ = writeln!(out, "ccm_workers{{status=\"{status}\"}} {n}");
    }
    let cost = ccm_core::fleet::CostReport::of(
        &workers,
        &state.fleet.settings().instance_types,
        state.fleet.clock().now(),
    );
    out.push_str("# HELP ccm_fleet_cost_usd_per_hour On-demand cost of the billed workers, from the price table.\n");
    out.push_str("# TYPE ccm_fleet_cost_usd_per_hour gauge\n");
    let _ = writeln!(
        out,
        "ccm_fleet_cost_usd_per_hour {}",
        cost.burn_rate_usd_per_hour
    );
    out.push_str("# HELP ccm_fleet_cost_usd Cost of the billed worker-hours since the period began (UTC midnight; Monday for the week).\n");
    out.push_str("# TYPE ccm_fleet_cost_usd gauge\n");
    for (period, window) in [("today", &cost.today), ("week", &cost.week)] {
        let _ = writeln!(
            out,
            "ccm_fleet_cost_usd{{period=\"{period}\"}} {}",
            window.usd
        );
    }
    out.push_str("# HELP ccm_fleet_saving_usd What keeping the same workers always on would have cost more since the period began.\n");
    out.push_str("# TYPE ccm_fleet_saving_usd gauge\n");
    for (period, window) in [("today", &cost.today), ("week", &cost.week)] {
        let _ = writeln!(
            out,
            "ccm_fleet_saving_usd{{period=\"{period}\"}} {}",
            window.saving_usd()
        );
    }

    // Counted by the store, phase by phase: no lablet is read.
    out.push_str("# HELP ccm_lablets Lablets by phase.\n# TYPE ccm_lablets gauge\n");
    let count_only = PageRequest {
        offset: 0,
        limit: 0,
    };
    for &phase in LabletPhase::ALL {
        let filter = LabletFilter {
            phases: vec![phase],
            ..LabletFilter::default()
        };
        let n = state
            .store
            .list_lablets_page(&filter, count_only)
            .await?
            .total;
        let _ = writeln!(out, "ccm_lablets{{phase=\"{}\"}} {n}", phase.as_str());
    }

    let jobs = state.store.list_jobs().await?;
    out.push_str("# HELP ccm_job_last_duration_seconds Duration of each job's last run.\n# TYPE ccm_job_last_duration_seconds gauge\n");
    for j in &jobs {
        if let Some(ms) = j.last_duration_ms {
            let _ = writeln!(
                out,
                "ccm_job_last_duration_seconds{{job=\"{}\"}} {}",
                escape(&j.name),
                ms as f64 / 1000.0
            );
        }
    }
    out.push_str("# HELP ccm_job_last_success Whether each job's last run succeeded.\n# TYPE ccm_job_last_success gauge\n");
    for j in &jobs {
        if let Some(outcome) = &j.last_outcome {
            let ok = u8::from(matches!(outcome, JobOutcome::Succeeded));
            let _ = writeln!(
                out,
                "ccm_job_last_success{{job=\"{}\"}} {ok}",
                escape(&j.name)
            );
        }
    }

    let leading = u8::from(state.elector.fence().is_some());
    out.push_str("# HELP ccm_leader Whether this process holds the controller lease.\n# TYPE ccm_leader gauge\n");
    let _ = writeln!(out, "ccm_leader {leading}");
    let last = state.store.last_sequence().await?;
    out.push_str("# HELP ccm_event_log_last_sequence Newest event in the log.\n# TYPE ccm_event_log_last_sequence gauge\n");
    let _ = writeln!(out, "ccm_event_log_last_sequence {last}");

    if let Some(calls) = &state.cloud_calls {
        out.push_str("# HELP ccm_cloud_api_calls_total Cloud API calls by operation (each page and retry).\n");
        out.push_str("# TYPE ccm_cloud_api_calls_total counter\n");
        for (op, n) in calls() {
            let _ = writeln!(
                out,
                "ccm_cloud_api_calls_total{{operation=\"{}\"}} {n}",
                escape(&op)
            );
        }
    }
    Ok(out)
}
