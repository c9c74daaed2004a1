//! The API contract, checked from outside: schemathesis (from PyPI, installed in
//! the repository's `.venv` by `scripts/setup-python`) reads the served OpenAPI
//! document and calls every operation of a real `ccm serve` on the simulator with
//! an admin API key — examples from the document, boundary values, random inputs
//! and the stateful links the document declares — and fails on any 5xx, any
//! status the document does not list, any wrong content type and any answer that
//! does not match its schema.
//!
//! schemathesis is found through `CCM_SCHEMATHESIS` (path of the executable),
//! then `.venv/bin/schemathesis` at the workspace root, then `PATH`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::processes::{create_api_key, CcmProcess};

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// A tool of the repository's Python environment, or one named by `variable`.
pub fn python_tool(variable: &str, name: &str) -> PathBuf {
    if let Ok(path) = std::env::var(variable) {
        return PathBuf::from(path);
    }
    let venv = workspace_root().join(".venv/bin").join(name);
    if venv.is_file() {
        return venv;
    }
    PathBuf::from(name)
}

/// `PATH` with the repository's `.venv/bin` first.
fn path_with_venv() -> String {
    let venv = workspace_root().join(".venv/bin");
    match std::env::var("PATH") {
        Ok(path) => format!("{}:{path}", venv.display()),
        Err(_) => venv.display().to_string(),
    }
}

/// Cases schemathesis generates per operation and phase (`CCM_CONTRACT_EXAMPLES`
/// raises it for a longer run).
fn max_examples() -> String {
    std::env::var("CCM_CONTRACT_EXAMPLES").unwrap_or_else(|_| "8".to_owned())
}

/// One schemathesis run against `base` with an admin key: the checks, the seed,
/// the bounds and the reports; the caller adds the phases and the operations.
fn schemathesis(
    base: &str,
    admin: &str,
    report: &std::path::Path,
    junit: &std::path::Path,
) -> tokio::process::Command {
    let mut run = tokio::process::Command::new(python_tool("CCM_SCHEMATHESIS", "schemathesis"));
    run.arg("run")
        .arg(format!("{base}/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {admin}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--max-examples", &max_examples()])
        // One worker: hypothesis describes strategies through Python's `ast`,
        // which is not safe across threads on Python 3.11.
        .args(["--seed", "17", "--workers", "1", "--no-shrink"])
        .args(["--request-timeout", "20", "--no-color"])
        .args(["--generation-database", "none"])
        // `/logout` ends a browser session: with a bearer key it is a no-op
        // that a fuzzer cannot tell from a broken route; it has its own tests.
        .args(["--exclude-path", "/logout"])
        .args(["--report", "json,junit"])
        .arg("--report-json-path")
        .arg(report)
        .arg("--report-junit-path")
        .arg(junit)
        // Its working files go beside the reports, not into the repository.
        .current_dir(report.parent().unwrap_or(std::path::Path::new(".")))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "CCM_DATABASE_URL",
        format!("sqlite://{}", dir.path().join("ccm.db").display()),
    )];
    let admin = create_api_key(&env, "schemathesis", "admin").await;
    let server = CcmProcess::start(&env, &[]).await;
    let report = dir.path().join("report.json");
    let junit = dir.path().join("junit.xml");

    // Two passes. The revocation route runs on its own, without the stateful
    // phase: walking links from the key list, schemathesis would revoke the very
    // key it authenticates with and fail every later call with 401.
    const REVOKE: &str = "^/api/v1/api-keys/\\{id\\}$";
    let first = schemathesis(&server.base(), &admin, &report, &junit)
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--exclude-path-regex", REVOKE])
        .output();
    let revoke_report = dir.path().join("revoke.json");
    let revoke_junit = dir.path().join("revoke.xml");
    let mut outputs = Vec::new();
    for pass in [
        first,
        schemathesis(&server.base(), &admin, &revoke_report, &revoke_junit)
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--include-path-regex", REVOKE])
            .output(),
    ] {
        let output = tokio::time::timeout(Duration::from_secs(900), pass)
            .await
            .expect("schemathesis finishes within 15 minutes")
            .expect("schemathesis runs (./scripts/setup-python installs it)");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "schemathesis found contract violations:\n{stdout}\n{stderr}\n--- server ---\n{}",
            server.output()
        );
        outputs.push(stdout);
    }
    let stdout = outputs.join("\n");

    // The run covered every operation of the document and made real calls.
    let document: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/openapi.json", server.base()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().map_or(0, |methods| methods.len()))
        .sum();
    let cases = [&junit, &revoke_junit]
        .iter()
        .map(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .matches("<testcase")
                .count()
        })
        .sum::<usize>();
    eprintln!(
        "schemathesis: {operations} operations in the document, {cases} test cases\n{stdout}"
    );
    assert!(
        cases + 1 >= operations,
        "schemathesis tested {cases} operations of {operations}:\n{stdout}"
    );
}

/// A Python client generated from the served document by openapi-python-client
/// (PyPI; `scripts/setup-python`), as a platform team would generate one, creates
/// a definition, books a lablet and reads it back (`generated_client.py`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_client_generated_from_the_document_books_a_lablet() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "CCM_DATABASE_URL",
        format!("sqlite://{}", dir.path().join("ccm.db").display()),
    )];
    let admin = create_api_key(&env, "generated-client", "admin").await;
    let server = CcmProcess::start(&env, &[]).await;
    let document = reqwest::Client::new()
        .get(format!("{}/api/v1/openapi.json", server.base()))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let document_path = dir.path().join("openapi.json");
    std::fs::write(&document_path, document).unwrap();
    let package = dir.path().join("ccm_client");

    let generate = tokio::process::Command::new(python_tool(
        "CCM_OPENAPI_PYTHON_CLIENT",
        "openapi-python-client",
    ))
    .arg("generate")
    .arg("--path")
    .arg(&document_path)
    .arg("--output-path")
    .arg(&package)
    // Every schema must become a model: events are a `oneOf` with a `type`
    // discriminator precisely so that generators can.
    .args(["--meta", "none", "--fail-on-warning"])
    .arg("--config")
    .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/generated_client.yaml"))
    // The generator formats its output with ruff, installed beside it.
    .env("PATH", path_with_venv())
    .stdin(Stdio::null())
    .kill_on_drop(true)
    .output();
    let generated = tokio::time::timeout(Duration::from_secs(300), generate)
        .await
        .expect("the generator finishes")
        .expect("openapi-python-client runs (./scripts/setup-python installs it)");
    assert!(
        generated.status.success(),
        "the generator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&generated.stdout),
        String::from_utf8_lossy(&generated.stderr)
    );

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/generated_client.py");
    let run = tokio::process::Command::new(python_tool("CCM_PYTHON", "python"))
        .arg(&script)
        .arg(server.base())
        .env("PYTHONPATH", dir.path())
        .env("CCM_API_KEY", &admin)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let ran = tokio::time::timeout(Duration::from_secs(300), run)
        .await
        .expect("the client script finishes")
        .unwrap();
    assert!(
        ran.status.success(),
        "the generated client failed:\n{}\n{}",
        String::from_utf8_lossy(&ran.stdout),
        String::from_utf8_lossy(&ran.stderr)
    );
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(stdout.contains("booked and read back"), "{stdout}");
}
