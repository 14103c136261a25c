//! A seeded random stream (SplitMix64): the same seed gives the same
//! initial centers on every machine and in every run, which is what lets
//! a re-run training reach the same model.

/// SplitMix64: fast, statistically sound for sampling, and tiny.
#[derive(Debug, Clone)]
pub struct Seeded(u64);

impl Seeded {
    /// A stream started at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform double in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_one_stream_and_values_stay_in_range() {
        let (mut a, mut b) = (Seeded::new(7), Seeded::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.next_f64();
            assert!((0.0..1.0).contains(&x));
            assert!(a.below(3) < 3);
            b.next_f64();
            b.below(3);
        }
        assert_ne!(Seeded::new(1).next_u64(), Seeded::new(2).next_u64());
    }
}
