//! `java.util.Random`, bit for bit: the 48-bit linear congruential
//! generator the reference seeds once per event.
//!
//! Apache Beam's Nexmark `Generator.nextEvent` draws every field of an
//! event from `new Random(eventId)`. Reproducing that generator exactly
//! (its seed scrambling, `next(bits)`, and the rejection loop of
//! `nextInt(bound)`) means that, seeded alike, Faro's events carry the
//! reference's values, and that each event depends only on its id, never
//! on which split generated it. The constants and algorithms are the ones
//! the `java.util.Random` documentation specifies.

/// The LCG multiplier of `java.util.Random`.
const MULTIPLIER: i64 = 0x5_DEEC_E66D;
/// The LCG increment of `java.util.Random`.
const ADDEND: i64 = 0xB;
/// The state is 48 bits wide.
const MASK: i64 = (1 << 48) - 1;
/// 2^-53: turns 53 random bits into a double in [0, 1).
const DOUBLE_UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// A `java.util.Random` with the same seed yields the same sequence.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: i64,
}

impl JavaRandom {
    /// The generator `new java.util.Random(seed)` would be.
    pub fn new(seed: i64) -> Self {
        Self {
            seed: (seed ^ MULTIPLIER) & MASK,
        }
    }

    /// `next(bits)`: the top `bits` of the advanced 48-bit state, as Java's
    /// `int` (so `next(32)` may be negative).
    fn next(&mut self, bits: u32) -> i32 {
        self.seed = self.seed.wrapping_mul(MULTIPLIER).wrapping_add(ADDEND) & MASK;
        // Java's `(int)(seed >>> (48 - bits))`: the state is non-negative,
        // so the shift is logical; the cast keeps the low 32 bits.
        (self.seed >> (48 - bits)) as i32
    }

    /// `nextInt()`: any `i32`, uniformly.
    pub fn next_int(&mut self) -> i32 {
        self.next(32)
    }

    /// `nextInt(bound)`: uniform in `[0, bound)`; `bound` must be positive
    /// (the callers' bounds are validated or constant).
    pub fn next_int_bounded(&mut self, bound: i32) -> i32 {
        debug_assert!(bound > 0, "nextInt bound must be positive");
        let mut r = self.next(31);
        let m = bound - 1;
        if bound & m == 0 {
            // A power of two: the high bits are the better ones.
            return ((i64::from(bound) * i64::from(r)) >> 31) as i32;
        }
        // Reject the partial last bucket; Java detects it by `int` overflow.
        let mut u = r;
        loop {
            r = u % bound;
            if u.wrapping_sub(r).wrapping_add(m) >= 0 {
                return r;
            }
            u = self.next(31);
        }
    }

    /// `nextLong()`: two 32-bit draws, the low one sign-extended as in Java.
    pub fn next_long(&mut self) -> i64 {
        let high = i64::from(self.next(32));
        let low = i64::from(self.next(32));
        (high << 32).wrapping_add(low)
    }

    /// `nextDouble()`: 53 random bits scaled into `[0, 1)`.
    pub fn next_double(&mut self) -> f64 {
        let high = i64::from(self.next(26));
        let low = i64::from(self.next(27));
        ((high << 27) + low) as f64 * DOUBLE_UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::JavaRandom;

    // Expected values printed by OpenJDK 17's java.util.Random for the same
    // seeds and the same sequence of calls.
    #[test]
    fn matches_java_util_random() {
        let mut random = JavaRandom::new(42);
        assert_eq!(random.next_int(), -1_170_105_035);
        assert_eq!(random.next_int_bounded(10), 3);
        assert_eq!(random.next_int_bounded(1000), 248);
        assert_eq!(random.next_int_bounded(64), 3);
        assert_eq!(random.next_long(), 5_694_868_678_511_409_995);
        assert_eq!(random.next_double(), 0.27707849007413665);
        assert_eq!(random.next_int_bounded(2_000_000_001), 1_429_255_519);

        let mut random = JavaRandom::new(-7);
        assert_eq!(random.next_int(), 1_155_869_324);
        assert_eq!(random.next_int_bounded(13), 7);
        assert_eq!(random.next_long(), -6_028_743_012_628_894_217);
        assert_eq!(random.next_double(), 0.5214896372918163);
        assert_eq!(random.next_int_bounded(1 << 30), 914_697_295);
    }
}
