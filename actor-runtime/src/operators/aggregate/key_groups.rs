//! An aggregate's groups by key group, for incremental checkpoints: which
//! key group each group is in (of the hash of its group key, over
//! [`STATE_KEY_GROUPS`]), which groups each batch touched and when, and
//! the decision per key group a snapshot follows ([`KeyGroupIndex::plan`],
//! pure): "unchanged" when none of its groups was touched since the
//! checkpoint the task names; the touched groups alone, appended, when
//! they are few; the whole key group again once what was appended to it
//! since it was last written whole would pass half its groups. State
//! that grows with every key ever seen is then written in proportion to
//! the groups that changed, not to its size. The continuous aggregate
//! and each open aligned window keep one.

use crate::data::ColumnView;
use crate::kernels::hash::hash_rows;
use crate::state::key_group::key_group_of;
use crate::state::parts::ChangedParts;

/// Key groups the state is split into for checkpoints: the default
/// count of a job's, whatever the job's routing uses, since a part only
/// needs to be a stable share of the keys.
pub const STATE_KEY_GROUPS: u32 = crate::state::DEFAULT_KEY_GROUPS;

/// What a snapshot stores of one key group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Nothing new: the stored part stands.
    Unchanged,
    /// These groups' rows, appended to the stored part.
    Append(Vec<u32>),
    /// The part written whole again (the groups to write are the
    /// caller's choice: those still holding rows).
    Whole,
}

/// Which key group each group is in, its members, and which changed.
#[derive(Debug, Default)]
pub struct KeyGroupIndex {
    of_group: Vec<u32>,
    members: Vec<Vec<u32>>,
    /// Of key groups.
    changes: ChangedParts,
    /// Of groups.
    group_changes: ChangedParts,
    /// Per key group: groups appended since it was last written whole.
    appended: Vec<usize>,
}

impl KeyGroupIndex {
    /// An index for state that comes into being now, after the snapshot
    /// of checkpoint `taken` (0: none): what it holds is new since then.
    pub fn starting_after(taken: u64) -> Self {
        let mut index = Self::default();
        index.taken(taken);
        index
    }

    /// Places the groups `groups_of` just created (numbered past those
    /// placed, in order of their first row) in their key groups.
    pub fn place(&mut self, key_columns: &[&ColumnView<'_>], rows: usize, groups: &[u32]) {
        let placed = self.of_group.len();
        if groups.iter().all(|&g| (g as usize) < placed) {
            return;
        }
        if self.members.is_empty() {
            self.members = vec![Vec::new(); STATE_KEY_GROUPS as usize];
            self.appended = vec![0; STATE_KEY_GROUPS as usize];
        }
        let hashes = hash_rows(key_columns, rows);
        for (&g, hash) in groups.iter().zip(hashes) {
            if g as usize == self.of_group.len() {
                let key_group = key_group_of(hash, STATE_KEY_GROUPS);
                self.of_group.push(key_group);
                self.members[key_group as usize].push(g);
            }
        }
    }

    /// How many groups are placed: all the aggregate holds, or a
    /// snapshot would miss some.
    pub fn placed(&self) -> usize {
        self.of_group.len()
    }

    /// Notes that group `g` changes now.
    #[inline]
    pub fn touch(&mut self, g: u32) {
        if let Some(&key_group) = self.of_group.get(g as usize) {
            self.changes.touch(key_group);
            self.group_changes.touch(g);
        }
    }

    /// The groups of each key group that has any, in key group order.
    #[cfg(test)]
    pub fn members(&self) -> impl Iterator<Item = (u32, &[u32])> {
        self.members
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.is_empty())
            .map(|(k, m)| (k as u32, m.as_slice()))
    }

    /// The groups of `key_group`.
    pub fn members_of(&self, key_group: u32) -> &[u32] {
        self.members
            .get(key_group as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// What the snapshot of `checkpoint` stores of each key group that
    /// has groups, relative to the snapshot of `since` (`None`: all
    /// whole); notes the snapshot taken.
    pub fn plan(&mut self, checkpoint: u64, since: Option<u64>) -> Vec<(u32, Piece)> {
        let mut plan = Vec::new();
        for (key_group, members) in self.members.iter().enumerate() {
            if members.is_empty() {
                continue;
            }
            let id = key_group as u32;
            let piece = match since {
                None => Piece::Whole,
                Some(_) if !self.changes.changed_since(id, since) => Piece::Unchanged,
                Some(_) => {
                    let touched: Vec<u32> = members
                        .iter()
                        .copied()
                        .filter(|&g| self.group_changes.changed_since(g, since))
                        .collect();
                    match self.appended[key_group] + touched.len() {
                        appended if appended * 2 <= members.len() => {
                            self.appended[key_group] = appended;
                            Piece::Append(touched)
                        }
                        _ => Piece::Whole,
                    }
                }
            };
            if piece == Piece::Whole {
                self.appended[key_group] = 0;
            }
            plan.push((id, piece));
        }
        self.taken(checkpoint);
        plan
    }

    fn taken(&mut self, checkpoint: u64) {
        self.changes.taken(checkpoint);
        self.group_changes.taken(checkpoint);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An index of `n` groups, keys 0..n, each its own group.
    fn index(n: i64, taken: u64) -> KeyGroupIndex {
        let keys: Vec<i64> = (0..n).collect();
        let view = ColumnView {
            name: "k",
            data_type: crate::data::DataType::Int64,
            len: keys.len(),
            validity: None,
            values: crate::data::ValuesView::Int64(&keys),
        };
        let mut index = KeyGroupIndex::starting_after(taken);
        let groups: Vec<u32> = (0..n as u32).collect();
        index.place(&[&view], n as usize, &groups);
        for g in groups {
            index.touch(g);
        }
        index
    }

    fn kinds(plan: &[(u32, Piece)]) -> (usize, usize, usize) {
        let count = |f: fn(&Piece) -> bool| plan.iter().filter(|(_, p)| f(p)).count();
        (
            count(|p| *p == Piece::Unchanged),
            count(|p| matches!(p, Piece::Append(_))),
            count(|p| *p == Piece::Whole),
        )
    }

    #[test]
    fn untouched_key_groups_stay_a_few_touched_groups_append_many_rewrite() {
        let mut index = index(12_800, 0);
        let first = index.plan(1, None);
        assert_eq!(kinds(&first), (0, 0, 128), "a first snapshot is whole");
        index.touch(5);
        let second = index.plan(2, Some(1));
        assert_eq!(kinds(&second), (127, 1, 0));
        let Some((_, Piece::Append(groups))) = second.iter().find(|(_, p)| *p != Piece::Unchanged)
        else {
            panic!("no append")
        };
        assert_eq!(groups, &[5]);
        // Touching most of one key group's groups rewrites it whole.
        let (key_group, members) = index
            .members()
            .nth(3)
            .map(|(k, m)| (k, m.to_vec()))
            .unwrap();
        for &g in &members {
            index.touch(g);
        }
        let third = index.plan(3, Some(2));
        assert_eq!(third[key_group as usize].1, Piece::Whole);
    }

    #[test]
    fn appends_add_up_until_half_the_key_group_then_it_is_written_whole() {
        let mut index = index(1_280, 0);
        index.plan(1, None);
        let members = index.members().next().map(|(_, m)| m.to_vec()).unwrap();
        assert!(members.len() >= 4, "{members:?}");
        let mut checkpoint = 1;
        let mut appended = 0;
        for &g in &members {
            index.touch(g);
            checkpoint += 1;
            let plan = index.plan(checkpoint, Some(checkpoint - 1));
            match &plan[0].1 {
                Piece::Append(groups) => {
                    appended += groups.len();
                    assert!(appended * 2 <= members.len());
                }
                Piece::Whole => {
                    assert!((appended + 1) * 2 > members.len(), "{appended}");
                    return;
                }
                Piece::Unchanged => panic!("touched, yet unchanged"),
            }
        }
        panic!("never written whole");
    }

    #[test]
    fn state_that_comes_into_being_after_a_snapshot_is_new_since_it() {
        let mut index = index(1_000, 7);
        let plan = index.plan(8, Some(7));
        assert!(plan.iter().all(|(_, p)| *p == Piece::Whole), "{plan:?}");
    }
}
