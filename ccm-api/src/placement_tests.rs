use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ccm_core::catalog::{CatalogNeeds, NodeCatalog};
use ccm_core::definition::ResourceNeeds;
use ccm_core::ids::{LabletId, WorkerId};
use ccm_core::placement::{
    self, NewWorkerProfile, PlacementRequest, Plan, Policy, PriceTable, ScaleUp, WorkerCandidate,
};
use ccm_core::resources::Resources;
use serde_json::{json, Value};

use super::*;

/// Three workers (one full, one stopped, one lacking a node definition) and
/// three lablets: the first fits, the others are refused by all three.
fn sample() -> (Vec<WorkerCandidate>, Vec<PlacementRequest>) {
    let roomy = WorkerCandidate::new(WorkerId::from_u128(1), Resources::new(8, 16, 100), 10);
    let mut stopped =
        WorkerCandidate::new(WorkerId::from_u128(2), Resources::new(64, 256, 1000), 100);
    stopped.running = false;
    let lacking = WorkerCandidate::new(WorkerId::from_u128(3), Resources::new(64, 256, 1000), 100)
        .with_catalog(Arc::new(NodeCatalog {
            node_definitions: BTreeSet::from(["iosv".to_owned()]),
            image_definitions: BTreeMap::new(),
            cml_version: Some("2.8.0".into()),
            synced_at: None,
            truncated: false,
        }));
    let needs = ResourceNeeds {
        resources: Resources::new(8, 16, 100),
        nodes: 4,
        ports: 2,
    };
    let requires = Arc::new(CatalogNeeds {
        node_definitions: BTreeSet::from(["iosv".to_owned(), "csr1000v".to_owned()]),
        image_definitions: BTreeSet::new(),
    });
    let requests = (1..=3)
        .map(|i| {
            PlacementRequest::new(LabletId::from_u128(i), needs)
                .with_catalog_needs(requires.clone())
        })
        .collect();
    (vec![roomy, stopped, lacking], requests)
}

fn name(id: &WorkerId) -> String {
    format!("worker-{id}")
}

/// The answer as the handler built it before the wire types (its code, verbatim
/// in substance).
fn as_before(policy: Policy, candidates: &[WorkerCandidate], plan: &Plan, up: &ScaleUp) -> Value {
    json!({
        "policy": policy,
        "workers_considered": candidates.len(),
        "placed": plan.assignments.iter().map(|a| json!({
            "index": a.request_index,
            "worker_id": a.worker,
            "worker_name": name(&a.worker),
            "ports": a.ports,
        })).collect::<Vec<_>>(),
        "unplaced": plan.unplaced.iter().map(|u| json!({
            "index": u.request_index,
            "dominant_reason": u.summary().dominant().map(|r| r.as_str()),
            "reasons": u.summary().iter().filter(|(_, n)| *n > 0)
                .map(|(r, n)| (r.as_str(), n)).collect::<BTreeMap<_, _>>(),
            "workers": u.rejections.by_worker().map(|w| {
                let missing = u.rejections.missing_definitions(w.worker_index, candidates);
                let mut refusal = json!({
                    "worker_id": w.worker,
                    "worker_name": name(&w.worker),
                    "reason": w.reason.as_str(),
                });
                if !missing.is_empty() {
                    refusal["missing"] = json!(missing);
                }
                refusal
            }).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "scale_up": up.lines.iter().map(|l| json!({
            "instance_type": l.instance_type,
            "workers": l.workers,
            "lablets": l.lablets,
            "hourly_usd": l.hourly_usd,
        })).collect::<Vec<_>>(),
        "scale_up_hourly_usd": up.total_hourly_usd,
    })
}

#[test]
fn the_preview_answers_what_the_handler_answered_before() {
    let (candidates, requests) = sample();
    for policy in [Policy::Pack, Policy::Spread] {
        let plan = placement::place(&candidates, &requests, policy);
        assert_eq!(plan.assignments.len(), 1);
        assert_eq!(plan.unplaced.len(), 2);
        let left: Vec<&PlacementRequest> = plan
            .unplaced
            .iter()
            .filter_map(|u| requests.get(u.request_index))
            .collect();
        let up =
            placement::suggest_scale_up(left, &PriceTable::default(), &NewWorkerProfile::default());
        let names = candidates.iter().map(|c| (c.id, name(&c.id))).collect();
        let preview = ccm_core::fleet::PlacementPreview {
            policy,
            candidates: candidates.clone(),
            names,
            plan: plan.clone(),
            scale_up: up.clone(),
        };
        let wire = PlacementPreview::from(&preview);
        let json = serde_json::to_value(&wire).unwrap();
        assert_eq!(json, as_before(policy, &candidates, &plan, &up));
        // The sample exercises every part: refusals with and without `missing`.
        let text = json.to_string();
        for part in [
            "not-running",
            "missing-definitions",
            "csr1000v",
            "\"missing\"",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        let back: PlacementPreview = serde_json::from_value(json).unwrap();
        assert_eq!(back, wire);
    }
}

#[test]
fn every_reason_and_policy_keeps_its_name() {
    for reason in ccm_core::placement::RejectReason::ALL {
        let wire = RejectReason::from(reason);
        assert_eq!(serde_json::to_value(wire).unwrap(), json!(reason));
        assert_eq!(wire.as_str(), reason.as_str());
    }
    for policy in [Policy::Pack, Policy::Spread] {
        let wire = PlacementPolicy::from(policy);
        assert_eq!(serde_json::to_value(wire).unwrap(), json!(policy));
        assert_eq!(Policy::from(wire), policy);
    }
}

#[test]
fn preview_bodies_are_read_as_before() {
    let id = "00000000-0000-0000-0000-000000000001";
    let body: PlacementPreviewRequest =
        serde_json::from_value(json!({"definition_id": id})).unwrap();
    assert_eq!((body.count, body.policy), (1, None));
    let body: PlacementPreviewRequest =
        serde_json::from_value(json!({"definition_id": id, "count": 5, "policy": "spread"}))
            .unwrap();
    assert_eq!(
        (body.count, body.policy),
        (5, Some(PlacementPolicy::Spread))
    );
    for bad in [
        json!({"definition_id": id, "extra": true}),
        json!({"definition_id": id, "policy": "random"}),
        json!({"count": 2}),
        json!({"definition_id": "not-a-uuid"}),
    ] {
        assert!(serde_json::from_value::<PlacementPreviewRequest>(bad).is_err());
    }
}

#[test]
fn the_examples_serialise() {
    let preview = serde_json::to_value(PlacementPreview::example()).unwrap();
    assert_eq!(preview["unplaced"][0]["dominant_reason"], "memory");
    assert!(preview["unplaced"][0]["workers"][0]
        .get("missing")
        .is_none());
    serde_json::to_value(PlacementPreviewRequest::example()).unwrap();
}
