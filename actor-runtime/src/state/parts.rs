//! State in parts, for incremental checkpoints: an operator whose state
//! is large and changes in places (a continuous aggregate's groups, one
//! part per key group) hands a checkpoint only the parts that changed
//! since a checkpoint the task names, and says "unchanged" for the rest;
//! the task stores the changed ones and points at the stored copies of
//! the others ([`crate::checkpoint::increments`]).
//!
//! The parts of a state, concatenated in ascending id order, are exactly
//! the bytes [`crate::operator::Operator::restore_state`] reads back, so a
//! restore (and a rescale) needs nothing new: each part must therefore be
//! self-delimiting. [`ChangedParts`] is the bookkeeping an operator keeps
//! to answer "changed since checkpoint *c*?".

use std::collections::HashMap;

/// One part of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Its bytes now.
    Changed(Vec<u8>),
    /// The same bytes as at the checkpoint the snapshot was asked
    /// relative to.
    Unchanged,
}

/// An operator's (or a source's) state at a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSnapshot {
    /// All of it, as one blob.
    Whole(Vec<u8>),
    /// In parts, by ascending id; a part present before and missing now
    /// is gone.
    Parts(Vec<(u32, Part)>),
}

impl StateSnapshot {
    /// The whole state, when no part is [`Part::Unchanged`].
    pub fn into_whole(self) -> Option<Vec<u8>> {
        match self {
            Self::Whole(bytes) => Some(bytes),
            Self::Parts(parts) => {
                let mut whole = Vec::new();
                for (_, part) in parts {
                    match part {
                        Part::Changed(bytes) => whole.extend_from_slice(&bytes),
                        Part::Unchanged => return None,
                    }
                }
                Some(whole)
            }
        }
    }
}

/// Which parts changed after which snapshot: per part, the newest
/// checkpoint whose snapshot was taken before the part's last change.
///
/// A part changed since checkpoint *c* exactly when it was changed after
/// the snapshot of *c* was taken, that is when its mark is *c* or newer
/// (snapshots are taken in increasing checkpoint order). A restored
/// operator starts with no marks; the task asks its first snapshot whole.
#[derive(Debug, Clone, Default)]
pub struct ChangedParts {
    /// The checkpoint of the newest snapshot taken (0: none yet).
    taken: u64,
    marks: HashMap<u32, u64>,
}

impl ChangedParts {
    /// Notes that `part` changes now.
    #[inline]
    pub fn touch(&mut self, part: u32) {
        self.marks.insert(part, self.taken);
    }

    /// Whether `part` changed after the snapshot of `since` (every part
    /// did when there is no such checkpoint).
    pub fn changed_since(&self, part: u32, since: Option<u64>) -> bool {
        match since {
            None => true,
            Some(since) => self.marks.get(&part).is_some_and(|&mark| mark >= since),
        }
    }

    /// Notes that the snapshot of `checkpoint` was taken: later changes
    /// are after it.
    pub fn taken(&mut self, checkpoint: u64) {
        self.taken = self.taken.max(checkpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_is_changed_since_a_checkpoint_only_if_touched_after_its_snapshot() {
        let mut changes = ChangedParts::default();
        changes.touch(1);
        changes.touch(2);
        assert!(changes.changed_since(1, None));
        changes.taken(5);
        changes.touch(2);
        changes.touch(3);
        changes.taken(6);
        changes.touch(3);
        // Since checkpoint 5: parts 2 and 3 were touched after it.
        assert!(!changes.changed_since(1, Some(5)));
        assert!(changes.changed_since(2, Some(5)));
        assert!(changes.changed_since(3, Some(5)));
        // Since 6 (5 was never completed, say): only part 3.
        assert!(!changes.changed_since(2, Some(6)));
        assert!(changes.changed_since(3, Some(6)));
        assert!(!changes.changed_since(9, Some(6)), "never touched");
        assert!(changes.changed_since(9, None));
    }

    #[test]
    fn only_a_snapshot_with_every_part_changed_is_whole() {
        let parts = StateSnapshot::Parts(vec![
            (0, Part::Changed(b"ab".to_vec())),
            (4, Part::Changed(b"c".to_vec())),
        ]);
        assert_eq!(parts.into_whole(), Some(b"abc".to_vec()));
        let partial = StateSnapshot::Parts(vec![(0, Part::Unchanged)]);
        assert_eq!(partial.into_whole(), None);
    }
}
