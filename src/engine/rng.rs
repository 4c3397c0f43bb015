//! Seeded random streams, one per named random source.
//!
//! Each source (a workload's arrivals, a service's routing, a service's replication delays, a
//! principal's token lifetimes) draws from its own ChaCha8 stream: the key comes from the master
//! seed and the stream number from a 64-bit FNV-1a hash of the source's name. Adding a source
//! therefore never shifts the draws of another, and the same seed and name always give the same
//! sequence on every platform.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{Rng, SeedableRng};

/// A deterministic random stream for one named source.
pub struct RandomStream {
    rng: ChaCha8Rng,
}

/// Hashes a source name with 64-bit FNV-1a, a fixed function with no per-process key.
pub fn fnv1a64(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

impl RandomStream {
    pub fn new(master_seed: u64, source: &str) -> RandomStream {
        let mut rng = ChaCha8Rng::seed_from_u64(master_seed);
        rng.set_stream(fnv1a64(source));
        RandomStream { rng }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Draws a float uniformly from [0, 1) with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Draws an integer uniformly from `low..=high` without modulo bias.
    pub fn uniform_inclusive(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        let span = high - low;
        if span == u64::MAX {
            return self.next_u64();
        }
        let n = span + 1;
        // Reject the top partial block so that every value has the same number of preimages.
        let zone = u64::MAX - (u64::MAX % n) - 1;
        loop {
            let x = self.next_u64();
            if x <= zone {
                return low + x % n;
            }
        }
    }

    /// Draws from an exponential distribution with the given mean, in milliseconds, rounded to the
    /// nearest millisecond.
    pub fn exponential_ms(&mut self, mean_ms: u64) -> u64 {
        // 1 - unit() lies in (0, 1], so the logarithm is finite.
        let u = 1.0 - self.unit();
        let draw = -(u.ln()) * mean_ms as f64;
        if draw >= u64::MAX as f64 {
            u64::MAX
        } else {
            draw.round() as u64
        }
    }

    /// Picks an index in `0..n`.
    pub fn index(&mut self, n: usize) -> usize {
        self.uniform_inclusive(0, n as u64 - 1) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_and_name_repeat() {
        let mut a = RandomStream::new(42, "workload/blob-read");
        let mut b = RandomStream::new(42, "workload/blob-read");
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn names_give_independent_streams() {
        let mut a = RandomStream::new(42, "routing/arm");
        let mut b = RandomStream::new(42, "routing/storage");
        let same = (0..64).filter(|_| a.next_u64() == b.next_u64()).count();
        assert_eq!(same, 0);
    }

    #[test]
    fn uniform_stays_in_range_and_covers_it() {
        let mut s = RandomStream::new(7, "uniform");
        let mut seen = [0u32; 5];
        for _ in 0..5_000 {
            let x = s.uniform_inclusive(10, 14);
            assert!((10..=14).contains(&x));
            seen[(x - 10) as usize] += 1;
        }
        // Each of the 5 values expects 1,000 draws; 800 is more than 6 standard deviations below.
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut s = RandomStream::new(11, "exp");
        let n = 20_000;
        let total: u64 = (0..n).map(|_| s.exponential_ms(60_000)).sum();
        let mean = total as f64 / n as f64;
        // The standard error of the mean is 60,000 / sqrt(20,000), about 424 ms; allow 5 of them.
        assert!((mean - 60_000.0).abs() < 2_200.0, "mean {mean}");
    }
}
