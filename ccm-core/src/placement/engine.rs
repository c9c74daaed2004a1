//! The indexed batch placement.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::candidate::WorkerCandidate;
use super::fleet::FleetState;
use super::group_list::GroupList;
use super::index::{FreeIndex, Key, Preference};
use super::plan::{Assignment, Plan, Unplaced};
use super::reason::Rejections;
use super::request::{PlacementRequest, RequestShape};
use super::room::Room;
use super::shapes::Shapes;
use super::Policy;
use crate::catalog::{CatalogNeeds, NodeCatalog};
use crate::time::Timestamp;
use crate::version::SemVer;
use crate::worker::LicenceKind;

/// Places `requests` on `workers` under `policy`.
///
/// Pure and deterministic: equal inputs give equal plans. Requests are taken in
/// decreasing size (sum of their shares of the largest eligible worker, ties by
/// lablet id then input position), because placing big lablets first leaves the
/// small ones to fill the gaps. Each goes to the worker `policy` prefers among those
/// that pass every check; a request no worker takes gets every worker's reason.
///
/// Cost: O(n log n) for the order, about O(log w) per placed request per
/// compatibility group (licence kind, CML version), O(1) for a request whose shape
/// already failed, and O(w) time plus w bytes per distinct shape that fails. Demand
/// drawn from lablet definitions has few shapes; a batch of a million *distinct*
/// failing shapes would pay that last term a million times. Ineligible workers are
/// never indexed, only listed in reasons. Duplicate lablet ids are placed
/// independently, as separate requests.
///
/// ```
/// use ccm_core::definition::ResourceNeeds;
/// use ccm_core::ids::{LabletId, WorkerId};
/// use ccm_core::placement::{place, PlacementRequest, Policy, RejectReason, WorkerCandidate};
/// use ccm_core::resources::Resources;
///
/// let workers = [WorkerCandidate::new(WorkerId::from_u128(1), Resources::new(48, 192, 1000), 100)];
/// let needs = ResourceNeeds { resources: Resources::new(32, 64, 100), nodes: 8, ports: 2 };
/// let requests = [
///     PlacementRequest::new(LabletId::from_u128(1), needs),
///     PlacementRequest::new(LabletId::from_u128(2), needs),
/// ];
/// let plan = place(&workers, &requests, Policy::Pack);
/// assert_eq!(plan.assignments[0].ports, vec![2000, 2001]);
/// assert_eq!(plan.unplaced[0].summary().get(RejectReason::Cpu), 1);
/// ```
pub fn place(workers: &[WorkerCandidate], requests: &[PlacementRequest], policy: Policy) -> Plan {
    let mut engine = Engine::new(workers, policy);
    let shapes = Shapes::intern(requests, &engine.fleet.scale());
    let compat: Vec<usize> = shapes
        .list
        .iter()
        .map(|info| engine.compatible_groups(&info.shape))
        .collect();
    let mut failed: Vec<Option<Arc<Rejections>>> = vec![None; shapes.list.len()];
    let mut plan = Plan {
        assignments: Vec::with_capacity(requests.len()),
        unplaced: Vec::new(),
    };
    for index in shapes.decreasing_order(requests) {
        let (Some(request), Some(&shape_id)) = (requests.get(index), shapes.of_request.get(index))
        else {
            continue;
        };
        let Some(info) = shapes.list.get(shape_id) else {
            continue;
        };
        if let Some(Some(rejections)) = failed.get(shape_id) {
            plan.unplaced.push(Unplaced {
                request_index: index,
                lablet: request.lablet,
                rejections: Arc::clone(rejections),
            });
            continue;
        }
        let groups = compat.get(shape_id).copied().unwrap_or(usize::MAX);
        let ends = engine.timed.then(|| end_class(request.ends_at)).flatten();
        let chosen = match engine.best(&info.need, groups, ends) {
            Some(worker) => worker,
            // The index is exact, so this scan only confirms the failure and
            // records why; should it ever find a fit, the lablet goes there.
            None => match engine.fleet.reject(&info.shape, &info.need) {
                Ok(worker) => worker,
                Err(rejections) => {
                    if let Some(slot) = failed.get_mut(shape_id) {
                        *slot = Some(Arc::clone(&rejections));
                    }
                    plan.unplaced.push(Unplaced {
                        request_index: index,
                        lablet: request.lablet,
                        rejections,
                    });
                    continue;
                }
            },
        };
        let Some(worker) = workers.get(chosen) else {
            continue;
        };
        let ports = engine.commit(chosen, &info.need, ends);
        plan.assignments.push(Assignment {
            request_index: index,
            lablet: request.lablet,
            worker_index: chosen,
            worker: worker.id,
            ports,
        });
    }
    plan
}

/// Ends within the same quarter hour count as ending together: finer classes
/// would split the fleet into more groups for no gain in stopping sooner.
const END_CLASS_SECONDS: i64 = 900;

/// The quarter hour an end falls in, rounded up.
fn end_class(at: Option<Timestamp>) -> Option<i64> {
    at.map(|t| {
        let seconds = t.timestamp();
        seconds.div_euclid(END_CLASS_SECONDS) + i64::from(seconds.rem_euclid(END_CLASS_SECONDS) > 0)
    })
}

/// Licence kind, CML version, catalog class (workers whose CML offers the same
/// definitions share a class) and, when placing by lifetime, the end class of
/// the lablets a worker holds (`None`: empty or unknown; always `None` for the
/// other policies).
type GroupKey = (
    Option<LicenceKind>,
    Option<SemVer>,
    Option<usize>,
    Option<i64>,
);

/// What decides which groups a shape may use.
type CompatKey = (
    Option<LicenceKind>,
    Option<SemVer>,
    Option<Arc<CatalogNeeds>>,
);

/// Eligible workers sharing a licence kind, CML version and catalog: for a given
/// request either all of them pass the non-capacity checks or none does.
struct Group {
    key: GroupKey,
    index: FreeIndex,
}

struct Engine<'a> {
    fleet: FleetState<'a>,
    preference: Preference,
    /// Placing by lifetime: groups are split by end class, and a worker moves
    /// to a later class when a lablet that ends later is placed on it.
    timed: bool,
    groups: Vec<Group>,
    group_ids: HashMap<GroupKey, usize>,
    group_of: Vec<Option<usize>>,
    /// End class of each worker's lablets (timed only).
    ends: Vec<Option<i64>>,
    /// Largest free memory of any eligible worker: the scale of new groups' indexes.
    max_mem: u64,
    /// One catalog per class, for the compatibility checks.
    catalogs: Vec<&'a NodeCatalog>,
    compat_ids: HashMap<CompatKey, usize>,
    compat_keys: Vec<CompatKey>,
    /// Compatible groups per compatibility key, by end class.
    compat_lists: Vec<GroupList>,
}

/// What a catalog offers, borrowed: the key that puts workers in one class.
#[derive(PartialEq, Eq, Hash)]
struct Offer<'a>(&'a BTreeSet<String>, &'a BTreeMap<String, String>);

impl<'a> Engine<'a> {
    fn new(workers: &'a [WorkerCandidate], policy: Policy) -> Self {
        let preference = policy.preference();
        let timed = policy.is_timed();
        let fleet = FleetState::new(workers);
        let ends: Vec<Option<i64>> = if timed {
            workers.iter().map(|w| end_class(w.busy_until)).collect()
        } else {
            Vec::new()
        };
        let mut members: BTreeMap<GroupKey, Vec<usize>> = BTreeMap::new();
        let mut catalogs: Vec<&NodeCatalog> = Vec::new();
        let mut classes: HashMap<Offer<'_>, usize> = HashMap::new();
        for (index, worker) in workers.iter().enumerate() {
            if worker.is_eligible() {
                let class = worker.catalog.as_deref().map(|catalog| {
                    let offer = Offer(&catalog.node_definitions, &catalog.image_definitions);
                    *classes.entry(offer).or_insert_with(|| {
                        catalogs.push(catalog);
                        catalogs.len() - 1
                    })
                });
                let end = ends.get(index).copied().flatten();
                members
                    .entry((worker.licence, worker.cml_version, class, end))
                    .or_default()
                    .push(index);
            }
        }
        let mut group_of = vec![None; workers.len()];
        let mut groups = Vec::with_capacity(members.len());
        let mut group_ids = HashMap::with_capacity(members.len());
        let max_mem = fleet.scale().mem;
        for (key, slots) in members {
            let group_max_mem = slots
                .iter()
                .filter_map(|&slot| fleet.rooms.get(slot))
                .map(|room| room.mem)
                .max()
                .unwrap_or(0);
            let mut index = FreeIndex::new(preference, group_max_mem);
            for &slot in &slots {
                if let Some(room) = fleet.rooms.get(slot) {
                    index.insert(slot, room);
                }
                if let Some(group) = group_of.get_mut(slot) {
                    *group = Some(groups.len());
                }
            }
            group_ids.insert(key, groups.len());
            groups.push(Group { key, index });
        }
        Self {
            fleet,
            preference,
            timed,
            groups,
            group_ids,
            group_of,
            ends,
            max_mem,
            catalogs,
            compat_ids: HashMap::new(),
            compat_keys: Vec::new(),
            compat_lists: Vec::new(),
        }
    }

    /// True when workers of group key `key` pass the checks of compatibility key `compat`.
    fn accepts(&self, compat: &CompatKey, key: &GroupKey) -> bool {
        let (licence_affinity, min_cml_version, requires) = compat;
        let shape = RequestShape {
            licence_affinity: *licence_affinity,
            min_cml_version: *min_cml_version,
            requires: requires.clone(),
            ..RequestShape::default()
        };
        let (licence, version, class, _) = *key;
        let catalog = class.and_then(|c| self.catalogs.get(c).copied());
        shape.accepts_licence(licence)
            && shape.accepts_version(version)
            && shape.accepts_catalog(catalog)
    }

    /// Id of the list of groups whose workers pass the shape's licence, version
    /// and catalog checks; shapes with the same constraints share it. The list
    /// is ordered by end class, which is what the timed search walks.
    fn compatible_groups(&mut self, shape: &RequestShape) -> usize {
        let key = (
            shape.licence_affinity,
            shape.min_cml_version,
            shape.requires.clone(),
        );
        if let Some(&id) = self.compat_ids.get(&key) {
            return id;
        }
        let entries = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, group)| self.accepts(&key, &group.key))
            .map(|(g, group)| (g, group.key.3, group.index.bound()))
            .collect();
        let id = self.compat_lists.len();
        self.compat_lists.push(GroupList::new(entries));
        self.compat_keys.push(key.clone());
        self.compat_ids.insert(key, id);
        id
    }

    /// The preferred worker across the compatible groups; by lifetime, the
    /// first end class (in the policy's order) that has one.
    fn best(&mut self, need: &Room, groups: usize, ends: Option<i64>) -> Option<usize> {
        let mut list = match self.compat_lists.get_mut(groups) {
            Some(list) => std::mem::take(list),
            None => return None,
        };
        let chosen = match ends {
            Some(end) if self.timed => self.best_by_end(need, &mut list, end),
            _ => self.best_among(need, list.groups()),
        };
        if let Some(slot) = self.compat_lists.get_mut(groups) {
            *slot = list;
        }
        chosen
    }

    /// By lifetime: the groups whose lablets end at or after `end`, closest
    /// first; then those ending before it, latest first; then the empty ones.
    /// The first end class with a fit wins, fullest within it. The list's
    /// bounds skip the classes where nothing can fit.
    fn best_by_end(&mut self, need: &Room, list: &mut GroupList, end: i64) -> Option<usize> {
        let split = list.first_ending_from(end);
        let known = list.first_known();
        let mut from = split;
        while let Some(position) = list.first_covering(from, list.len(), need) {
            let to = list.class_end(position);
            if let Some(slot) = self.best_in_class(need, list, position, to) {
                return Some(slot);
            }
            from = to;
        }
        let mut to = split;
        while let Some(position) = list.last_covering(known, to, need) {
            let from = list.class_start(position, known);
            if let Some(slot) = self.best_in_class(need, list, from, position + 1) {
                return Some(slot);
            }
            to = from;
        }
        self.best_in_class(need, list, 0, known)
    }

    /// The preferred worker among the groups at positions `from..to` of `list`;
    /// on a miss, their bounds drop to what their indexes now report, so the
    /// next request that cannot fit here skips them.
    fn best_in_class(
        &mut self,
        need: &Room,
        list: &mut GroupList,
        from: usize,
        to: usize,
    ) -> Option<usize> {
        let found = self.best_among(need, list.slice(from, to));
        if found.is_none() {
            for position in from..to {
                let bound = list
                    .group_at(position)
                    .and_then(|g| self.groups.get(g))
                    .map(|group| group.index.bound())
                    .unwrap_or_default();
                list.lower(position, bound);
            }
        }
        found
    }

    /// The preferred worker across `groups`.
    fn best_among(&mut self, need: &Room, groups: &[usize]) -> Option<usize> {
        let rooms = &self.fleet.rooms;
        let mut best: Option<(Key, usize)> = None;
        for &g in groups {
            let Some(group) = self.groups.get_mut(g) else {
                continue;
            };
            let Some(slot) = group.index.find(need, rooms) else {
                continue;
            };
            let Some(room) = rooms.get(slot) else {
                continue;
            };
            let key = group.index.key(slot, room);
            let better = match (best, self.preference) {
                (None, _) => true,
                (Some((current, _)), Preference::Fullest) => key < current,
                (Some((current, _)), Preference::Emptiest) => key > current,
            };
            if better {
                best = Some((key, slot));
            }
        }
        best.map(|(_, slot)| slot)
    }

    /// Holds `need` on `worker`; by lifetime, a lablet ending later than the
    /// worker's others moves it to its new end class.
    fn commit(&mut self, worker: usize, need: &Room, ends: Option<i64>) -> Vec<u16> {
        let (old, ports) = self.fleet.take(worker, need);
        let Some(group) = self.group_of.get(worker).copied().flatten() else {
            return ports;
        };
        let Some(new) = self.fleet.rooms.get(worker).copied() else {
            return ports;
        };
        let current = self.ends.get(worker).copied().flatten();
        let moved = match (current, ends) {
            (Some(now), Some(end)) => end > now,
            (None, Some(_)) => self.timed,
            _ => false,
        };
        if !moved {
            if let Some(group) = self.groups.get_mut(group) {
                group.index.update(worker, &old, &new);
            }
            return ports;
        }
        if let Some(group) = self.groups.get_mut(group) {
            group.index.remove(worker, &old);
        }
        let Some(key) = self
            .groups
            .get(group)
            .map(|g| (g.key.0, g.key.1, g.key.2, ends))
        else {
            return ports;
        };
        let target = self.group_for(key);
        if let Some(group) = self.groups.get_mut(target) {
            group.index.insert(worker, &new);
        }
        for list in &mut self.compat_lists {
            list.raise(target, &new);
        }
        if let Some(slot) = self.group_of.get_mut(worker) {
            *slot = Some(target);
        }
        if let Some(slot) = self.ends.get_mut(worker) {
            *slot = ends;
        }
        ports
    }

    /// The group of `key`, made (and entered in every compatible list, in end
    /// order) when a worker is the first to move to its end class.
    fn group_for(&mut self, key: GroupKey) -> usize {
        if let Some(&id) = self.group_ids.get(&key) {
            return id;
        }
        let id = self.groups.len();
        self.groups.push(Group {
            key,
            index: FreeIndex::new(self.preference, self.max_mem),
        });
        self.group_ids.insert(key, id);
        for list in 0..self.compat_lists.len() {
            let accepted = self
                .compat_keys
                .get(list)
                .is_some_and(|compat| self.accepts(compat, &key));
            if !accepted {
                continue;
            }
            if let Some(members) = self.compat_lists.get_mut(list) {
                members.insert(id, key.3, Room::default());
            }
        }
        id
    }
}
