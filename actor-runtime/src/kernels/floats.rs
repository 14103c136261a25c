//! How doubles behave as values to compare, group and join on. IEEE 754
//! has no total order (NaN is unequal even to itself) and two zeros, which
//! would let `GROUP BY` split one key, a join miss a match and a sort
//! depend on its input's order. Faro follows Spark and PostgreSQL: NaN
//! equals NaN and orders above every other number, and -0.0 equals 0.0.
//! Every comparison, sort, hash and key encoding of a double goes through
//! here, so they all agree.

use std::cmp::Ordering;

/// Orders two doubles: NaN equals NaN and is greater than everything
/// else (infinity included); -0.0 equals 0.0.
pub fn compare_f64(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

/// The bits of `x` as a key: equal under [`compare_f64`] means equal bits
/// (every NaN is one NaN, both zeros are 0).
pub fn key_bits(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else if x == 0.0 {
        0
    } else {
        x.to_bits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_is_one_value_above_every_number() {
        let other_nan = f64::from_bits(f64::NAN.to_bits() | 1);
        assert_eq!(compare_f64(f64::NAN, other_nan), Ordering::Equal);
        assert_eq!(compare_f64(f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(compare_f64(-f64::NAN, f64::INFINITY), Ordering::Greater);
        assert_eq!(compare_f64(f64::NEG_INFINITY, f64::NAN), Ordering::Less);
        assert_eq!(key_bits(f64::NAN), key_bits(-other_nan));
    }

    #[test]
    fn the_two_zeros_are_one_value() {
        assert_eq!(compare_f64(-0.0, 0.0), Ordering::Equal);
        assert_eq!(key_bits(-0.0), key_bits(0.0));
        assert_eq!(compare_f64(-1.0, 1.0), Ordering::Less);
    }
}
