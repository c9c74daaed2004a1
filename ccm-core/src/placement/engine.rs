//! The indexed batch placement.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::candidate::WorkerCandidate;
use super::fleet::FleetState;
use super::index::{FreeIndex, Key, Preference};
use super::plan::{Assignment, Plan, Unplaced};
use super::reason::Rejections;
use super::request::{PlacementRequest, RequestShape};
use super::room::Room;
use super::shapes::Shapes;
use super::Policy;
use crate::catalog::{CatalogNeeds, NodeCatalog};
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
    let mut engine = Engine::new(workers, policy.preference());
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
        let chosen = match engine.best(&info.need, groups) {
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
        let ports = engine.commit(chosen, &info.need);
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

/// Licence kind, CML version and catalog class (workers whose CML offers the same
/// definitions share a class).
type GroupKey = (Option<LicenceKind>, Option<SemVer>, Option<usize>);

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
    groups: Vec<Group>,
    group_of: Vec<Option<usize>>,
    /// One catalog per class, for the compatibility checks.
    catalogs: Vec<&'a NodeCatalog>,
    compat_ids: HashMap<CompatKey, usize>,
    compat_lists: Vec<Vec<usize>>,
}

/// What a catalog offers, borrowed: the key that puts workers in one class.
#[derive(PartialEq, Eq, Hash)]
struct Offer<'a>(&'a BTreeSet<String>, &'a BTreeMap<String, String>);

impl<'a> Engine<'a> {
    fn new(workers: &'a [WorkerCandidate], preference: Preference) -> Self {
        let fleet = FleetState::new(workers);
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
                members
                    .entry((worker.licence, worker.cml_version, class))
                    .or_default()
                    .push(index);
            }
        }
        let mut group_of = vec![None; workers.len()];
        let mut groups = Vec::with_capacity(members.len());
        for (key, slots) in members {
            let max_mem = slots
                .iter()
                .filter_map(|&slot| fleet.rooms.get(slot))
                .map(|room| room.mem)
                .max()
                .unwrap_or(0);
            let mut index = FreeIndex::new(preference, max_mem);
            for &slot in &slots {
                if let Some(room) = fleet.rooms.get(slot) {
                    index.insert(slot, room);
                }
                if let Some(group) = group_of.get_mut(slot) {
                    *group = Some(groups.len());
                }
            }
            groups.push(Group { key, index });
        }
        Self {
            fleet,
            preference,
            groups,
            group_of,
            catalogs,
            compat_ids: HashMap::new(),
            compat_lists: Vec::new(),
        }
    }

    /// Id of the list of groups whose workers pass the shape's licence, version
    /// and catalog checks; shapes with the same constraints share it.
    fn compatible_groups(&mut self, shape: &RequestShape) -> usize {
        let key = (
            shape.licence_affinity,
            shape.min_cml_version,
            shape.requires.clone(),
        );
        if let Some(&id) = self.compat_ids.get(&key) {
            return id;
        }
        let catalogs = &self.catalogs;
        let list = self
            .groups
            .iter()
            .enumerate()
            .filter(|(_, g)| {
                let (licence, version, class) = g.key;
                let catalog = class.and_then(|c| catalogs.get(c).copied());
                shape.accepts_licence(licence)
                    && shape.accepts_version(version)
                    && shape.accepts_catalog(catalog)
            })
            .map(|(i, _)| i)
            .collect();
        let id = self.compat_lists.len();
        self.compat_lists.push(list);
        self.compat_ids.insert(key, id);
        id
    }

    /// The preferred worker across the compatible groups.
    fn best(&mut self, need: &Room, groups: usize) -> Option<usize> {
        let rooms = &self.fleet.rooms;
        let mut best: Option<(Key, usize)> = None;
        for &g in self.compat_lists.get(groups).map_or(&[][..], Vec::as_slice) {
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

    fn commit(&mut self, worker: usize, need: &Room) -> Vec<u16> {
        let (old, ports) = self.fleet.take(worker, need);
        let group = self.group_of.get(worker).copied().flatten();
        if let (Some(group), Some(new)) = (group, self.fleet.rooms.get(worker)) {
            if let Some(group) = self.groups.get_mut(group) {
                group.index.update(worker, &old, new);
            }
        }
        ports
    }
}
