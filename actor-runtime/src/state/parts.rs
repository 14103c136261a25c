//! State in parts, for incremental checkpoints: an operator whose state
//! is large and changes in places (a continuous aggregate's groups, one
//! part per key group) hands a checkpoint only the parts that changed
//! since a checkpoint the task names, and says "unchanged" for the rest;
//! the task stores the changed ones and points at the stored copies of
//! the others ([`crate::checkpoint::increments`]).
//!
//! A part that changed a little may instead be *appended to*: its stored
//! bytes stay, and the new bytes follow them (a changelog of the part,
//! as Flink's changelog state backend keeps one), which costs what
//! changed rather than the part's size.
//!
//! The parts of a state, concatenated in ascending id order — each as its
//! stored bytes followed by whatever was appended to it — are exactly the
//! bytes [`crate::operator::Operator::restore_state`] reads back, so a
//! restore (and a rescale) needs nothing new: each part must be
//! self-delimiting, and bytes appended later must supersede what they
//! follow. [`ChangedParts`] is the bookkeeping an operator keeps to answer
//! "changed since checkpoint *c*?", of its parts or of finer things.

/// One part of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Its bytes now, replacing what was stored.
    Changed(Vec<u8>),
    /// The same bytes as at the checkpoint the snapshot was asked
    /// relative to.
    Unchanged,
    /// Bytes to follow what was stored at that checkpoint.
    Appended(Vec<u8>),
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

/// Which parts (or groups, or anything numbered densely) changed after
/// which snapshot: per part, one more than the newest checkpoint whose
/// snapshot was taken before the part's last change (0: never changed).
///
/// A part changed since checkpoint *c* exactly when it was changed after
/// the snapshot of *c* was taken, that is when its mark is past *c*
/// (snapshots are taken in increasing checkpoint order). A restored
/// operator starts with no marks; the task asks its first snapshot whole.
#[derive(Debug, Clone, Default)]
pub struct ChangedParts {
    /// The checkpoint of the newest snapshot taken (0: none yet).
    taken: u64,
    marks: Vec<u64>,
}

impl ChangedParts {
    /// Notes that `part` changes now.
    #[inline]
    pub fn touch(&mut self, part: u32) {
        let part = part as usize;
        if part >= self.marks.len() {
            self.marks.resize(part + 1, 0);
        }
        self.marks[part] = self.taken + 1;
    }

    /// Whether `part` changed after the snapshot of `since` (every part
    /// did when there is no such checkpoint).
    #[inline]
    pub fn changed_since(&self, part: u32, since: Option<u64>) -> bool {
        match since {
            None => true,
            Some(since) => self
                .marks
                .get(part as usize)
                .is_some_and(|&mark| mark > since),
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
}
