//! `ccm doctor` as an operator runs it: the real binary in a directory of its
//! own, against the embedded default, a missing PostgreSQL database, moto with
//! and without a matching image, nothing listening, CML simulators behind stored
//! workers, and OIDC issuers that answer, disagree or stay silent.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use ccm_aws::testing::{MotoServer, NEWEST_CML_IMAGE};
use ccm_core::ids::{Region, WorkerId};
use ccm_core::ports::store::ChangeSet;
use ccm_core::ports::Store;
use ccm_core::resources::Resources;
use ccm_core::worker::{Capacity, LifecycleState, NewWorker, Worker};
use ccm_sim::http::{CmlHttpOptions, CmlHttpServer};
use serde_json::Value;

use crate::common;
use crate::processes::{free_port, server_url};
use crate::sec_login::fake_idp;

/// What one run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
    }

    /// The checks called `name`.
    fn checks(&self, name: &str) -> Vec<Value> {
        self.json()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["name"] == name)
            .cloned()
            .collect()
    }

    /// The one check called `name`.
    fn check(&self, name: &str) -> Value {
        let found = self.checks(name);
        assert_eq!(found.len(), 1, "one `{name}` check: {}", self.stdout);
        found.into_iter().next().unwrap()
    }

    fn status(&self, name: &str) -> String {
        self.check(name)["status"].as_str().unwrap().to_owned()
    }

    fn never_shows(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "`{secret}` was printed:\n{}\n{}",
            self.stdout,
            self.stderr
        );
    }
}

/// `ccm doctor ARGS` in `dir`, with `env` and `config.toml` from `dir` when present.
async fn doctor(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = tokio::process::Command::from(common::ccm_binary());
    command.current_dir(dir).arg("doctor").args(args);
    let file = dir.join("config.toml");
    if file.exists() {
        command.arg("--config").arg(file);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().await.unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_on_the_embedded_default() {
    let dir = tempfile::tempdir().unwrap();
    let run = doctor(dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["ok"], true);
    for ok in ["configuration", "store", "cloud"] {
        assert_eq!(run.status(ok), "ok", "{}", run.stdout);
    }
    assert!(run.check("store")["detail"]
        .as_str()
        .unwrap()
        .contains("SQLite at ccm-data/ccm.db: schema version"));
    assert!(run.check("cloud")["detail"]
        .as_str()
        .unwrap()
        .starts_with("simulated fleet"));
    for skipped in ["cml", "oidc"] {
        assert_eq!(run.status(skipped), "skipped", "{}", run.stdout);
    }

    let text = doctor(dir.path(), &[], &[]).await;
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.starts_with("ok    configuration: "),
        "{}",
        text.stdout
    );
    assert!(text
        .stdout
        .contains("\nskip  oidc: auth.oidc is not configured"));
    assert!(text
        .stdout
        .ends_with("0 failed, 0 warning(s), 3 ok, 2 skipped\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_skips_everything_else() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[server]\nlisten = \"nowhere\"\n",
    )
    .unwrap();
    let run = doctor(dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 1);
    let config = run.check("configuration");
    assert_eq!(config["status"], "fail");
    assert!(config["detail"]
        .as_str()
        .unwrap()
        .contains("server.listen: `nowhere`"));
    assert!(config["fix"].as_str().unwrap().contains("ccm config check"));
    for later in ["store", "cloud", "cml", "oidc"] {
        assert_eq!(run.status(later), "skipped");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_postgres_database_fails_the_store_without_showing_the_password() {
    let mut url = reqwest::Url::parse(&server_url()).unwrap();
    let password = match url.password() {
        Some(own) => own.to_owned(),
        None => {
            // The test server trusts local connections: any password gets through
            // to the "no such database" answer.
            url.set_password(Some("doctor-hunter2")).unwrap();
            "doctor-hunter2".to_owned()
        }
    };
    url.set_path(&format!(
        "ccm_doctor_missing_{}",
        uuid::Uuid::new_v4().simple()
    ));
    let dir = tempfile::tempdir().unwrap();
    let env = [("CCM_DATABASE_URL", url.as_str())];
    let run = doctor(dir.path(), &["--json"], &env).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["ok"], false);
    let store = run.check("store");
    assert_eq!(store["status"], "fail");
    let detail = store["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("PostgreSQL at ") && detail.contains("does not exist"),
        "{detail}"
    );
    assert!(store["fix"].as_str().unwrap().contains("createdb"));
    assert_eq!(
        run.status("cloud"),
        "ok",
        "the simulated cloud needs no store"
    );
    run.never_shows(&password);
    let text = doctor(dir.path(), &[], &env).await;
    assert!(
        text.stdout.contains("FAIL  store: PostgreSQL at "),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("      fix: create the database"));
    text.never_shows(&password);
}

const AWS_SECRET: &str = "doctor-aws-secret";
const CML_SECRET: &str = "doctor-cml-secret";
/// The CML simulators' password, which the good configuration knows.
const CML_GOOD: &str = "doctor-cml-good";

/// An AWS configuration in `dir` against `endpoint`, one attempt per call.
fn aws_config(dir: &Path, endpoint: &str, pattern: &str, cml_password: &str) {
    let text = format!(
        "[database]\nurl = \"sqlite://{db}\"\n\
         [cloud]\nprovider = \"aws\"\nregions = [\"us-east-1\"]\n\
         [cloud.launch]\nimage_name_pattern = \"{pattern}\"\n\
         [cloud.aws]\nendpoint_url = \"{endpoint}\"\naccess_key_id = \"testing\"\n\
         secret_access_key = \"{AWS_SECRET}\"\nmax_attempts = 1\n\
         [cml]\npassword = \"{cml_password}\"\nendpoint_allow = [\"127.0.0.1/32\"]\n",
        db = dir.join("ccm.db").display(),
    );
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_on_moto_finds_the_image_names_image_owners_and_unreachable_endpoints() {
    let moto = MotoServer::start()
        .await
        .expect("moto (run scripts/setup-python)");
    let dir = tempfile::tempdir().unwrap();

    aws_config(dir.path(), &moto.endpoint(), "cml-2.9*", CML_SECRET);
    let found = doctor(dir.path(), &["--json"], &[]).await;
    assert_eq!(found.code, 0, "{}\n{}", found.stdout, found.stderr);
    let cloud = found.check("cloud");
    assert_eq!(
        (&cloud["status"], &cloud["subject"]),
        (&"ok".into(), &"us-east-1".into())
    );
    assert!(
        cloud["detail"].as_str().unwrap().contains(NEWEST_CML_IMAGE),
        "{cloud}"
    );
    assert_eq!(found.status("cml"), "skipped");
    assert!(found.check("cml")["detail"]
        .as_str()
        .unwrap()
        .contains("no worker is running"));

    // A partner's image, shared with this account but not among its owners.
    aws_config(dir.path(), &moto.endpoint(), "partner-cml-*", CML_SECRET);
    let shared = doctor(dir.path(), &["--json"], &[]).await;
    assert_eq!(
        shared.code, 0,
        "a missing image is a warning: {}",
        shared.stdout
    );
    let cloud = shared.check("cloud");
    assert_eq!(cloud["status"], "warn");
    assert!(
        cloud["detail"].as_str().unwrap().contains("[self]"),
        "{cloud}"
    );
    assert!(
        cloud["fix"]
            .as_str()
            .unwrap()
            .contains("cloud.aws.image_owners"),
        "{cloud}"
    );

    let nowhere = format!("http://127.0.0.1:{}", free_port());
    aws_config(dir.path(), &nowhere, "cml-2.9*", CML_SECRET);
    let down = doctor(dir.path(), &["--json"], &[]).await;
    assert_eq!(down.code, 1, "{}", down.stdout);
    let cloud = down.check("cloud");
    assert_eq!(cloud["status"], "fail");
    assert!(
        cloud["detail"].as_str().unwrap().contains("unreachable"),
        "{cloud}"
    );
    let fix = cloud["fix"].as_str().unwrap();
    assert!(
        fix.contains(&nowhere) && fix.contains("cloud.aws.endpoint_url"),
        "{fix}"
    );
    for run in [&found, &shared, &down] {
        run.never_shows(AWS_SECRET);
        run.never_shows(CML_SECRET);
    }
}

/// A running worker whose CML answers at `endpoint`.
fn running_worker(n: u128, name: &str, endpoint: &str) -> ChangeSet {
    let (mut worker, created) = Worker::create(
        WorkerId::from_u128(n),
        NewWorker {
            name: name.into(),
            region: Region::new("us-east-1"),
            instance_type: "m5zn.metal".into(),
            capacity: Capacity::new(Resources::ZERO, 0),
            tags: BTreeMap::new(),
            labels: BTreeMap::new(),
            idle: Default::default(),
            created_by: None,
            image: None,
        },
        chrono::Utc::now(),
    );
    worker.status.lifecycle = LifecycleState::Running;
    worker.network.endpoint = Some(endpoint.into());
    ChangeSet::new().put_worker(worker).events([created])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_calls_a_sample_of_running_workers_and_never_a_refused_endpoint() {
    let moto = MotoServer::start()
        .await
        .expect("moto (run scripts/setup-python)");
    let cml = CmlHttpServer::start(CmlHttpOptions {
        password: ccm_core::secret::Secret::new(CML_GOOD),
        ..CmlHttpOptions::default()
    })
    .await
    .unwrap();
    // Loopback, but outside the allow-list (127.0.0.1/32) and no worker's own address.
    let bait = std::net::TcpListener::bind("127.0.0.2:0").unwrap();
    bait.set_nonblocking(true).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ccm.db").display());
    let store = ccm_store_sqlite::SqliteStore::open(&db).await.unwrap();
    for changes in [
        running_worker(1, "cml-a", cml.base_url()),
        running_worker(2, "cml-b", cml.base_url()),
        running_worker(
            3,
            "lured",
            &format!("http://{}", bait.local_addr().unwrap()),
        ),
    ] {
        store.commit(changes).await.unwrap();
    }
    store.close().await;

    aws_config(dir.path(), &moto.endpoint(), "cml-2.9*", CML_GOOD);
    let run = doctor(dir.path(), &["--json"], &[]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let cml_checks = run.checks("cml");
    let called: Vec<&Value> = cml_checks.iter().filter(|c| c["status"] == "ok").collect();
    assert_eq!(called.len(), 2, "{}", run.stdout);
    assert!(called[0]["subject"]
        .as_str()
        .unwrap()
        .contains(cml.base_url()));
    assert!(
        called[0]["detail"]
            .as_str()
            .unwrap()
            .starts_with("logged in as `admin`"),
        "{}",
        run.stdout
    );
    run.never_shows(CML_GOOD);
    let refused = cml_checks.iter().find(|c| c["status"] == "warn").unwrap();
    let detail = refused["detail"].as_str().unwrap();
    assert!(
        detail.contains("lured") && detail.contains("nothing was sent"),
        "{detail}"
    );
    assert!(refused["fix"]
        .as_str()
        .unwrap()
        .contains("cml.endpoint_allow"));

    aws_config(dir.path(), &moto.endpoint(), "cml-2.9*", CML_SECRET);
    let wrong = doctor(dir.path(), &["--json", "--sample", "1"], &[]).await;
    assert_eq!(wrong.code, 1, "{}", wrong.stdout);
    let failed: Vec<Value> = wrong
        .checks("cml")
        .into_iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert_eq!(
        failed.len(),
        1,
        "--sample 1 calls one worker: {}",
        wrong.stdout
    );
    assert!(failed[0]["detail"]
        .as_str()
        .unwrap()
        .contains("refused the credentials"));
    assert!(failed[0]["fix"]
        .as_str()
        .unwrap()
        .contains("CCM_CML_PASSWORD"));
    wrong.never_shows(CML_SECRET);

    // Both runs are over: a connection from either would be waiting here.
    assert_eq!(
        bait.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "the refused endpoint was called"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_issuers_that_answer_disagree_or_stay_silent() {
    let idp = fake_idp::start().await;
    let dir = tempfile::tempdir().unwrap();
    let oidc = |issuer: &str| {
        [
            ("CCM_OIDC_ISSUER", issuer.to_owned()),
            ("CCM_OIDC_AUDIENCE", fake_idp::API_AUDIENCE.to_owned()),
            ("CCM_OIDC_CLIENT_ID", fake_idp::CLIENT_ID.to_owned()),
        ]
    };
    let run_with = |issuer: String, args: &'static [&'static str]| {
        let dir = dir.path().to_owned();
        async move {
            let env = oidc(&issuer);
            let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
            doctor(&dir, args, &env).await
        }
    };

    let answered = run_with(idp.issuer.clone(), &["--json"]).await;
    assert_eq!(answered.code, 0, "{}\n{}", answered.stdout, answered.stderr);
    let check = answered.check("oidc");
    assert_eq!(check["status"], "ok", "{check}");
    assert!(
        check["detail"].as_str().unwrap().contains("1 key(s)"),
        "{check}"
    );

    let slash = run_with(format!("{}/", idp.issuer), &["--json"]).await;
    assert_eq!(slash.code, 1);
    let check = slash.check("oidc");
    assert_eq!(check["status"], "fail");
    assert!(check["fix"]
        .as_str()
        .unwrap()
        .contains(&format!("`{}` exactly", idp.issuer)));

    let refused = run_with(format!("http://127.0.0.1:{}", free_port()), &["--json"]).await;
    assert_eq!(refused.code, 1);
    let check = refused.check("oidc");
    assert_eq!(check["status"], "fail");
    assert!(check["fix"]
        .as_str()
        .unwrap()
        .contains("auth.oidc.issuer (CCM_OIDC_ISSUER)"));

    // Accepts connections and never answers: the timeout ends the check.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let hung = run_with(issuer, &["--json", "--timeout", "1"]).await;
    assert_eq!(hung.code, 1);
    assert_eq!(hung.status("oidc"), "fail", "{}", hung.stdout);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the timeout did not end the check"
    );
    held.abort();
}
