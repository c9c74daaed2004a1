//! What each process says of itself on `/metrics`: engine step durations
//! (a histogram, read as the difference between two scrapes) and the seconds
//! and items of each part of the steps, whether it leads,
//! the newest event, and lablets and workers by state.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::Api;

#[derive(Clone, Debug, Default)]
pub struct Scrape {
    /// `(upper bound in seconds, cumulative count)`, `+Inf` last.
    pub step_buckets: Vec<(f64, u64)>,
    pub step_sum: f64,
    pub step_count: u64,
    /// Seconds and items of each part of the steps (log, jobs, workers, lablets).
    pub phase_seconds: BTreeMap<String, f64>,
    pub phase_items: BTreeMap<String, f64>,
    pub leader: bool,
    pub last_sequence: u64,
    pub lablets: BTreeMap<String, u64>,
    pub workers: BTreeMap<String, u64>,
}

fn label<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let from = line.find(&format!("{name}=\""))? + name.len() + 2;
    let len = line[from..].find('"')?;
    Some(&line[from..from + len])
}

fn value(line: &str) -> Option<f64> {
    line.rsplit(' ').next()?.parse().ok()
}

pub async fn scrape(api: &Api, base: &str) -> Scrape {
    let text = api
        .http
        .get(format!("{base}/metrics"))
        .bearer_auth(&api.key)
        .timeout(Duration::from_secs(120))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .unwrap_or_default();
    let mut s = Scrape::default();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some(v) = value(line) else { continue };
        if line.starts_with("ccm_engine_step_duration_seconds_bucket") {
            let bound = match label(line, "le") {
                Some("+Inf") => f64::INFINITY,
                Some(b) => b.parse().unwrap_or(f64::INFINITY),
                None => continue,
            };
            s.step_buckets.push((bound, v as u64));
        } else if line.starts_with("ccm_engine_step_duration_seconds_sum") {
            s.step_sum = v;
        } else if line.starts_with("ccm_engine_step_duration_seconds_count") {
            s.step_count = v as u64;
        } else if line.starts_with("ccm_engine_step_phase_seconds_total{") {
            if let Some(phase) = label(line, "phase") {
                s.phase_seconds.insert(phase.to_owned(), v);
            }
        } else if line.starts_with("ccm_engine_step_phase_items_total{") {
            if let Some(phase) = label(line, "phase") {
                s.phase_items.insert(phase.to_owned(), v);
            }
        } else if line.starts_with("ccm_leader ") {
            s.leader = v >= 1.0;
        } else if line.starts_with("ccm_event_log_last_sequence ") {
            s.last_sequence = v as u64;
        } else if line.starts_with("ccm_lablets{") {
            if let Some(phase) = label(line, "phase") {
                s.lablets.insert(phase.to_owned(), v as u64);
            }
        } else if line.starts_with("ccm_workers{") {
            if let Some(status) = label(line, "status") {
                s.workers.insert(status.to_owned(), v as u64);
            }
        }
    }
    s
}

/// Engine steps between two scrapes: count, mean, and the bucket bounds that
/// hold the median and the 99th percentile.
pub struct Steps {
    pub count: u64,
    pub mean: Duration,
    pub p50_at_most: f64,
    pub p99_at_most: f64,
    /// Each part of the steps in step order: name, seconds, items.
    pub phases: Vec<(String, f64, u64)>,
}

pub fn steps(before: &Scrape, after: &Scrape) -> Steps {
    let count = after.step_count.saturating_sub(before.step_count);
    let sum = (after.step_sum - before.step_sum).max(0.0);
    let buckets: Vec<(f64, u64)> = after
        .step_buckets
        .iter()
        .map(|(bound, n)| {
            let earlier = before
                .step_buckets
                .iter()
                .find(|(b, _)| b == bound)
                .map_or(0, |(_, m)| *m);
            (*bound, n.saturating_sub(earlier))
        })
        .collect();
    let at = |q: f64| {
        let rank = ((count as f64) * q).ceil() as u64;
        buckets
            .iter()
            .find(|(_, n)| *n >= rank.max(1))
            .map_or(f64::INFINITY, |(b, _)| *b)
    };
    Steps {
        count,
        mean: if count == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(sum / count as f64)
        },
        p50_at_most: at(0.5),
        p99_at_most: at(0.99),
        phases: ["log", "jobs", "workers", "lablets"]
            .iter()
            .map(|phase| {
                let grew = |of: fn(&Scrape) -> &BTreeMap<String, f64>| {
                    let then = of(before).get(*phase).copied().unwrap_or(0.0);
                    (of(after).get(*phase).copied().unwrap_or(0.0) - then).max(0.0)
                };
                (
                    (*phase).to_owned(),
                    grew(|s| &s.phase_seconds),
                    grew(|s| &s.phase_items) as u64,
                )
            })
            .collect(),
    }
}
