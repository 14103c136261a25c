//! Ordering row entries by their 64-bit key prefix with a
//! least-significant-digit radix sort: a few linear passes over the
//! entries instead of a comparison sort's ~log₂ n rounds of branchy
//! compares. Byte positions where every prefix agrees (the high bytes of
//! small integers, a shared leading character) cost no pass. Rows whose
//! prefixes are equal are left for the caller to order by the full key.

/// One row as it is ordered: the key prefix, the batch and the row within
/// it.
pub type Entry = (u64, u32, u32);

/// Sorts `entries` by prefix, stably (equal prefixes keep their order).
/// Uses a scratch copy of the entries.
pub fn sort_by_prefix(entries: &mut Vec<Entry>) {
    // Below this a comparison sort is as fast and needs no scratch space.
    const SMALL: usize = 256;
    if entries.len() <= SMALL {
        entries.sort_by_key(|entry| entry.0);
        return;
    }
    let counts = digit_counts(entries);
    let mut scratch: Vec<Entry> = vec![(0, 0, 0); entries.len()];
    let mut in_entries = true;
    for (digit, counts) in counts.iter().enumerate() {
        if counts.contains(&entries.len()) {
            continue;
        }
        let mut next = [0usize; 256];
        let mut at = 0;
        for (bucket, &n) in counts.iter().enumerate() {
            next[bucket] = at;
            at += n;
        }
        let (from, to) = match in_entries {
            true => (&entries[..], &mut scratch[..]),
            false => (&scratch[..], &mut entries[..]),
        };
        let shift = digit * 8;
        for &entry in from {
            let bucket = ((entry.0 >> shift) & 0xff) as usize;
            to[next[bucket]] = entry;
            next[bucket] += 1;
        }
        in_entries = !in_entries;
    }
    if !in_entries {
        *entries = scratch;
    }
}

/// How many prefixes hold each value of each byte, for all eight bytes
/// in one pass.
fn digit_counts(entries: &[Entry]) -> Box<[[usize; 256]; 8]> {
    let mut counts = Box::new([[0usize; 256]; 8]);
    for &(prefix, _, _) in entries {
        for (digit, counts) in counts.iter_mut().enumerate() {
            counts[((prefix >> (digit * 8)) & 0xff) as usize] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(prefixes: Vec<u64>) {
        let mut entries: Vec<Entry> = prefixes
            .iter()
            .enumerate()
            .map(|(i, &p)| (p, 0, i as u32))
            .collect();
        let mut expected = entries.clone();
        expected.sort_by_key(|entry| entry.0);
        sort_by_prefix(&mut entries);
        assert_eq!(entries, expected);
    }

    #[test]
    fn orders_like_a_stable_comparison_sort() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut random = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        check((0..10_000).map(|_| random()).collect());
        // Few distinct values: equal prefixes must keep their order.
        check((0..10_000).map(|_| random() % 7).collect());
        // Every byte but one shared: passes are skipped.
        check(
            (0..10_000)
                .map(|_| 0x3030_3030_3030_3000 | (random() & 0xff))
                .collect(),
        );
        check((0..10_000u64).rev().collect());
        check(vec![5; 1000]);
        check(vec![3, 1, 2]);
        check(Vec::new());
    }
}
