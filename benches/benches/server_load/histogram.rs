//! Latencies in microseconds, kept as counts in buckets of about 1.6 % width
//! (64 per doubling above 1 ms, exact below), so millions of samples cost a few
//! kilobytes and quantiles are read off without sorting.

use std::time::Duration;

const EXACT: u64 = 1024;
const PER_OCTAVE: u64 = 64;
const OCTAVES: u64 = 34;

#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; (EXACT + OCTAVES * PER_OCTAVE) as usize],
            total: 0,
            max: 0,
        }
    }
}

fn bucket(micros: u64) -> usize {
    if micros < EXACT {
        return micros as usize;
    }
    let octave = 63 - u64::from(micros.leading_zeros());
    let sub = (micros >> (octave - 6)) & (PER_OCTAVE - 1);
    let index = EXACT + (octave - 10) * PER_OCTAVE + sub;
    (index as usize).min((EXACT + OCTAVES * PER_OCTAVE) as usize - 1)
}

fn lower_bound(index: usize) -> u64 {
    let index = index as u64;
    if index < EXACT {
        return index;
    }
    let octave = (index - EXACT) / PER_OCTAVE + 10;
    let sub = (index - EXACT) % PER_OCTAVE;
    (PER_OCTAVE + sub) << (octave - 6)
}

impl Histogram {
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[bucket(micros)] += 1;
        self.total += 1;
        self.max = self.max.max(micros);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The latency at quantile `q` (0–1): the lower bound of its bucket.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.total == 0 {
            return Duration::ZERO;
        }
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, n) in self.counts.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Duration::from_micros(lower_bound(index).min(self.max));
            }
        }
        Duration::from_micros(self.max)
    }

    pub fn max(&self) -> Duration {
        Duration::from_micros(self.max)
    }
}

/// Checks the bucket arithmetic (run in test mode: a harness-less bench has no
/// `#[test]`s).
pub fn check_quantiles() {
    {
        let mut h = Histogram::default();
        for micros in 1..=100_000u64 {
            h.record(Duration::from_micros(micros));
        }
        for (q, exact) in [(0.5, 50_000.0), (0.99, 99_000.0), (0.001, 100.0)] {
            let got = h.quantile(q).as_micros() as f64;
            assert!((got - exact).abs() / exact < 0.02, "q{q}: {got} vs {exact}");
        }
        assert_eq!(h.max(), Duration::from_micros(100_000));
    }
}
