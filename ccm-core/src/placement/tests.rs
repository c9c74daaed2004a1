//! Unit tests of the batch engine and the baseline through the public API.

use std::sync::Arc;

use super::*;
use crate::definition::ResourceNeeds;
use crate::ids::{LabletId, WorkerId};
use crate::resources::{PortRange, Resources};
use crate::time::{epoch, plus_seconds};
use crate::version::SemVer;
use crate::worker::LicenceKind;

fn worker(id: u128, cpus: u64, mem_gib: u64) -> WorkerCandidate {
    WorkerCandidate::new(
        WorkerId::from_u128(id),
        Resources::new(cpus, mem_gib, 1000),
        100,
    )
}

fn request(id: u128, cpus: u64, mem_gib: u64) -> PlacementRequest {
    PlacementRequest::new(
        LabletId::from_u128(id),
        ResourceNeeds {
            resources: Resources::new(cpus, mem_gib, 10),
            nodes: 2,
            ports: 2,
        },
    )
}

fn placed_on(plan: &Plan, lablet: u128) -> Option<usize> {
    plan.assignments
        .iter()
        .find(|a| a.lablet == LabletId::from_u128(lablet))
        .map(|a| a.worker_index)
}

fn only_reason(plan: &Plan) -> RejectReason {
    assert_eq!(plan.unplaced.len(), 1, "{plan:?}");
    let list = plan.unplaced[0].rejections.by_worker().collect::<Vec<_>>();
    assert_eq!(list.len(), 1);
    list[0].reason
}

#[test]
fn empty_inputs_give_empty_plans() {
    for policy in [Policy::Pack, Policy::Spread] {
        let plan = place(&[], &[], policy);
        assert_eq!(plan, Plan::default());
        assert!(plan.is_complete());
        let plan = place(&[worker(1, 48, 192)], &[], policy);
        assert_eq!(plan, Plan::default());
    }
    let plan = place(&[], &[request(1, 1, 1)], Policy::Pack);
    assert_eq!(plan.unplaced.len(), 1);
    assert!(plan.unplaced[0].rejections.by_worker().len() == 0);
    assert_eq!(baseline::first_fit(&[], &[]), Plan::default());
}

#[test]
fn each_check_gives_its_reason() {
    let base = || worker(1, 8, 32);
    let req = || {
        request(1, 4, 8)
            .with_licence_affinity(LicenceKind::Enterprise)
            .with_min_cml_version(SemVer::new(2, 9, 0))
    };
    let good = || {
        base()
            .with_licence(LicenceKind::Enterprise)
            .with_cml_version(SemVer::new(2, 9, 0))
    };
    let cases: Vec<(WorkerCandidate, PlacementRequest, RejectReason)> = vec![
        (
            WorkerCandidate {
                running: false,
                ..good()
            },
            req(),
            RejectReason::NotRunning,
        ),
        (
            WorkerCandidate {
                cml_available: false,
                ..good()
            },
            req(),
            RejectReason::CmlUnavailable,
        ),
        (
            WorkerCandidate {
                draining: true,
                ..good()
            },
            req(),
            RejectReason::Draining,
        ),
        (
            good().with_licence(LicenceKind::Personal),
            req(),
            RejectReason::LicenceAffinity,
        ),
        (
            WorkerCandidate {
                licence: None,
                ..good()
            },
            req(),
            RejectReason::LicenceAffinity,
        ),
        (
            good().with_cml_version(SemVer::new(2, 8, 9)),
            req(),
            RejectReason::CmlVersion,
        ),
        (
            WorkerCandidate {
                cml_version: None,
                ..good()
            },
            req(),
            RejectReason::CmlVersion,
        ),
        (
            WorkerCandidate {
                free_nodes: 1,
                ..good()
            },
            req(),
            RejectReason::NodeCap,
        ),
        (
            good(),
            request(1, 9, 8).with_licence_affinity(LicenceKind::Enterprise),
            RejectReason::Cpu,
        ),
        (good(), request(1, 4, 33), RejectReason::Memory),
        (
            WorkerCandidate {
                free: Resources::new(8, 32, 9),
                ..good()
            },
            req(),
            RejectReason::Storage,
        ),
        (
            good().with_free_ports(vec![PortRange {
                first: 5000,
                last: 5000,
            }]),
            req(),
            RejectReason::Ports,
        ),
        (good().with_free_ports(vec![]), req(), RejectReason::Ports),
    ];
    for (w, r, expected) in cases {
        for policy in [Policy::Pack, Policy::Spread] {
            let plan = place(std::slice::from_ref(&w), std::slice::from_ref(&r), policy);
            assert_eq!(only_reason(&plan), expected, "{policy} {w:?} {r:?}");
            let summary = plan.unplaced[0].summary();
            assert_eq!(summary.get(expected), 1);
            assert_eq!(summary.total(), 1);
        }
        let plan = baseline::first_fit(std::slice::from_ref(&w), std::slice::from_ref(&r));
        assert_eq!(only_reason(&plan), expected, "baseline {w:?}");
    }
}

#[test]
fn the_first_failing_check_is_reported() {
    let w = WorkerCandidate {
        draining: true,
        free_nodes: 0,
        free: Resources::ZERO,
        ..worker(1, 0, 0).with_licence(LicenceKind::Personal)
    };
    let r = request(1, 4, 8).with_licence_affinity(LicenceKind::Enterprise);
    let one = |w: &WorkerCandidate, r: &PlacementRequest| {
        only_reason(&place(
            std::slice::from_ref(w),
            std::slice::from_ref(r),
            Policy::Pack,
        ))
    };
    assert_eq!(one(&w, &r), RejectReason::Draining);
    let w = WorkerCandidate {
        draining: false,
        ..w
    };
    assert_eq!(one(&w, &r), RejectReason::LicenceAffinity);
    let r = request(1, 4, 8);
    assert_eq!(
        only_reason(&place(&[w], &[r], Policy::Pack)),
        RejectReason::NodeCap
    );
}

#[test]
fn pack_fills_the_fullest_worker_and_spread_the_emptiest() {
    let workers = [
        worker(1, 48, 100),
        worker(2, 48, 20),
        worker(3, 48, 192),
        worker(4, 2, 10),
    ];
    let requests = [request(1, 4, 8)];
    assert_eq!(
        placed_on(&place(&workers, &requests, Policy::Pack), 1),
        Some(1)
    );
    assert_eq!(
        placed_on(&place(&workers, &requests, Policy::Spread), 1),
        Some(2)
    );
}

#[test]
fn pack_uses_one_worker_where_spread_uses_many() {
    let workers: Vec<_> = (0..4).map(|i| worker(i, 48, 192)).collect();
    let requests: Vec<_> = (0..4).map(|i| request(i, 4, 8)).collect();
    let pack = place(&workers, &requests, Policy::Pack);
    let spread = place(&workers, &requests, Policy::Spread);
    assert_eq!(pack.workers_used(), 1);
    assert_eq!(spread.workers_used(), 4);
    assert!(pack.is_complete() && spread.is_complete());
    let first_fit = baseline::first_fit(&workers, &requests);
    assert_eq!(first_fit.workers_used(), 1);
}

#[test]
fn lifetime_prefers_a_worker_up_anyway_then_the_one_lengthened_least() {
    let hour = |h: i64| plus_seconds(epoch(), h * 3600);
    // The fullest worker is empty; the others end at 11:00, 13:00 and 16:00.
    let workers = [
        worker(1, 8, 32),
        worker(2, 48, 192).with_busy_until(hour(11)),
        worker(3, 48, 192).with_busy_until(hour(16)),
        worker(4, 48, 192).with_busy_until(hour(13)),
    ];
    let ending = |id, h| request(id, 4, 8).with_end(hour(h));
    let by_lifetime = |requests: &[PlacementRequest]| place(&workers, requests, Policy::Lifetime);
    // Ends at 12:00: 13:00 is up anyway and closest.
    assert_eq!(placed_on(&by_lifetime(&[ending(1, 12)]), 1), Some(3));
    // Ends at 18:00: nobody is up that long; 16:00 is lengthened least.
    assert_eq!(placed_on(&by_lifetime(&[ending(1, 18)]), 1), Some(2));
    // No end known: placed as pack places it, on the fullest.
    assert_eq!(placed_on(&by_lifetime(&[request(1, 4, 8)]), 1), Some(0));
    assert_eq!(
        placed_on(&place(&workers, &[ending(1, 12)], Policy::Pack), 1),
        Some(0)
    );
    // A worker that took a later lablet in this batch is up anyway for the next.
    let plan = by_lifetime(&[ending(1, 20), ending(2, 19)]);
    assert_eq!(placed_on(&plan, 1), Some(2));
    assert_eq!(placed_on(&plan, 2), Some(2), "16:00 became 20:00");
}

#[test]
fn lifetime_fills_an_empty_worker_only_when_no_busy_one_fits() {
    let hour = |h: i64| plus_seconds(epoch(), h * 3600);
    let workers = [worker(1, 48, 192), worker(2, 4, 8).with_busy_until(hour(9))];
    let plan = place(
        &workers,
        &[request(1, 4, 8).with_end(hour(12))],
        Policy::Lifetime,
    );
    assert_eq!(placed_on(&plan, 1), Some(1));
    let plan = place(
        &workers,
        &[request(1, 8, 8).with_end(hour(12))],
        Policy::Lifetime,
    );
    assert_eq!(placed_on(&plan, 1), Some(0), "does not fit on the busy one");
}

#[test]
fn ties_go_to_the_earlier_worker() {
    let workers: Vec<_> = (0..3).map(|i| worker(10 - i, 48, 192)).collect();
    for policy in [Policy::Pack, Policy::Spread, Policy::Lifetime] {
        let plan = place(&workers, &[request(1, 1, 1)], policy);
        assert_eq!(placed_on(&plan, 1), Some(0), "{policy}");
    }
}

#[test]
fn bigger_requests_are_placed_first() {
    // One worker with room for 6 vCPU: the 6-vCPU lablet wins over two 3-vCPU ones
    // listed before it, and they fail on CPU.
    let workers = [worker(1, 6, 192)];
    let requests = [request(1, 3, 1), request(2, 3, 1), request(3, 6, 1)];
    let plan = place(&workers, &requests, Policy::Pack);
    assert_eq!(placed_on(&plan, 3), Some(0));
    assert_eq!(plan.assignments.len(), 1);
    assert_eq!(plan.unplaced.len(), 2);
    assert!(plan
        .unplaced
        .iter()
        .all(|u| u.summary().get(RejectReason::Cpu) == 1));
}

#[test]
fn ports_are_the_lowest_free_and_never_reused() {
    let w = worker(1, 48, 192).with_free_ports(vec![
        PortRange {
            first: 3000,
            last: 3002,
        },
        PortRange {
            first: 2000,
            last: 2000,
        },
    ]);
    let requests = [request(1, 1, 1), request(2, 1, 1), request(3, 1, 1)];
    let plan = place(&[w], &requests, Policy::Pack);
    let ports: Vec<Vec<u16>> = plan.assignments.iter().map(|a| a.ports.clone()).collect();
    assert_eq!(ports, vec![vec![2000, 3000], vec![3001, 3002]]);
    assert_eq!(only_reason(&plan), RejectReason::Ports);
}

#[test]
fn identical_failing_shapes_share_one_rejection_list() {
    let workers = [
        worker(1, 4, 8),
        WorkerCandidate {
            draining: true,
            ..worker(2, 48, 192)
        },
    ];
    let requests: Vec<_> = (0..1000).map(|i| request(i, 8, 8)).collect();
    let plan = place(&workers, &requests, Policy::Pack);
    assert_eq!(plan.unplaced.len(), 1000);
    assert_eq!(plan.distinct_rejection_lists(), 1);
    let first = &plan.unplaced[0].rejections;
    assert!(plan
        .unplaced
        .iter()
        .all(|u| Arc::ptr_eq(&u.rejections, first)));
    assert_eq!(first.summary().get(RejectReason::Cpu), 1);
    assert_eq!(first.summary().get(RejectReason::Draining), 1);
    assert_eq!(first.shape(), &requests[0].shape());
    let naive = baseline::first_fit(&workers, &requests);
    assert_eq!(naive.distinct_rejection_lists(), 1000);
}

#[test]
fn licence_and_version_groups_are_respected() {
    let workers = [
        worker(1, 48, 192)
            .with_licence(LicenceKind::Personal)
            .with_cml_version(SemVer::new(2, 9, 0)),
        worker(2, 48, 192)
            .with_licence(LicenceKind::Enterprise)
            .with_cml_version(SemVer::new(2, 7, 0)),
        worker(3, 48, 192)
            .with_licence(LicenceKind::Enterprise)
            .with_cml_version(SemVer::new(2, 9, 1)),
    ];
    let requests = [
        request(1, 1, 1).with_licence_affinity(LicenceKind::Enterprise),
        request(2, 1, 1).with_min_cml_version(SemVer::new(2, 8, 0)),
        request(3, 1, 1)
            .with_licence_affinity(LicenceKind::Enterprise)
            .with_min_cml_version(SemVer::new(2, 9, 0)),
    ];
    for policy in [Policy::Pack, Policy::Spread] {
        let plan = place(&workers, &requests, policy);
        assert!(plan.is_complete());
        assert!(matches!(placed_on(&plan, 1), Some(1 | 2)));
        assert!(matches!(placed_on(&plan, 2), Some(0 | 2)));
        assert_eq!(placed_on(&plan, 3), Some(2));
    }
}

#[test]
fn equal_inputs_give_equal_plans() {
    let workers: Vec<_> = (0..20)
        .map(|i| worker(i, 8 + (i as u64 % 5) * 8, 64))
        .collect();
    let requests: Vec<_> = (0..200)
        .map(|i| request(i, 1 + (i as u64 % 6), 2))
        .collect();
    for policy in [Policy::Pack, Policy::Spread] {
        assert_eq!(
            place(&workers, &requests, policy),
            place(&workers, &requests, policy)
        );
    }
    let mut reversed = requests.clone();
    reversed.reverse();
    let by_lablet = |plan: &Plan| {
        let mut out: Vec<_> = plan
            .assignments
            .iter()
            .map(|a| (a.lablet, a.worker_index, a.ports.clone()))
            .collect();
        out.sort();
        out
    };
    assert_eq!(
        by_lablet(&place(&workers, &requests, Policy::Pack)),
        by_lablet(&place(&workers, &reversed, Policy::Pack)),
        "input order does not matter when lablet ids are distinct"
    );
}

#[test]
fn assignments_convert_to_worker_allocations() {
    let r = request(1, 4, 8);
    let plan = place(
        &[worker(1, 48, 192)],
        std::slice::from_ref(&r),
        Policy::Pack,
    );
    let allocation = plan.assignments[0].allocation(&r.needs);
    assert_eq!(allocation.resources, r.needs.resources);
    assert_eq!(allocation.nodes, 2);
    assert_eq!(allocation.ports, vec![2000, 2001]);
}

#[test]
fn extreme_values_do_not_panic() {
    let huge = Resources {
        cpu_millis: u64::MAX,
        memory_mib: u64::MAX,
        storage_gib: u64::MAX,
    };
    let workers = [
        WorkerCandidate::new(WorkerId::from_u128(1), huge, u32::MAX).with_free_ports(vec![
            PortRange {
                first: 0,
                last: 65535,
            },
        ]),
        WorkerCandidate::new(WorkerId::from_u128(2), Resources::ZERO, 0),
    ];
    let requests = [
        PlacementRequest::new(
            LabletId::from_u128(1),
            ResourceNeeds {
                resources: huge,
                nodes: u32::MAX,
                ports: u32::MAX,
            },
        ),
        PlacementRequest::new(LabletId::from_u128(2), ResourceNeeds::default()),
        PlacementRequest::new(
            LabletId::from_u128(3),
            ResourceNeeds {
                resources: huge,
                nodes: u32::MAX,
                ports: 65536,
            },
        ),
    ];
    for policy in [Policy::Pack, Policy::Spread] {
        let plan = place(&workers, &requests, policy);
        assert_eq!(plan.assignments.len() + plan.unplaced.len(), 3);
        assert_eq!(placed_on(&plan, 3), Some(0));
    }
    baseline::first_fit(&workers, &requests);
}

#[test]
fn a_worker_without_a_needed_definition_is_refused_and_the_reason_names_it() {
    use crate::catalog::{CatalogNeeds, NodeCatalog};
    let offers = |ids: &[&str]| {
        Arc::new(NodeCatalog {
            node_definitions: ids.iter().map(|s| (*s).to_owned()).collect(),
            ..NodeCatalog::default()
        })
    };
    let needs = Arc::new(CatalogNeeds {
        node_definitions: ["iosv".to_owned(), "asav".to_owned()].into(),
        image_definitions: ["asav-9-20".to_owned()].into(),
    });
    let lacking = [worker(1, 48, 192).with_catalog(offers(&["iosv"]))];
    let wanting = request(1, 4, 8).with_catalog_needs(Arc::clone(&needs));
    let plan = place(&lacking, std::slice::from_ref(&wanting), Policy::Pack);
    assert_eq!(only_reason(&plan), RejectReason::MissingDefinitions);
    let rejections = &plan.unplaced[0].rejections;
    assert_eq!(
        rejections.missing_definitions(0, &lacking),
        ["asav", "image asav-9-20"]
    );
    assert_eq!(
        rejections.explain(&lacking),
        "missing-definitions: asav, image asav-9-20"
    );
    // Same fleet, but one worker offers everything and one is not read yet:
    // the bigger unread worker is not held against, the full catalog fits too.
    let mut full = offers(&["iosv", "asav"]);
    Arc::make_mut(&mut full)
        .image_definitions
        .insert("asav-9-20".into(), "asav".into());
    let fleet = [
        worker(1, 48, 192).with_catalog(offers(&["iosv"])),
        worker(2, 8, 16).with_catalog(full),
        worker(3, 48, 192),
    ];
    let plan = place(&fleet, &[wanting.clone(), wanting], Policy::Pack);
    assert!(plan.is_complete(), "{plan:?}");
    assert_eq!(placed_on(&plan, 1), Some(1));
    assert!(plan.assignments.iter().all(|a| a.worker_index != 0));
}
