//! The identifier port: where new identifiers come from. Production draws them
//! at random; a simulation draws them from its seed, so two runs of one seed
//! write the same records and the same event log, ids included.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use uuid::Uuid;

/// A source of fresh identifiers (UUIDs, version 4 in form).
pub trait IdSource: Send + Sync + fmt::Debug {
    /// A fresh identifier, never handed out before by this source.
    fn next_uuid(&self) -> Uuid;
}

/// Random identifiers from the operating system's generator: the default.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn next_uuid(&self) -> Uuid {
        Uuid::new_v4()
    }
}

/// A repeatable sequence of identifiers drawn from a seed (SplitMix64): the same
/// seed yields the same identifiers in the same order; another seed, another
/// sequence.
#[derive(Debug)]
pub struct SeededIds {
    state: AtomicU64,
}

impl SeededIds {
    /// The sequence of `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }

    fn next_u64(&self) -> u64 {
        const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut z = self
            .state
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl IdSource for SeededIds {
    fn next_uuid(&self) -> Uuid {
        let bits = (u128::from(self.next_u64()) << 64) | u128::from(self.next_u64());
        uuid::Builder::from_random_bytes(bits.to_be_bytes()).into_uuid()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn a_seed_repeats_its_sequence_and_seeds_differ() {
        let draw = |seed| {
            let ids = SeededIds::new(seed);
            (0..1000).map(|_| ids.next_uuid()).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        let distinct: HashSet<Uuid> = draw(7).into_iter().chain(draw(8)).collect();
        assert_eq!(distinct.len(), 2000, "no id repeats within or across seeds");
    }

    #[test]
    fn seeded_ids_look_like_random_ones() {
        let id = SeededIds::new(1).next_uuid();
        assert_eq!(id.get_version_num(), 4);
        assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(RandomIds.next_uuid(), RandomIds.next_uuid());
    }
}
