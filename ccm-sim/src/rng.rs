//! Seeded randomness. Two independent ChaCha streams from one seed: one names things
//! (instance, image and lab ids), one decides faults, so turning a fault rate on does
//! not change the ids a run produces. Metric noise is a pure hash of (key, time) and
//! consumes no randomness at all, so it does not depend on call order.
//!
//! A saved world keeps each stream's position, so a restored simulation draws the
//! same ids the original would have drawn next.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The simulation's random streams.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(into = "SavedStreams", from = "SavedStreams")]
pub(crate) struct SimRng {
    ids: ChaCha8Rng,
    faults: ChaCha8Rng,
}

/// Where one ChaCha stream stands: everything that decides its next outputs.
#[derive(Serialize, Deserialize)]
struct StreamPosition {
    seed: [u8; 32],
    stream: u64,
    word_pos: u128,
}

impl From<&ChaCha8Rng> for StreamPosition {
    fn from(rng: &ChaCha8Rng) -> Self {
        Self {
            seed: rng.get_seed(),
            stream: rng.get_stream(),
            word_pos: rng.get_word_pos(),
        }
    }
}

impl From<StreamPosition> for ChaCha8Rng {
    fn from(position: StreamPosition) -> Self {
        let mut rng = ChaCha8Rng::from_seed(position.seed);
        rng.set_stream(position.stream);
        rng.set_word_pos(position.word_pos);
        rng
    }
}

/// [`SimRng`] as saved with a world.
#[derive(Serialize, Deserialize)]
struct SavedStreams {
    ids: StreamPosition,
    faults: StreamPosition,
}

impl From<SimRng> for SavedStreams {
    fn from(rng: SimRng) -> Self {
        Self {
            ids: (&rng.ids).into(),
            faults: (&rng.faults).into(),
        }
    }
}

impl From<SavedStreams> for SimRng {
    fn from(saved: SavedStreams) -> Self {
        Self {
            ids: saved.ids.into(),
            faults: saved.faults.into(),
        }
    }
}

impl SimRng {
    /// Streams derived from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut ids = ChaCha8Rng::seed_from_u64(seed);
        ids.set_stream(1);
        let mut faults = ChaCha8Rng::seed_from_u64(seed);
        faults.set_stream(2);
        Self { ids, faults }
    }

    /// `len` lower-case hex digits.
    pub(crate) fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..len)
            .map(|_| char::from(DIGITS[self.ids.gen_range(0..16usize)]))
            .collect()
    }

    /// A random UUIDv4 (CML lab ids).
    pub(crate) fn uuid(&mut self) -> Uuid {
        let mut bytes = [0u8; 16];
        self.ids.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// True with probability `p`. Draws nothing when `p <= 0`, so a run without
    /// faults consumes no fault randomness.
    pub(crate) fn roll(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        if p >= 1.0 {
            return true;
        }
        self.faults.gen_bool(p)
    }

    /// A whole number in `0..=max`, from the fault stream. Draws nothing when
    /// `max <= 0`.
    pub(crate) fn up_to(&mut self, max: i64) -> i64 {
        if max <= 0 {
            return 0;
        }
        self.faults.gen_range(0..=max)
    }
}

/// A repeatable value in `[-1, 1]` from a key and an instant (metric noise).
pub(crate) fn jitter(key: &str, at: i64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(at.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64 finaliser.
    h = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    (h >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (SimRng::new(7), SimRng::new(7));
        assert_eq!(a.hex(17), b.hex(17));
        assert_eq!(a.uuid(), b.uuid());
        assert_ne!(SimRng::new(8).hex(17), SimRng::new(7).hex(17));
    }

    #[test]
    fn fault_rolls_do_not_disturb_ids() {
        let (mut a, mut b) = (SimRng::new(1), SimRng::new(1));
        for _ in 0..10 {
            a.roll(0.5);
        }
        assert_eq!(a.hex(8), b.hex(8));
        assert!(!a.roll(0.0));
        assert!(a.roll(1.0));
    }

    #[test]
    fn a_saved_stream_resumes_where_it_stood() {
        let mut original = SimRng::new(9);
        original.hex(5);
        original.roll(0.5);
        let json = serde_json::to_string(&original).unwrap();
        let mut restored: SimRng = serde_json::from_str(&json).unwrap();
        assert_eq!(restored.hex(17), original.hex(17));
        assert_eq!(restored.uuid(), original.uuid());
        assert_eq!(restored.roll(0.5), original.roll(0.5));
    }

    #[test]
    fn lab_ids_are_uuid_v4() {
        let id = SimRng::new(3).uuid();
        assert_eq!(id.get_version_num(), 4);
    }

    #[test]
    fn jitter_is_bounded_and_repeatable() {
        for t in 0..1000 {
            let j = jitter("i-1", t);
            assert!((-1.0..=1.0).contains(&j));
            assert_eq!(j, jitter("i-1", t));
        }
        assert_ne!(jitter("i-1", 5), jitter("i-2", 5));
    }
}
