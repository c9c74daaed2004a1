//! `ccm doctor`: checks a deployment from the configuration outwards — the
//! configuration, the store, the cloud in each region, the CML of a few running
//! workers, the OIDC issuer — and says for each what is wrong and how to fix it.
//! A check that needs an earlier one that failed is skipped with the reason, and
//! every network call runs under the same timeout, so a silent peer is a finding
//! rather than a hang. The report never carries the configuration's secrets: every
//! text is scrubbed of them before it leaves [`run`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::{doctor_cloud, doctor_cml, doctor_oidc, doctor_store};
use ccm_assembly::config::{self, Config, ConfigErrors};

/// How one check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Works.
    Ok,
    /// Works, but something will bite later.
    Warn,
    /// Does not work.
    Fail,
    /// Not tried: a check it needs failed, or it does not apply.
    Skipped,
}

/// One check's outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// `configuration`, `store`, `cloud`, `cml` or `oidc`.
    pub name: &'static str,
    /// The region or worker a check of several is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// How it came out.
    pub status: Status,
    /// What was found, in plain words.
    pub detail: String,
    /// What to do about a warning or a failure.
    pub fix: Option<String>,
}

impl Check {
    fn new(name: &'static str, status: Status, detail: String, fix: Option<String>) -> Self {
        Self {
            name,
            subject: None,
            status,
            detail,
            fix,
        }
    }

    /// It works.
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self::new(name, Status::Ok, detail.into(), None)
    }

    /// It works, but `fix` should be done.
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Status::Warn, detail.into(), Some(fix.into()))
    }

    /// It does not work until `fix` is done.
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self::new(name, Status::Fail, detail.into(), Some(fix.into()))
    }

    /// Not tried, because of `reason`.
    pub fn skipped(name: &'static str, reason: impl Into<String>) -> Self {
        Self::new(name, Status::Skipped, reason.into(), None)
    }

    /// The same check, about one region or worker.
    pub fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    fn scrubbed(mut self, secrets: &[String]) -> Self {
        for secret in secrets {
            self.detail = self.detail.replace(secret.as_str(), "***");
            self.fix = self.fix.map(|fix| fix.replace(secret.as_str(), "***"));
            self.subject = self.subject.map(|s| s.replace(secret.as_str(), "***"));
        }
        self
    }
}

/// Everything `ccm doctor` found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// True when no check failed (warnings allowed).
    pub ok: bool,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    fn new(checks: Vec<Check>) -> Self {
        Self {
            ok: !checks.iter().any(|c| c.status == Status::Fail),
            checks,
        }
    }

    /// One line per check, an indented `fix:` under each warning and failure, and
    /// a closing count.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for check in &self.checks {
            let mark = match check.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
                Status::Skipped => "skip",
            };
            let title = match &check.subject {
                Some(subject) => format!("{} {subject}", check.name),
                None => check.name.to_owned(),
            };
            let detail = check.detail.replace('\n', "\n      ");
            out.push_str(&format!("{mark}  {title}: {detail}\n"));
            if let Some(fix) = &check.fix {
                out.push_str(&format!(
                    "      fix: {}\n",
                    fix.replace('\n', "\n           ")
                ));
            }
        }
        let count = |status| self.checks.iter().filter(|c| c.status == status).count();
        out.push_str(&format!(
            "{} failed, {} warning(s), {} ok, {} skipped\n",
            count(Status::Fail),
            count(Status::Warn),
            count(Status::Ok),
            count(Status::Skipped)
        ));
        out
    }
}

/// What `ccm doctor` checks and how patiently.
#[derive(Clone, Debug)]
pub struct Options {
    /// The configuration file (the embedded default and `CCM_*` otherwise).
    pub config: Option<PathBuf>,
    /// Running workers whose CML is called, at most.
    pub sample: usize,
    /// Longest wait for each network check.
    pub timeout: Duration,
}

/// Runs every check.
pub async fn run(options: &Options) -> Report {
    let config = match config::load(options.config.as_deref()) {
        Ok(config) => config,
        Err(errors) => return Report::new(unusable_configuration(&errors)),
    };
    let limit = options.timeout;
    let mut checks = vec![Check::ok(
        CONFIGURATION,
        describe_configuration(&config, options.config.as_deref()),
    )];
    let ((store, opened), cloud, oidc) = tokio::join!(
        doctor_store::check(&config, limit),
        doctor_cloud::check(&config, limit),
        doctor_oidc::check(&config, limit),
    );
    checks.push(store);
    checks.extend(cloud);
    checks.extend(doctor_cml::check(&config, opened.as_ref(), options.sample, limit).await);
    checks.push(oidc);
    let secrets = secrets_of(&config);
    Report::new(
        checks
            .into_iter()
            .map(|check| check.scrubbed(&secrets))
            .collect(),
    )
}

/// Runs every check and prints the report, as JSON or text: exit code 0 when
/// nothing failed, 1 otherwise.
pub async fn report(options: &Options, json: bool) -> std::process::ExitCode {
    let report = run(options).await;
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("ccm doctor: {error}"),
        }
    } else {
        print!("{}", report.render());
    }
    if report.ok {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(1)
    }
}

const CONFIGURATION: &str = "configuration";

fn unusable_configuration(errors: &ConfigErrors) -> Vec<Check> {
    let mut detail = format!("{} problem(s):", errors.0.len());
    for problem in &errors.0 {
        detail.push_str(&format!("\n  - {problem}"));
    }
    let reason = "needs a usable configuration";
    vec![
        Check::fail(
            CONFIGURATION,
            detail,
            "edit each field named above in the file or the CCM_* variable that sets it \
             (`ccm config env` lists them), then run `ccm config check`",
        ),
        Check::skipped(doctor_store::NAME, reason),
        Check::skipped(doctor_cloud::NAME, reason),
        Check::skipped(doctor_cml::NAME, reason),
        Check::skipped(doctor_oidc::NAME, reason),
    ]
}

fn describe_configuration(config: &Config, file: Option<&Path>) -> String {
    let source = match file {
        Some(path) => format!("{} and the environment", path.display()),
        None => "the embedded default and the environment".to_owned(),
    };
    format!(
        "{source}: cloud {} in {}, OIDC {}",
        format!("{:?}", config.cloud.provider).to_lowercase(),
        config.cloud.regions.join(", "),
        if config.auth.oidc.is_some() {
            "on"
        } else {
            "off"
        }
    )
}

/// Every secret of `config` that an error text could echo, as written and as it
/// appears percent-encoded or decoded in a URL.
fn secrets_of(config: &Config) -> Vec<String> {
    let mut secrets: Vec<String> = [
        config.cloud.aws.secret_access_key.as_ref(),
        config.cloud.aws.session_token.as_ref(),
        config.cml.password.as_ref(),
        config.cml.licence_token.as_ref(),
        config
            .auth
            .oidc
            .as_ref()
            .and_then(|o| o.client_secret.as_ref()),
    ]
    .into_iter()
    .flatten()
    .map(|s| s.expose().to_owned())
    .collect();
    if let Ok(url) = reqwest::Url::parse(config.database.url.expose().trim()) {
        secrets.extend(url.password().map(str::to_owned));
        secrets.extend(
            url.query_pairs()
                .filter(|(key, _)| key.eq_ignore_ascii_case("password"))
                .map(|(_, value)| value.into_owned()),
        );
    }
    let decoded: Vec<String> = secrets
        .iter()
        .filter_map(|s| reqwest::Url::parse(&format!("x://h/?v={s}")).ok())
        .filter_map(|u| u.query_pairs().next().map(|(_, v)| v.into_owned()))
        .collect();
    secrets.extend(decoded);
    secrets.retain(|s| !s.is_empty());
    // Longest first, so a secret containing another is replaced whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    secrets.dedup();
    secrets
}

/// Why a network check gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TimedOut(pub Duration);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no answer within {} s", self.0.as_secs_f64())
    }
}

/// `work`, abandoned after `limit`.
pub(super) async fn within<T>(
    limit: Duration,
    work: impl Future<Output = T>,
) -> Result<T, TimedOut> {
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| TimedOut(limit))
}

/// A configuration field with the environment variable that sets it:
/// `cml.password (CCM_CML_PASSWORD)`.
pub(super) fn setting(path: &str) -> String {
    match config::ENV_VARS.iter().find(|(_, field, _)| *field == path) {
        Some((name, _, _)) => format!("{path} ({name})"),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use ccm_core::secret::Secret;

    use super::*;

    #[test]
    fn a_failure_makes_the_report_fail_and_warnings_do_not() {
        let warned = Report::new(vec![
            Check::ok("store", "fine"),
            Check::warn("cloud", "no image", "add an owner").about("us-east-1"),
            Check::skipped("cml", "no running worker"),
        ]);
        assert!(warned.ok);
        let failed = Report::new(vec![Check::fail("store", "gone", "start it")]);
        assert!(!failed.ok);
        let text = warned.render();
        assert!(
            text.contains("warn  cloud us-east-1: no image\n      fix: add an owner\n"),
            "{text}"
        );
        assert!(text.contains("skip  cml: no running worker\n"), "{text}");
        assert!(
            text.ends_with("0 failed, 1 warning(s), 1 ok, 1 skipped\n"),
            "{text}"
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"ok": false, "checks": [
                {"name": "store", "status": "fail", "detail": "gone", "fix": "start it"}
            ]})
        );
    }

    #[test]
    fn secrets_are_scrubbed_from_every_text() {
        let mut config = Config::default();
        config.database.url = Secret::new("postgres://ccm:p%40ss@db/ccm");
        config.cml.password = Some(Secret::new("cml-secret"));
        let secrets = secrets_of(&config);
        let check = Check::fail(
            "store",
            "login as ccm:p%40ss (p@ss) failed; cml-secret",
            "not cml-secret",
        )
        .scrubbed(&secrets);
        assert_eq!(check.detail, "login as ccm:*** (***) failed; ***");
        assert_eq!(check.fix.as_deref(), Some("not ***"));
    }

    #[test]
    fn settings_name_their_variable() {
        assert_eq!(setting("cml.password"), "cml.password (CCM_CML_PASSWORD)");
        assert_eq!(setting("no.such.field"), "no.such.field");
    }
}
