//! Free ports of one worker, handed out lowest first.

use crate::resources::PortRange;

/// A worker's free ports as ascending, disjoint ranges with a cursor. Handing out
/// `k` ports costs O(k) plus the ranges it exhausts, each of which is passed once,
/// so a batch never pays for the 8,000 ports of a default range per request.
/// Ports only leave the pool: a batch plans new lablets, it never releases any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortPool {
    ranges: Vec<PortRange>,
    head: usize,
    cursor: u32,
    free: u32,
}

impl PortPool {
    /// A pool over `ranges`, which may be unsorted, overlapping or empty: they are
    /// merged first so that no port can be handed out twice.
    pub fn new(ranges: impl IntoIterator<Item = PortRange>) -> Self {
        let ranges = normalize(ranges);
        let free = ranges
            .iter()
            .fold(0u32, |acc, r| acc.saturating_add(r.len()));
        let cursor = ranges.first().map_or(0, |r| u32::from(r.first));
        Self {
            ranges,
            head: 0,
            cursor,
            free,
        }
    }

    /// Ports still free.
    pub fn free(&self) -> u32 {
        self.free
    }

    /// The `count` lowest free ports, ascending, or `None` (taking nothing) when
    /// fewer are free.
    pub fn take_lowest(&mut self, count: u32) -> Option<Vec<u16>> {
        if count > self.free {
            return None;
        }
        let mut ports = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut remaining = count;
        while remaining > 0 {
            let Some(range) = self.ranges.get(self.head) else {
                break;
            };
            let last = u32::from(range.last);
            let available = last.saturating_sub(self.cursor).saturating_add(1);
            let take = available.min(remaining);
            let end = self.cursor.saturating_add(take);
            ports.extend((self.cursor..end).filter_map(|p| u16::try_from(p).ok()));
            self.cursor = end;
            remaining -= take;
            self.free = self.free.saturating_sub(take);
            if self.cursor > last {
                self.head += 1;
                self.cursor = self.ranges.get(self.head).map_or(0, |r| u32::from(r.first));
            }
        }
        Some(ports)
    }

    /// The free ports as ranges, ascending (what is left after the allocations).
    pub fn free_ranges(&self) -> Vec<PortRange> {
        let mut out = Vec::with_capacity(self.ranges.len().saturating_sub(self.head));
        if let Some(head) = self.ranges.get(self.head) {
            if let Ok(first) = u16::try_from(self.cursor) {
                out.push(PortRange {
                    first,
                    last: head.last,
                });
            }
            out.extend(self.ranges.iter().skip(self.head + 1).copied());
        }
        out
    }
}

/// Sorted, disjoint, non-empty ranges covering exactly the ports of the input.
pub(crate) fn normalize(ranges: impl IntoIterator<Item = PortRange>) -> Vec<PortRange> {
    let mut sorted: Vec<PortRange> = ranges.into_iter().filter(|r| !r.is_empty()).collect();
    sorted.sort_unstable_by_key(|r| (r.first, r.last));
    let mut merged: Vec<PortRange> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match merged.last_mut() {
            Some(prev) if u32::from(range.first) <= u32::from(prev.last) + 1 => {
                prev.last = prev.last.max(range.last);
            }
            _ => merged.push(range),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(first: u16, last: u16) -> PortRange {
        PortRange { first, last }
    }

    #[test]
    fn hands_out_lowest_ports_across_ranges() {
        let mut pool = PortPool::new([r(2005, 2006), r(2000, 2001)]);
        assert_eq!(pool.free(), 4);
        assert_eq!(pool.take_lowest(3), Some(vec![2000, 2001, 2005]));
        assert_eq!(pool.free_ranges(), vec![r(2006, 2006)]);
        assert_eq!(pool.take_lowest(2), None);
        assert_eq!(pool.free(), 1, "a refused request takes nothing");
        assert_eq!(pool.take_lowest(1), Some(vec![2006]));
        assert_eq!(pool.take_lowest(0), Some(vec![]));
        assert_eq!(pool.take_lowest(1), None);
        assert!(pool.free_ranges().is_empty());
    }

    #[test]
    fn merges_overlaps_and_drops_empty_ranges() {
        assert_eq!(
            normalize([r(10, 20), r(15, 30), r(31, 31), r(5, 4), r(40, 41)]),
            vec![r(10, 31), r(40, 41)]
        );
        let pool = PortPool::new([r(10, 20), r(10, 20)]);
        assert_eq!(pool.free(), 11, "duplicated ranges count once");
    }

    #[test]
    fn handles_the_top_of_the_port_space() {
        let mut pool = PortPool::new([r(65534, 65535)]);
        assert_eq!(pool.take_lowest(2), Some(vec![65534, 65535]));
        assert_eq!(pool.free(), 0);
        let mut whole = PortPool::new([r(0, 65535)]);
        assert_eq!(whole.free(), 65536);
        assert_eq!(whole.take_lowest(1), Some(vec![0]));
    }

    #[test]
    fn default_range_allocations_stay_cheap_and_contiguous() {
        let mut pool = PortPool::new([PortRange::default()]);
        for i in 0..4000u16 {
            assert_eq!(pool.take_lowest(2), Some(vec![2000 + 2 * i, 2001 + 2 * i]));
        }
        assert_eq!(pool.free(), 0);
    }
}
