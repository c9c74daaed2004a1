//! Conformance suite for [`MetricSeries`] adapters: appends and reads, bucketed
//! reads, pruning, and compaction (expiry, downsampling of whole epoch-aligned
//! buckets, weights of averaged points in later averages, idempotence).

use crate::ids::WorkerId;
use crate::ports::metric_series::{CompactReport, MetricPoint, MetricRetention, MetricSeries};
use crate::ports::store::StoreError;
use crate::time::{from_unix_seconds, plus_seconds, Timestamp};

fn t0() -> Timestamp {
    from_unix_seconds(1_750_000_000)
}

fn point(worker: u128, at: i64, cpu: f64) -> MetricPoint {
    MetricPoint {
        worker_id: WorkerId::from_u128(worker),
        at: plus_seconds(t0(), at),
        cpu_percent: Some(cpu),
        memory_percent: Some(cpu / 2.0),
        disk_percent: None,
        running_nodes: Some(3),
    }
}

/// Runs every check against an empty series store; returns the first failure.
pub async fn run_all(series: &dyn MetricSeries) -> Result<(), String> {
    let err = |e: crate::ports::store::StoreError| e.to_string();
    // Out of order, two workers.
    series
        .append(&[
            point(1, 600, 30.0),
            point(1, 0, 10.0),
            point(2, 0, 99.0),
            point(1, 300, 20.0),
        ])
        .await
        .map_err(err)?;
    let raw = series
        .read(WorkerId::from_u128(1), t0(), plus_seconds(t0(), 3600), 0)
        .await
        .map_err(err)?;
    let cpus: Vec<Option<f64>> = raw.iter().map(|p| p.cpu_percent).collect();
    if cpus != vec![Some(10.0), Some(20.0), Some(30.0)] {
        return Err(format!(
            "raw read not in time order or mixed workers: {cpus:?}"
        ));
    }
    if raw[0].memory_percent != Some(5.0)
        || raw[0].disk_percent.is_some()
        || raw[0].running_nodes != Some(3)
    {
        return Err(format!("fields not kept: {:?}", raw[0]));
    }
    let window = series
        .read(
            WorkerId::from_u128(1),
            plus_seconds(t0(), 300),
            plus_seconds(t0(), 600),
            0,
        )
        .await
        .map_err(err)?;
    if window.len() != 1 {
        return Err(format!(
            "window [300, 600) should hold 1 point, got {}",
            window.len()
        ));
    }
    let bucketed = series
        .read(WorkerId::from_u128(1), t0(), plus_seconds(t0(), 3600), 600)
        .await
        .map_err(err)?;
    let avg: Vec<Option<f64>> = bucketed.iter().map(|p| p.cpu_percent).collect();
    if avg != vec![Some(15.0), Some(30.0)] || bucketed[1].at != plus_seconds(t0(), 600) {
        return Err(format!(
            "600 s buckets should average to [15, 30]: {bucketed:?}"
        ));
    }
    let pruned = series.prune(plus_seconds(t0(), 300)).await.map_err(err)?;
    if pruned != 2 {
        return Err(format!(
            "prune before +300 s should remove 2 points, removed {pruned}"
        ));
    }
    let left = series
        .read(WorkerId::from_u128(2), t0(), plus_seconds(t0(), 3600), 0)
        .await
        .map_err(err)?;
    if !left.is_empty() {
        return Err("worker 2's old point survived the prune".into());
    }
    compaction(series).await
}

/// A whole hour since the epoch, so 600 s buckets start on it; well before
/// [`t0`], so the points of the checks above are neither expired nor averaged.
fn hour() -> Timestamp {
    from_unix_seconds(1_700_002_800)
}

fn sample(worker: u128, at: i64, cpu: f64, memory: Option<f64>) -> MetricPoint {
    MetricPoint {
        worker_id: WorkerId::from_u128(worker),
        at: plus_seconds(hour(), at),
        cpu_percent: Some(cpu),
        memory_percent: memory,
        disk_percent: None,
        running_nodes: Some(3),
    }
}

/// `(seconds after hour(), cpu, memory)` of a worker's stored points.
async fn stored(
    series: &dyn MetricSeries,
    worker: u128,
    step: u32,
    since: i64,
) -> Result<Vec<(i64, f64, Option<f64>)>, String> {
    let points = series
        .read(
            WorkerId::from_u128(worker),
            plus_seconds(hour(), since),
            plus_seconds(hour(), 6 * 3600),
            step,
        )
        .await
        .map_err(|e: StoreError| e.to_string())?;
    points
        .iter()
        .map(|p| {
            if p.running_nodes != Some(3) || p.disk_percent.is_some() {
                return Err(format!("fields not averaged as given: {p:?}"));
            }
            let cpu = p.cpu_percent.ok_or_else(|| format!("cpu lost: {p:?}"))?;
            Ok((
                crate::time::seconds_between(hour(), p.at),
                cpu,
                p.memory_percent,
            ))
        })
        .collect()
}

fn same(got: &[(i64, f64, Option<f64>)], want: &[(i64, f64, Option<f64>)]) -> bool {
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.0 == w.0
                && close(g.1, w.1)
                && match (g.2, w.2) {
                    (Some(a), Some(b)) => close(a, b),
                    (a, b) => a.is_none() && b.is_none(),
                }
        })
}

/// Compaction at `hour() + 3 h + 100 s` with 1 h raw, 600 s steps, 2 h kept:
/// points before +3700 s go, buckets before +7200 s (the bucket holding
/// `now - 1 h` stays raw, whole) are averaged.
async fn compaction(series: &dyn MetricSeries) -> Result<(), String> {
    let err = |e: StoreError| e.to_string();
    let retention = MetricRetention {
        raw_seconds: 3600,
        step_seconds: 600,
        keep_seconds: 7200,
    };
    let now = plus_seconds(hour(), 3 * 3600 + 100);
    series
        .append(&[
            sample(10, 3000, 99.0, None),
            sample(10, 3650, 98.0, None),
            sample(10, 6200, 20.0, Some(10.0)),
            sample(10, 6000, 10.0, Some(5.0)),
            sample(10, 6400, 30.0, Some(15.0)),
            sample(10, 6600, 40.0, Some(20.0)),
            sample(10, 7100, 60.0, None),
            sample(10, 7200, 70.0, None),
            sample(10, 7700, 80.0, None),
            sample(11, 6100, 5.0, None),
        ])
        .await
        .map_err(err)?;
    let report = series.compact(now, &retention).await.map_err(err)?;
    let want = CompactReport {
        replaced: 6,
        written: 3,
        expired: 2,
    };
    if report != want {
        return Err(format!("first compaction: {report:?}, expected {want:?}"));
    }
    let after = vec![
        (6000, 20.0, Some(10.0)),
        (6600, 50.0, Some(20.0)),
        (7200, 70.0, None),
        (7700, 80.0, None),
    ];
    let got = stored(series, 10, 0, 0).await?;
    if !same(&got, &after) {
        return Err(format!(
            "after compaction expected averages at bucket starts then raw points {after:?}, got {got:?}"
        ));
    }
    let alone = stored(series, 11, 0, 0).await?;
    if !same(&alone, &[(6000, 5.0, None)]) {
        return Err(format!(
            "a lone point moves to its bucket's start: {alone:?}"
        ));
    }
    let again = series.compact(now, &retention).await.map_err(err)?;
    if again != CompactReport::default() || !same(&stored(series, 10, 0, 0).await?, &after) {
        return Err(format!(
            "a second compaction at the same time changed things: {again:?}"
        ));
    }
    // 20 (3 samples) and 50 (2 samples): (60 + 100) / 5, not (20 + 50) / 2.
    let hourly = stored(series, 10, 1200, 6000).await?;
    if !same(&hourly, &[(6000, 32.0, Some(14.0)), (7200, 75.0, None)]) {
        return Err(format!(
            "bucketed reads weigh averages by their samples: {hourly:?}"
        ));
    }
    // A late raw point in an averaged bucket is folded in with the average's weight.
    series
        .append(&[sample(10, 6300, 26.0, Some(13.0))])
        .await
        .map_err(err)?;
    let late = series.compact(now, &retention).await.map_err(err)?;
    if late.replaced != 2 || late.written != 1 {
        return Err(format!(
            "a late point re-averages its bucket only: {late:?}"
        ));
    }
    let folded = stored(series, 10, 0, 0).await?;
    if folded.first().map(|p| (p.0, p.1)) != Some((6000, 21.5)) || folded.len() != 4 {
        return Err(format!(
            "(20 * 3 + 26) / 4 = 21.5 at +6000 s expected: {folded:?}"
        ));
    }
    // Mixed averaged (4 + 2 samples) and raw points in one read bucket:
    // cpu (86 + 100 + 70 + 80) / 8, memory (43 + 40) / 6 (raw ones have none).
    let mixed = stored(series, 10, 2400, 6000).await?;
    if !same(&mixed, &[(6000, 42.0, Some(83.0 / 6.0))]) {
        return Err(format!(
            "a read bucket over averaged and raw points: {mixed:?}"
        ));
    }
    Ok(())
}

/// Times compaction of one day of 5-minute points of `workers` workers (default
/// retention) on an empty series store, checking what each run did: the whole
/// day at once, a second run that finds nothing, and one sweep's points a day
/// later (the steady state of the monitor's sweep). A printable summary, or
/// what went wrong.
pub async fn measure_compaction(
    series: &dyn MetricSeries,
    workers: usize,
) -> Result<String, String> {
    let day = from_unix_seconds(1_700_006_400);
    let retention = MetricRetention::default();
    let sweep = |at: Timestamp| -> Vec<MetricPoint> {
        (0..workers as u128)
            .map(|w| MetricPoint {
                worker_id: WorkerId::from_u128(1_000 + w),
                at,
                cpu_percent: Some((w % 100) as f64),
                memory_percent: Some(50.0),
                disk_percent: None,
                running_nodes: Some(2),
            })
            .collect()
    };
    let started = std::time::Instant::now();
    for i in 0..288 {
        let points = sweep(plus_seconds(day, i * 300 + 7));
        if let Err(e) = series.append(&points).await {
            return Err(format!("append failed: {e}"));
        }
    }
    let append = started.elapsed();
    let total = 288 * workers as u64;
    let now = plus_seconds(day, 2 * 86_400);
    let timed = |now: Timestamp| async move {
        let started = std::time::Instant::now();
        let report = series.compact(now, &retention).await;
        (report, started.elapsed())
    };
    let (full, full_time) = timed(now).await;
    let (again, again_time) = timed(now).await;
    if let Err(e) = series.append(&sweep(plus_seconds(day, 86_400 + 10))).await {
        return Err(format!("append failed: {e}"));
    }
    let (steady, steady_time) = timed(plus_seconds(now, 310)).await;
    let expected = (
        CompactReport {
            replaced: total,
            written: total,
            expired: 0,
        },
        CompactReport::default(),
        CompactReport {
            replaced: workers as u64,
            written: workers as u64,
            expired: 0,
        },
    );
    match (full, again, steady) {
        (Ok(full), Ok(again), Ok(steady)) if (full, again, steady) == expected => Ok(format!(
            "{workers} workers x 288 points ({total}): append {append:.2?}, \
             compaction of the whole day {full_time:.2?}, a run with nothing to do \
             {again_time:.2?}, one sweep a day later {steady_time:.2?}"
        )),
        other => Err(format!("unexpected compaction reports: {other:?}")),
    }
}
