//! A private moto server for integration tests and benches (feature
//! `test-support`).
//!
//! [`MotoServer::start`] finds moto, starts it on a free loopback port with a small
//! catalogue of CML images (`cml-2.8.1`, `cml-2.9.0`, `cml-2.9.1`, each with its own
//! creation date) and waits until it answers; dropping the guard kills it.
//!
//! moto is found through, in order: the `CCM_MOTO_SERVER` environment variable (path
//! of a `moto_server` executable), `.venv/bin/moto_server` at the workspace root
//! (what `scripts/setup-python` installs), and `moto_server` on `PATH`. The server is
//! run by that executable's Python interpreter (from its shebang) through a small wrapper
//! (`tests/support/moto_server.py`) that closes two gaps between moto and EC2
//! (`MonitorInstances`, and tags on unknown instances).

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{AwsCloud, AwsConfig, AwsError};

/// The wrapper that runs moto's server with EC2's behaviour where ccm relies on it.
pub const MOTO_WRAPPER: &str = include_str!("../tests/support/moto_server.py");
/// The images the server starts with (`MOTO_AMIS_PATH`).
pub const MOTO_AMIS: &str = include_str!("../tests/support/amis.json");
/// Region the tests work in.
pub const MOTO_REGION: &str = "us-east-1";
/// Id of the newest image (`cml-2.9.1-2025-06-01`).
pub const NEWEST_CML_IMAGE: &str = "ami-0c3a10000000a2910";
/// Id of the 2.9.0 image.
pub const OLDER_CML_IMAGE: &str = "ami-0c3a10000000a2900";

/// Why moto could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// moto is not installed where we look.
    #[error(
        "moto is not installed: run `scripts/setup-python` (creates .venv with moto[server]) \
         or set CCM_MOTO_SERVER to a moto_server executable (looked in: {looked})"
    )]
    NotInstalled {
        /// Places searched.
        looked: String,
    },
    /// The server process could not be started or did not answer.
    #[error("moto server failed to start: {0}")]
    Start(String),
    /// A temp file or a socket failed.
    #[error("moto server setup failed: {0}")]
    Io(#[from] std::io::Error),
    /// The provider rejected the generated configuration.
    #[error(transparent)]
    Config(#[from] AwsError),
}

/// A running moto server; killed on drop.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The `moto_server` executable to use, or where we looked.
pub fn locate_moto_server() -> Result<PathBuf, MotoError> {
    let mut looked = Vec::new();
    if let Some(explicit) = std::env::var_os("CCM_MOTO_SERVER") {
        let path = PathBuf::from(explicit);
        if path.is_file() {
            return Ok(path);
        }
        // An explicit choice that does not exist is a mistake, not a reason to
        // quietly use another moto.
        return Err(MotoError::NotInstalled {
            looked: format!("CCM_MOTO_SERVER={} (no such file)", path.display()),
        });
    }
    let venv = workspace_root().join(".venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    looked.push(venv.display().to_string());
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    looked.push("moto_server on PATH".to_owned());
    Err(MotoError::NotInstalled {
        looked: looked.join(", "),
    })
}

/// The Python interpreter that belongs to a `moto_server` executable: its shebang
/// (pip writes the interpreter's path there), else a `python` beside it, else
/// `python3`.
fn python_beside(moto_server: &Path) -> PathBuf {
    if let Ok(text) = std::fs::read(moto_server) {
        let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
        if let Some(rest) = String::from_utf8_lossy(first).strip_prefix("#!") {
            let interpreter = PathBuf::from(rest.trim());
            if interpreter.is_file() {
                return interpreter;
            }
        }
    }
    let dir = moto_server.parent().unwrap_or(Path::new("."));
    for name in ["python", "python3"] {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    PathBuf::from("python3")
}

fn free_port() -> Result<u16, MotoError> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

static NEXT_DIR: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl MotoServer {
    /// Starts a server on a free loopback port and waits (up to 60 s) until it
    /// answers.
    pub async fn start() -> Result<Self, MotoError> {
        let moto_server = locate_moto_server()?;
        let python = python_beside(&moto_server);
        let dir = std::env::temp_dir().join(format!(
            "ccm-moto-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let amis = dir.join("amis.json");
        std::fs::write(&amis, MOTO_AMIS)?;
        let mut last_error = String::new();
        // A port picked free can be taken before moto binds it: try a few.
        for _ in 0..3 {
            let port = free_port()?;
            let log_path = dir.join(format!("moto-{port}.log"));
            let log = std::fs::File::create(&log_path)?;
            let child = Command::new(&python)
                .arg("-c")
                .arg(MOTO_WRAPPER)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .env("MOTO_AMIS_PATH", &amis)
                .env("MOTO_ENABLE_AMI_VALIDATION", "true")
                .env("PYTHONUNBUFFERED", "1")
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()
                .map_err(|e| MotoError::Start(format!("cannot run {}: {e}", python.display())))?;
            let mut child = child;
            match wait_ready(&mut child, port, Duration::from_secs(60)).await {
                Ok(()) => return Ok(MotoServer { child, port, dir }),
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let mut output = String::new();
                    if let Ok(mut f) = std::fs::File::open(&log_path) {
                        let _ = f.read_to_string(&mut output);
                    }
                    let tail: String = output
                        .lines()
                        .rev()
                        .take(15)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect::<Vec<_>>()
                        .join("\n");
                    last_error = format!("{e}; output:\n{tail}");
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(MotoError::Start(last_error))
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A provider configuration pointing at this server.
    pub fn config(&self) -> AwsConfig {
        AwsConfig::for_endpoint(self.endpoint(), MOTO_REGION)
    }

    /// A provider pointing at this server.
    pub fn cloud(&self) -> Result<AwsCloud, MotoError> {
        Ok(AwsCloud::new(self.config())?)
    }
}

/// Waits until something listens on `port`, or the child exits, or time runs out.
async fn wait_ready(child: &mut Child, port: u16, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("moto exited with {status}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("no answer on port {port} within {timeout:?}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
