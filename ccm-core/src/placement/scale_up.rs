//! How many new workers of which type would take the lablets that did not fit.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use super::index::{FreeIndex, Preference};
use super::price::{NewWorkerProfile, PriceTable};
use super::request::{PlacementRequest, RequestShape};
use super::room::Room;
use crate::ids::LabletId;

/// New workers of one instance type.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleUpLine {
    /// Instance type name from the price table.
    pub instance_type: String,
    /// Workers to launch.
    pub workers: u64,
    /// Lablets they would take.
    pub lablets: u64,
    /// Their combined hourly price, USD.
    pub hourly_usd: f64,
}

/// A suggestion for the autoscaler; launching is its decision, not placement's.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScaleUp {
    /// Workers to launch, in price-table order.
    pub lines: Vec<ScaleUpLine>,
    /// Hourly price of all of them, USD.
    pub total_hourly_usd: f64,
    /// Lablets no type in the table could take even on an empty worker (too big, or
    /// a licence or CML version the new-worker profile does not provide).
    pub unfittable: Vec<LabletId>,
}

impl ScaleUp {
    /// Workers to launch in total.
    pub fn workers(&self) -> u64 {
        self.lines.iter().map(|line| line.workers).sum()
    }
}

/// Suggests the cheapest set of new workers that would take `requests` (normally
/// the unplaced requests of a [`super::Plan`]).
///
/// Exact minimum-cost packing is NP-hard, so this compares two kinds of answer and
/// keeps the cheaper (fewer workers on a tie, then table order): one type for
/// everything, for each type that can take every fittable lablet; and a greedy mix
/// that repeatedly picks the type with the lowest price per lablet for the lablets
/// it can take. Worker counts come from best-fit-decreasing packing onto empty
/// workers of the type, done per shape in blocks so that a million unplaced lablets
/// of a few dozen shapes cost microseconds, not seconds.
pub fn suggest_scale_up<'a>(
    requests: impl IntoIterator<Item = &'a PlacementRequest>,
    table: &PriceTable,
    profile: &NewWorkerProfile,
) -> ScaleUp {
    let requests: Vec<&PlacementRequest> = requests.into_iter().collect();
    let problem = Problem::new(&requests, table, profile);
    let unfittable = requests
        .iter()
        .filter(|request| !problem.is_coverable(&request.shape()))
        .map(|request| request.lablet)
        .collect();
    let mut options = problem.single_type_options();
    options.extend(problem.greedy_mix());
    let lines: Vec<ScaleUpLine> = cheapest(options)
        .into_iter()
        .filter_map(|line| {
            let instance = table
                .types
                .get(problem.types.get(line.type_index)?.table_index)?;
            Some(ScaleUpLine {
                instance_type: instance.name.clone(),
                workers: line.workers,
                lablets: line.lablets,
                hourly_usd: line.cost,
            })
        })
        .collect();
    ScaleUp {
        total_hourly_usd: lines.iter().map(|l| l.hourly_usd).sum(),
        lines,
        unfittable,
    }
}

/// A usable instance type as an empty worker's room.
struct Candidate {
    table_index: usize,
    bin: Room,
    price: f64,
}

/// The demand by shape and which type can take which shape.
struct Problem {
    /// Distinct shapes with their need and count, sorted by shape.
    shapes: Vec<(RequestShape, Room, u64)>,
    types: Vec<Candidate>,
    /// `fits[t][s]`: type `t` (with the profile) can take shape `s` (in map order).
    fits: Vec<Vec<bool>>,
    coverable: Vec<bool>,
}

impl Problem {
    fn new(requests: &[&PlacementRequest], table: &PriceTable, profile: &NewWorkerProfile) -> Self {
        let mut counts: BTreeMap<RequestShape, u64> = BTreeMap::new();
        for request in requests {
            let count = counts.entry(request.shape()).or_insert(0);
            *count = count.saturating_add(1);
        }
        let shapes: Vec<(RequestShape, Room, u64)> = counts
            .into_iter()
            .map(|(shape, count)| {
                let room = Room::of_needs(&shape.needs);
                (shape, room, count)
            })
            .collect();
        let types: Vec<Candidate> = table
            .types
            .iter()
            .enumerate()
            .filter(|(_, t)| t.has_usable_price())
            .map(|(table_index, t)| Candidate {
                table_index,
                bin: Room {
                    cpu: t.capacity.cpu_millis,
                    mem: t.capacity.memory_mib,
                    storage: t.capacity.storage_gib,
                    nodes: t.node_slots.min(profile.node_limit.unwrap_or(u32::MAX)),
                    ports: profile.port_range.len(),
                },
                price: t.hourly_usd,
            })
            .collect();
        let fits: Vec<Vec<bool>> = types
            .iter()
            .map(|t| {
                shapes
                    .iter()
                    .map(|(shape, need, _)| {
                        shape.accepts_licence(profile.licence)
                            && shape.accepts_version(profile.cml_version)
                            && t.bin.fits(need)
                    })
                    .collect()
            })
            .collect();
        let coverable = (0..shapes.len())
            .map(|s| fits.iter().any(|row| row.get(s) == Some(&true)))
            .collect();
        Self {
            shapes,
            types,
            fits,
            coverable,
        }
    }

    fn fits(&self, t: usize, s: usize) -> bool {
        self.fits.get(t).and_then(|row| row.get(s)) == Some(&true)
    }

    fn coverable(&self, s: usize) -> bool {
        self.coverable.get(s) == Some(&true)
    }

    fn is_coverable(&self, shape: &RequestShape) -> bool {
        self.shapes
            .binary_search_by(|(s, _, _)| s.cmp(shape))
            .is_ok_and(|s| self.coverable(s))
    }

    /// Type `t` taking the shapes `take` selects, or `None` if it would take none.
    fn pack(&self, t: usize, take: impl Fn(usize) -> bool) -> Option<Line> {
        let candidate = self.types.get(t)?;
        let items: Vec<(Room, u64)> = self
            .shapes
            .iter()
            .enumerate()
            .filter(|(s, _)| take(*s))
            .map(|(_, (_, need, count))| (*need, *count))
            .collect();
        let lablets: u64 = items.iter().map(|(_, count)| count).sum();
        if lablets == 0 {
            return None;
        }
        let workers = workers_needed(&candidate.bin, &items);
        Some(Line {
            type_index: t,
            workers,
            lablets,
            cost: candidate.price * workers as f64,
        })
    }

    /// Every type that can take all the fittable lablets, alone.
    fn single_type_options(&self) -> Vec<Vec<Line>> {
        (0..self.types.len())
            .filter(|&t| (0..self.shapes.len()).all(|s| !self.coverable(s) || self.fits(t, s)))
            .filter_map(|t| self.pack(t, |s| self.coverable(s)))
            .map(|line| vec![line])
            .collect()
    }

    /// Repeatedly the type with the lowest price per lablet for what is left.
    fn greedy_mix(&self) -> Option<Vec<Line>> {
        let mut remaining = self.coverable.clone();
        let mut lines: Vec<Line> = Vec::new();
        loop {
            let left = |s: usize| remaining.get(s) == Some(&true);
            let pick = (0..self.types.len())
                .filter_map(|t| self.pack(t, |s| left(s) && self.fits(t, s)))
                .fold(None, |best: Option<Line>, line| match best {
                    Some(b) if b.per_lablet().total_cmp(&line.per_lablet()).is_le() => Some(b),
                    _ => Some(line),
                });
            let Some(line) = pick else {
                break;
            };
            for (s, left) in remaining.iter_mut().enumerate() {
                if self.fits(line.type_index, s) {
                    *left = false;
                }
            }
            lines.push(line);
        }
        lines.sort_by_key(|line| line.type_index);
        (!lines.is_empty()).then_some(lines)
    }
}

/// The cheapest option; fewer workers, then the earlier option, on a tie.
fn cheapest(options: Vec<Vec<Line>>) -> Vec<Line> {
    let total = |lines: &[Line]| -> (f64, u64) {
        (
            lines.iter().map(|l| l.cost).sum(),
            lines.iter().map(|l| l.workers).sum(),
        )
    };
    options
        .into_iter()
        .fold(None, |best: Option<Vec<Line>>, option| match best {
            Some(current) => {
                let (cost, workers) = total(&option);
                let (best_cost, best_workers) = total(&current);
                let better = cost
                    .total_cmp(&best_cost)
                    .then(workers.cmp(&best_workers))
                    .is_lt();
                Some(if better { option } else { current })
            }
            None => Some(option),
        })
        .unwrap_or_default()
}

#[derive(Clone, Copy, Debug)]
struct Line {
    type_index: usize,
    workers: u64,
    lablets: u64,
    cost: f64,
}

impl Line {
    fn per_lablet(&self) -> f64 {
        self.cost / self.lablets.max(1) as f64
    }
}

/// Empty workers of room `bin` needed to hold `items` (need, count), by best fit
/// decreasing. Identical workers are kept as one slot with a multiplicity, and
/// a shape goes into all the copies of a slot at once: best fit would fill them one
/// after another anyway, since a worker it fills stays the fullest that fits.
fn workers_needed(bin: &Room, items: &[(Room, u64)]) -> u64 {
    let mut order: Vec<(Room, u64)> = items.iter().copied().filter(|(_, n)| *n > 0).collect();
    order.sort_by_key(|(need, _)| (Reverse(need.size_against(bin)), *need));
    let mut rooms: Vec<Room> = Vec::new();
    let mut copies: Vec<u64> = Vec::new();
    let mut index = FreeIndex::new(Preference::Fullest, bin.mem);
    let mut opened: u64 = 0;
    fn add(
        rooms: &mut Vec<Room>,
        copies: &mut Vec<u64>,
        index: &mut FreeIndex,
        room: Room,
        n: u64,
    ) {
        index.insert(rooms.len(), &room);
        rooms.push(room);
        copies.push(n);
    }
    for (need, count) in order {
        let per_bin = bin.copies(&need);
        if per_bin == 0 {
            continue;
        }
        let mut left = count;
        while left > 0 {
            let found = index.find(&need, &rooms);
            let slot = found.and_then(|slot| Some((slot, *rooms.get(slot)?, *copies.get(slot)?)));
            match slot {
                Some((slot, room, available)) => {
                    let each = room.copies(&need).min(left).max(1);
                    let used = available.min(left / each).max(1);
                    if let Some(n) = copies.get_mut(slot) {
                        *n = n.saturating_sub(used);
                        if *n == 0 {
                            index.remove(slot, &room);
                        }
                    }
                    add(
                        &mut rooms,
                        &mut copies,
                        &mut index,
                        room.minus(&need.times(each)),
                        used,
                    );
                    left = left.saturating_sub(used.saturating_mul(each));
                }
                None => {
                    let whole = left / per_bin;
                    let rest = left % per_bin;
                    if whole > 0 {
                        add(
                            &mut rooms,
                            &mut copies,
                            &mut index,
                            bin.minus(&need.times(per_bin)),
                            whole,
                        );
                    }
                    if rest > 0 {
                        add(
                            &mut rooms,
                            &mut copies,
                            &mut index,
                            bin.minus(&need.times(rest)),
                            1,
                        );
                    }
                    opened = opened
                        .saturating_add(whole)
                        .saturating_add(u64::from(rest > 0));
                    left = 0;
                }
            }
        }
    }
    opened
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::ResourceNeeds;
    use crate::placement::InstanceType;
    use crate::resources::Resources;
    use crate::version::SemVer;
    use crate::worker::LicenceKind;

    fn request(id: u128, cpus: u64, mem_gib: u64) -> PlacementRequest {
        PlacementRequest::new(
            LabletId::from_u128(id),
            ResourceNeeds {
                resources: Resources::new(cpus, mem_gib, 10),
                nodes: 4,
                ports: 2,
            },
        )
    }

    fn table(types: Vec<InstanceType>) -> PriceTable {
        PriceTable { types }
    }

    #[test]
    fn nothing_to_place_needs_nothing() {
        let s = suggest_scale_up(&[], &PriceTable::default(), &NewWorkerProfile::default());
        assert_eq!(s, ScaleUp::default());
        assert_eq!(s.workers(), 0);
    }

    #[test]
    fn picks_the_cheapest_total_not_the_cheapest_worker() {
        // 20 lablets of 8 vCPU: 4 small workers ($4 each, 6 per worker → 4 workers,
        // $16) versus 2 big ones ($7 each, 12 per worker → 2 workers, $14).
        let requests: Vec<_> = (0..20).map(|i| request(i, 8, 16)).collect();
        let t = table(vec![
            InstanceType::new("small", 48, 192, 1000, 100, 4.0),
            InstanceType::new("big", 96, 384, 1000, 200, 7.0),
        ]);
        let s = suggest_scale_up(&requests, &t, &NewWorkerProfile::default());
        assert_eq!(s.lines.len(), 1);
        assert_eq!(s.lines[0].instance_type, "big");
        assert_eq!(s.lines[0].workers, 2);
        assert_eq!(s.lines[0].lablets, 20);
        assert!((s.total_hourly_usd - 14.0).abs() < 1e-9);
        assert!(s.unfittable.is_empty());
    }

    #[test]
    fn mixes_types_when_only_a_big_one_fits_some_lablets() {
        // Ten small lablets fit the cheap type; one 64-vCPU lablet needs the big one.
        let mut requests: Vec<_> = (0..10).map(|i| request(i, 4, 8)).collect();
        requests.push(request(99, 64, 64));
        let t = table(vec![
            InstanceType::new("small", 48, 192, 1000, 100, 4.0),
            InstanceType::new("big", 96, 384, 1000, 200, 9.0),
        ]);
        let s = suggest_scale_up(&requests, &t, &NewWorkerProfile::default());
        // Big alone: 64 + 40 vCPU > 96 → 2 big = $18; mix: 1 small + 1 big = $13.
        let names: Vec<_> = s
            .lines
            .iter()
            .map(|l| (l.instance_type.as_str(), l.workers))
            .collect();
        assert_eq!(names, vec![("small", 1), ("big", 1)]);
        assert!((s.total_hourly_usd - 13.0).abs() < 1e-9);
        assert_eq!(s.workers(), 2);
    }

    #[test]
    fn reports_lablets_no_type_or_profile_can_take() {
        let requests = vec![
            request(1, 4, 8),
            request(2, 500, 8),
            request(3, 4, 8).with_licence_affinity(LicenceKind::Personal),
            request(4, 4, 8).with_min_cml_version(SemVer::new(3, 0, 0)),
        ];
        let s = suggest_scale_up(
            &requests,
            &PriceTable::default(),
            &NewWorkerProfile::default(),
        );
        let ids: Vec<_> = s.unfittable.iter().map(|id| id.0.as_u128()).collect();
        assert_eq!(ids, vec![2, 3, 4]);
        assert_eq!(s.workers(), 1);
        assert_eq!(s.lines[0].instance_type, "m5zn.metal");
    }

    #[test]
    fn profile_node_limit_and_ports_bound_what_a_worker_takes() {
        let requests: Vec<_> = (0..10).map(|i| request(i, 1, 1)).collect();
        let profile = NewWorkerProfile {
            node_limit: Some(8),
            ..Default::default()
        };
        let one = table(vec![InstanceType::new("m", 48, 192, 1000, 100, 1.0)]);
        assert_eq!(
            suggest_scale_up(&requests, &one, &profile).workers(),
            5,
            "2 per worker"
        );
        let profile = NewWorkerProfile {
            port_range: crate::resources::PortRange {
                first: 2000,
                last: 2002,
            },
            ..Default::default()
        };
        assert_eq!(
            suggest_scale_up(&requests, &one, &profile).workers(),
            10,
            "1 per worker"
        );
    }

    #[test]
    fn skips_types_without_a_usable_price() {
        let requests = vec![request(1, 4, 8)];
        let t = table(vec![
            InstanceType::new("free-lunch", 48, 192, 1000, 100, f64::NAN),
            InstanceType::new("real", 48, 192, 1000, 100, 5.0),
        ]);
        let s = suggest_scale_up(&requests, &t, &NewWorkerProfile::default());
        assert_eq!(s.lines[0].instance_type, "real");
    }

    #[test]
    fn block_packing_matches_one_by_one_counts() {
        let bin = Room {
            cpu: 48,
            mem: 192,
            storage: 1000,
            nodes: 100,
            ports: 8000,
        };
        let need = |cpu, mem| Room {
            cpu,
            mem,
            storage: 1,
            nodes: 1,
            ports: 1,
        };
        assert_eq!(workers_needed(&bin, &[(need(8, 16), 1_000_000)]), 166_667);
        // 5 × 20 vCPU: two per worker leave 8 vCPU each, which 8-vCPU lablets fill.
        assert_eq!(
            workers_needed(&bin, &[(need(20, 8), 5), (need(8, 8), 3)]),
            3
        );
        assert_eq!(workers_needed(&bin, &[(Room::default(), 7)]), 1);
        assert_eq!(workers_needed(&bin, &[]), 0);
    }

    #[test]
    fn a_million_unplaced_lablets_of_few_shapes_are_cheap() {
        let requests: Vec<_> = (0..1_000_000u128)
            .map(|i| request(i, 1 + (i % 7) as u64, 2 + (i % 5) as u64))
            .collect();
        let started = std::time::Instant::now();
        let s = suggest_scale_up(
            &requests,
            &PriceTable::default(),
            &NewWorkerProfile::default(),
        );
        assert!(s.workers() > 0 && s.unfittable.is_empty());
        assert!(started.elapsed().as_secs() < 20, "{:?}", started.elapsed());
    }
}
