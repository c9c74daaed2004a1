//! Workers ordered by free capacity, so a lablet finds its worker in about
//! O(log n) instead of scanning the fleet.
//!
//! Keys are `(free memory, free cpu, tie)` in a `BTreeSet`, which gives the best-fit
//! (lowest key) or most-headroom (highest key) order directly. Memory alone does not
//! make a worker feasible, though: in a fleet whose lablets run out of CPU before
//! memory, most workers sit in the key order with plenty of memory and no CPU, and a
//! plain range scan would walk past all of them for every request. So the memory
//! axis is also cut into 1,024 buckets, and a segment tree ([`MaxTree`]) holds, per
//! bucket range, the per-dimension maximum of what its workers have free. A query descends only
//! into buckets whose maxima cover the need in every dimension and scans inside
//! those. Maxima may run stale-high after a worker shrinks (never stale-low, since
//! capacity only shrinks during a batch), which is safe: a bucket that disappoints
//! is re-measured exactly after its scan.

use std::collections::BTreeSet;

use super::max_tree::MaxTree;
use super::room::Room;

const BUCKET_BITS: u32 = 10;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// Which end of the key order a query wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Preference {
    /// Lowest `(memory, cpu)` that fits, lowest slot on a tie (best fit).
    Fullest,
    /// Highest `(memory, cpu)` that fits, lowest slot on a tie (most headroom).
    Emptiest,
}

/// `(free memory, free cpu, tie)`; `tie` encodes the slot so that the preferred end
/// of the order holds the lowest slot among equals.
pub(crate) type Key = (u64, u64, usize);

/// The index over slots whose rooms live in a slice owned by the caller.
#[derive(Clone, Debug)]
pub(crate) struct FreeIndex {
    preference: Preference,
    shift: u32,
    keys: BTreeSet<Key>,
    tree: MaxTree,
}

impl FreeIndex {
    /// An empty index for rooms with at most `max_mem` free memory (larger values
    /// still work, they just share the top bucket).
    pub(crate) fn new(preference: Preference, max_mem: u64) -> Self {
        let bits = u64::BITS - max_mem.leading_zeros();
        Self {
            preference,
            shift: bits.saturating_sub(BUCKET_BITS),
            keys: BTreeSet::new(),
            tree: MaxTree::new(BUCKETS),
        }
    }

    pub(crate) fn key(&self, slot: usize, room: &Room) -> Key {
        (room.mem, room.cpu, self.tie(slot))
    }

    fn tie(&self, slot: usize) -> usize {
        match self.preference {
            Preference::Fullest => slot,
            Preference::Emptiest => usize::MAX - slot,
        }
    }

    /// Adds a slot with its current room.
    pub(crate) fn insert(&mut self, slot: usize, room: &Room) {
        self.keys.insert(self.key(slot, room));
        self.tree.raise(self.bucket(room.mem), room);
    }

    /// Removes a slot, given the room it was last inserted or updated with.
    pub(crate) fn remove(&mut self, slot: usize, room: &Room) {
        self.keys.remove(&self.key(slot, room));
        let bucket = self.bucket(room.mem);
        if self.bucket_keys(bucket).next().is_none() {
            self.tree.set(bucket, Room::default());
        }
    }

    /// Moves a slot from its old room to its new one.
    pub(crate) fn update(&mut self, slot: usize, old: &Room, new: &Room) {
        self.remove(slot, old);
        self.insert(slot, new);
    }

    /// An upper bound, per dimension, on any of its workers' free room: a need
    /// it does not cover fits none of them.
    pub(crate) fn bound(&self) -> Room {
        self.tree.root()
    }

    /// The preferred slot whose room (looked up in `rooms`) fits `need`.
    pub(crate) fn find(&mut self, need: &Room, rooms: &[Room]) -> Option<usize> {
        let start = self.bucket(need.mem);
        match self.preference {
            Preference::Fullest => {
                let mut lo = start;
                while let Some(bucket) = self.tree.first_covering(lo, BUCKETS, need) {
                    if let Some(slot) = self.scan(bucket, need, rooms) {
                        return Some(slot);
                    }
                    self.repair(bucket, rooms);
                    lo = bucket + 1;
                }
                None
            }
            Preference::Emptiest => {
                let mut to = BUCKETS;
                while let Some(bucket) = self.tree.last_covering(start, to, need) {
                    if let Some(slot) = self.scan(bucket, need, rooms) {
                        return Some(slot);
                    }
                    self.repair(bucket, rooms);
                    to = bucket;
                }
                None
            }
        }
    }

    fn slot_of(&self, key: &Key) -> usize {
        self.tie(key.2)
    }

    /// Memory values share a bucket when they agree above `shift`; the top bucket
    /// also takes anything larger than the index was sized for.
    fn bucket(&self, mem: u64) -> usize {
        usize::try_from(mem >> self.shift)
            .unwrap_or(usize::MAX)
            .min(BUCKETS - 1)
    }

    fn bounds(&self, bucket: usize) -> (u64, u64) {
        let lo = (bucket as u64) << self.shift;
        if bucket + 1 >= BUCKETS {
            (lo, u64::MAX)
        } else {
            (lo, lo | ((1u64 << self.shift) - 1))
        }
    }

    fn bucket_keys(&self, bucket: usize) -> impl DoubleEndedIterator<Item = &Key> + '_ {
        let (lo, hi) = self.bounds(bucket);
        self.keys.range((lo, 0, 0)..=(hi, u64::MAX, usize::MAX))
    }

    fn scan(&self, bucket: usize, need: &Room, rooms: &[Room]) -> Option<usize> {
        let (lo, hi) = self.bounds(bucket);
        let from = need.mem.max(lo);
        if from > hi {
            return None;
        }
        let mut keys = self.keys.range((from, 0, 0)..=(hi, u64::MAX, usize::MAX));
        let fits = |key: &&Key| rooms.get(self.slot_of(key)).is_some_and(|r| r.fits(need));
        let found = match self.preference {
            Preference::Fullest => keys.find(fits),
            Preference::Emptiest => keys.rfind(fits),
        };
        found.map(|key| self.slot_of(key))
    }

    fn repair(&mut self, bucket: usize, rooms: &[Room]) {
        let exact = self
            .bucket_keys(bucket)
            .filter_map(|key| rooms.get(self.slot_of(key)))
            .fold(Room::default(), |acc, room| acc.max_with(room));
        self.tree.set(bucket, exact);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(cpu: u64, mem: u64) -> Room {
        Room {
            cpu,
            mem,
            storage: 100,
            nodes: 100,
            ports: 100,
        }
    }

    /// The answer a scan of every slot would give.
    fn brute(preference: Preference, rooms: &[Room], need: &Room) -> Option<usize> {
        let feasible = (0..rooms.len()).filter(|&i| rooms[i].fits(need));
        let key = |&i: &usize| (rooms[i].mem, rooms[i].cpu);
        match preference {
            Preference::Fullest => feasible.min_by_key(|i| (key(i), *i)),
            Preference::Emptiest => feasible.max_by_key(|i| (key(i), std::cmp::Reverse(*i))),
        }
    }

    #[test]
    fn finds_what_a_full_scan_finds_while_rooms_shrink() {
        for preference in [Preference::Fullest, Preference::Emptiest] {
            let mut seed = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = |bound: u64| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed % bound
            };
            let mut rooms: Vec<Room> = (0..300).map(|_| room(next(48), next(192))).collect();
            let mut index = FreeIndex::new(preference, 192);
            for (slot, r) in rooms.iter().enumerate() {
                index.insert(slot, r);
            }
            for _ in 0..3000 {
                let need = room(next(8), next(24));
                let need = Room {
                    storage: 0,
                    nodes: 0,
                    ports: 0,
                    ..need
                };
                let got = index.find(&need, &rooms);
                assert_eq!(
                    got,
                    brute(preference, &rooms, &need),
                    "{preference:?} {need:?}"
                );
                if let Some(slot) = got {
                    let old = rooms[slot];
                    rooms[slot] = old.minus(&need);
                    index.update(slot, &old, &rooms[slot]);
                }
            }
        }
    }

    #[test]
    fn skips_workers_with_memory_but_no_cpu() {
        let mut rooms: Vec<Room> = (0..1000).map(|i| room(0, 100 + i)).collect();
        rooms.push(room(8, 5000));
        let mut index = FreeIndex::new(Preference::Fullest, 5000);
        for (slot, r) in rooms.iter().enumerate() {
            index.insert(slot, r);
        }
        assert_eq!(index.find(&room(1, 1), &rooms), Some(1000));
        assert_eq!(index.find(&room(9, 1), &rooms), None);
    }

    #[test]
    fn empty_and_oversized_queries_find_nothing() {
        let mut index = FreeIndex::new(Preference::Emptiest, 0);
        assert_eq!(index.find(&room(0, 0), &[]), None);
        index.insert(0, &room(1, 1));
        assert_eq!(index.find(&room(1, u64::MAX), &[room(1, 1)]), None);
        assert_eq!(index.find(&room(1, 1), &[room(1, 1)]), Some(0));
        index.remove(0, &room(1, 1));
        assert_eq!(index.find(&room(0, 0), &[room(1, 1)]), None);
    }
}
