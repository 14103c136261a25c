//! Key groups: the unit keyed state is split, snapshotted and moved in.
//!
//! Every key hashes (with the row hash exchanges and aggregations use) to
//! one of a job's fixed number of key groups; each subtask of a keyed
//! operator owns a contiguous range of groups. The number of groups is a
//! job constant — Flink's *max parallelism* — so a job can be restored at
//! another parallelism: the new subtasks take over whole groups, never
//! parts of one, and a key's state is found where the exchange now sends
//! its rows. The two functions below are each other's inverse (tested
//! exhaustively for small sizes), which is what makes that true.

use crate::kernels::hash::partition_of;

/// Key groups when a job sets none: Flink's floor for max parallelism.
pub const DEFAULT_KEY_GROUPS: u32 = 128;

/// Most key groups a job may have (a keyed operator's parallelism can
/// never exceed its key groups).
pub const MAX_KEY_GROUPS: u32 = 32_768;

/// The key group of a key's row hash.
#[inline]
pub fn key_group_of(hash: u64, key_groups: u32) -> u32 {
    partition_of(hash, key_groups)
}

/// The subtask (of `parallelism`) that owns `group`.
#[inline]
pub fn subtask_of_group(group: u32, key_groups: u32, parallelism: u32) -> u32 {
    (u64::from(group) * u64::from(parallelism) / u64::from(key_groups)) as u32
}

/// The subtask (of `parallelism`) a key's rows and state belong to.
#[inline]
pub fn subtask_of_hash(hash: u64, key_groups: u32, parallelism: u32) -> u32 {
    subtask_of_group(key_group_of(hash, key_groups), key_groups, parallelism)
}

/// A contiguous range of key groups, `start..end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyGroupRange {
    /// The first group.
    pub start: u32,
    /// One past the last group.
    pub end: u32,
}

impl KeyGroupRange {
    /// The groups subtask `subtask` of `parallelism` owns: exactly those
    /// [`subtask_of_group`] maps to it.
    pub fn of_subtask(key_groups: u32, parallelism: u32, subtask: u32) -> Self {
        let (groups, parallelism) = (u64::from(key_groups), u64::from(parallelism.max(1)));
        let first = |s: u64| (s * groups).div_ceil(parallelism) as u32;
        Self {
            start: first(u64::from(subtask)),
            end: first(u64::from(subtask) + 1).min(key_groups),
        }
    }

    /// Whether `group` is in the range.
    pub fn contains(&self, group: u32) -> bool {
        (self.start..self.end).contains(&group)
    }

    /// How many groups the range holds.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// Whether the range holds no group (more subtasks than groups).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtasks_range_is_exactly_the_groups_routed_to_it() {
        for key_groups in 1..=40u32 {
            for parallelism in 1..=key_groups {
                let mut next = 0;
                for subtask in 0..parallelism {
                    let range = KeyGroupRange::of_subtask(key_groups, parallelism, subtask);
                    assert_eq!(range.start, next, "contiguous, in subtask order");
                    assert!(!range.is_empty(), "{key_groups} groups over {parallelism}");
                    for group in range.start..range.end {
                        assert_eq!(subtask_of_group(group, key_groups, parallelism), subtask);
                    }
                    next = range.end;
                }
                assert_eq!(next, key_groups, "every group has an owner");
            }
        }
    }

    #[test]
    fn ranges_differ_in_size_by_at_most_one_group() {
        let sizes: Vec<usize> = (0..7)
            .map(|s| KeyGroupRange::of_subtask(DEFAULT_KEY_GROUPS, 7, s).len())
            .collect();
        assert_eq!(sizes.iter().sum::<usize>(), 128);
        assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
    }

    #[test]
    fn a_key_keeps_its_group_whatever_the_parallelism() {
        let hash = 0x1234_5678_9abc_def0u64;
        let group = key_group_of(hash, DEFAULT_KEY_GROUPS);
        for parallelism in 1..=DEFAULT_KEY_GROUPS {
            let subtask = subtask_of_hash(hash, DEFAULT_KEY_GROUPS, parallelism);
            assert!(
                KeyGroupRange::of_subtask(DEFAULT_KEY_GROUPS, parallelism, subtask).contains(group)
            );
        }
    }
}
