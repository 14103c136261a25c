//! The sorted runs a spilling `sort` keeps on disk, and the policy that
//! decides which of them to merge when.
//!
//! Runs are kept closed (a path and its counts) so that holding hundreds
//! of them costs no file handles or buffers; only a merge opens any, and
//! at most [`MERGE_FAN_IN`] at a time. The policy is pure bookkeeping over
//! levels and sizes, apart from the I/O, so it can be tested on its own.

use crate::operators::spill::SpillFile;

/// Runs one merge reads at once. Each run being merged holds an open file,
/// its read buffer and a decoded batch, so this bounds what a merge holds
/// (this many readers and one writer) however much was spilled; and with
/// runs merged level by level, every row is rewritten only
/// log_FAN_IN(runs) times: 16 merges 256 runs in two passes and 4096 in
/// three, while a heap over 16 heads costs about 8 comparisons a row.
pub const MERGE_FAN_IN: usize = 16;

/// A sorted run on disk, closed until a merge reads it.
#[derive(Debug)]
pub(super) struct Run {
    /// The file (deleted when the run is dropped).
    pub file: SpillFile,
    /// 0 for a run spilled from memory, n + 1 for a merge of level-n runs.
    pub level: u32,
}

/// Which runs to merge when; no I/O. Runs are named by their position in
/// the caller's list, oldest first, and a merge's result is appended to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct MergePolicy {
    fan_in: usize,
}

impl MergePolicy {
    /// Merges of at most `fan_in` runs (at least 2).
    pub(super) fn new(fan_in: usize) -> Self {
        Self {
            fan_in: fan_in.max(2),
        }
    }

    /// While input still arrives, given each run's level: the positions of
    /// the first `fan_in` runs of the lowest level holding that many, to be
    /// merged into one run of the next level; `None` while no level is full.
    /// As in an LSM tree, a row is rewritten once per level it climbs, and
    /// there are log_fan_in(runs) levels.
    pub(super) fn level_merge(&self, levels: &[u32]) -> Option<Vec<usize>> {
        let mut counts: Vec<usize> = Vec::new();
        for &level in levels {
            let level = level as usize;
            if counts.len() <= level {
                counts.resize(level + 1, 0);
            }
            counts[level] += 1;
        }
        let full = counts.iter().position(|&n| n >= self.fan_in)? as u32;
        Some(
            levels
                .iter()
                .enumerate()
                .filter(|&(_, &level)| level == full)
                .map(|(i, _)| i)
                .take(self.fan_in)
                .collect(),
        )
    }

    /// After the last input, given each run's size: while more runs remain
    /// than one merge reads, the positions (ascending) of the smallest runs
    /// to merge into one first; `None` once the rest fit the final merge.
    ///
    /// The first such merge takes only as many runs as leave a count the
    /// later full merges bring down to exactly `fan_in`, and every merge
    /// takes the smallest runs (an n-ary Huffman tree), so the fewest bytes
    /// are rewritten before the final merge streams them out.
    pub(super) fn final_merge(&self, bytes: &[u64]) -> Option<Vec<usize>> {
        let runs = bytes.len();
        if runs <= self.fan_in {
            return None;
        }
        let take = (runs - 2) % (self.fan_in - 1) + 2;
        let mut order: Vec<usize> = (0..runs).collect();
        order.sort_by_key(|&i| (bytes[i], i));
        let mut picked = order[..take].to_vec();
        picked.sort_unstable();
        Some(picked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays a sort that spills `runs` runs of `size` bytes each and then
    /// ends, doing every merge the policy asks for. Returns each merge's
    /// fan-in, the bytes written in all (spills and merges), and the sizes
    /// of the runs left for the final merge.
    fn replay(policy: MergePolicy, runs: usize, size: u64) -> (Vec<usize>, u64, Vec<u64>) {
        /// Replaces the runs at `picked` by their merge; returns its size.
        fn merge(held: &mut Vec<(u32, u64)>, picked: &[usize]) -> u64 {
            assert!(picked.windows(2).all(|w| w[0] < w[1]), "{picked:?}");
            let taken: Vec<(u32, u64)> = picked.iter().map(|&i| held[i]).collect();
            let mut i = 0;
            held.retain(|_| {
                i += 1;
                !picked.contains(&(i - 1))
            });
            let level = taken.iter().map(|r| r.0).max().unwrap_or(0) + 1;
            let bytes = taken.iter().map(|r| r.1).sum();
            held.push((level, bytes));
            bytes
        }
        let mut held: Vec<(u32, u64)> = Vec::new();
        let mut fan_ins = Vec::new();
        let mut written = 0;
        for _ in 0..runs {
            written += size;
            held.push((0, size));
            while let Some(picked) =
                policy.level_merge(&held.iter().map(|r| r.0).collect::<Vec<_>>())
            {
                fan_ins.push(picked.len());
                written += merge(&mut held, &picked);
            }
        }
        while let Some(picked) = policy.final_merge(&held.iter().map(|r| r.1).collect::<Vec<_>>()) {
            fan_ins.push(picked.len());
            written += merge(&mut held, &picked);
        }
        (fan_ins, written, held.iter().map(|r| r.1).collect())
    }

    #[test]
    fn a_full_level_merges_into_the_next() {
        let policy = MergePolicy::new(4);
        assert_eq!(policy.level_merge(&[0, 0, 0]), None);
        assert_eq!(
            policy.level_merge(&[1, 0, 0, 1, 0, 0]),
            Some(vec![1, 2, 4, 5])
        );
        // The lowest full level goes first; a fifth run of it waits.
        assert_eq!(
            policy.level_merge(&[1, 1, 1, 1, 0, 0, 0, 0, 0]),
            Some(vec![4, 5, 6, 7])
        );
        assert_eq!(policy.level_merge(&[2, 1, 1, 1, 1]), Some(vec![1, 2, 3, 4]));
    }

    #[test]
    fn runs_that_fit_one_merge_are_merged_as_they_are() {
        let policy = MergePolicy::new(4);
        assert_eq!(policy.final_merge(&[]), None);
        assert_eq!(policy.final_merge(&[5, 1, 9, 2]), None);
    }

    #[test]
    fn the_first_final_merge_takes_just_enough_of_the_smallest_runs() {
        let policy = MergePolicy::new(4);
        // 5 runs: merging the 2 smallest leaves 4.
        assert_eq!(policy.final_merge(&[9, 3, 7, 1, 8]), Some(vec![1, 3]));
        // 7 runs: merging 4 leaves 4.
        assert_eq!(
            policy.final_merge(&[9, 3, 7, 1, 8, 2, 2]),
            Some(vec![1, 3, 5, 6])
        );
        // Ties go to the older run.
        assert_eq!(policy.final_merge(&[1, 1, 1, 1, 1]), Some(vec![0, 1]));
    }

    #[test]
    fn merges_never_read_more_than_the_fan_in_and_end_with_at_most_that_many_runs() {
        for fan_in in [2, 3, 4, 16] {
            let policy = MergePolicy::new(fan_in);
            for runs in [
                0,
                1,
                fan_in - 1,
                fan_in,
                fan_in + 1,
                2 * fan_in + 3,
                300,
                1000,
            ] {
                let (fan_ins, _, left) = replay(policy, runs, 10);
                assert!(fan_ins.iter().all(|&n| (2..=fan_in).contains(&n)));
                assert!(left.len() <= fan_in, "{fan_in} {runs}: {}", left.len());
                assert_eq!(left.iter().sum::<u64>(), runs as u64 * 10);
            }
        }
    }

    #[test]
    fn each_row_is_rewritten_about_log_fan_in_times() {
        let policy = MergePolicy::new(16);
        // 256 runs: one level-2 run; every row written at spill, level 1 and
        // level 2, and the final merge reads the one run left.
        let (_, written, left) = replay(policy, 256, 10);
        assert_eq!((written, left.len()), (3 * 2560, 1));
        // 1000 runs = 3 level-2 runs, 14 of level 1 and 8 of level 0; at most
        // 4 writes a row, where merging every new run into one would write
        // ~500.
        let (_, written, left) = replay(policy, 1000, 10);
        assert!(left.len() <= 16);
        assert!(written <= 4 * 10_000, "{written}");
    }

    #[test]
    fn a_fan_in_below_two_is_two() {
        assert_eq!(MergePolicy::new(0), MergePolicy::new(2));
        assert_eq!(MergePolicy::new(1).level_merge(&[0, 0]), Some(vec![0, 1]));
    }
}
