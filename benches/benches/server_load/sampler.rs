//! Once a second: CPU and resident size of each `ccm` process and of the bench
//! itself (`/proc/<pid>/stat`, `/proc/<pid>/status`), the CPU of every
//! PostgreSQL process together, and the store's connections in use
//! (`pg_stat_activity` of the load's database, by state).

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Linux's `USER_HZ`: clock ticks per second in `/proc/<pid>/stat`.
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Clone, Debug, Default)]
pub struct Series {
    pub label: String,
    pub cpu_percent: Vec<f64>,
    pub rss_mib: Vec<f64>,
}

#[derive(Clone, Debug, Default)]
pub struct Samples {
    pub processes: Vec<Series>,
    pub postgres_cpu_percent: Vec<f64>,
    pub pg_connections: Vec<u64>,
    pub pg_active: Vec<u64>,
}

pub struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Samples>,
}

fn ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) start at the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn postgres_ticks() -> u64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "postgres")
        })
        .filter_map(ticks)
        .sum()
}

impl Sampler {
    /// Samples `processes` (label, pid) and, with a database name, PostgreSQL.
    pub fn start(processes: Vec<(String, u32)>, database: Option<String>) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            let pool = match &database {
                Some(_) => Some(crate::cluster::admin_pool().await),
                None => None,
            };
            let mut samples = Samples {
                processes: processes
                    .iter()
                    .map(|(label, _)| Series {
                        label: label.clone(),
                        ..Series::default()
                    })
                    .collect(),
                ..Samples::default()
            };
            let mut before: Vec<Option<u64>> = processes.iter().map(|(_, p)| ticks(*p)).collect();
            let mut pg_before = postgres_ticks();
            let mut at = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stopped.changed() => break,
                }
                let seconds = at.elapsed().as_secs_f64();
                at = tokio::time::Instant::now();
                for (i, (_, pid)) in processes.iter().enumerate() {
                    let now = ticks(*pid);
                    if let (Some(a), Some(b)) = (before[i], now) {
                        let percent =
                            (b.saturating_sub(a) as f64) / TICKS_PER_SECOND / seconds * 100.0;
                        samples.processes[i].cpu_percent.push(percent);
                    }
                    before[i] = now;
                    if let Some(rss) = rss_mib(*pid) {
                        samples.processes[i].rss_mib.push(rss);
                    }
                }
                if let (Some(pool), Some(name)) = (&pool, &database) {
                    let pg_now = postgres_ticks();
                    // Backends that exited take their ticks with them: a floor.
                    let percent =
                        (pg_now.saturating_sub(pg_before) as f64) / TICKS_PER_SECOND / seconds
                            * 100.0;
                    samples.postgres_cpu_percent.push(percent);
                    pg_before = pg_now;
                    let rows: Vec<(Option<String>, i64)> = sqlx::query_as(
                        "SELECT state, count(*) FROM pg_stat_activity WHERE datname = $1 GROUP BY state",
                    )
                    .bind(name)
                    .fetch_all(pool)
                    .await
                    .unwrap_or_default();
                    let total: i64 = rows.iter().map(|(_, n)| n).sum();
                    let active: i64 = rows
                        .iter()
                        .filter(|(state, _)| state.as_deref() == Some("active"))
                        .map(|(_, n)| n)
                        .sum();
                    samples.pg_connections.push(total.max(0) as u64);
                    samples.pg_active.push(active.max(0) as u64);
                }
            }
            if let Some(pool) = pool {
                pool.close().await;
            }
            samples
        });
        Self { stop, task }
    }

    pub async fn finish(self) -> Samples {
        let _ = self.stop.send(true);
        self.task.await.unwrap_or_default()
    }
}
