//! The embedded default's simulated fleet outlives its process: `ccm serve` on a
//! SQLite file keeps the simulated cloud beside it, so after a `kill -9` and after
//! a graceful stop the same worker runs on the same instance and the demo lablet
//! carries on with the same lab — nothing is declared terminated, nothing goes
//! back to pending.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::common;
use crate::processes::{within, CcmProcess};

/// Generous bounds: the simulated delays are a second each, the engine's polls a
/// few seconds; these only catch a fleet that never gets there.
const DEMO_READY_WITHIN: Duration = Duration::from_secs(120);
const OBSERVED_AGAIN_WITHIN: Duration = Duration::from_secs(60);

/// What must survive a restart.
#[derive(Debug, PartialEq, Eq)]
struct Running {
    worker: String,
    instance: String,
    lablet: String,
    lab: String,
}

struct Demo {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    key: String,
}

impl Demo {
    /// The embedded default (simulated fleet, SQLite in `ccm-data/`, the demo seed)
    /// in a directory of its own, with second-long simulated delays, short polls, and a
    /// short lease (after a `kill -9` the next process waits for the dead one's lease).
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("ccm.toml");
        std::fs::write(
            &config,
            "[cloud.sim]\nboot_seconds = 1\ncml_boot_seconds = 1\nnode_boot_seconds = 1\n\
             status_init_seconds = 1\n\n[engine]\nmonitoring_interval_seconds = 2\n\
             labs_sync_interval_seconds = 2\nlease_seconds = 5\nlease_renew_seconds = 1\n",
        )
        .unwrap();
        let database = dir.path().join("ccm-data").join("ccm.db");
        let env = vec![
            ("CCM_CONFIG", config.display().to_string()),
            (
                "CCM_DATABASE_URL",
                format!("sqlite://{}", database.display()),
            ),
            ("CCM_ADMIN_LOGIN_LINK", "false".to_owned()),
        ];
        Self {
            dir,
            env,
            key: String::new(),
        }
    }

    fn world_file(&self) -> PathBuf {
        self.dir
            .path()
            .join("ccm-data")
            .join("ccm.db.sim-world.json")
    }

    /// An admin key made with `ccm api-key create` before the server first starts.
    async fn create_admin_key(&mut self) {
        self.key = crate::processes::create_api_key(&self.env, "restart", "admin").await;
    }

    async fn get(&self, ccm: &CcmProcess, path: &str) -> Option<Value> {
        let response = reqwest::Client::new()
            .get(format!("{}{path}", ccm.base()))
            .bearer_auth(&self.key)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// A lablet ready or running on a running worker, once there is one.
    async fn running(&self, ccm: &CcmProcess) -> Option<Running> {
        let lablets = self.get(ccm, "/api/v1/lablets").await?;
        for lablet in lablets["items"].as_array()? {
            let phase = lablet["status"]["phase"].as_str()?;
            if !matches!(phase, "ready" | "running") {
                continue;
            }
            let worker_id = lablet["status"]["worker_id"].as_str()?;
            let worker = self
                .get(ccm, &format!("/api/v1/workers/{worker_id}"))
                .await?;
            if worker["status"]["lifecycle"] != "running" {
                continue;
            }
            return Some(Running {
                worker: worker_id.to_owned(),
                instance: worker["instance_id"].as_str()?.to_owned(),
                lablet: lablet["id"].as_str()?.to_owned(),
                lab: lablet["status"]["cml_lab_id"].as_str()?.to_owned(),
            });
        }
        None
    }

    /// Waits until the restarted engine has reached the worker's CML (which answers
    /// only while its simulated instance runs), then reads what runs.
    async fn running_after_restart(&self, ccm: &CcmProcess, before: &Running) -> Running {
        let restarted = chrono::Utc::now();
        within(
            OBSERVED_AGAIN_WITHIN,
            "the worker observed after the restart",
            || async {
                let worker = self
                    .get(ccm, &format!("/api/v1/workers/{}", before.worker))
                    .await?;
                let observed = worker["status"]["metrics"]["cml"]["observed_at"].as_str()?;
                let observed = chrono::DateTime::parse_from_rfc3339(observed).ok()?;
                (observed > restarted).then_some(())
            },
        )
        .await;
        within(
            OBSERVED_AGAIN_WITHIN,
            "the lablet after the restart",
            || self.running(ccm),
        )
        .await
    }
}

/// The lab's state in the saved world, once the file holds it.
fn saved_lab_state(file: &Path, running: &Running) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    let saved: Value = serde_json::from_str(&text).ok()?;
    let state = &saved["world"]["servers"][&running.instance]["labs"][&running.lab]["state"];
    state.as_str().map(str::to_owned)
}

#[tokio::test]
async fn the_demo_fleet_carries_on_after_a_kill_and_after_a_stop() {
    let mut demo = Demo::new();
    demo.create_admin_key().await;
    let mut ccm = CcmProcess::start(&demo.env, &[]).await;
    let started = SystemTime::now();
    let before = within(
        DEMO_READY_WITHIN,
        "a ready demo lablet on a running worker",
        || demo.running(&ccm),
    )
    .await;
    let ready_after = started.elapsed().unwrap_or_default();
    assert!(
        ccm.output().contains("simulated cloud kept in"),
        "{}",
        ccm.output()
    );

    // kill -9: whatever the periodic save wrote is what comes back.
    within(Duration::from_secs(30), "the started lab saved", || async {
        (saved_lab_state(&demo.world_file(), &before).as_deref() == Some("STARTED")).then_some(())
    })
    .await;
    ccm.kill().await;
    ccm.start_again().await;
    let after_kill = demo.running_after_restart(&ccm, &before).await;
    assert_eq!(after_kill, before, "{}", ccm.output());
    assert!(
        ccm.output().contains("simulated cloud restored from"),
        "{}",
        ccm.output()
    );

    // SIGTERM: the graceful stop saves after the engine's last step.
    ccm.stop().await;
    ccm.start_again().await;
    let after_stop = demo.running_after_restart(&ccm, &before).await;
    assert_eq!(after_stop, before, "{}", ccm.output());

    let workers = demo
        .get(&ccm, "/api/v1/workers?include_terminated=true")
        .await
        .unwrap();
    assert_eq!(workers["total"], 3, "the three demo workers: {workers}");
    let terminated = workers["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["status"]["lifecycle"] == "terminated")
        .count();
    assert_eq!(terminated, 0, "{workers}");
    ccm.stop().await;
    println!("demo lablet ready {ready_after:?} after the first start");
}

#[tokio::test]
async fn a_damaged_world_file_stops_the_start_with_its_name_and_the_way_out() {
    let demo = Demo::new();
    std::fs::create_dir_all(demo.world_file().parent().unwrap()).unwrap();
    std::fs::write(demo.world_file(), "{\"format\": 1, \"world\": ").unwrap();
    let mut serve = tokio::process::Command::from(common::ccm_binary());
    serve
        .arg("serve")
        .env("CCM_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in &demo.env {
        serve.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(60), serve.output())
        .await
        .expect("ccm serve exits on its own")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    for part in [
        demo.world_file().display().to_string().as_str(),
        "is damaged",
        "delete this file together with the database",
    ] {
        assert!(stderr.contains(part), "`{part}` missing from: {stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(demo.world_file()).unwrap(),
        "{\"format\": 1, \"world\": ",
        "the file is left for the operator"
    );
}
