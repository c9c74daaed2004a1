//! How few workers could possibly hold a demand.

use crate::definition::ResourceNeeds;

/// The fewest identical workers, each offering `per_worker`, that could hold
/// `demand`: the maximum over dimensions (cpu, memory, storage, nodes, ports) of
/// ceil(total demand / per-worker capacity). No placement can beat it, so benches
/// and simulations report workers used against it. `None` when some dimension is
/// demanded but a worker offers none of it (no number of workers suffices).
pub fn lower_bound<'a>(
    demand: impl IntoIterator<Item = &'a ResourceNeeds>,
    per_worker: &ResourceNeeds,
) -> Option<u64> {
    let mut total = [0u128; 5];
    for needs in demand {
        for (sum, value) in total.iter_mut().zip(dimensions(needs)) {
            *sum = sum.saturating_add(value);
        }
    }
    let mut bound = 0u128;
    for (sum, capacity) in total.into_iter().zip(dimensions(per_worker)) {
        if sum == 0 {
            continue;
        }
        if capacity == 0 {
            return None;
        }
        bound = bound.max(sum.div_ceil(capacity));
    }
    Some(u64::try_from(bound).unwrap_or(u64::MAX))
}

fn dimensions(needs: &ResourceNeeds) -> [u128; 5] {
    [
        u128::from(needs.resources.cpu_millis),
        u128::from(needs.resources.memory_mib),
        u128::from(needs.resources.storage_gib),
        u128::from(needs.nodes),
        u128::from(needs.ports),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Resources;

    fn needs(cpus: u64, mem: u64, nodes: u32, ports: u32) -> ResourceNeeds {
        ResourceNeeds {
            resources: Resources::new(cpus, mem, 0),
            nodes,
            ports,
        }
    }

    #[test]
    fn takes_the_tightest_dimension() {
        let worker = needs(48, 192, 100, 8000);
        let demand = vec![needs(10, 8, 1, 1); 10];
        assert_eq!(lower_bound(&demand, &worker), Some(3), "100 vCPU over 48");
        let demand = vec![needs(1, 100, 1, 1); 3];
        assert_eq!(lower_bound(&demand, &worker), Some(2), "300 GiB over 192");
        assert_eq!(lower_bound(&[], &worker), Some(0));
    }

    #[test]
    fn a_missing_dimension_has_no_bound() {
        let worker = needs(48, 192, 100, 0);
        assert_eq!(lower_bound(&[needs(1, 1, 1, 1)], &worker), None);
        assert_eq!(lower_bound(&[needs(1, 1, 1, 0)], &worker), Some(1));
    }
}
