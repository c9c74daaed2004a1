//! What each crate links, checked on the resolved dependency graph
//! (`cargo tree`, offline, from the lockfile): the core names no I/O library, the
//! Python wheel carries no web server, and the `ccm` binary carries no simulated
//! CML HTTPS server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::process::Command;

/// The packages `package` links in a normal build of it alone (`depth`: how
/// far down the tree; `None` for all of it).
fn linked_within(package: &str, depth: Option<usize>) -> BTreeSet<String> {
    // A depth beyond any real tree stands for "all of it".
    let depth = depth.unwrap_or(1_000).to_string();
    let output = Command::new(env!("CARGO"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .args([
            "tree",
            "--offline",
            "--locked",
            "--package",
            package,
            "--edges",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
            "--depth",
            &depth,
        ])
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let linked: BTreeSet<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(
        linked.contains(package),
        "the tree of {package} does not name it: {linked:?}"
    );
    linked
}

fn linked_by(package: &str) -> BTreeSet<String> {
    linked_within(package, None)
}

fn assert_links_none(package: &str, forbidden: &[&str]) {
    let linked = linked_by(package);
    let found: Vec<&&str> = forbidden
        .iter()
        .filter(|name| linked.contains(**name))
        .collect();
    assert!(found.is_empty(), "{package} links {found:?}");
}

#[test]
fn the_core_links_no_adapter_and_no_io_library() {
    assert_links_none(
        "ccm-core",
        &[
            "ccm-aws",
            "ccm-cml",
            "ccm-sim",
            "ccm-store-sqlite",
            "ccm-store-postgres",
            "sqlx",
            "reqwest",
            "hyper",
            "aws-config",
            "axum",
        ],
    );
}

#[test]
fn the_python_wheel_links_no_web_server() {
    assert_links_none(
        "ccm-py",
        &[
            "ccm-http",
            "axum",
            "jsonwebtoken",
            "opentelemetry-otlp",
            "clap",
        ],
    );
    let linked = linked_by("ccm-py");
    // It is assembled like the server, through the assembly crate, and speaks
    // the server's wire types (`ccm-api`: serde and schema types, no server).
    assert!(linked.contains("ccm-assembly"));
    assert!(linked.contains("ccm-api"));
}

#[test]
fn the_ccm_binary_links_no_simulated_cml_server() {
    assert_links_none("ccm-http", &["axum-server", "rcgen"]);
    assert_links_none("ccm-assembly", &["axum", "axum-server", "rcgen"]);
}

#[test]
fn architecture_names_every_direct_dependency_of_the_core() {
    let architecture =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../ARCHITECTURE.md"))
            .unwrap();
    let bullet = architecture
        .split("- **Dependencies.**")
        .nth(1)
        .and_then(|rest| rest.split("\n- ").next())
        .expect("ARCHITECTURE.md has a Dependencies bullet");
    let direct = linked_within("ccm-core", Some(1));
    assert!(direct.len() > 5, "{direct:?}");
    let missing: Vec<&String> = direct
        .iter()
        .filter(|dep| *dep != "ccm-core" && !bullet.contains(dep.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md's Dependencies bullet misses {missing:?}"
    );
}
