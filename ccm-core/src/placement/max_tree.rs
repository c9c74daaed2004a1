//! A segment tree of per-dimension room maxima over a fixed number of slots:
//! which slot, nearest one end of a range, may have room for a need.
//!
//! Placement keeps upper bounds in it (a memory bucket's workers in
//! `index.rs`, a group's workers in `group_list.rs`). A slot whose maximum
//! covers a need *may* fit it; one whose maximum does not certainly cannot, so
//! a search skips whole subtrees with one comparison. Bounds may run stale-high
//! (capacity only shrinks during a batch) and the owner lowers a slot with
//! [`MaxTree::set`] once it has measured it exactly.

use super::room::Room;

/// The half-open range of slots a search looks in.
#[derive(Clone, Copy)]
struct Range {
    from: usize,
    to: usize,
}

/// Which end of the range a search wants the slot nearest to.
#[derive(Clone, Copy)]
enum End {
    First,
    Last,
}

/// Per-dimension maxima over `len` slots, in a complete binary tree.
#[derive(Clone, Debug, Default)]
pub(crate) struct MaxTree {
    /// Leaves start here: the smallest power of two not below the slot count.
    leaves: usize,
    /// Node 1 is the root; node `n` has children `2n` and `2n + 1`.
    nodes: Vec<Room>,
}

impl MaxTree {
    /// A tree of `len` slots, all empty.
    pub(crate) fn new(len: usize) -> Self {
        let leaves = len.max(1).next_power_of_two();
        Self {
            leaves,
            nodes: vec![Room::default(); 2 * leaves],
        }
    }

    /// The bound of one slot (empty past the end).
    pub(crate) fn leaf(&self, slot: usize) -> Room {
        self.nodes
            .get(self.leaves.saturating_add(slot))
            .copied()
            .unwrap_or_default()
    }

    /// The bound over all slots.
    pub(crate) fn root(&self) -> Room {
        self.nodes.get(1).copied().unwrap_or_default()
    }

    /// Replaces one slot's bound, lower or higher; a slot past the end is ignored.
    pub(crate) fn set(&mut self, slot: usize, room: Room) {
        if slot >= self.leaves {
            return;
        }
        let mut node = self.leaves + slot;
        if let Some(leaf) = self.nodes.get_mut(node) {
            *leaf = room;
        }
        while node > 1 {
            node /= 2;
            let merged = match (self.nodes.get(2 * node), self.nodes.get(2 * node + 1)) {
                (Some(left), Some(right)) => left.max_with(right),
                _ => return,
            };
            match self.nodes.get_mut(node) {
                Some(parent) if *parent != merged => *parent = merged,
                _ => return,
            }
        }
    }

    /// Raises one slot's bound to cover `room` as well; cheaper than `set`
    /// because it stops where an ancestor already covers it. A slot past the
    /// end is ignored.
    pub(crate) fn raise(&mut self, slot: usize, room: &Room) {
        if slot >= self.leaves {
            return;
        }
        let mut node = self.leaves + slot;
        while let Some(current) = self.nodes.get_mut(node) {
            let merged = current.max_with(room);
            if merged == *current {
                return;
            }
            *current = merged;
            if node <= 1 {
                return;
            }
            node /= 2;
        }
    }

    /// The first slot in `from..to` whose bound covers `need`.
    pub(crate) fn first_covering(&self, from: usize, to: usize, need: &Room) -> Option<usize> {
        let range = Range {
            from,
            to: to.min(self.leaves),
        };
        self.search(1, 0, self.leaves, range, need, End::First)
    }

    /// The last slot in `from..to` whose bound covers `need`.
    pub(crate) fn last_covering(&self, from: usize, to: usize, need: &Room) -> Option<usize> {
        let range = Range {
            from,
            to: to.min(self.leaves),
        };
        self.search(1, 0, self.leaves, range, need, End::Last)
    }

    /// Node `node` spans slots `lo..hi`; the child nearest `end` is searched first.
    fn search(
        &self,
        node: usize,
        lo: usize,
        hi: usize,
        range: Range,
        need: &Room,
        end: End,
    ) -> Option<usize> {
        let covers = self.nodes.get(node).is_some_and(|max| max.fits(need));
        if hi <= range.from || range.to <= lo || !covers {
            return None;
        }
        if hi - lo == 1 {
            return Some(lo);
        }
        let mid = lo + (hi - lo) / 2;
        let left = (2 * node, lo, mid);
        let right = (2 * node + 1, mid, hi);
        let (near, far) = match end {
            End::First => (left, right),
            End::Last => (right, left),
        };
        self.search(near.0, near.1, near.2, range, need, end)
            .or_else(|| self.search(far.0, far.1, far.2, range, need, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(cpu: u64, mem: u64) -> Room {
        Room {
            cpu,
            mem,
            ..Room::default()
        }
    }

    #[test]
    fn finds_the_nearest_covering_slot_from_either_end() {
        let mut rooms: Vec<Room> = (0..37).map(|i| room(i % 5, (i * 7) % 11)).collect();
        let mut tree = MaxTree::new(rooms.len());
        for (slot, r) in rooms.iter().enumerate() {
            tree.raise(slot, r);
        }
        for step in 0..400u64 {
            let need = room(step % 6, (step * 3) % 12);
            let from = (step % 37) as usize;
            let to = ((step * 13) % 40) as usize;
            let covering: Vec<usize> = (from..to.min(rooms.len()))
                .filter(|&s| rooms[s].fits(&need))
                .collect();
            assert_eq!(
                tree.first_covering(from, to, &need),
                covering.first().copied()
            );
            assert_eq!(
                tree.last_covering(from, to, &need),
                covering.last().copied()
            );
            // Lower one slot exactly, as owners do after measuring it.
            let slot = (step * 11 % 37) as usize;
            rooms[slot] = rooms[slot].minus(&room(1, 1));
            tree.set(slot, rooms[slot]);
            assert_eq!(tree.leaf(slot), rooms[slot]);
        }
        let all = rooms.iter().fold(Room::default(), |acc, r| acc.max_with(r));
        assert_eq!(tree.root(), all);
    }

    #[test]
    fn slots_past_the_end_change_nothing() {
        let mut tree = MaxTree::new(2);
        tree.raise(0, &room(3, 3));
        tree.set(5, room(9, 1));
        tree.raise(2, &room(9, 9));
        assert_eq!(tree.leaf(5), Room::default());
        assert_eq!(tree.first_covering(0, 8, &room(4, 0)), None);
        assert_eq!(tree.first_covering(0, 8, &room(0, 2)), Some(0));
        assert_eq!(tree.root(), room(3, 3));
    }

    #[test]
    fn empty_ranges_find_nothing() {
        let tree = MaxTree::new(0);
        assert_eq!(tree.first_covering(0, 0, &Room::default()), None);
        assert_eq!(tree.last_covering(3, 1, &Room::default()), None);
    }
}
