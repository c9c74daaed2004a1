//! ARCHITECTURE.md's code map names every module of every library crate, so a
//! module added without a word about it fails here (outside code fences, as a
//! word: `fleet::licensing` names `licensing`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const LIBRARY_CRATES: &[&str] = &[
    "ccm-core",
    "ccm-sim",
    "ccm-aws",
    "ccm-cml",
    "ccm-store-sql",
    "ccm-store-sqlite",
    "ccm-store-postgres",
    "ccm-assembly",
    "ccm-api",
    "ccm-http",
    "ccm-py",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The words of the document outside its code fences.
fn words(markdown: &str) -> BTreeSet<String> {
    let mut in_fence = false;
    let mut words = BTreeSet::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for word in line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
            if !word.is_empty() {
                words.insert(word.to_owned());
            }
        }
    }
    words
}

/// `a::b` for every `src/a/b.rs` or `src/a/b/mod.rs` (binaries left out).
fn modules(src: &Path, prefix: &str, found: &mut Vec<String>) {
    let mut entries: Vec<_> = std::fs::read_dir(src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if name == "bin" {
                continue;
            }
            let nested = format!("{prefix}{name}::");
            found.push(format!("{prefix}{name}"));
            modules(&path, &nested, found);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !matches!(name.as_str(), "lib" | "main" | "mod")
            && !path.with_extension("").is_dir()
        {
            found.push(format!("{prefix}{name}"));
        }
    }
}

#[test]
fn every_module_of_every_library_crate_is_named() {
    let map = words(&std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap());
    let mut unnamed = Vec::new();
    for krate in LIBRARY_CRATES {
        let mut found = Vec::new();
        modules(&root().join(krate).join("src"), "", &mut found);
        assert!(!found.is_empty(), "{krate} has modules");
        for module in found {
            let last = module.rsplit("::").next().unwrap();
            if !map.contains(last) {
                unnamed.push(format!("{krate}: {module}"));
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "ARCHITECTURE.md does not name these modules:\n{}",
        unnamed.join("\n")
    );
}
