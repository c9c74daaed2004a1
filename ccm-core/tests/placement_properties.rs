//! Properties of batch placement on random fleets and demand: it never over-commits
//! any dimension, never breaks eligibility, licence affinity or CML version, hands
//! out the lowest free ports once each, accounts for every request exactly once,
//! gives only true rejection reasons, leaves nothing unplaced that would still fit,
//! chooses exactly the worker its policy prefers (by end time, for the lifetime
//! policy), and is deterministic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Arc;

use ccm_core::catalog::{CatalogNeeds, NodeCatalog};

use ccm_core::definition::ResourceNeeds;
use ccm_core::ids::{LabletId, WorkerId};
use ccm_core::placement::{
    baseline, lower_bound, place, PlacementRequest, Plan, Policy, RejectReason, WorkerCandidate,
};
use ccm_core::resources::{PortRange, Resources};
use ccm_core::time::{from_unix_seconds, Timestamp};
use ccm_core::version::SemVer;
use ccm_core::worker::LicenceKind;
use proptest::prelude::*;

fn licence() -> impl Strategy<Value = Option<LicenceKind>> {
    prop_oneof![
        Just(None),
        Just(Some(LicenceKind::Personal)),
        Just(Some(LicenceKind::Enterprise)),
        Just(Some(LicenceKind::Evaluation)),
    ]
}

fn version() -> impl Strategy<Value = Option<SemVer>> {
    prop_oneof![
        Just(None),
        Just(Some(SemVer::new(2, 7, 0))),
        Just(Some(SemVer::new(2, 8, 0))),
        Just(Some(SemVer::new(2, 9, 1))),
    ]
}

const DEFINITIONS: [&str; 3] = ["iosv", "alpine", "csr1000v"];

/// A subset of [`DEFINITIONS`], by bit mask.
fn subset(mask: u8) -> BTreeSet<String> {
    DEFINITIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, d)| (*d).to_owned())
        .collect()
}

/// Unknown, or a catalog offering a subset of the definitions.
fn catalog() -> impl Strategy<Value = Option<Arc<NodeCatalog>>> {
    prop::option::weighted(0.7, 0u8..8).prop_map(|mask| {
        mask.map(|mask| {
            Arc::new(NodeCatalog {
                node_definitions: subset(mask),
                ..NodeCatalog::default()
            })
        })
    })
}

fn port_ranges() -> impl Strategy<Value = Vec<PortRange>> {
    prop::collection::vec((2000u16..2040, 0u16..12), 0..4).prop_map(|ranges| {
        ranges
            .into_iter()
            .map(|(first, len)| PortRange {
                first,
                // Some ranges come out empty (first > last) on purpose.
                last: (first + len).saturating_sub(1),
            })
            .collect()
    })
}

fn worker() -> impl Strategy<Value = WorkerCandidate> {
    (
        (
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.1),
        ),
        licence(),
        version(),
        (0u64..24, 0u64..48, 0u64..120, 0u32..24),
        port_ranges(),
        catalog(),
        moment(),
    )
        .prop_map(
            |(
                (running, cml_available, draining),
                licence,
                cml_version,
                (cpu, mem, storage, nodes),
                ports,
                catalog,
                busy_until,
            )| {
                WorkerCandidate {
                    id: WorkerId::from_u128(0),
                    running,
                    cml_available,
                    draining,
                    licence,
                    cml_version,
                    catalog,
                    free_nodes: nodes,
                    free: Resources {
                        cpu_millis: cpu * 500,
                        memory_mib: mem * 512,
                        storage_gib: storage,
                    },
                    free_ports: ports,
                    busy_until,
                }
            },
        )
}

/// Unknown, or one of a few hours' worth of instants, not aligned to the
/// quarter hour so that ends in one quarter hour are also exercised.
fn moment() -> impl Strategy<Value = Option<Timestamp>> {
    prop::option::weighted(0.7, (0i64..16, 0i64..900))
        .prop_map(|at| at.map(|(quarter, second)| from_unix_seconds(quarter * 900 + second)))
}

/// The quarter hour an end falls in, rounded up: the model of end classes.
fn quarter(at: Option<Timestamp>) -> Option<i64> {
    at.map(|t| (t.timestamp() + 899).div_euclid(900))
}

fn workers(max: usize) -> impl Strategy<Value = Vec<WorkerCandidate>> {
    prop::collection::vec(worker(), 0..max).prop_map(|mut ws| {
        for (i, w) in ws.iter_mut().enumerate() {
            w.id = WorkerId::from_u128(i as u128 + 1);
        }
        ws
    })
}

fn needs() -> impl Strategy<Value = ResourceNeeds> {
    (0u64..10, 0u64..20, 0u64..40, 0u32..8, 0u32..6).prop_map(
        |(cpu, mem, storage, nodes, ports)| ResourceNeeds {
            resources: Resources {
                cpu_millis: cpu * 500,
                memory_mib: mem * 512,
                storage_gib: storage,
            },
            nodes,
            ports,
        },
    )
}

fn request() -> impl Strategy<Value = PlacementRequest> {
    // Few distinct needs so that shapes repeat and the failure cache is exercised.
    (
        0u128..30,
        prop::sample::select(vec![0usize, 1, 2, 3, 4, 5]),
        prop::collection::vec(needs(), 6),
        licence(),
        version(),
        0u8..8,
        moment(),
    )
        .prop_map(|(id, pick, palette, affinity, min, needed, ends_at)| {
            PlacementRequest {
                lablet: LabletId::from_u128(id),
                needs: palette[pick],
                licence_affinity: affinity.filter(|_| id % 3 == 0),
                min_cml_version: min.filter(|_| id % 4 == 0),
                requires: None,
                ends_at,
            }
            .with_catalog_needs(Arc::new(CatalogNeeds {
                node_definitions: subset(if id % 2 == 0 { needed } else { 0 }),
                ..CatalogNeeds::default()
            }))
        })
}

fn requests(max: usize) -> impl Strategy<Value = Vec<PlacementRequest>> {
    prop::collection::vec(request(), 0..max)
}

fn policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        Just(Policy::Pack),
        Just(Policy::Spread),
        Just(Policy::Lifetime)
    ]
}

/// What a worker has free, in every dimension, as a plan is applied.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Free {
    cpu: u64,
    mem: u64,
    storage: u64,
    nodes: u32,
    ports: u32,
}

impl Free {
    fn of(w: &WorkerCandidate) -> Self {
        Free {
            cpu: w.free.cpu_millis,
            mem: w.free.memory_mib,
            storage: w.free.storage_gib,
            nodes: w.free_nodes,
            ports: free_ports(w).len() as u32,
        }
    }

    fn fits(&self, n: &ResourceNeeds) -> bool {
        self.cpu >= n.resources.cpu_millis
            && self.mem >= n.resources.memory_mib
            && self.storage >= n.resources.storage_gib
            && self.nodes >= n.nodes
            && self.ports >= n.ports
    }

    fn take(&mut self, n: &ResourceNeeds) {
        self.cpu -= n.resources.cpu_millis;
        self.mem -= n.resources.memory_mib;
        self.storage -= n.resources.storage_gib;
        self.nodes -= n.nodes;
        self.ports -= n.ports;
    }
}

fn free_ports(w: &WorkerCandidate) -> BTreeSet<u16> {
    w.free_ports
        .iter()
        .filter(|r| !r.is_empty())
        .flat_map(|r| r.first..=r.last)
        .collect()
}

/// The catalog check written out: an unknown catalog takes anything, a known one
/// must hold every needed definition.
fn offers_all(w: &WorkerCandidate, r: &PlacementRequest) -> bool {
    match (&w.catalog, &r.requires) {
        (Some(catalog), Some(needs)) => needs.node_definitions.is_subset(&catalog.node_definitions),
        _ => true,
    }
}

fn passes_gate(w: &WorkerCandidate, r: &PlacementRequest) -> bool {
    let shape = r.shape();
    w.is_eligible()
        && shape.accepts_licence(w.licence)
        && shape.accepts_version(w.cml_version)
        && offers_all(w, r)
}

fn gate_reason(w: &WorkerCandidate, r: &PlacementRequest) -> Option<RejectReason> {
    let shape = r.shape();
    if !w.running {
        Some(RejectReason::NotRunning)
    } else if !w.cml_available {
        Some(RejectReason::CmlUnavailable)
    } else if w.draining {
        Some(RejectReason::Draining)
    } else if !shape.accepts_licence(w.licence) {
        Some(RejectReason::LicenceAffinity)
    } else if !shape.accepts_version(w.cml_version) {
        Some(RejectReason::CmlVersion)
    } else if !offers_all(w, r) {
        Some(RejectReason::MissingDefinitions)
    } else {
        None
    }
}

fn short_in(free: &Free, n: &ResourceNeeds, reason: RejectReason) -> bool {
    match reason {
        RejectReason::NodeCap => free.nodes < n.nodes,
        RejectReason::Cpu => free.cpu < n.resources.cpu_millis,
        RejectReason::Memory => free.mem < n.resources.memory_mib,
        RejectReason::Storage => free.storage < n.resources.storage_gib,
        RejectReason::Ports => free.ports < n.ports,
        _ => false,
    }
}

/// How a checked plan chose among feasible workers.
#[derive(Clone, Copy, Debug)]
enum Choice {
    Fullest,
    Emptiest,
    FirstInOrder,
    /// Up anyway past the lablet's end (closest end first), else lengthened
    /// least (latest end first), else empty; fullest within an end.
    Lifetime,
}

/// Checks every safety property of `plan` and that each assignment went to the
/// worker `choice` prefers among those feasible at that moment. Returns the free
/// capacity left on each worker.
fn check_plan(
    workers: &[WorkerCandidate],
    requests: &[PlacementRequest],
    plan: &Plan,
    choice: Choice,
) -> Vec<Free> {
    // Every request exactly once.
    let mut seen = vec![0u32; requests.len()];
    for index in plan
        .assignments
        .iter()
        .map(|a| (a.request_index, a.lablet))
        .chain(plan.unplaced.iter().map(|u| (u.request_index, u.lablet)))
    {
        assert_eq!(requests[index.0].lablet, index.1);
        seen[index.0] += 1;
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");

    // Replay the assignments in decision order against an independent model.
    let mut free: Vec<Free> = workers.iter().map(Free::of).collect();
    let mut ports_left: Vec<BTreeSet<u16>> = workers.iter().map(free_ports).collect();
    let mut ends: Vec<Option<i64>> = workers.iter().map(|w| quarter(w.busy_until)).collect();
    for a in &plan.assignments {
        let r = &requests[a.request_index];
        let w = &workers[a.worker_index];
        assert_eq!(a.worker, w.id);
        assert!(
            passes_gate(w, r),
            "placed on an ineligible or incompatible worker"
        );
        assert!(
            free[a.worker_index].fits(&r.needs),
            "over-commit on worker {}",
            a.worker_index
        );
        let feasible: Vec<usize> = (0..workers.len())
            .filter(|&i| passes_gate(&workers[i], r) && free[i].fits(&r.needs))
            .collect();
        let expected = match choice {
            Choice::Fullest => feasible
                .iter()
                .copied()
                .min_by_key(|&i| (free[i].mem, free[i].cpu, i)),
            Choice::Emptiest => feasible
                .iter()
                .copied()
                .max_by_key(|&i| (free[i].mem, free[i].cpu, std::cmp::Reverse(i))),
            Choice::FirstInOrder => feasible.first().copied(),
            Choice::Lifetime => {
                let fullest = |i: &usize| (free[*i].mem, free[*i].cpu, *i);
                match quarter(r.ends_at) {
                    None => feasible.iter().copied().min_by_key(fullest),
                    Some(end) => feasible
                        .iter()
                        .copied()
                        .filter(|&i| ends[i] >= Some(end))
                        .min_by_key(|i| (ends[*i], fullest(i)))
                        .or_else(|| {
                            feasible
                                .iter()
                                .copied()
                                .filter(|&i| ends[i].is_some())
                                .min_by_key(|i| (std::cmp::Reverse(ends[*i]), fullest(i)))
                        })
                        .or_else(|| feasible.iter().copied().min_by_key(fullest)),
                }
            }
        };
        if let Some(end) = quarter(r.ends_at) {
            ends[a.worker_index] = ends[a.worker_index].max(Some(end));
        }
        assert_eq!(
            Some(a.worker_index),
            expected,
            "{choice:?} chose another worker"
        );
        // Ports: the right number, the lowest still free, never reused.
        let lowest: Vec<u16> = ports_left[a.worker_index]
            .iter()
            .copied()
            .take(r.needs.ports as usize)
            .collect();
        assert_eq!(a.ports, lowest);
        for port in &a.ports {
            assert!(ports_left[a.worker_index].remove(port));
        }
        free[a.worker_index].take(&r.needs);
    }

    // Unplaced: true reasons, consistent summaries, and nothing that would fit now.
    for u in &plan.unplaced {
        let r = &requests[u.request_index];
        let list = u.rejections.by_worker().collect::<Vec<_>>();
        assert_eq!(list.len(), workers.len());
        assert_eq!(u.rejections.shape(), &r.shape());
        for (i, rejection) in list.iter().enumerate() {
            assert_eq!(rejection.worker_index, i);
            assert_eq!(rejection.worker, workers[i].id);
            match gate_reason(&workers[i], r) {
                Some(reason) => assert_eq!(rejection.reason, reason),
                None => assert!(
                    short_in(&free[i], &r.needs, rejection.reason),
                    "worker {i} is not short of {}",
                    rejection.reason
                ),
            }
            assert!(
                !(passes_gate(&workers[i], r) && free[i].fits(&r.needs)),
                "unplaced but fits worker {i}"
            );
        }
        let summary = u.summary();
        assert_eq!(summary.total(), workers.len());
        for reason in RejectReason::ALL {
            assert_eq!(
                summary.get(reason),
                list.iter().filter(|x| x.reason == reason).count()
            );
        }
    }
    free
}

fn uniform_fleet(n: usize) -> Vec<WorkerCandidate> {
    (0..n)
        .map(|i| {
            WorkerCandidate::new(
                WorkerId::from_u128(i as u128 + 1),
                Resources::new(16, 64, 200),
                40,
            )
            .with_free_ports(vec![PortRange {
                first: 2000,
                last: 2031,
            }])
        })
        .collect()
}

fn per_worker() -> ResourceNeeds {
    ResourceNeeds {
        resources: Resources::new(16, 64, 200),
        nodes: 40,
        ports: 32,
    }
}

/// Every real lablet holds some CPU and memory. Spread ranks headroom by free
/// memory then CPU, so lablets needing neither would all land on the first worker,
/// and the "spread uses every worker" properties below would not hold for them.
fn with_cpu_and_memory(mut needs: ResourceNeeds) -> ResourceNeeds {
    needs.resources.cpu_millis = needs.resources.cpu_millis.max(500);
    needs.resources.memory_mib = needs.resources.memory_mib.max(512);
    needs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn placement_is_safe_exact_and_complete(
        workers in workers(10),
        requests in requests(60),
        policy in policy(),
    ) {
        let plan = place(&workers, &requests, policy);
        let choice = match policy {
            Policy::Pack => Choice::Fullest,
            Policy::Spread => Choice::Emptiest,
            Policy::Lifetime => Choice::Lifetime,
        };
        check_plan(&workers, &requests, &plan, choice);
    }

    #[test]
    fn first_fit_baseline_obeys_the_same_rules(workers in workers(10), requests in requests(60)) {
        let plan = baseline::first_fit(&workers, &requests);
        check_plan(&workers, &requests, &plan, Choice::FirstInOrder);
    }

    #[test]
    fn placement_is_deterministic(
        workers in workers(10),
        requests in requests(60),
        policy in policy(),
    ) {
        prop_assert_eq!(place(&workers, &requests, policy), place(&workers, &requests, policy));
        prop_assert_eq!(
            baseline::first_fit(&workers, &requests),
            baseline::first_fit(&workers, &requests)
        );
    }

    #[test]
    fn input_order_does_not_matter_for_distinct_ids(
        workers in workers(8),
        requests in requests(40),
        policy in policy(),
        seed in any::<u64>(),
    ) {
        let mut unique = requests;
        for (i, r) in unique.iter_mut().enumerate() {
            r.lablet = LabletId::from_u128(i as u128);
        }
        let mut shuffled = unique.clone();
        // A seeded rotation and reversal: enough to move every element.
        let len = shuffled.len().max(1);
        shuffled.rotate_left((seed as usize) % len);
        if seed % 2 == 0 {
            shuffled.reverse();
        }
        let outcome = |plan: Plan| {
            let mut placed: Vec<_> = plan.assignments.into_iter().map(|a| (a.lablet, a.worker_index, a.ports)).collect();
            placed.sort();
            let mut unplaced: Vec<_> = plan.unplaced.into_iter().map(|u| u.lablet).collect();
            unplaced.sort();
            (placed, unplaced)
        };
        prop_assert_eq!(outcome(place(&workers, &unique, policy)), outcome(place(&workers, &shuffled, policy)));
    }

    #[test]
    fn on_an_empty_uniform_fleet_pack_never_uses_more_workers_than_spread(
        fleet_size in 1usize..12,
        requests in requests(60),
    ) {
        let workers = uniform_fleet(fleet_size);
        let requests: Vec<_> = requests
            .into_iter()
            .map(|r| PlacementRequest::new(r.lablet, with_cpu_and_memory(r.needs)))
            .filter(|r| Free::of(&workers[0]).fits(&r.needs))
            .collect();
        let pack = place(&workers, &requests, Policy::Pack);
        let spread = place(&workers, &requests, Policy::Spread);
        prop_assert!(pack.workers_used() <= spread.workers_used());
        prop_assert_eq!(spread.workers_used(), spread.assignments.len().min(fleet_size));
        if pack.is_complete() {
            let bound = lower_bound(requests.iter().map(|r| &r.needs), &per_worker()).unwrap();
            prop_assert!(pack.workers_used() as u64 >= bound);
        }
    }

    #[test]
    fn identical_lablets_fill_workers_one_after_another(
        fleet_size in 1usize..10,
        count in 0usize..80,
        needs in needs(),
        policy in policy(),
    ) {
        let workers = uniform_fleet(fleet_size);
        let capacity = Free::of(&workers[0]);
        let needs = with_cpu_and_memory(needs);
        prop_assume!(capacity.fits(&needs));
        let per = [
            capacity.cpu.checked_div(needs.resources.cpu_millis),
            capacity.mem.checked_div(needs.resources.memory_mib),
            capacity.storage.checked_div(needs.resources.storage_gib),
            u64::from(capacity.nodes).checked_div(u64::from(needs.nodes)),
            u64::from(capacity.ports).checked_div(u64::from(needs.ports)),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(u64::MAX) as usize;
        let requests: Vec<_> = (0..count)
            .map(|i| PlacementRequest::new(LabletId::from_u128(i as u128), needs))
            .collect();
        let placeable = count.min(per.saturating_mul(fleet_size));
        let plan = place(&workers, &requests, policy);
        prop_assert_eq!(plan.assignments.len(), placeable);
        let expected = match policy {
            Policy::Pack | Policy::Lifetime => placeable.div_ceil(per.max(1)),
            Policy::Spread => placeable.min(fleet_size),
        };
        prop_assert_eq!(plan.workers_used(), expected);
        prop_assert!(plan.distinct_rejection_lists() <= 1);
    }
}
