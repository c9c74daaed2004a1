//! The demo fleet seeded on first start of the simulated default: a few workers
//! across the configured regions, two lablet definitions and lablets booked through
//! the day — the first a few minutes ahead — so a newcomer sees workers boot, CML
//! come up and a lablet get placed and run, and, with the demo's autoscaler, spare
//! workers drained and stopped and stopped ones started again for the later lablets.

use std::collections::BTreeMap;

use ccm_core::definition::{NewDefinition, ResourceNeeds};
use ccm_core::fleet::{CreateWorker, Fleet};
use ccm_core::ids::Region;
use ccm_core::lablet::{NewLablet, Timeslot};
use ccm_core::ports::store::{DefinitionFilter, WorkerFilter};
use ccm_core::resources::Resources;
use ccm_core::time::plus_seconds;
use ccm_core::version::SemVer;
use ccm_core::CoreError;

const CCNA: &str = "lab:\n  title: ccna-basics\nnodes:\n  - id: n0\n    label: r1\n    node_definition: iosv\n  - id: n1\n    label: r2\n    node_definition: iosv\n  - id: n2\n    label: sw\n    node_definition: iosvl2\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

const ALPINE: &str = "lab:\n  title: linux-101\nnodes:\n  - id: n0\n    label: host-a\n    node_definition: alpine\n  - id: n1\n    label: host-b\n    node_definition: alpine\nlinks:\n  - id: l0\n    n1: n0\n    n2: n1\n";

/// The demo's bookings: (minutes from the first start to the timeslot's start,
/// its length in minutes, which definition — an index into the seeded ones). The
/// first is ready within minutes; the others come hours apart, long enough for the
/// autoscaler to stop the idle workers in between and start one again for each.
const DEMO_BOOKINGS: [(i64, i64, usize); 4] =
    [(3, 60, 0), (120, 45, 1), (240, 60, 0), (360, 45, 1)];

/// What was seeded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    /// Workers created.
    pub workers: usize,
    /// Definitions created.
    pub definitions: usize,
    /// Lablets booked.
    pub lablets: usize,
}

/// Seeds the demo fleet when the store has no workers and no definitions yet.
pub async fn seed_demo(
    fleet: &Fleet,
    regions: &[String],
    workers: u32,
) -> Result<Seeded, CoreError> {
    let store = fleet.store();
    let any_worker = !store
        .list_workers(&WorkerFilter {
            include_terminated: true,
            ..WorkerFilter::default()
        })
        .await?
        .is_empty();
    let any_definition = !store
        .list_definitions(&DefinitionFilter::default())
        .await?
        .is_empty();
    if any_worker || any_definition {
        return Ok(Seeded::default());
    }
    let mut seeded = Seeded::default();
    for n in 0..workers {
        let region = regions
            .get(n as usize % regions.len().max(1))
            .cloned()
            .unwrap_or_else(|| "us-east-1".into());
        fleet
            .create_worker(CreateWorker {
                name: format!("demo-worker-{:02}", n + 1),
                region: Region::new(region),
                instance_type: None,
                labels: BTreeMap::from([("pool".to_owned(), "demo".to_owned())]),
                tags: BTreeMap::new(),
                idle_detection_disabled: n == 0,
                created_by: Some("ccm demo seed".into()),
                image: None,
            })
            .await?;
        seeded.workers += 1;
    }
    let mut definitions = Vec::new();
    // One port per node: each node's console is reachable (`topology::pat`).
    for (name, yaml, cpu, mem, ports) in [
        ("ccna-basics", CCNA, 4, 8, 3),
        ("linux-101", ALPINE, 2, 2, 2),
    ] {
        let definition = fleet
            .create_definition(NewDefinition {
                name: name.into(),
                version: SemVer::new(1, 0, 0),
                topology_yaml: yaml.into(),
                needs: ResourceNeeds {
                    resources: Resources::new(cpu, mem, 20),
                    nodes: 0,
                    ports,
                },
                licence_affinity: None,
                min_cml_version: None,
                max_duration_minutes: 240,
                warm_pool_depth: 0,
            })
            .await?;
        definitions.push(definition.id);
        seeded.definitions += 1;
    }
    let now = fleet.clock().now();
    for (start_minutes, length_minutes, which) in DEMO_BOOKINGS {
        let Some(definition) = definitions.get(which) else {
            continue;
        };
        let start = plus_seconds(now, start_minutes * 60);
        fleet
            .create_lablet(
                *definition,
                NewLablet {
                    owner: "demo".into(),
                    timeslot: Timeslot {
                        start,
                        end: plus_seconds(start, length_minutes * 60),
                    },
                    reservation_id: None,
                    on_demand: false,
                },
            )
            .await?;
        seeded.lablets += 1;
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use ccm_core::fleet::{Adapters, FleetSettings};
    use ccm_core::ports::clock::{Clock, VirtualClock};
    use ccm_core::ports::store::LabletFilter;
    use ccm_core::store::MemoryStore;
    use ccm_core::time::seconds_between;
    use ccm_sim::{SimConfig, Simulation};

    use super::*;

    #[tokio::test]
    async fn the_demo_books_a_lablet_within_minutes_and_more_later_in_the_day_once() {
        let clock = VirtualClock::new(SimConfig::default().start);
        let sim = Simulation::with_virtual_clock(1, SimConfig::default(), clock.clone());
        let fleet = Fleet::new(
            Adapters {
                store: Arc::new(MemoryStore::new()),
                cloud: Arc::new(sim.cloud()),
                cml: Arc::new(sim.cml()),
                clock: Arc::new(clock.clone()),
            },
            FleetSettings::default(),
        );
        let regions = ["us-east-1".to_owned()];
        let seeded = seed_demo(&fleet, &regions, 3).await.unwrap();
        assert_eq!(
            seeded,
            Seeded {
                workers: 3,
                definitions: 2,
                lablets: 4
            }
        );
        let now = clock.now();
        let mut starts: Vec<i64> = fleet
            .list_lablets(&LabletFilter::default())
            .await
            .unwrap()
            .iter()
            .map(|l| seconds_between(now, l.spec.timeslot.start))
            .collect();
        starts.sort_unstable();
        assert_eq!(starts, [3 * 60, 2 * 3600, 4 * 3600, 6 * 3600]);

        let again = seed_demo(&fleet, &regions, 3).await.unwrap();
        assert_eq!(
            again,
            Seeded::default(),
            "a store with a fleet is left alone"
        );
    }
}
