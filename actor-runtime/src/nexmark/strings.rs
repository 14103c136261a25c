//! Random strings, prices and bounded longs, drawn as the reference draws
//! them.
//!
//! Follows Apache Beam's Nexmark `model/StringsGenerator`,
//! `PriceGenerator` and `LongGenerator` call for call, so that, from the
//! same [`JavaRandom`] state, the same text and numbers come out and the
//! state advances by the same number of draws (later fields depend on it).

use super::java_random::JavaRandom;

/// The shortest string [`next_string`] draws before trimming.
const MIN_STRING_LENGTH: i32 = 3;

/// `nextString(random, maxLength, special)`: 3 to `max_length - 1` letters,
/// about one in thirteen replaced by `special`, trimmed of spaces at both
/// ends (Java's `trim`, which only those strings can need).
pub fn next_string(random: &mut JavaRandom, max_length: i32, special: u8) -> String {
    let len = MIN_STRING_LENGTH + random.next_int_bounded(max_length - MIN_STRING_LENGTH);
    let mut text = String::with_capacity(len as usize);
    for _ in 0..len {
        if random.next_int_bounded(13) == 0 {
            text.push(char::from(special));
        } else {
            text.push(char::from(b'a' + random.next_int_bounded(26) as u8));
        }
    }
    let trimmed = text.trim_matches(' ');
    if trimmed.len() == text.len() {
        text
    } else {
        trimmed.to_string()
    }
}

/// `nextExactString(random, length)`: `length` characters, six from each
/// 32-bit draw. Java's `%` keeps the sign of a negative draw, so the
/// characters run from `'H'` to `'z'`, punctuation included; all ASCII.
pub fn next_exact_string(random: &mut JavaRandom, length: usize) -> String {
    let mut bytes = Vec::with_capacity(length);
    let mut draw = 0i32;
    let mut left = 0;
    for _ in 0..length {
        if left == 0 {
            draw = random.next_int();
            left = 6;
        }
        bytes.push((i32::from(b'a') + draw % 26) as u8);
        draw /= 26;
        left -= 1;
    }
    // Every byte is in 'H'..='z', so the bytes are always UTF-8.
    String::from_utf8(bytes).unwrap_or_default()
}

/// `nextExtra(random, currentSize, desiredAverageSize)`: padding so that
/// `current_size` plus its length averages `desired_average`, spread
/// ±20% around it; empty when the event is already that large. Unless
/// `build`, the draws are made and the text is not (empty).
pub fn next_extra(
    random: &mut JavaRandom,
    current_size: usize,
    desired_average: u32,
    build: bool,
) -> String {
    let desired_average = desired_average as usize;
    if current_size > desired_average {
        return String::new();
    }
    let average = desired_average - current_size;
    // Java's `Math.round` of a non-negative double: half rounds up.
    let delta = (average as f64 * 0.2 + 0.5).floor() as usize;
    let min_size = average - delta;
    let size = if delta == 0 {
        min_size
    } else {
        // `average` is at most the validated 1 MiB, so `2 * delta` fits.
        min_size + random.next_int_bounded(2 * delta as i32) as usize
    };
    if build {
        next_exact_string(random, size)
    } else {
        // `next_exact_string` draws once per six characters.
        for _ in 0..size.div_ceil(6) {
            random.next_int();
        }
        String::new()
    }
}

/// `PriceGenerator.nextPrice`: 10^(6u) dollars in cents for a uniform `u`,
/// so prices spread log-uniformly from 1.00 to 1 000 000.00.
pub fn next_price(random: &mut JavaRandom) -> i64 {
    let cents = 10f64.powf(random.next_double() * 6.0) * 100.0;
    (cents + 0.5).floor() as i64
}

/// `LongGenerator.nextLong(random, n)`: uniform in `[0, n)` through
/// `nextInt` when `n` fits an `int`; otherwise the reference's own skewed
/// `abs(nextLong() % n)`, kept so the draws stay the same.
pub fn next_long(random: &mut JavaRandom, n: i64) -> i64 {
    if n < i64::from(i32::MAX) {
        i64::from(random.next_int_bounded(n as i32))
    } else {
        (random.next_long() % n).wrapping_abs()
    }
}

#[cfg(test)]
mod tests {
    use super::{next_exact_string, next_extra, next_long, next_price, next_string};
    use crate::nexmark::java_random::JavaRandom;

    #[test]
    fn strings_have_the_reference_lengths() {
        let mut random = JavaRandom::new(7);
        for _ in 0..1000 {
            let text = next_string(&mut random, 20, b' ');
            assert!(text.len() < 20 && !text.starts_with(' ') && !text.ends_with(' '));
            let exact = next_exact_string(&mut random, 37);
            assert_eq!(exact.len(), 37);
            assert!(exact.bytes().all(|b| (b'H'..=b'z').contains(&b)), "{exact}");
            let extra = next_extra(&mut random, 32, 100, true);
            // 68 ± 20%.
            assert!((54..82).contains(&extra.len()), "{}", extra.len());
        }
        assert_eq!(next_extra(&mut random, 300, 100, true), "");
    }

    #[test]
    fn padding_not_built_draws_what_it_would_have() {
        let (mut built, mut skipped) = (JavaRandom::new(5), JavaRandom::new(5));
        for _ in 0..1000 {
            assert!(!next_extra(&mut built, 32, 100, true).is_empty());
            assert_eq!(next_extra(&mut skipped, 32, 100, false), "");
            assert_eq!(
                built.next_int(),
                skipped.next_int(),
                "the draws stay in step"
            );
        }
    }

    #[test]
    fn prices_are_positive_and_log_spread() {
        let mut random = JavaRandom::new(11);
        let prices: Vec<i64> = (0..10_000).map(|_| next_price(&mut random)).collect();
        assert!(prices.iter().all(|&p| (100..=100_000_000).contains(&p)));
        // Log-uniform over six decades: about a sixth below $10.
        let cheap = prices.iter().filter(|&&p| p < 1_000).count();
        assert!((1_400..1_950).contains(&cheap), "{cheap}");
    }

    #[test]
    fn long_draws_stay_in_range() {
        let mut random = JavaRandom::new(3);
        for n in [1, 10, 1_000_000, i64::from(i32::MAX), 1 << 40] {
            for _ in 0..100 {
                let value = next_long(&mut random, n);
                assert!((0..n).contains(&value), "{value} for {n}");
            }
        }
    }
}
