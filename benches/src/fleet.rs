//! Synthetic fleets and lablet demand for the placement bench (and, later,
//! simulations): seeded, so every run and every policy sees the same input.
//!
//! The fleet is uniform `m5zn.metal` workers (48 vCPU, 192 GiB) with a realistic
//! mix of licences, CML versions and a few ineligible workers. Demand is drawn from
//! a catalog of lab definitions whose sizes are scaled so that the whole demand
//! takes about [`UTILIZATION`] of the fleet's CPU whatever the lablet count: a
//! million lablets over 5,000 workers are therefore small (about 0.2 vCPU each),
//! which keeps "workers used against the lower bound" meaningful. CPU runs out
//! before memory on average, the hard case for an index keyed by memory.

use ccm_core::definition::ResourceNeeds;
use ccm_core::ids::{LabletId, WorkerId};
use ccm_core::placement::{lower_bound, PlacementRequest, WorkerCandidate};
use ccm_core::resources::Resources;
use ccm_core::version::SemVer;
use ccm_core::worker::LicenceKind;

/// Share of the fleet's CPU the placeable demand asks for.
pub const UTILIZATION: f64 = 0.85;

/// Node slots per worker: generous, so that nodes only bind for big topologies.
pub const NODE_SLOTS: u32 = 2_000;

/// What one empty worker of the synthetic fleet offers.
pub fn per_worker() -> ResourceNeeds {
    ResourceNeeds {
        resources: Resources::new(48, 192, 2_000),
        nodes: NODE_SLOTS,
        ports: 8_000,
    }
}

/// A fleet and a demand generated together.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Workers, all empty.
    pub workers: Vec<WorkerCandidate>,
    /// Lablets to place.
    pub requests: Vec<PlacementRequest>,
    /// Requests that no worker can take by construction (a licence the fleet does
    /// not have, or bigger than a worker): they exercise the rejection path.
    pub unplaceable_by_design: usize,
    /// Lower bound on workers for the placeable requests on this fleet's worker size.
    pub lower_bound: u64,
}

/// `workers` workers and `lablets` lablets from `seed`.
pub fn scenario(workers: usize, lablets: usize, seed: u64) -> Scenario {
    let mut rng = SplitMix64(seed);
    let fleet = fleet(workers, &mut rng);
    let catalog = catalog();
    let total_weight: u32 = catalog.iter().map(|d| d.weight).sum();
    let mean_cpu = catalog
        .iter()
        .filter(|d| d.placeable)
        .map(|d| f64::from(d.weight) * d.cpus)
        .sum::<f64>()
        / f64::from(
            catalog
                .iter()
                .filter(|d| d.placeable)
                .map(|d| d.weight)
                .sum::<u32>(),
        );
    let target_cpu = UTILIZATION * 48.0 * workers as f64 / lablets.max(1) as f64;
    let scale = target_cpu / mean_cpu;
    let mut requests = Vec::with_capacity(lablets);
    let mut placeable_needs = Vec::with_capacity(lablets);
    let mut unplaceable = 0;
    for i in 0..lablets {
        let mut pick = rng.below(u64::from(total_weight));
        let def = catalog
            .iter()
            .find(|d| {
                let hit = pick < u64::from(d.weight);
                pick = pick.saturating_sub(u64::from(d.weight));
                hit
            })
            .unwrap_or(&catalog[0]);
        let mut request =
            PlacementRequest::new(LabletId::from_u128(i as u128 + 1), def.needs(scale));
        request.licence_affinity = def.licence;
        request.min_cml_version = def.min_version;
        if def.placeable {
            placeable_needs.push(request.needs);
        } else {
            unplaceable += 1;
        }
        requests.push(request);
    }
    let lower_bound = lower_bound(&placeable_needs, &per_worker()).unwrap_or(u64::MAX);
    Scenario {
        workers: fleet,
        requests,
        unplaceable_by_design: unplaceable,
        lower_bound,
    }
}

fn fleet(workers: usize, rng: &mut SplitMix64) -> Vec<WorkerCandidate> {
    let capacity = per_worker();
    (0..workers)
        .map(|i| {
            let licence = if rng.below(100) < 75 {
                LicenceKind::Enterprise
            } else {
                LicenceKind::Personal
            };
            let version = if rng.below(100) < 70 {
                SemVer::new(2, 9, 1)
            } else {
                SemVer::new(2, 8, 0)
            };
            let mut w = WorkerCandidate::new(
                WorkerId::from_u128(i as u128 + 1),
                capacity.resources,
                capacity.nodes,
            )
            .with_licence(licence)
            .with_cml_version(version);
            match rng.below(1000) {
                0..=9 => w.draining = true,
                10..=14 => w.running = false,
                15..=19 => w.cml_available = false,
                _ => {}
            }
            w
        })
        .collect()
}

/// One lab definition of the synthetic catalog, at full (100-lablets-per-fleet) size.
struct Definition {
    weight: u32,
    cpus: f64,
    memory_gib: f64,
    storage_gib: f64,
    nodes: f64,
    ports: f64,
    licence: Option<LicenceKind>,
    min_version: Option<SemVer>,
    placeable: bool,
}

impl Definition {
    fn needs(&self, scale: f64) -> ResourceNeeds {
        // Too-big definitions stay too big whatever the scale.
        let scale = if self.placeable { scale } else { 1.0 };
        let units = |v: f64, unit: f64| ((v * scale * unit).round() as u64).max(1);
        ResourceNeeds {
            resources: Resources {
                cpu_millis: units(self.cpus, 1000.0),
                memory_mib: units(self.memory_gib, 1024.0),
                storage_gib: units(self.storage_gib, 1.0),
            },
            nodes: (self.nodes * scale.min(1.0)).round().max(1.0) as u32,
            ports: (self.ports * scale.min(1.0)).round().max(1.0) as u32,
        }
    }
}

fn catalog() -> Vec<Definition> {
    let def = |weight, cpus, memory_gib, storage_gib, nodes, ports| Definition {
        weight,
        cpus,
        memory_gib,
        storage_gib,
        nodes,
        ports,
        licence: None,
        min_version: None,
        placeable: true,
    };
    let enterprise = |d: Definition| Definition {
        licence: Some(LicenceKind::Enterprise),
        ..d
    };
    let recent = |d: Definition| Definition {
        min_version: Some(SemVer::new(2, 9, 0)),
        ..d
    };
    vec![
        def(180, 2.0, 4.0, 16.0, 3.0, 2.0),
        def(140, 3.0, 6.0, 20.0, 4.0, 2.0),
        def(120, 4.0, 8.0, 32.0, 6.0, 3.0),
        def(90, 4.0, 16.0, 40.0, 5.0, 3.0),
        def(70, 6.0, 12.0, 48.0, 8.0, 4.0),
        enterprise(def(60, 8.0, 16.0, 64.0, 10.0, 4.0)),
        enterprise(def(50, 8.0, 32.0, 80.0, 12.0, 5.0)),
        recent(def(60, 3.0, 8.0, 24.0, 4.0, 2.0)),
        recent(def(40, 12.0, 24.0, 96.0, 16.0, 6.0)),
        enterprise(recent(def(40, 6.0, 24.0, 64.0, 9.0, 4.0))),
        def(30, 16.0, 32.0, 120.0, 20.0, 8.0),
        def(25, 2.0, 24.0, 40.0, 2.0, 2.0),
        enterprise(def(20, 16.0, 64.0, 160.0, 24.0, 10.0)),
        recent(def(15, 1.0, 2.0, 8.0, 1.0, 1.0)),
        Definition {
            licence: Some(LicenceKind::Evaluation),
            placeable: false,
            ..def(2, 4.0, 8.0, 32.0, 6.0, 3.0)
        },
        Definition {
            placeable: false,
            ..def(1, 64.0, 256.0, 200.0, 40.0, 10.0)
        },
    ]
}

/// A tiny seeded generator (SplitMix64): the benches crate takes no dependency for
/// randomness, and the sequence must not change under it between runs.
#[derive(Clone, Debug)]
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (0 when `bound` is 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64().checked_rem(bound).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_are_repeatable_and_sized_to_the_fleet() {
        let a = scenario(100, 2_000, 7);
        let b = scenario(100, 2_000, 7);
        assert_eq!(a.requests, b.requests);
        assert_eq!(a.workers, b.workers);
        assert_eq!(a.requests.len(), 2_000);
        assert!(a.unplaceable_by_design > 0);
        let bound = a.lower_bound;
        assert!((80..=95).contains(&bound), "{bound}");
    }
}
