//! A partition over a changelog: every row, since a retraction may bring
//! any of them back into the best. Rows live in an ordered map from entry
//! to the number of copies net present; what was shown is kept as the list
//! downstream holds — one entry per copy, best first — so that the rank of
//! each shown row is its position. Held and shown share each entry's
//! allocation.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{diff, NotHeld, Shown, ENTRY_OVERHEAD};
use crate::data::RowKind;

/// A row's entry, shared between what is held and what is shown.
type SharedEntry = Arc<[u8]>;

/// A row held, with how many equal copies of it are net present.
struct Held {
    sort_len: usize,
    count: usize,
}

/// Every row of a partition, and the best of them as last shown.
#[derive(Default)]
pub(in crate::operators::sort) struct All {
    held: BTreeMap<SharedEntry, Held>,
    /// The best rows as last shown, one entry per copy, best first.
    shown: Vec<(SharedEntry, usize)>,
    /// Bytes of `held`.
    bytes: u64,
}

impl All {
    /// Bytes it holds, roughly.
    pub fn bytes(&self) -> u64 {
        self.bytes + self.shown.len() as u64 * ENTRY_OVERHEAD
    }

    /// Distinct rows held.
    pub fn distinct(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held or shown.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.shown.is_empty()
    }

    /// Whether `entry` can change the best `limit`: fewer are shown, or it
    /// sorts at or before the last one shown. Checked before the row moves
    /// anything, so what is shown is still what downstream holds.
    pub fn reaches_top(&self, entry: &[u8], limit: usize) -> bool {
        self.shown.len() < limit
            || self
                .shown
                .last()
                .is_some_and(|(last, _)| entry <= &last[..])
    }

    /// Adds one copy of `entry`.
    pub fn insert(&mut self, entry: &[u8], sort_len: usize) {
        if let Some(held) = self.held.get_mut(entry) {
            held.count += 1;
            return;
        }
        self.bytes += entry.len() as u64 + ENTRY_OVERHEAD;
        let held = Held { sort_len, count: 1 };
        self.held.insert(entry.into(), held);
    }

    /// Takes one copy of `entry` away.
    pub fn retract(&mut self, entry: &[u8]) -> Result<(), NotHeld> {
        let held = self.held.get_mut(entry).ok_or(NotHeld)?;
        held.count -= 1;
        if held.count == 0 && self.held.remove(entry).is_some() {
            self.bytes = self
                .bytes
                .saturating_sub(entry.len() as u64 + ENTRY_OVERHEAD);
        }
        Ok(())
    }

    /// The best `limit` rows held now, one entry per copy, best first.
    fn top(&self, limit: usize) -> Vec<(SharedEntry, usize)> {
        let mut top = Vec::with_capacity(limit.min(self.held.len()));
        for (entry, held) in &self.held {
            for _ in 0..held.count {
                if top.len() == limit {
                    return top;
                }
                top.push((entry.clone(), held.sort_len));
            }
        }
        top
    }

    /// See [`super::Ranking::changes`].
    pub fn changes<E>(
        &mut self,
        limit: usize,
        ranked: bool,
        mut emit: impl FnMut(RowKind, &[u8], usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let top = self.top(limit);
        let old = std::mem::replace(&mut self.shown, top);
        fn shown((entry, sort_len): &(SharedEntry, usize)) -> Shown<'_> {
            Shown {
                entry,
                sort_len: *sort_len,
            }
        }
        for kind in [RowKind::Delete, RowKind::Insert] {
            let (before, now) = (old.iter().map(shown), self.shown.iter().map(shown));
            diff(before, now, ranked, kind, &mut emit)?;
        }
        Ok(())
    }

    /// Every held row's values, one per copy, in order.
    pub fn rows<'a>(&'a self, into: &mut Vec<&'a [u8]>) {
        for (entry, held) in &self.held {
            into.extend(std::iter::repeat_n(&entry[held.sort_len..], held.count));
        }
    }

    /// Marks the best `limit` shown without emitting.
    pub fn settle(&mut self, limit: usize) {
        self.shown = self.top(limit);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{changes, entry, held, insert};
    use super::super::Ranking;

    #[test]
    fn a_retracted_row_is_replaced_by_the_next_best() {
        let mut r = Ranking::new(true);
        for v in [1, 2, 3] {
            insert(&mut r, v);
        }
        changes(&mut r, 2, false);
        assert!(r.retract(&entry(1)).is_ok());
        assert_eq!(changes(&mut r, 2, false), [('-', 1, 1), ('+', 3, 2)]);
        assert!(r.retract(&entry(9)).is_err());
    }

    #[test]
    fn copies_count_as_rows_of_the_top() {
        let mut r = Ranking::new(true);
        insert(&mut r, 1);
        insert(&mut r, 1);
        insert(&mut r, 2);
        assert_eq!(changes(&mut r, 2, true), [('+', 1, 1), ('+', 1, 2)]);
        assert!(r.retract(&entry(1)).is_ok());
        assert_eq!(changes(&mut r, 2, true), [('-', 1, 2), ('+', 2, 2)]);
        assert_eq!(held(&r), [1, 2]);
    }

    #[test]
    fn every_row_is_kept_and_a_retracted_partition_empties() {
        let mut r = Ranking::new(true);
        for v in [4, 1, 3] {
            insert(&mut r, v);
        }
        r.prune(1);
        assert_eq!(held(&r), [1, 3, 4]);
        changes(&mut r, 1, false);
        for v in [4, 1, 3] {
            assert!(r.retract(&entry(v)).is_ok());
        }
        assert_eq!(changes(&mut r, 1, false), [('-', 1, 1)]);
        assert!(r.is_empty());
    }
}
