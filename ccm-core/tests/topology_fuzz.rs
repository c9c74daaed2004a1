//! The topology reader on hostile input: arbitrary bytes and generated near-YAML
//! (nested lists and mappings, anchors and aliases, deep nesting) never panic,
//! finish within a bound, and either validate or give a typed error. Case counts
//! are modest so this runs in seconds in CI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use ccm_core::topology::{
    validate_topology, validate_topology_within, TopologyError, TopologyLimit, TopologyLimits,
};
use proptest::prelude::*;

/// Generous even for a debug build on a busy machine; a reader that expanded
/// aliases or searched quadratically would blow far past it on these inputs.
const BOUND: Duration = Duration::from_secs(2);

fn check(text: &str) -> Result<(), TestCaseError> {
    let started = Instant::now();
    let outcome = validate_topology(text);
    let took = started.elapsed();
    prop_assert!(took < BOUND, "took {took:?} on {} bytes", text.len());
    match outcome {
        Ok(summary) => prop_assert!(summary.nodes >= 1),
        Err(TopologyError::Invalid { reason, .. }) => prop_assert!(!reason.is_empty()),
        Err(TopologyError::Limit(exceeded)) => {
            prop_assert!(exceeded.to_string().contains(exceeded.limit.config_key()));
        }
    }
    Ok(())
}

/// A YAML fragment: scalars, anchors, aliases to earlier anchors, flow and block
/// collections nested a few levels.
fn fragment() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-z0-9]{0,6}".prop_map(|s| s),
        (0u8..6).prop_map(|n| format!("*a{n}")),
        Just("~".to_owned()),
        Just("\"q\"".to_owned()),
        Just("!tag x".to_owned()),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8)
                .prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec(("[a-z]{1,4}", inner.clone()), 0..6).prop_map(|pairs| {
                let body: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
            ((0u8..6), inner).prop_map(|(n, v)| format!("&a{n} {v}")),
        ]
    })
}

/// A document of top-level keys over fragments, sometimes shaped like a topology.
fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(("[a-z]{1,5}", fragment()), 0..8),
        any::<bool>(),
    )
        .prop_map(|(pairs, topology)| {
            let mut text = String::new();
            if topology {
                text.push_str("nodes:\n  - id: n0\n    node_definition: iosv\n");
            }
            for (key, value) in pairs {
                text.push_str(&format!("{key}: {value}\n"));
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn near_yaml_never_panics(text in document()) {
        check(&text)?;
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn alias_towers_are_refused_quickly(levels in 2usize..12, fanout in 2usize..16) {
        let mut text = String::from("a0: &a0 [lol, lol]\n");
        for level in 1..=levels {
            let refs = vec![format!("*a{}", level - 1); fanout].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        }
        check(&text)?;
    }

    #[test]
    fn deep_nesting_is_refused_by_depth(depth in 65usize..3_000) {
        let text = format!("nodes: {}{}\n", "[".repeat(depth), "]".repeat(depth));
        let started = Instant::now();
        let err = validate_topology(&text).unwrap_err();
        prop_assert!(started.elapsed() < BOUND);
        prop_assert_eq!(err.limit(), Some(TopologyLimit::Depth));
    }
}

/// A 100 KB billion-laughs document: refused by alias expansion, fast.
#[test]
fn a_hundred_kilobyte_alias_bomb_is_refused_by_its_expansion() {
    let mut text = String::from("a0: &a0 [lol]\n");
    let mut level = 1;
    while text.len() < 100 * 1024 {
        let refs = vec![format!("*a{}", level - 1); 100].join(",");
        text.push_str(&format!("a{level}: &a{level} [{refs}]\n"));
        level += 1;
    }
    let started = Instant::now();
    let err = validate_topology(&text).unwrap_err();
    let took = started.elapsed();
    println!("refused {} bytes in {took:?}", text.len());
    assert_eq!(err.limit(), Some(TopologyLimit::AliasExpansion), "{err}");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// Every configured bound is honoured, and the message names its setting.
#[test]
fn each_limit_is_named() {
    let topology = "nodes:\n  - id: a\n    node_definition: x\n  - id: b\n    node_definition: x\nlinks:\n  - {n1: a, n2: b}\n  - {n1: b, n2: a}\n";
    let cases = [
        (
            TopologyLimits {
                max_bytes: 20,
                ..TopologyLimits::default()
            },
            TopologyLimit::Bytes,
        ),
        (
            TopologyLimits {
                max_depth: 2,
                ..TopologyLimits::default()
            },
            TopologyLimit::Depth,
        ),
        (
            TopologyLimits {
                max_nodes: 1,
                ..TopologyLimits::default()
            },
            TopologyLimit::Nodes,
        ),
        (
            TopologyLimits {
                max_links: 1,
                ..TopologyLimits::default()
            },
            TopologyLimit::Links,
        ),
    ];
    for (limits, expected) in cases {
        let err = validate_topology_within(topology, &limits).unwrap_err();
        assert_eq!(err.limit(), Some(expected), "{err}");
        assert!(err.to_string().contains(expected.config_key()), "{err}");
    }
    assert!(validate_topology_within(topology, &TopologyLimits::default()).is_ok());
}
