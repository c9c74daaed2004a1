//! The servers under load: `ccm serve` processes of the workspace's own build
//! on one store (a fresh PostgreSQL database, or a SQLite file), a simulated
//! fleet on a clock run `scale` times faster from a shared origin, and an admin
//! API key made with `ccm api-key create` as an operator would.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Postgres,
    Sqlite,
}

impl StoreKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::Sqlite => "SQLite",
        }
    }
}

/// The servers' shared clock: wall time run `scale` times faster from `origin`.
#[derive(Clone, Copy, Debug)]
pub struct Timebase {
    pub origin: DateTime<Utc>,
    pub scale: f64,
}

impl Timebase {
    /// The servers' time now.
    pub fn sim_now(&self) -> DateTime<Utc> {
        let real = (Utc::now() - self.origin).num_microseconds().unwrap_or(0) as f64;
        self.origin + chrono::Duration::microseconds((real * self.scale) as i64)
    }

    /// The wall-clock instant at which the servers' clock read `sim`.
    pub fn wall_of(&self, sim: DateTime<Utc>) -> DateTime<Utc> {
        let scaled = (sim - self.origin).num_microseconds().unwrap_or(0) as f64;
        self.origin + chrono::Duration::microseconds((scaled / self.scale) as i64)
    }
}

pub struct Process {
    pub base: String,
    pub pid: u32,
    child: Child,
    log: PathBuf,
}

pub struct Cluster {
    pub processes: Vec<Process>,
    pub key: String,
    /// The PostgreSQL database (name, URL), dropped by [`Cluster::stop`].
    pub database: Option<(String, String)>,
    pub time: Timebase,
    _dir: tempfile::TempDir,
}

pub fn postgres_server() -> String {
    std::env::var("CCM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

pub async fn admin_pool() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&postgres_server())
        .await
        .expect("PostgreSQL at CCM_TEST_POSTGRES_URL")
}

/// The `ccm` binary of the same profile as this bench (`target/<profile>/ccm`).
fn ccm_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the bench's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<bench>");
    let ccm = profile_dir.join("ccm");
    assert!(
        ccm.is_file(),
        "{} is missing: build it first (cargo build --release -p ccm-http --bin ccm, \
         or scripts/load-test, which does)",
        ccm.display()
    );
    ccm
}

fn command(env: &[(String, String)]) -> Command {
    let mut command = Command::new(ccm_binary());
    for (variable, _) in std::env::vars() {
        if variable.starts_with("CCM_") {
            command.env_remove(variable);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    command
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Cluster {
    /// Starts `count` processes on a new store of `kind` and waits until each
    /// answers `/readyz`.
    pub async fn start(kind: StoreKind, count: usize, scale: f64, sse_clients: usize) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let database = match kind {
            StoreKind::Postgres => {
                let name = format!("ccm_load_{}", uuid::Uuid::new_v4().simple());
                let pool = admin_pool().await;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .expect("create the load database");
                pool.close().await;
                let server = postgres_server();
                let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
                Some((name.clone(), format!("{base}/{name}")))
            }
            StoreKind::Sqlite => None,
        };
        let url = match &database {
            Some((_, url)) => url.clone(),
            None => format!("sqlite://{}", dir.path().join("ccm.db").display()),
        };
        let origin = Utc::now();
        // The lease in simulated seconds, so it lasts a minute of real time:
        // each process simulates a cloud of its own, so a hand-over would show
        // the new leader a fleet it never launched.
        let lease = ((60.0 * scale) as u64).max(15);
        let env: Vec<(String, String)> = [
            ("CCM_DATABASE_URL", url),
            ("CCM_SIM_SEED_DEMO", "false".to_owned()),
            ("CCM_SIM_TIME_SCALE", scale.to_string()),
            ("CCM_SIM_CLOCK_ORIGIN", origin.to_rfc3339()),
            ("CCM_LEASE_SECONDS", lease.to_string()),
            ("CCM_LEASE_RENEW_SECONDS", (lease / 4).to_string()),
            (
                "CCM_SSE_STREAMS_PER_PRINCIPAL",
                sse_clients.max(8).to_string(),
            ),
            ("CCM_MAX_CONNECTIONS", (sse_clients + 1024).to_string()),
            ("CCM_LOG_LEVEL", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();

        let created = command(&env)
            .args(["api-key", "create", "--name", "load", "--role", "admin"])
            .stdin(Stdio::null())
            .output()
            .expect("run ccm api-key create");
        let stdout = String::from_utf8_lossy(&created.stdout);
        assert!(
            created.status.success(),
            "ccm api-key create: {stdout}{}",
            String::from_utf8_lossy(&created.stderr)
        );
        let key = stdout
            .lines()
            .find_map(|line| line.strip_prefix("key: "))
            .expect("the key is printed")
            .trim()
            .to_owned();

        let mut processes = Vec::new();
        for index in 0..count {
            let port = free_port();
            let log = dir.path().join(format!("ccm-{index}.log"));
            let out = File::create(&log).expect("a log file");
            let err = out.try_clone().expect("the log file twice");
            let mut env = env.clone();
            env.push(("CCM_LISTEN".to_owned(), format!("127.0.0.1:{port}")));
            let child = command(&env)
                .arg("serve")
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("start ccm serve");
            processes.push(Process {
                base: format!("http://127.0.0.1:{port}"),
                pid: child.id(),
                child,
                log,
            });
        }
        let cluster = Self {
            processes,
            key,
            database,
            time: Timebase { origin, scale },
            _dir: dir,
        };
        let http = reqwest::Client::new();
        for process in &cluster.processes {
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let ready = http
                    .get(format!("{}/readyz", process.base))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ready {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{} not ready within 120 s:\n{}",
                    process.base,
                    process.log_tail()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        cluster
    }

    /// Panics with the logs of any process that has exited.
    pub fn assert_running(&mut self) {
        for process in &mut self.processes {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!(
                    "{} exited ({status}):\n{}",
                    process.base,
                    process.log_tail()
                );
            }
        }
    }

    /// Stops the processes and drops the database.
    pub async fn stop(mut self) {
        self.processes.clear();
        if let Some((name, _)) = &self.database {
            let pool = admin_pool().await;
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&pool)
                .await;
            pool.close().await;
        }
    }
}

impl Process {
    /// Warnings and errors the process logged: counts, and the last few lines.
    pub fn log_summary(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let notable: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .collect();
        let errors = notable.iter().filter(|l| l.contains("ERROR")).count();
        let mut out = format!(
            "{} logged {} warnings and {errors} errors",
            self.base,
            notable.len() - errors
        );
        for line in notable.iter().rev().take(5).rev() {
            out.push_str("\n    ");
            out.push_str(line.get(..400).unwrap_or(line));
        }
        out
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        text.get(start..).unwrap_or_default().to_owned()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
