//! A partition over input that only grows: just its best rows, in a short
//! vector sorted by entry, each row one allocation. A batch may push it
//! past `limit` for a while; [`Best::changes`] reads the rows shown
//! before from their marks, and [`Best::prune`] cuts back to `limit`.
//! Equal rows are separate entries, next to each other.

use super::{diff, Shown, ENTRY_OVERHEAD};
use crate::data::RowKind;

/// One held row.
struct Entry {
    /// Sort keys, then values.
    bytes: Box<[u8]>,
    /// Where the values start.
    sort_len: u32,
    /// 1-based rank at which it was last shown; 0 when it was not.
    shown: u32,
}

impl Entry {
    fn shown(&self) -> Shown<'_> {
        Shown {
            entry: &self.bytes,
            sort_len: self.sort_len as usize,
        }
    }
}

/// The best rows of a partition, best first.
#[derive(Default)]
pub(in crate::operators::sort) struct Best {
    rows: Vec<Entry>,
}

impl Best {
    /// Bytes it holds, roughly.
    pub fn bytes(&self) -> u64 {
        self.rows
            .iter()
            .map(|row| row.bytes.len() as u64 + ENTRY_OVERHEAD)
            .sum()
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Whether `entry` would be among the best `limit` now: a row that
    /// is not can never be, as rows only come.
    pub fn reaches_top(&self, entry: &[u8], limit: usize) -> bool {
        match limit.checked_sub(1).map(|last| self.rows.get(last)) {
            None => false,
            Some(None) => true,
            Some(Some(last)) => entry <= &last.bytes[..],
        }
    }

    /// Adds `entry` after the rows equal to it.
    pub fn insert(&mut self, entry: &[u8], sort_len: usize) {
        let at = self.rows.partition_point(|row| &row.bytes[..] <= entry);
        let row = Entry {
            bytes: entry.into(),
            sort_len: sort_len as u32,
            shown: 0,
        };
        self.rows.insert(at, row);
    }

    /// Keeps the best `limit` rows only.
    pub fn prune(&mut self, limit: usize) {
        self.rows.truncate(limit);
    }

    /// See [`super::Ranking::changes`]. The rows shown before are those
    /// marked, in order: a row inserted since sorts among them without
    /// reordering them.
    pub fn changes<E>(
        &mut self,
        limit: usize,
        ranked: bool,
        mut emit: impl FnMut(RowKind, &[u8], usize) -> Result<(), E>,
    ) -> Result<(), E> {
        let limit = limit.min(self.rows.len());
        for kind in [RowKind::Delete, RowKind::Insert] {
            let old = self.rows.iter().filter(|row| row.shown > 0);
            let new = self.rows[..limit].iter();
            diff(
                old.map(Entry::shown),
                new.map(Entry::shown),
                ranked,
                kind,
                &mut emit,
            )?;
        }
        self.settle(limit);
        Ok(())
    }

    /// Marks the best `limit` shown, the rest not.
    pub fn settle(&mut self, limit: usize) {
        for (rank, row) in self.rows.iter_mut().enumerate() {
            row.shown = if rank < limit { rank as u32 + 1 } else { 0 };
        }
    }

    /// Every row's values, in order.
    pub fn rows<'a>(&'a self, into: &mut Vec<&'a [u8]>) {
        into.extend(self.rows.iter().map(|row| row.shown().values()));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{changes, held, insert};
    use super::super::Ranking;

    #[test]
    fn a_better_row_pushes_the_last_one_out() {
        let mut r = Ranking::new(false);
        insert(&mut r, 5);
        insert(&mut r, 7);
        assert_eq!(changes(&mut r, 2, false), [('+', 5, 1), ('+', 7, 2)]);
        assert!(r.reaches_top(&super::super::testing::entry(6), 2));
        assert!(!r.reaches_top(&super::super::testing::entry(8), 2));
        insert(&mut r, 3);
        assert_eq!(changes(&mut r, 2, false), [('-', 7, 2), ('+', 3, 1)]);
        r.prune(2);
        assert_eq!(held(&r), [3, 5]);
    }

    #[test]
    fn numbered_rows_that_move_are_deleted_and_inserted_at_their_new_rank() {
        let mut r = Ranking::new(false);
        insert(&mut r, 5);
        insert(&mut r, 7);
        changes(&mut r, 2, true);
        insert(&mut r, 3);
        assert_eq!(
            changes(&mut r, 2, true),
            [('-', 5, 1), ('-', 7, 2), ('+', 3, 1), ('+', 5, 2)]
        );
    }

    #[test]
    fn copies_count_as_rows_of_the_top_and_are_pruned_as_rows() {
        let mut r = Ranking::new(false);
        for v in [4, 1, 1, 3, 1] {
            insert(&mut r, v);
        }
        assert_eq!(changes(&mut r, 2, true), [('+', 1, 1), ('+', 1, 2)]);
        r.prune(2);
        assert_eq!(held(&r), [1, 1]);
        insert(&mut r, 0);
        assert_eq!(changes(&mut r, 2, false), [('-', 1, 2), ('+', 0, 1)]);
    }

    #[test]
    fn nothing_reaches_a_top_of_none_and_a_retraction_is_never_held() {
        let mut r = Ranking::new(false);
        assert!(!r.reaches_top(&super::super::testing::entry(1), 0));
        assert!(r.retract(&super::super::testing::entry(1)).is_err());
    }
}
