//! One SQLite file, one process: a second `ccm serve` on a file that a running
//! one uses refuses to start, naming PostgreSQL as the way to run several; once
//! the first is killed with SIGKILL, the operating system has released the file
//! and `ccm serve` starts on it again.

use crate::common;
use crate::processes::{create_api_key, free_port, CcmProcess};

use std::process::Stdio;
use std::time::Duration;

#[tokio::test]
async fn a_second_serve_on_a_used_sqlite_file_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ccm.db");
    let env = [
        ("CCM_DATABASE_URL", format!("sqlite://{}", path.display())),
        ("CCM_SIM_SEED_DEMO", "false".to_owned()),
        ("CCM_ADMIN_LOGIN_LINK", "false".to_owned()),
    ];
    let mut first = CcmProcess::start(&env, &[]).await;

    let second_port = free_port();
    let mut second = tokio::process::Command::from(common::ccm_binary());
    second
        .arg("serve")
        .env("CCM_LISTEN", format!("127.0.0.1:{second_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in &env {
        second.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), second.output())
        .await
        .expect("the second ccm serve exits on its own")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for part in [
        path.display().to_string().as_str(),
        "is in use",
        "ccm.db.lock",
        "PostgreSQL",
    ] {
        assert!(stderr.contains(part), "`{part}` missing from: {stderr}");
    }
    let healthz = reqwest::get(format!("{}/healthz", first.base())).await;
    assert!(
        healthz.is_ok_and(|r| r.status().is_success()),
        "the first server is unaffected"
    );

    // SIGKILL leaves no chance to clean up: the operating system drops the lock.
    first.kill().await;
    first.start_again().await;
    first.stop().await;
}

/// A one-shot command is not a second server: `ccm api-key create` runs beside
/// a server on the same file, and the server accepts the key at once.
#[tokio::test]
async fn api_key_create_runs_beside_a_server_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ccm.db");
    let env = [
        ("CCM_DATABASE_URL", format!("sqlite://{}", path.display())),
        ("CCM_SIM_SEED_DEMO", "false".to_owned()),
        ("CCM_ADMIN_LOGIN_LINK", "false".to_owned()),
    ];
    let mut server = CcmProcess::start(&env, &[]).await;

    let key = create_api_key(&env, "beside", "admin").await;

    let workers = reqwest::Client::new()
        .get(format!("{}/api/v1/workers", server.base()))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        workers.status(),
        200,
        "the running server accepts the new key"
    );
    server.stop().await;
}
