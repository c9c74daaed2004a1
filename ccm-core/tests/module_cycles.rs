//! ccm-core's modules depend on each other without cycles: the model (worker,
//! lablet, lab, definition, …) does not reach back to the ports or the errors
//! that wrap port failures, and each port reaches only the model it speaks.
//!
//! The graph is read from the sources: a file's node is its top-level module
//! (each port, `ports::<name>`, is a node of its own) and every `crate::<module>`
//! path outside comments and the file's unit tests is an edge.
//!
//! One knot is known and allowed for now: the event-sourced model. Commands on
//! the aggregates return events and the events embed the aggregates they
//! create (`WorkerCreated { worker }`), so `event`, `replay` and the aggregates
//! reach each other; they count as one node here until events get payload
//! types of their own. Any other cycle fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeSet<String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The node of a source file (`lablet/phase.rs` → `lablet`, `ports/cml.rs` →
/// `ports::cml`); `None` for the crate root.
fn node_of(relative: &Path) -> Option<String> {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    match parts.as_slice() {
        [] => None,
        [only] if only == "lib" => None,
        [ports, port, ..] if ports == "ports" => Some(format!("ports::{port}")),
        [first, ..] => Some(first.clone()),
    }
}

/// The modules `source` names through `crate::` paths (unit tests excluded).
fn targets(source: &str) -> BTreeSet<String> {
    let library = source
        .find("#[cfg(test)]\nmod tests")
        .map_or(source, |at| &source[..at]);
    let mut found = BTreeSet::new();
    for line in library.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name == "ports" {
                let port: String = rest["ports::".len().min(rest.len())..]
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !port.is_empty() {
                    found.insert(format!("ports::{port}"));
                }
            } else if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// The modules of the event-sourced model, counted as one node.
const EVENT_SOURCED_MODEL: [&str; 6] = [
    "event",
    "replay",
    "worker",
    "lablet",
    "definition",
    "domain_error",
];

/// `graph` with the event-sourced model's modules as one node, `model`.
fn with_model_as_one(graph: &Graph) -> Graph {
    let name = |node: &String| {
        if EVENT_SOURCED_MODEL.contains(&node.as_str()) {
            "model".to_owned()
        } else {
            node.clone()
        }
    };
    let mut merged = Graph::new();
    for (node, edges) in graph {
        let from = name(node);
        let targets = merged.entry(from.clone()).or_default();
        targets.extend(edges.iter().map(name).filter(|to| *to != from));
    }
    merged
}

fn graph_of(src: &Path) -> Graph {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = Graph::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let Some(node) = node_of(relative) else {
            continue;
        };
        let source = std::fs::read_to_string(&file).expect("a readable source");
        let edges = graph.entry(node.clone()).or_default();
        edges.extend(targets(&source).into_iter().filter(|t| *t != node));
    }
    graph
}

/// One cycle of `graph`, if there is any (depth-first search).
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_of_ccm_core_form_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&src);
    assert!(
        graph.len() > 20,
        "the graph lists the crate's modules: {graph:?}"
    );
    assert!(
        graph["error"].contains("ports::store") && graph["ports::store"].contains("lablet"),
        "the reader sees the edges it should: {graph:?}"
    );
    if let Some(cycle) = find_cycle(&with_model_as_one(&graph)) {
        panic!("a dependency cycle: {}", cycle.join(" → "));
    }
}

#[test]
fn the_model_names_no_port_error() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = graph_of(&src);
    for model in [
        "worker",
        "lablet",
        "lab",
        "definition",
        "placement",
        "domain_error",
    ] {
        let edges = &graph[model];
        assert!(
            !edges.contains("error") && !edges.contains("ports::store"),
            "`{model}` reaches the port errors: {edges:?}"
        );
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let mut graph = Graph::new();
    graph.entry("a".into()).or_default().insert("b".into());
    graph.entry("b".into()).or_default().insert("c".into());
    graph.entry("c".into()).or_default().insert("a".into());
    graph.entry("d".into()).or_default().insert("a".into());
    let cycle = find_cycle(&graph).expect("a → b → c → a");
    assert_eq!(cycle.first(), cycle.last());
    assert_eq!(cycle.len(), 4);
    graph.get_mut("c").expect("c").clear();
    assert_eq!(find_cycle(&graph), None);

    // A knot inside the model is tolerated; one through it and a port is not.
    let mut knot = Graph::new();
    knot.entry("event".into())
        .or_default()
        .insert("worker".into());
    knot.entry("worker".into())
        .or_default()
        .insert("event".into());
    assert!(find_cycle(&knot).is_some());
    assert_eq!(find_cycle(&with_model_as_one(&knot)), None);
    knot.entry("worker".into())
        .or_default()
        .insert("ports::store".into());
    knot.entry("ports::store".into())
        .or_default()
        .insert("lablet".into());
    assert!(find_cycle(&with_model_as_one(&knot)).is_some());
}
