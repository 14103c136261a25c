//! The commit protocol of one shuffle, as pure bookkeeping.
//!
//! A map attempt's frames become visible all at once, when the attempt
//! commits, and only one attempt of each map ever commits: the first.
//! A retried or speculative attempt that commits later is told it lost, and
//! one that pushes after its map committed is refused (its data could never
//! be read). Committing is two-phase because visibility must follow
//! durability: [`CommitBook::prepare`] names the partitions the attempt
//! wrote, the caller syncs them and logs the commit, then
//! [`CommitBook::apply`] makes it visible.

use std::collections::{BTreeSet, HashMap};

/// What committing a map attempt amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitPlan {
    /// The first commit of this map: sync these partitions, log, apply.
    Commit {
        /// Partitions the attempt pushed to, ascending.
        partitions: Vec<u32>,
    },
    /// This very attempt already committed: nothing to do.
    AlreadyCommitted,
    /// Another attempt of the map committed first; this one stays invisible.
    Lost {
        /// The attempt that won.
        winner: u32,
    },
}

/// Commit state of one shuffle.
#[derive(Debug, Clone, Default)]
pub struct CommitBook {
    committed: HashMap<u32, u32>,
    touched: HashMap<(u32, u32), BTreeSet<u32>>,
}

impl CommitBook {
    /// Records that `(map, attempt)` pushed to `partition`. Refused with the
    /// winning attempt if the map already committed.
    pub fn record_push(&mut self, map: u32, attempt: u32, partition: u32) -> Result<(), u32> {
        if let Some(&winner) = self.committed.get(&map) {
            return Err(winner);
        }
        self.touched
            .entry((map, attempt))
            .or_default()
            .insert(partition);
        Ok(())
    }

    /// What committing `(map, attempt)` requires.
    pub fn prepare(&self, map: u32, attempt: u32) -> CommitPlan {
        match self.committed.get(&map) {
            Some(&winner) if winner == attempt => CommitPlan::AlreadyCommitted,
            Some(&winner) => CommitPlan::Lost { winner },
            None => CommitPlan::Commit {
                partitions: self
                    .touched
                    .get(&(map, attempt))
                    .map(|set| set.iter().copied().collect())
                    .unwrap_or_default(),
            },
        }
    }

    /// Makes `(map, attempt)` the committed attempt of `map` (after its data
    /// and the log entry are durable). The first application wins, so
    /// replaying a log with duplicate entries is harmless.
    pub fn apply(&mut self, map: u32, attempt: u32) {
        self.committed.entry(map).or_insert(attempt);
        self.touched.retain(|&(m, _), _| m != map);
    }

    /// The committed attempt of `map`, if any.
    pub fn committed_attempt(&self, map: u32) -> Option<u32> {
        self.committed.get(&map).copied()
    }

    /// Maps with a committed attempt.
    pub fn committed_maps(&self) -> usize {
        self.committed.len()
    }

    /// Every `(map, committed attempt)`, by map.
    pub fn commits(&self) -> Vec<(u32, u32)> {
        let mut commits: Vec<(u32, u32)> = self.committed.iter().map(|(&m, &a)| (m, a)).collect();
        commits.sort_unstable();
        commits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_commit_wins_and_later_attempts_lose() {
        let mut book = CommitBook::default();
        book.record_push(0, 1, 4).unwrap();
        book.record_push(0, 1, 2).unwrap();
        book.record_push(0, 2, 4).unwrap();
        assert_eq!(
            book.prepare(0, 1),
            CommitPlan::Commit {
                partitions: vec![2, 4]
            }
        );
        book.apply(0, 1);
        assert_eq!(book.prepare(0, 1), CommitPlan::AlreadyCommitted);
        assert_eq!(book.prepare(0, 2), CommitPlan::Lost { winner: 1 });
        assert_eq!(book.committed_attempt(0), Some(1));
    }

    #[test]
    fn pushes_after_the_map_committed_are_refused() {
        let mut book = CommitBook::default();
        book.record_push(7, 0, 0).unwrap();
        book.apply(7, 0);
        assert_eq!(book.record_push(7, 1, 0), Err(0));
        assert_eq!(book.record_push(8, 0, 0), Ok(()));
    }

    #[test]
    fn replaying_a_duplicate_commit_keeps_the_first() {
        let mut book = CommitBook::default();
        book.apply(3, 5);
        book.apply(3, 6);
        assert_eq!(book.committed_attempt(3), Some(5));
    }

    #[test]
    fn committing_an_attempt_that_pushed_nothing_is_an_empty_commit() {
        let book = CommitBook::default();
        assert_eq!(
            book.prepare(9, 0),
            CommitPlan::Commit { partitions: vec![] }
        );
    }
}
