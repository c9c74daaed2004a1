//! The groups one request shape may use, ordered by the end class of their
//! lablets, with a bound on each group's free room.
//!
//! Placing by lifetime walks end classes outwards from a request's end and
//! stops at the first class with a fit. Most classes are full for most
//! requests; asking each of their groups costs a query per group per class.
//! The [`MaxTree`] over the groups' bounds finds the next class that *may*
//! fit in O(log groups) instead. Bounds run stale-high (a group's workers only
//! shrink during a batch, and the engine raises a bound when a worker moves in)
//! and are lowered to the group's own bound when a query of it finds nothing.

use super::max_tree::MaxTree;
use super::room::Room;

/// Groups by end class (`None`, empty or unknown, first; then ascending).
#[derive(Clone, Debug, Default)]
pub(crate) struct GroupList {
    groups: Vec<usize>,
    ends: Vec<Option<i64>>,
    /// Position of each group id in `groups`, for raising its bound.
    positions: Vec<Option<usize>>,
    bounds: MaxTree,
}

impl GroupList {
    /// A list of `(group, end class, bound)` entries, in any order.
    pub(crate) fn new(mut entries: Vec<(usize, Option<i64>, Room)>) -> Self {
        entries.sort_by_key(|&(group, end, _)| (end, group));
        let mut list = Self {
            groups: Vec::with_capacity(entries.len()),
            ends: Vec::with_capacity(entries.len()),
            positions: Vec::new(),
            bounds: MaxTree::new(entries.len()),
        };
        for (position, (group, end, bound)) in entries.into_iter().enumerate() {
            list.groups.push(group);
            list.ends.push(end);
            list.bounds.set(position, bound);
        }
        list.index_positions();
        list
    }

    pub(crate) fn len(&self) -> usize {
        self.groups.len()
    }

    /// Every group, in end order.
    pub(crate) fn groups(&self) -> &[usize] {
        &self.groups
    }

    /// The group at `position`.
    pub(crate) fn group_at(&self, position: usize) -> Option<usize> {
        self.groups.get(position).copied()
    }

    /// The groups at positions `from..to`.
    pub(crate) fn slice(&self, from: usize, to: usize) -> &[usize] {
        self.groups.get(from..to).unwrap_or_default()
    }

    /// Enters a new group after those of its end class. Rebuilds the bounds,
    /// which is linear, but a batch adds at most one group per end class.
    pub(crate) fn insert(&mut self, group: usize, end: Option<i64>, bound: Room) {
        let at = self.ends.partition_point(|&e| e <= end);
        let mut bounds: Vec<Room> = (0..self.groups.len())
            .map(|p| self.bounds.leaf(p))
            .collect();
        self.groups.insert(at, group);
        self.ends.insert(at, end);
        bounds.insert(at, bound);
        self.bounds = MaxTree::new(bounds.len());
        for (position, room) in bounds.iter().enumerate() {
            self.bounds.set(position, *room);
        }
        self.index_positions();
    }

    /// Widens `group`'s bound to cover `room` (a worker moved in); no-op for a
    /// group not in this list.
    pub(crate) fn raise(&mut self, group: usize, room: &Room) {
        if let Some(position) = self.positions.get(group).copied().flatten() {
            self.bounds.raise(position, room);
        }
    }

    /// Sets the bound at `position` to what its group now reports.
    pub(crate) fn lower(&mut self, position: usize, bound: Room) {
        if position < self.groups.len() {
            self.bounds.set(position, bound);
        }
    }

    /// The first position whose end class is `end` or later.
    pub(crate) fn first_ending_from(&self, end: i64) -> usize {
        self.ends.partition_point(|&e| e < Some(end))
    }

    /// The first position with a known end class (those before are empty).
    pub(crate) fn first_known(&self) -> usize {
        self.ends.partition_point(Option::is_none)
    }

    /// One past the last position of the end class at `position`.
    pub(crate) fn class_end(&self, position: usize) -> usize {
        let class = self.ends.get(position).copied().flatten();
        position
            + self
                .ends
                .get(position..)
                .map_or(0, |rest| rest.iter().take_while(|&&e| e == class).count())
    }

    /// The first position, not before `floor`, of the end class at `position`.
    pub(crate) fn class_start(&self, position: usize, floor: usize) -> usize {
        let class = self.ends.get(position).copied().flatten();
        let mut start = position;
        while start > floor && self.ends.get(start - 1).is_some_and(|&e| e == class) {
            start -= 1;
        }
        start
    }

    /// The first position in `from..to` whose bound covers `need`.
    pub(crate) fn first_covering(&self, from: usize, to: usize, need: &Room) -> Option<usize> {
        self.bounds.first_covering(from, to, need)
    }

    /// The last position in `from..to` whose bound covers `need`.
    pub(crate) fn last_covering(&self, from: usize, to: usize, need: &Room) -> Option<usize> {
        self.bounds.last_covering(from, to, need)
    }

    fn index_positions(&mut self) {
        let size = self.groups.iter().max().map_or(0, |&g| g + 1);
        self.positions = vec![None; size];
        for (position, &group) in self.groups.iter().enumerate() {
            if let Some(slot) = self.positions.get_mut(group) {
                *slot = Some(position);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(cpu: u64) -> Room {
        Room {
            cpu,
            ..Room::default()
        }
    }

    #[test]
    fn keeps_groups_in_end_order_and_finds_classes_that_may_fit() {
        let mut list = GroupList::new(vec![
            (0, Some(8), room(1)),
            (1, None, room(4)),
            (2, Some(3), room(2)),
            (3, Some(8), room(6)),
        ]);
        assert_eq!(list.groups(), &[1, 2, 0, 3]);
        assert_eq!(list.first_known(), 1);
        assert_eq!(list.first_ending_from(4), 2);
        assert_eq!(list.class_end(2), 4);
        assert_eq!(list.class_start(3, 1), 2);
        assert_eq!(list.first_covering(1, 4, &room(5)), Some(3));

        list.insert(4, Some(5), room(0));
        assert_eq!(list.groups(), &[1, 2, 4, 0, 3]);
        assert_eq!(list.last_covering(1, 3, &room(3)), None);
        list.raise(4, &room(7));
        assert_eq!(list.last_covering(1, 3, &room(3)), Some(2));
        list.lower(2, room(1));
        assert_eq!(list.first_covering(1, 5, &room(3)), Some(4));
        assert_eq!(list.slice(3, 5), &[0, 3]);
        assert_eq!(list.len(), 5);
        // A group of another list is ignored.
        list.raise(9, &room(9));
        assert_eq!(list.first_covering(0, 5, &room(8)), None);
    }
}
