//! Configuration: defaults, file + environment (env wins), `*_file` secrets, and
//! `ccm config check` naming the field and the reason of every problem.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use ccm_assembly::config::{load_from, CloudKind, ConfigErrors, Sources};

fn file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ccm.toml");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    (dir, path)
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn problems(sources: &Sources) -> Vec<(String, String)> {
    match load_from(sources) {
        Ok(_) => Vec::new(),
        Err(ConfigErrors(list)) => list.into_iter().map(|p| (p.path, p.reason)).collect(),
    }
}

fn has(problems: &[(String, String)], path: &str, reason_part: &str) -> bool {
    problems
        .iter()
        .any(|(p, r)| p == path && r.contains(reason_part))
}

#[test]
fn no_configuration_is_the_embedded_default() {
    let config = load_from(&Sources::default()).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8020");
    assert_eq!(config.database.url.expose(), "sqlite://ccm-data/ccm.db");
    assert_eq!(config.cloud.provider, CloudKind::Sim);
    assert!(config.cloud.sim.seed_demo);
    assert!(
        config.cloud.sim.boot_seconds <= 60,
        "workers boot within a minute"
    );
    assert_eq!(config.server.sse_heartbeat_seconds, 30);
    assert_eq!(
        config.auth.oidc, None,
        "no [auth.oidc] table appears by itself"
    );
    assert!(!config.cookie_secure());
}

#[test]
fn the_browser_login_is_configured_from_the_environment() {
    let config = load_from(&Sources {
        file: None,
        env: env(&[
            ("CCM_OIDC_ISSUER", "https://sso.example.com/realms/ccm"),
            ("CCM_OIDC_AUDIENCE", "ccm"),
            ("CCM_OIDC_CLIENT_ID", "ccm-web"),
            ("CCM_OIDC_CLIENT_SECRET", "s3cret"),
        ]),
    })
    .unwrap();
    let oidc = config.auth.oidc.unwrap();
    assert_eq!(oidc.client_id.as_deref(), Some("ccm-web"));
    assert_eq!(oidc.client_secret.unwrap().expose(), "s3cret");
    assert_eq!(oidc.role_claim, "realm_access.roles");
}

#[test]
fn every_simulator_duration_is_reachable_from_the_environment() {
    let config = load_from(&Sources {
        file: None,
        env: env(&[
            ("CCM_SIM_BOOT_SECONDS", "11"),
            ("CCM_SIM_CML_BOOT_SECONDS", "12"),
            ("CCM_SIM_NODE_BOOT_SECONDS", "13"),
            ("CCM_SIM_STOP_SECONDS", "14"),
            ("CCM_SIM_TERMINATE_SECONDS", "15"),
            ("CCM_SIM_STATUS_INIT_SECONDS", "16"),
            ("CCM_SIM_LICENSED_AT_LAUNCH", "false"),
            ("CCM_SIM_DEMO_WORKERS", "5"),
            ("CCM_SIM_TIME_SCALE", "240"),
            ("CCM_SIM_CLOCK_ORIGIN", "2026-12-04T10:00:00Z"),
        ]),
    })
    .unwrap();
    let sim = &config.cloud.sim;
    assert_eq!(
        (
            sim.boot_seconds,
            sim.cml_boot_seconds,
            sim.node_boot_seconds,
            sim.stop_seconds,
            sim.terminate_seconds,
            sim.status_init_seconds,
        ),
        (11, 12, 13, 14, 15, 16)
    );
    assert!(!sim.licensed_at_launch);
    assert_eq!(sim.demo_workers, 5);
    assert_eq!(sim.time_scale, 240.0);
    assert_eq!(
        sim.clock_origin.map(|t| t.to_rfc3339()).as_deref(),
        Some("2026-12-04T10:00:00+00:00")
    );
    // The served engine reads that clock: an origin a minute ago at 240 times
    // stands four hours later.
    let mut fast = config.clone();
    let origin = chrono::Utc::now() - chrono::Duration::seconds(60);
    fast.cloud.sim.clock_origin = Some(origin);
    let now = ccm_core::ports::Clock::now(&*ccm_assembly::cloud::serve_clock(&fast));
    let ahead = (now - origin).num_seconds();
    assert!((14_400..14_400 + 240 * 30).contains(&ahead), "{ahead} s");
}

#[test]
fn the_environment_wins_over_the_file() {
    let (_dir, path) = file(
        "[server]\nlisten = \"0.0.0.0:1000\"\n[cloud]\nregions = [\"eu-west-1\"]\n[cloud.sim]\nseed = 1\n",
    );
    let config = load_from(&Sources {
        file: Some(path),
        env: env(&[
            ("CCM_LISTEN", "127.0.0.1:9999"),
            ("CCM_CLOUD_REGIONS", "us-east-1, us-east-2"),
            ("CCM_SIM_SEED_DEMO", "off"),
            ("CCM_CONFIG", "ignored-by-the-loader"),
        ]),
    })
    .unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:9999");
    assert_eq!(config.cloud.regions, vec!["us-east-1", "us-east-2"]);
    assert_eq!(
        config.cloud.sim.seed, 1,
        "the file's value where env says nothing"
    );
    assert!(!config.cloud.sim.seed_demo);
}

#[test]
fn secrets_come_from_files_and_never_show_in_debug() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("password");
    std::fs::write(&secret, "hunter2\n").unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "licence-xyz").unwrap();
    let (_d, path) = file(&format!(
        "[cml]\npassword_file = \"{}\"\n",
        secret.display()
    ));
    let config = load_from(&Sources {
        file: Some(path.clone()),
        env: env(&[("CCM_CML_LICENCE_TOKEN_FILE", token.to_str().unwrap())]),
    })
    .unwrap();
    assert_eq!(config.cml.password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(
        config.cml.licence_token.as_ref().unwrap().expose(),
        "licence-xyz"
    );
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("hunter2") && !debug.contains("licence-xyz"),
        "{debug}"
    );

    // Both a value and a file: refused, naming both.
    let found = problems(&Sources {
        file: Some(path),
        env: env(&[
            ("CCM_CML_PASSWORD", "a"),
            ("CCM_CML_PASSWORD_FILE", secret.to_str().unwrap()),
        ]),
    });
    assert!(
        has(&found, "CCM_CML_PASSWORD (cml.password)", "not both"),
        "{found:?}"
    );
    // A missing file.
    let (_d, path) = file("[cml]\npassword_file = \"/nonexistent/pw\"\n");
    let found = problems(&Sources {
        file: Some(path),
        env: BTreeMap::new(),
    });
    assert!(
        has(&found, "cml.password_file", "cannot read `/nonexistent/pw`"),
        "{found:?}"
    );
}

#[test]
fn every_problem_names_its_field_and_reason() {
    let (_d, path) = file(
        r#"
[server]
listen = "localhost"
body_limit_bytes = 10
public_url = "ftp://x"
sse_buffer_events = 100000
[database]
url = "mysql://db"
[cloud]
regions = []
[cloud.launch]
instance_type = "t3.nano"
[cloud.sim]
time_scale = 0.5
[engine]
cpu_alert_percent = 150.0
lease_seconds = 5
lease_renew_seconds = 5
cml_concurrency = 0
[auth.oidc]
issuer = "http://keycloak.example.com/realms/x"
audience = ""
role_claim = "realm_access..roles"
[log]
level = "[[["
"#,
    );
    let found = problems(&Sources {
        file: Some(path),
        env: BTreeMap::new(),
    });
    for (path, reason) in [
        ("server.listen", "not a socket address"),
        ("server.body_limit_bytes", "at least 1024"),
        ("server.public_url", "http:// or https://"),
        ("server.sse_buffer_events", "at most 65536"),
        ("engine.cml_concurrency", "outside 1–1024"),
        ("cloud.sim.time_scale", "from 1 (real time) to 3600"),
        ("database.url", "must be `sqlite://"),
        ("cloud.regions", "at least one region"),
        ("cloud.launch.instance_type", "not in the price table"),
        ("engine.cpu_alert_percent", "not a percentage"),
        (
            "engine.lease_renew_seconds",
            "shorter than engine.lease_seconds",
        ),
        ("auth.oidc.issuer", "must use https"),
        ("auth.oidc.audience", "must name the audience"),
        ("auth.oidc.role_claim", "dotted claim path"),
        ("log.level", "not a log filter"),
    ] {
        assert!(
            has(&found, path, reason),
            "missing {path}: {reason} in {found:?}"
        );
    }
}

#[test]
fn shape_errors_name_the_path() {
    let (_d, path) = file("[server]\nbody_limit_bytes = \"lots\"\n");
    let found = problems(&Sources {
        file: Some(path),
        env: BTreeMap::new(),
    });
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "server.body_limit_bytes");
    let (_d, path) = file("[server]\nlisten_on = \"x\"\n");
    let found = problems(&Sources {
        file: Some(path),
        env: BTreeMap::new(),
    });
    assert!(
        has(&found, "server.listen_on", "unknown field `listen_on`"),
        "{found:?}"
    );
    let (_d, path) = file("[cloud]\nprovider = \"gcp\"\n");
    let found = problems(&Sources {
        file: Some(path),
        env: BTreeMap::new(),
    });
    assert!(
        has(&found, "cloud.provider", "unknown variant `gcp`"),
        "{found:?}"
    );
    let (_d, path) = file("this is = = not toml");
    let found = problems(&Sources {
        file: Some(path.clone()),
        env: BTreeMap::new(),
    });
    assert!(
        has(&found, &path.display().to_string(), "not valid TOML"),
        "{found:?}"
    );
}

#[test]
fn environment_mistakes_name_the_variable_and_the_field() {
    let found = problems(&Sources {
        file: None,
        env: env(&[
            ("CCM_SIM_SEED", "forty-two"),
            ("CCM_ADMIN_LOGIN_LINK", "perhaps"),
            ("CCM_LISTN", "127.0.0.1:1"),
        ]),
    });
    assert!(
        has(&found, "CCM_SIM_SEED (cloud.sim.seed)", "not an integer"),
        "{found:?}"
    );
    assert!(
        has(
            &found,
            "CCM_ADMIN_LOGIN_LINK (server.admin_login_link)",
            "not a boolean"
        ),
        "{found:?}"
    );
    assert!(
        has(&found, "CCM_LISTN", "unknown environment variable"),
        "{found:?}"
    );
}

#[test]
fn aws_needs_cml_credentials_and_consistent_keys() {
    let found = problems(&Sources {
        file: None,
        env: env(&[
            ("CCM_CLOUD", "aws"),
            ("CCM_AWS_ACCESS_KEY_ID", "AKIA"),
            ("CCM_AWS_ENDPOINT_URL", "not a url"),
        ]),
    });
    assert!(
        has(&found, "cml.password", "required with cloud.provider"),
        "{found:?}"
    );
    assert!(
        has(&found, "cloud.aws.secret_access_key", "required when"),
        "{found:?}"
    );
    assert!(
        has(&found, "cloud.aws.endpoint_url", "not a URL"),
        "{found:?}"
    );
}

#[test]
fn ccm_config_check_prints_the_problems_and_fails() {
    let (_d, path) = file("[server]\nlisten = \"nowhere\"\n");
    let output = crate::common::ccm_binary()
        .args(["config", "check", "--config"])
        .arg(&path)
        .env_remove("CCM_CONFIG")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server.listen: `nowhere` is not a socket address"),
        "{stderr}"
    );
    let (_d, path) = file("[server]\nlisten = \"127.0.0.1:8021\"\n");
    let output = crate::common::ccm_binary()
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("configuration OK"));
}
