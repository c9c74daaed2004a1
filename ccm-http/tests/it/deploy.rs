//! The deployment recipes under `deploy/`, checked without a cluster or a
//! container engine: the Kubernetes base renders (`kubectl kustomize`) with two
//! replicas, probes on `/livez` and `/readyz`, a non-root read-only container and
//! secrets only by reference; the systemd unit passes `systemd-analyze verify`;
//! the compose file runs two replicas on PostgreSQL behind health checks; the
//! Containerfile runs as a fixed non-root user with a `ccm probe` health check.
//! Every `CCM_*` variable a recipe sets is one `ccm config check` accepts, and
//! every `ccm` command line a recipe runs is one the binary parses.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::Method;
use ccm_assembly::config::{ENV_VARS, PASSTHROUGH_ENV_VARS};
use ccm_http::api::routes::access;
use ccm_http::api::system::READY_WITHIN;
use ccm_http::auth::Access;
use serde::Deserialize;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A tool the test needs: missing, the test fails saying what to install (the
/// project's machines have all three: kubectl from google-cloud-cli, systemd).
fn tool(name: &str, install: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not on PATH; this test needs it ({install})"))
}

fn yaml_to_json(mut value: serde_norway::Value) -> Value {
    value.apply_merge().unwrap();
    serde_json::to_value(value).unwrap()
}

/// Each document of a YAML stream.
fn documents(text: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| yaml_to_json(serde_norway::Value::deserialize(doc).unwrap()))
        .filter(|doc| !doc.is_null())
        .collect()
}

/// Whether `name` is a variable `ccm` reads, and whether it holds a secret.
fn variable(name: &str) -> Option<bool> {
    if PASSTHROUGH_ENV_VARS.contains(&name) {
        return Some(false);
    }
    let secret = |kind: &dyn std::fmt::Debug| format!("{kind:?}") == "Secret";
    if let Some((_, _, kind)) = ENV_VARS.iter().find(|(n, _, _)| *n == name) {
        return Some(secret(kind));
    }
    // A secret's file variant names a path, not the secret.
    let base = name.strip_suffix("_FILE")?;
    ENV_VARS
        .iter()
        .find(|(n, _, kind)| *n == base && secret(kind))
        .map(|_| false)
}

/// `ccm config check` with exactly these variables (and a scratch working
/// directory): every name known, every value valid.
fn config_check(what: &str, vars: &BTreeMap<String, String>) {
    let dir = tempfile::tempdir().unwrap();
    let output = common::ccm_binary()
        .args(["config", "check"])
        .envs(vars)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{what}: `ccm config check` refuses {vars:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `ccm` with `args` (a recipe's probe) against a port nothing listens on:
/// exit code 1 says the command line parsed and the probe failed (a usage error
/// would be 2).
fn probe_command_parses(what: &str, args: &[&str]) {
    let port = crate::processes::free_port();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.replace(":8020", &format!(":{port}")))
        .collect();
    let url_given = args.iter().any(|a| a == "--url");
    let mut command = common::ccm_binary();
    command.args(&args);
    if !url_given {
        command.env("CCM_SERVER", format!("http://127.0.0.1:{port}"));
    }
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{what}: {args:?}: {stderr}");
    assert!(stderr.starts_with("ccm probe: "), "{what}: {stderr}");
}

/// A stand-in for a secret the recipe takes from elsewhere.
fn stand_in(name: &str) -> &'static str {
    if name.to_ascii_lowercase().contains("database") {
        "postgres://ccm:x@db.invalid/ccm"
    } else {
        "stand-in-secret"
    }
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = docs.iter().filter(|d| d["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind}");
    found[0]
}

#[test]
fn the_kubernetes_base_renders_with_probes_non_root_and_no_literal_secrets() {
    let kubectl = tool("kubectl", "apt-get install kubectl or google-cloud-cli");
    let output = Command::new(kubectl)
        .arg("kustomize")
        .arg(root().join("deploy/kubernetes/base"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "kubectl kustomize: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let docs = documents(&String::from_utf8(output.stdout).unwrap());
    let kinds: BTreeSet<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            "ConfigMap",
            "Deployment",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
            "ServiceMonitor"
        ]),
        "no Secret is shipped: the operator creates them"
    );

    let deployment = of_kind(&docs, "Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(pod["securityContext"]["runAsUser"].as_u64().unwrap() > 0);
    let account = of_kind(&docs, "ServiceAccount");
    assert_eq!(pod["serviceAccountName"], account["metadata"]["name"]);
    assert_eq!(pod["automountServiceAccountToken"], false);
    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let ccm = &containers[0];
    let security = &ccm["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(ccm["resources"]["requests"]["memory"].is_string());
    assert!(ccm["resources"]["limits"]["memory"].is_string());
    assert_eq!(ccm["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(ccm["readinessProbe"]["httpGet"]["path"], "/readyz");
    let readiness_timeout = ccm["readinessProbe"]["timeoutSeconds"].as_u64().unwrap();
    assert!(
        readiness_timeout > READY_WITHIN.as_secs(),
        "the kubelet must wait longer than /readyz waits for the store"
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        let path = ccm[probe]["httpGet"]["path"].as_str().unwrap();
        assert_eq!(
            access(&Method::GET, path),
            Some(Access::Public),
            "{probe}: the kubelet sends no credentials"
        );
    }

    // Environment: the ConfigMap's settings plus secrets by reference only.
    let config = of_kind(&docs, "ConfigMap");
    assert_eq!(
        ccm["envFrom"][0]["configMapRef"]["name"],
        config["metadata"]["name"]
    );
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in config["data"].as_object().unwrap() {
        assert_eq!(
            variable(name),
            Some(false),
            "ConfigMap: `{name}` must be a known, non-secret variable"
        );
        vars.insert(name.clone(), value.as_str().unwrap().to_owned());
    }
    let mut secrets = 0;
    for entry in ccm["env"].as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        let secret = variable(name).unwrap_or_else(|| panic!("unknown variable `{name}`"));
        if secret {
            assert!(
                entry.get("value").is_none(),
                "`{name}` must not be a literal: {entry}"
            );
            assert!(
                entry["valueFrom"]["secretKeyRef"]["name"].is_string(),
                "`{name}` comes from a Secret: {entry}"
            );
            secrets += 1;
            vars.insert(name.to_owned(), stand_in(name).into());
        } else if let Some(value) = entry["value"].as_str() {
            vars.insert(name.to_owned(), value.to_owned());
        }
    }
    assert!(
        secrets >= 2,
        "the database URL and CML password come from a Secret"
    );
    config_check("the Kubernetes Deployment", &vars);

    // The container port is the one ccm listens on, and the Service targets it.
    let port = &ccm["ports"][0];
    let listen = vars.get("CCM_LISTEN").expect("CCM_LISTEN is set");
    assert!(listen.ends_with(&format!(":{}", port["containerPort"])));
    let service = of_kind(&docs, "Service");
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selects = |selector: &Value| {
        selector
            .as_object()
            .unwrap()
            .iter()
            .all(|(k, v)| labels[k] == *v)
    };
    assert!(selects(&service["spec"]["selector"]));

    let pdb = of_kind(&docs, "PodDisruptionBudget");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"]));

    // /metrics needs a credential, so the scrape carries one, from a Secret.
    let monitor = of_kind(&docs, "ServiceMonitor");
    assert_eq!(monitor["apiVersion"], "monitoring.coreos.com/v1");
    assert!(selects(&monitor["spec"]["selector"]["matchLabels"]));
    let endpoint = &monitor["spec"]["endpoints"][0];
    assert_eq!(endpoint["path"], "/metrics");
    assert_eq!(endpoint["port"], service["spec"]["ports"][0]["name"]);
    assert_ne!(access(&Method::GET, "/metrics"), Some(Access::Public));
    assert_eq!(endpoint["authorization"]["type"], "Bearer");
    assert!(endpoint["authorization"]["credentials"]["name"].is_string());
    assert!(endpoint["authorization"]["credentials"]["key"].is_string());
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened() {
    let analyze = tool("systemd-analyze", "apt-get install systemd");
    let unit = read("deploy/systemd/ccm.service");
    let exec = "ExecStart=/usr/local/bin/ccm serve";
    assert!(unit.lines().any(|l| l == exec), "{exec}");
    for line in [
        "DynamicUser=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "StateDirectory=ccm",
        "Restart=on-failure",
        "CapabilityBoundingSet=",
    ] {
        assert!(unit.lines().any(|l| l == line), "ccm.service lacks {line}");
    }
    // verify checks that ExecStart exists: point it at the binary under test.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("ccm.service");
    let binary = env!("CARGO_BIN_EXE_ccm");
    std::fs::write(
        &copy,
        unit.replace(exec, &format!("ExecStart={binary} serve")),
    )
    .unwrap();
    let output = Command::new(analyze)
        .arg("verify")
        .arg(&copy)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("ccm.service"),
        "no warning about the unit (unknown keys or values): {stderr}"
    );

    // The environment the unit gives: its Environment= lines and the example file.
    let mut vars = BTreeMap::new();
    for line in unit.lines() {
        if let Some(credential) = line.strip_prefix("LoadCredential=") {
            let (id, _) = credential.split_once(':').unwrap();
            std::fs::write(dir.path().join(id), stand_in(id)).unwrap();
        }
        if let Some(assignment) = line.strip_prefix("Environment=") {
            let (name, value) = assignment.split_once('=').unwrap();
            assert_eq!(variable(name), Some(false), "{line}");
            // %d is the unit's credentials directory.
            let value = value.replace("%d", dir.path().to_str().unwrap());
            vars.insert(name.to_owned(), value);
        }
    }
    assert!(vars.contains_key("CCM_DATABASE_URL_FILE"));
    for line in read("deploy/systemd/ccm.env.example").lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once('=').unwrap();
        assert_eq!(variable(name), Some(false), "ccm.env.example: {line}");
        vars.insert(name.to_owned(), value.to_owned());
    }
    config_check("the systemd unit", &vars);
}

#[test]
fn the_compose_file_runs_two_replicas_on_postgres_behind_health_checks() {
    let compose = documents(&read("deploy/compose/compose.yaml"));
    assert_eq!(compose.len(), 1);
    let services = compose[0]["services"].as_object().unwrap();
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    assert_eq!(names, BTreeSet::from(["ccm-1", "ccm-2", "postgres"]));
    let postgres = &services["postgres"];
    assert!(postgres["image"].as_str().unwrap().contains("postgres"));
    assert!(postgres["healthcheck"]["test"]
        .to_string()
        .contains("pg_isready"));

    let example = read("deploy/compose/.env.example");
    let defaults: BTreeMap<&str, &str> = example
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_once('=').unwrap())
        .collect();
    let substitute = |text: &str| -> String {
        // `${NAME}`, `${NAME:-default}` and `${NAME:?message}` from .env.example.
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let inner = &rest[start + 2..end];
            let name = inner.split([':', '-', '?']).next().unwrap();
            let value = defaults
                .get(name)
                .map(|v| (*v).to_owned())
                .or_else(|| inner.split_once(":-").map(|(_, d)| d.to_owned()))
                .unwrap_or_else(|| panic!(".env.example lacks {name}"));
            out.push_str(&value);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    };

    for name in ["ccm-1", "ccm-2"] {
        let ccm = &services[name];
        assert_eq!(
            ccm["depends_on"]["postgres"]["condition"], "service_healthy",
            "{name}"
        );
        let test: Vec<&str> = ccm["healthcheck"]["test"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            test[0], "CMD",
            "{name}: exec form (the image has no shell tools)"
        );
        assert_eq!(test[1], "ccm", "{name}");
        assert!(test.contains(&"readyz"), "{name}: {test:?}");
        probe_command_parses(name, &test[2..]);
        assert_eq!(ccm["read_only"], true, "{name}");
        // Built from the repository root, as the Containerfile expects.
        let context = root()
            .join("deploy/compose")
            .join(ccm["build"]["context"].as_str().unwrap());
        assert_eq!(
            context.canonicalize().unwrap(),
            root().canonicalize().unwrap()
        );
        let dockerfile = ccm["build"]["dockerfile"].as_str().unwrap();
        assert!(context.join(dockerfile).is_file(), "{dockerfile}");

        let mut vars = BTreeMap::new();
        for (var, value) in ccm["environment"].as_object().unwrap() {
            assert!(variable(var).is_some(), "{name}: unknown variable `{var}`");
            vars.insert(var.clone(), substitute(value.as_str().unwrap()));
        }
        let url = &vars["CCM_DATABASE_URL"];
        assert!(
            url.starts_with("postgres://") && url.contains("@postgres:5432/"),
            "{url}"
        );
        config_check(name, &vars);
    }
    assert_eq!(
        services["ccm-2"]["depends_on"]["ccm-1"]["condition"], "service_healthy",
        "the second replica starts once the first is ready"
    );
}

/// The Containerfile's instructions, continuation lines joined.
fn instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                let (word, rest) = current.split_once(' ').unwrap_or((&current, ""));
                out.push((word.to_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    out
}

/// The Containerfile's `objcopy` steps, run on the test build's `ccm`: the
/// stripped binary still runs and is smaller, names its debug file, and the
/// debug file keeps the line tables and symbols.
#[test]
fn the_image_ships_the_binary_stripped_with_its_debug_info_apart() {
    let steps = instructions(&read("deploy/container/Containerfile"));
    let build = steps
        .iter()
        .find(|(word, rest)| word == "RUN" && rest.contains("cargo build"))
        .map(|(_, rest)| rest.clone())
        .expect("a cargo build");
    let objcopies: Vec<&str> = build
        .split("&&")
        .map(str::trim)
        .filter(|step| step.starts_with("objcopy"))
        .collect();
    assert_eq!(objcopies.len(), 2, "{build}");
    let built = std::path::PathBuf::from(env!("CARGO_BIN_EXE_ccm"));
    let out = tempfile::tempdir().unwrap();
    let input = out.path().join("built-ccm");
    std::fs::copy(&built, &input).unwrap();
    let out_dir = format!("{}/", out.path().display());
    for step in &objcopies {
        let command = step
            .replace("target/release/ccm", &input.display().to_string())
            .replace("/out/", &out_dir);
        let status = std::process::Command::new("sh")
            .args(["-c", &command])
            .status()
            .unwrap();
        assert!(status.success(), "{command}");
    }
    let shipped = out.path().join("ccm");
    let debug = out.path().join("ccm.debug");
    let size = |path: &std::path::Path| std::fs::metadata(path).unwrap().len();
    assert!(
        size(&shipped) < size(&input),
        "{} of {}",
        size(&shipped),
        size(&input)
    );
    let sections = |path: &std::path::Path| {
        let output = std::process::Command::new("readelf")
            .args(["-S", "-W"])
            .arg(path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let shipped_sections = sections(&shipped);
    assert!(
        shipped_sections.contains(".gnu_debuglink"),
        "{shipped_sections}"
    );
    assert!(
        !shipped_sections.contains(".debug_line"),
        "{shipped_sections}"
    );
    assert!(!shipped_sections.contains(".symtab"), "{shipped_sections}");
    let debug_sections = sections(&debug);
    assert!(
        debug_sections.contains(".debug_line") && debug_sections.contains(".symtab"),
        "{debug_sections}"
    );
    let version = std::process::Command::new(&shipped)
        .arg("--version")
        .output()
        .unwrap();
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("ccm "));
}

#[test]
fn the_containerfile_runs_as_a_fixed_non_root_user_with_a_probe_health_check() {
    let steps = instructions(&read("deploy/container/Containerfile"));
    let all = |word: &str| -> Vec<&str> {
        steps
            .iter()
            .filter(|(w, _)| w == word)
            .map(|(_, rest)| rest.as_str())
            .collect()
    };
    let froms = all("FROM");
    assert!(froms.len() >= 2, "multi-stage: {froms:?}");
    assert!(froms[0].contains(" AS "), "a named builder stage");
    assert!(froms.last().unwrap().contains("debian") && froms.last().unwrap().contains("slim"));
    let build = all("RUN")
        .into_iter()
        .find(|r| r.contains("cargo build"))
        .expect("a cargo build");
    assert!(build.contains("--mount=type=cache"), "{build}");
    assert!(
        build.contains("--release") && build.contains("--bin ccm"),
        "{build}"
    );

    let user = *all("USER").last().expect("a USER");
    let uid = user.split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|uid| uid > 0),
        "a fixed numeric non-root uid: USER {user}"
    );
    let last_from = steps.iter().rposition(|(w, _)| w == "FROM").unwrap();
    let user_at = steps.iter().rposition(|(w, _)| w == "USER").unwrap();
    assert!(user_at > last_from, "USER applies to the runtime stage");

    let health = all("HEALTHCHECK");
    assert_eq!(health.len(), 1);
    let (_, cmd) = health[0].split_once("CMD ").expect("HEALTHCHECK … CMD");
    let args: Vec<String> = serde_json::from_str(cmd).expect("exec form");
    assert_eq!(args[0], "ccm");
    assert_eq!(args.last().map(String::as_str), Some("livez"));
    let args: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    probe_command_parses("HEALTHCHECK", &args);

    let mut vars = BTreeMap::new();
    for env in all("ENV") {
        for pair in env.split_whitespace() {
            let (name, value) = pair.split_once('=').unwrap();
            assert_eq!(variable(name), Some(false), "ENV {pair}");
            vars.insert(name.to_owned(), value.to_owned());
        }
    }
    config_check("the Containerfile", &vars);
    let listen = &vars["CCM_LISTEN"];
    let exposed = all("EXPOSE");
    assert_eq!(exposed.len(), 1);
    assert!(listen.ends_with(&format!(":{}", exposed[0])), "{listen}");
    assert!(
        cmd.contains(&format!(":{}", exposed[0])),
        "the health check asks that port"
    );

    // The build context keeps what the build needs.
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_matches('/').to_owned())
        .collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "ccm-core",
        "ccm-http",
        "ccm-http/dashboard",
        "ccm-sim",
        "ccm-aws",
        "ccm-cml",
        "ccm-store-sqlite",
        "ccm-store-postgres",
    ] {
        assert!(
            !ignored.iter().any(|i| i == needed),
            ".dockerignore drops {needed}"
        );
    }
}
