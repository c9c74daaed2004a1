//! The run's figures as Markdown tables, the way BENCHMARKS.md keeps them.

use std::time::Duration;

use crate::histogram::Histogram;
use crate::sampler::{Samples, Series};
use crate::scrape::{Scrape, Steps};
use crate::streams::StreamStats;
use crate::traffic::TrafficReport;

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(index).copied().unwrap_or(0.0)
}

fn bound(seconds: f64) -> String {
    if seconds.is_finite() {
        format!("≤ {}", ms(Duration::from_secs_f64(seconds)))
    } else {
        "> largest bucket".to_owned()
    }
}

pub fn traffic(report: &TrafficReport, seconds: f64) -> String {
    let mut out = String::from(
        "| route group | requests | p50 | p99 | max | answers other than 2xx |\n|---|---:|---:|---:|---:|---|\n",
    );
    let mut all = Histogram::default();
    for (group, stats) in report {
        all.merge(&stats.latency);
        let others: Vec<String> = stats
            .statuses
            .iter()
            .filter(|(s, _)| !(200..300).contains(*s))
            .map(|(s, n)| {
                if *s == 0 {
                    format!("no answer ×{n}")
                } else {
                    format!("{s} ×{n}")
                }
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} |\n",
            group.label(),
            stats.latency.count(),
            ms(stats.latency.quantile(0.5)),
            ms(stats.latency.quantile(0.99)),
            ms(stats.latency.max()),
            if others.is_empty() {
                "–".to_owned()
            } else {
                others.join(", ")
            },
        ));
    }
    out.push_str(&format!(
        "| all ({:.1} req/s) | {} | {} | {} | {} | |\n",
        all.count() as f64 / seconds.max(1e-9),
        all.count(),
        ms(all.quantile(0.5)),
        ms(all.quantile(0.99)),
        ms(all.max()),
    ));
    out
}

pub fn streams(stats: &StreamStats, clients: usize, seconds: f64) -> String {
    format!(
        "| SSE clients | deliveries | per second | occurred → delivered p50 | p99 | max | booked (API commit → delivery) p50 | p99 | reconnects | refused |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n\
         | {clients} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} |\n",
        stats.deliveries,
        stats.deliveries as f64 / seconds.max(1e-9),
        ms(stats.all.quantile(0.5)),
        ms(stats.all.quantile(0.99)),
        ms(stats.all.max()),
        ms(stats.booked.quantile(0.5)),
        ms(stats.booked.quantile(0.99)),
        stats.reconnects,
        stats.refused,
    )
}

pub fn engine(steps: &Steps) -> String {
    let mut out = format!(
        "| engine steps (leader) | mean | p50 | p99 |\n|---:|---:|---:|---:|\n| {} | {} | {} | {} |\n",
        steps.count,
        ms(steps.mean),
        bound(steps.p50_at_most),
        bound(steps.p99_at_most),
    );
    let total: f64 = steps.phases.iter().map(|(_, seconds, _)| seconds).sum();
    out.push_str(
        "\n| part of the steps | seconds | share | items | per item |\n|---|---:|---:|---:|---:|\n",
    );
    for (phase, seconds, items) in &steps.phases {
        let per_item = if *items == 0 {
            "–".to_owned()
        } else {
            format!("{:.2} ms", seconds * 1000.0 / *items as f64)
        };
        out.push_str(&format!(
            "| {phase} | {seconds:.1} | {:.0} % | {items} | {per_item} |\n",
            100.0 * seconds / total.max(1e-9),
        ));
    }
    out
}

fn process_row(series: &Series) -> String {
    format!(
        "| {} | {:.0} % | {:.0} % | {:.0} MiB |\n",
        series.label,
        mean(&series.cpu_percent),
        percentile(&series.cpu_percent, 0.95),
        series.rss_mib.iter().copied().fold(0.0, f64::max),
    )
}

pub fn resources(samples: &Samples) -> String {
    let mut out = String::from(
        "| process | CPU mean (100 % = one core) | CPU p95 | RSS max |\n|---|---:|---:|---:|\n",
    );
    for series in &samples.processes {
        out.push_str(&process_row(series));
    }
    if !samples.postgres_cpu_percent.is_empty() {
        out.push_str(&format!(
            "| PostgreSQL (every backend) | {:.0} % | {:.0} % | – |\n",
            mean(&samples.postgres_cpu_percent),
            percentile(&samples.postgres_cpu_percent, 0.95),
        ));
        let as_f64 = |v: &[u64]| v.iter().map(|n| *n as f64).collect::<Vec<f64>>();
        out.push_str(&format!(
            "\nPostgreSQL connections of the load's database: mean {:.1}, max {}; active (running a query) mean {:.1}, max {}.\n",
            mean(&as_f64(&samples.pg_connections)),
            samples.pg_connections.iter().max().unwrap_or(&0),
            mean(&as_f64(&samples.pg_active)),
            samples.pg_active.iter().max().unwrap_or(&0),
        ));
    }
    out
}

pub fn states(leader: &Scrape) -> String {
    let join = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "At the end: lablets {}; workers {}; {} events in the log.\n",
        join(&leader.lablets),
        join(&leader.workers),
        leader.last_sequence,
    )
}
