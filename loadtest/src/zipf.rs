//! Zipf popularity: which of the data set's permits a request names.
//!
//! Rank `k` (1-based) is drawn with probability proportional to `1 / k^s` (`--zipf-exponent s`,
//! 0 = uniform), by `rand_distr`'s rejection-inversion sampler: O(1) memory and time whatever the
//! data set's size. All randomness comes from the caller's RNG, so a seeded RNG gives the same
//! ranks on every run and machine.

use rand::Rng;
use rand_distr::Distribution;

use crate::limits::ZIPF_EXPONENT_MAX;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZipfError {
    #[error("Zipf over an empty set")]
    Empty,
    #[error("Zipf exponent {0} must be a number in 0..={ZIPF_EXPONENT_MAX}")]
    Exponent(f64),
}

#[derive(Debug, Clone, Copy)]
pub struct ZipfRanks {
    dist: rand_distr::Zipf<f64>,
    n: usize,
}

impl ZipfRanks {
    pub fn new(n: usize, exponent: f64) -> Result<ZipfRanks, ZipfError> {
        if n == 0 {
            return Err(ZipfError::Empty);
        }
        if !(0.0..=ZIPF_EXPONENT_MAX).contains(&exponent) {
            return Err(ZipfError::Exponent(exponent));
        }
        let dist =
            rand_distr::Zipf::new(n as f64, exponent).map_err(|_| ZipfError::Exponent(exponent))?;
        Ok(ZipfRanks { dist, n })
    }

    pub fn len(&self) -> usize {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// A 0-based rank: 0 is the most popular.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let rank = self.dist.sample(rng) as usize; // 1..=n, integral
        rank.clamp(1, self.n) - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn same_seed_same_ranks() {
        // Proves the sampler is deterministic for a seed and differs for another seed.
        let z = ZipfRanks::new(10_000, 1.0).unwrap();
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..1000).map(|_| z.sample(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
        assert!(draw(7).iter().all(|&r| r < 10_000));
    }

    #[test]
    fn rank_one_is_most_frequent() {
        // Proves rank 1 (index 0) is drawn more often than any other rank, and popularity falls
        // with rank at the head of the distribution.
        let z = ZipfRanks::new(1000, 1.0).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        let (top, _) = counts.iter().enumerate().max_by_key(|&(_, c)| *c).unwrap();
        assert_eq!(top, 0);
        assert!(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[9]);
    }

    #[test]
    fn rejects_bad_parameters() {
        // Proves an empty set and out-of-range exponents are refused.
        assert_eq!(ZipfRanks::new(0, 1.0).unwrap_err(), ZipfError::Empty);
        assert!(ZipfRanks::new(10, -1.0).is_err());
        assert!(ZipfRanks::new(10, f64::NAN).is_err());
        assert!(ZipfRanks::new(10, 0.0).is_ok());
    }
}
