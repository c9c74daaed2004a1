//! Placement throughput and quality: 100k and 1M lablets over 5,000 workers, for
//! `pack`, `spread`, `lifetime` and the naive first-fit scan, in the same run.
//! The scenario's lablets end over eight hours (five-minute grid) and half its
//! workers already hold lablets ending over the same hours, so `lifetime` walks
//! up to 32 end classes per request; `pack` ignores the times.
//!
//! Besides criterion's timings (in placements per second), each scenario prints the
//! workers each policy used against the lower bound max over dimensions of
//! ceil(total demand / worker capacity). The naive scan costs O(workers) per
//! request: criterion times it on 100k lablets; on 1M it runs once, timed by hand,
//! when the bench runs for real (`--bench`; skipped in `cargo test --benches`), and
//! `CCM_BENCH_NAIVE_1M=1` adds it to the 1M criterion group too (ten samples of
//! tens of seconds each).
// `criterion_group!` defines an undocumented `pub fn`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use ccm_benches::fleet::{scenario, Scenario};
use ccm_core::placement::{
    baseline, place, suggest_scale_up, NewWorkerProfile, Plan, Policy, PriceTable,
};
use ccm_core::time::{from_unix_seconds, plus_seconds};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

const WORKERS: usize = 5_000;
const SEED: u64 = 0x00cc_3a11;
/// Above this many lablets criterion does not time the naive scan (ten samples
/// would take minutes) unless `CCM_BENCH_NAIVE_1M` is set.
const NAIVE_MAX_LABLETS: usize = 100_000;

const POLICIES: [Policy; 3] = [Policy::Pack, Policy::Spread, Policy::Lifetime];

/// The scenario with end times: lablets end on a five-minute grid over eight
/// hours, and every other worker holds lablets ending on a quarter hour of them.
fn scenario_with_ends(lablets: usize) -> Scenario {
    let mut s = scenario(WORKERS, lablets, SEED);
    let start = from_unix_seconds(1_796_000_400);
    for (i, request) in s.requests.iter_mut().enumerate() {
        let step = (i.wrapping_mul(7_919) % 96) as i64;
        request.ends_at = Some(plus_seconds(start, step * 300));
    }
    for (j, worker) in s.workers.iter_mut().enumerate().filter(|(j, _)| j % 2 == 0) {
        let quarter = (j.wrapping_mul(31) % 32) as i64;
        worker.busy_until = Some(plus_seconds(start, quarter * 900));
    }
    s
}

/// True under `cargo bench` (criterion's test mode passes no `--bench`).
fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// Whether criterion times the naive scan on `lablets`.
fn time_naive(lablets: usize) -> bool {
    lablets <= NAIVE_MAX_LABLETS || std::env::var_os("CCM_BENCH_NAIVE_1M").is_some()
}

fn describe(name: &str, s: &Scenario, plan: &Plan, took: Duration) {
    let placed = plan.assignments.len();
    let per_second = placed.saturating_add(plan.unplaced.len()) as f64 / took.as_secs_f64();
    println!(
        "  {name:<9} {took:>9.3?}  {per_second:>12.0} lablets/s  placed {placed:>8}  unplaced {:>6} \
         ({} rejection lists)  workers used {:>5}  lower bound {:>5}  ratio {:.3}",
        plan.unplaced.len(),
        plan.distinct_rejection_lists(),
        plan.workers_used(),
        s.lower_bound,
        plan.workers_used() as f64 / s.lower_bound.max(1) as f64,
    );
}

/// One untimed-by-criterion run of each policy, printing the quality figures.
fn report(s: &Scenario) {
    println!(
        "placement: {} lablets ({} unplaceable by design) over {} workers",
        s.requests.len(),
        s.unplaceable_by_design,
        s.workers.len()
    );
    let mut pack_plan = None;
    for policy in POLICIES {
        let started = Instant::now();
        let plan = place(&s.workers, &s.requests, policy);
        describe(policy.as_str(), s, &plan, started.elapsed());
        if policy == Policy::Pack {
            pack_plan = Some(plan);
        }
    }
    if s.requests.len() <= NAIVE_MAX_LABLETS || bench_mode() {
        let started = Instant::now();
        let plan = baseline::first_fit(&s.workers, &s.requests);
        describe("first-fit", s, &plan, started.elapsed());
    } else {
        println!("  first-fit skipped in test mode: O(workers) per lablet");
    }
    if let Some(plan) = pack_plan {
        let unplaced = plan.unplaced.iter().map(|u| &s.requests[u.request_index]);
        let started = Instant::now();
        let up = suggest_scale_up(
            unplaced,
            &PriceTable::default(),
            &NewWorkerProfile::default(),
        );
        let lines: Vec<String> = up
            .lines
            .iter()
            .map(|l| {
                format!(
                    "{} × {} ({} lablets)",
                    l.workers, l.instance_type, l.lablets
                )
            })
            .collect();
        println!(
            "  scale-up for pack's unplaced: [{}] ${:.2}/h, {} fit no type ({:.3?})",
            lines.join(", "),
            up.total_hourly_usd,
            up.unfittable.len(),
            started.elapsed()
        );
    }
}

fn placement(c: &mut Criterion) {
    for lablets in [100_000usize, 1_000_000] {
        let s = scenario_with_ends(lablets);
        report(&s);
        let mut group = c.benchmark_group(format!("placement/{lablets}-over-{WORKERS}"));
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(if lablets > NAIVE_MAX_LABLETS {
                12
            } else {
                8
            }))
            .throughput(Throughput::Elements(lablets as u64));
        for policy in POLICIES {
            group.bench_function(policy.as_str(), |b| {
                b.iter(|| place(black_box(&s.workers), black_box(&s.requests), policy))
            });
        }
        if time_naive(lablets) {
            group.bench_function("first-fit-naive", |b| {
                b.iter(|| baseline::first_fit(black_box(&s.workers), black_box(&s.requests)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, placement);
criterion_main!(benches);
