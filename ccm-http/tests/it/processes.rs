//! Real `ccm serve` processes for multi-process tests: a PostgreSQL database of
//! their own per test, processes started, killed with SIGKILL, stopped with
//! SIGTERM and started again on the same port with the same environment, and
//! their output kept for assertions and failure messages.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// The test PostgreSQL server (`CCM_TEST_POSTGRES_URL`, default the local one).
pub fn server_url() -> String {
    std::env::var("CCM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// A database of its own on the test server, dropped by [`Database::drop`].
pub struct Database {
    /// Connection URL of the database.
    pub url: String,
    name: String,
}

async fn admin_pool() -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&server_url())
        .await
        .expect("PostgreSQL at CCM_TEST_POSTGRES_URL (scripts/test-all starts it)")
}

impl Database {
    /// Creates `ccm_it_<random>`.
    pub async fn fresh() -> Self {
        let name = format!("ccm_it_{}", uuid::Uuid::new_v4().simple());
        let pool = admin_pool().await;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&pool)
            .await
            .expect("create a test database");
        pool.close().await;
        let base = server_url();
        let url = match base.rfind('/') {
            Some(slash) if base[..slash].ends_with(|c: char| c != '/') => {
                format!("{}/{name}", &base[..slash])
            }
            _ => format!("{base}/{name}"),
        };
        Self { url, name }
    }

    /// A store on this database, as a test's own view of what the processes wrote.
    pub async fn store(&self) -> ccm_store_postgres::PostgresStore {
        ccm_store_postgres::PostgresStore::open(&self.url)
            .await
            .expect("open the test database")
    }

    /// Drops the database (connections still open are closed by force). By
    /// reference, so a fixture that prints its processes' output when dropped
    /// during a failure can still drop its database when the test passes.
    pub async fn drop(&self) {
        let pool = admin_pool().await;
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&pool)
        .await;
        pool.close().await;
    }
}

/// A free port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One `ccm serve` process.
pub struct CcmProcess {
    /// Port it listens on (kept across restarts).
    pub port: u16,
    env: Vec<(String, String)>,
    args: Vec<String>,
    child: Option<Child>,
    output: Arc<Mutex<String>>,
}

/// Output kept per process, so a chatty process cannot fill the test's memory.
const OUTPUT_LIMIT: usize = 4 * 1024 * 1024;

impl CcmProcess {
    /// Starts `ccm serve` with `env` (on top of no inherited `CCM_*`) and `args`,
    /// and waits until it answers `/healthz`.
    pub async fn start(env: &[(&str, String)], args: &[&str]) -> Self {
        let mut process = Self {
            port: free_port(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            child: None,
            output: Arc::new(Mutex::new(String::new())),
        };
        process.spawn().await;
        process
    }

    /// The base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Everything it printed so far (stdout and stderr, interleaved by line).
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    async fn spawn(&mut self) {
        let mut command = tokio::process::Command::from(crate::common::ccm_binary());
        command
            .arg("serve")
            .args(&self.args)
            .env("CCM_LISTEN", format!("127.0.0.1:{}", self.port))
            .env("CCM_LOG_FORMAT", "json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command.spawn().expect("spawn ccm serve");
        for pipe in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let output = self.output.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(pipe).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut out) = output.lock() {
                        if out.len() < OUTPUT_LIMIT {
                            out.push_str(&line);
                            out.push('\n');
                        }
                    }
                }
            });
        }
        self.child = Some(child);
        self.wait_healthy().await;
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::new();
        let url = format!("{}/healthz", self.base());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    panic!("ccm serve exited with {status}:\n{}", self.output());
                }
            }
            assert!(
                Instant::now() < deadline,
                "ccm serve never answered on port {}:\n{}",
                self.port,
                self.output()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no lease resignation.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
    }

    /// SIGTERM, then waits up to 30 s for a graceful exit.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &pid.to_string()])
                    .status();
            }
            if tokio::time::timeout(Duration::from_secs(30), child.wait())
                .await
                .is_err()
            {
                let _ = child.start_kill();
                let _ = child.wait().await;
                panic!("ccm serve did not stop on SIGTERM:\n{}", self.output());
            }
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the running process.
    pub fn signal(&self, signal: &str) {
        let pid = self.pid().expect("the process runs");
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {pid}");
    }

    /// Starts it again on the same port with the same environment.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }

    /// Starts it again after [`CcmProcess::kill`] or [`CcmProcess::stop`].
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the process still runs");
        self.spawn().await;
    }
}

impl Drop for CcmProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.start_kill();
        }
    }
}

/// Polls `check` every 50 ms until it returns `Some`, for at most `bound`;
/// panics naming `what` otherwise.
pub async fn within<T, F, Fut>(bound: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + bound;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `ccm api-key create` with `env` (as an operator would, beside or before a
/// server) and returns the printed key.
pub async fn create_api_key(env: &[(&str, String)], name: &str, role: &str) -> String {
    let mut create = tokio::process::Command::from(crate::common::ccm_binary());
    create
        .args(["api-key", "create", "--name", name, "--role", role])
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (variable, value) in env {
        create.env(variable, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), create.output())
        .await
        .expect("ccm api-key create finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("key: "))
        .expect("the key is printed")
        .trim()
        .to_owned()
}
