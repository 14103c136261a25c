//! One partition of a continuous `top_n`: the rows it holds in order, the
//! best `limit` of them as last shown downstream, and the changelog that
//! takes what was shown to what is best now. Pure: no batches, no I/O.
//!
//! Rows are keyed by their order key ([`super::order_key`]), so the map's
//! order is the ranking's and equal rows share an entry (with a count of
//! copies). What was shown is kept as the list downstream holds — one
//! entry per copy, best first — so that the rank of each shown row is its
//! position, and a change diffs two lists of at most `limit` entries.
//! A row is held as its [`RowCodec`](crate::kernels::row_codec::RowCodec)
//! encoding, about the size of its values.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::data::RowKind;

/// A held row: its encoding, shared between what is held and shown.
pub(super) type EncodedRow = Arc<[u8]>;

/// Bytes a held entry costs beyond its key and values: the map node, the
/// row's allocation and its count, roughly.
pub(super) const ENTRY_OVERHEAD: u64 = 64;

/// A row held, with how many equal copies of it are net present.
struct Held {
    row: EncodedRow,
    count: usize,
}

/// A row shown, under its order key.
type ShownRow = (Box<[u8]>, EncodedRow);

/// One change to what downstream holds: a row (with its 1-based rank when
/// the ranking is numbered) inserted or deleted.
pub(super) struct Change {
    pub kind: RowKind,
    pub row: EncodedRow,
    pub rank: usize,
}

/// The rows of one partition and what of them is shown.
#[derive(Default)]
pub(super) struct Ranking {
    held: BTreeMap<Box<[u8]>, Held>,
    /// The best rows as last shown, one entry per copy, best first.
    shown: Vec<ShownRow>,
    /// Bytes of `held`.
    bytes: u64,
}

/// A retraction of a row the ranking does not hold.
pub(super) struct NotHeld;

impl Ranking {
    /// Bytes it holds, roughly.
    pub fn bytes(&self) -> u64 {
        self.bytes + self.shown.len() as u64 * ENTRY_OVERHEAD
    }

    /// Distinct rows held.
    pub fn distinct(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held or shown (the partition can be forgotten).
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.shown.is_empty()
    }

    /// Whether a row with order `key` can change the best `limit`: fewer
    /// are shown, or it sorts at or before the last one shown.
    pub fn reaches_top(&self, key: &[u8], limit: usize) -> bool {
        self.shown.len() < limit || self.shown.last().is_some_and(|(last, _)| key <= &last[..])
    }

    /// Adds one copy of the row with order `key`; `values` makes it when
    /// no equal row is held.
    pub fn insert(&mut self, key: &[u8], values: impl FnOnce() -> EncodedRow) {
        if let Some(held) = self.held.get_mut(key) {
            held.count += 1;
            return;
        }
        let row = values();
        self.bytes += entry_bytes(key, &row);
        self.held.insert(key.into(), Held { row, count: 1 });
    }

    /// Takes one copy of the row with order `key` away.
    pub fn retract(&mut self, key: &[u8]) -> Result<(), NotHeld> {
        let held = self.held.get_mut(key).ok_or(NotHeld)?;
        held.count -= 1;
        if held.count == 0 {
            if let Some(held) = self.held.remove(key) {
                self.bytes = self.bytes.saturating_sub(entry_bytes(key, &held.row));
            }
        }
        Ok(())
    }

    /// Forgets every row below the best `limit`: over input that only
    /// grows, no row that fell below them can come back.
    pub fn prune(&mut self, limit: usize) {
        let mut kept = 0;
        let mut cut = None;
        for (key, held) in &mut self.held {
            if kept >= limit {
                cut = Some(key.clone());
                break;
            }
            if kept + held.count > limit {
                held.count = limit - kept;
            }
            kept += held.count;
        }
        if let Some(cut) = cut {
            for (key, held) in self.held.split_off(&cut) {
                self.bytes = self.bytes.saturating_sub(entry_bytes(&key, &held.row));
            }
        }
    }

    /// The best `limit` rows held now, one entry per copy, best first.
    fn top(&self, limit: usize) -> Vec<ShownRow> {
        let mut top = Vec::with_capacity(limit.min(self.held.len()));
        for (key, held) in &self.held {
            for _ in 0..held.count {
                if top.len() == limit {
                    return top;
                }
                top.push((key.clone(), held.row.clone()));
            }
        }
        top
    }

    /// Makes the best `limit` rows the ones shown, and returns the
    /// changes from what was shown: every delete first, then every insert,
    /// so a table applying them never holds more than `limit` rows.
    /// Numbered (`ranked`), a row is its values *and* its rank, so a row
    /// that moved is deleted at its old rank and inserted at its new one;
    /// unnumbered, only rows that entered or left count.
    pub fn changes(&mut self, limit: usize, ranked: bool) -> Vec<Change> {
        let top = self.top(limit);
        let old = std::mem::replace(&mut self.shown, top);
        let new = &self.shown;
        let change = |kind, (entry, rank): (&ShownRow, usize)| Change {
            kind,
            row: entry.1.clone(),
            rank: rank + 1,
        };
        let (mut deletes, mut inserts) = (Vec::new(), Vec::new());
        if ranked {
            for rank in 0..old.len().max(new.len()) {
                let (before, now) = (old.get(rank), new.get(rank));
                if before.map(|e| &e.0) == now.map(|e| &e.0) {
                    continue;
                }
                deletes.extend(before.map(|e| change(RowKind::Delete, (e, rank))));
                inserts.extend(now.map(|e| change(RowKind::Insert, (e, rank))));
            }
        } else {
            // Both lists are in order: a merge finds the multiset
            // differences.
            let (mut i, mut j) = (0, 0);
            while i < old.len() || j < new.len() {
                match (old.get(i), new.get(j)) {
                    (Some(a), Some(b)) if a.0 == b.0 => (i, j) = (i + 1, j + 1),
                    (Some(a), Some(b)) if a.0 < b.0 => {
                        deletes.push(change(RowKind::Delete, (a, i)));
                        i += 1;
                    }
                    (Some(a), None) => {
                        deletes.push(change(RowKind::Delete, (a, i)));
                        i += 1;
                    }
                    (_, Some(b)) => {
                        inserts.push(change(RowKind::Insert, (b, j)));
                        j += 1;
                    }
                    (None, None) => break,
                }
            }
        }
        deletes.extend(inserts);
        deletes
    }

    /// Every held row, one per copy, in order (what a snapshot saves).
    pub fn rows(&self) -> impl Iterator<Item = &EncodedRow> {
        self.held
            .values()
            .flat_map(|held| std::iter::repeat_n(&held.row, held.count))
    }

    /// Marks the current best `limit` as shown without emitting: after a
    /// restore, downstream already holds them (it restored the same
    /// checkpoint).
    pub fn settle(&mut self, limit: usize) {
        self.shown = self.top(limit);
    }
}

/// What one held row costs: its key, its values, the entry.
fn entry_bytes(key: &[u8], row: &[u8]) -> u64 {
    (key.len() + row.len()) as u64 + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: i64) -> EncodedRow {
        Arc::from(v.to_le_bytes())
    }

    fn value(row: &[u8]) -> i64 {
        i64::from_le_bytes(row.try_into().expect("an int row"))
    }

    fn key(v: u8) -> Vec<u8> {
        vec![v]
    }

    /// The changes as `(+/-, value, rank)`.
    fn seen(changes: &[Change]) -> Vec<(char, i64, usize)> {
        changes
            .iter()
            .map(|c| {
                let sign = if c.kind == RowKind::Delete { '-' } else { '+' };
                (sign, value(&c.row), c.rank)
            })
            .collect()
    }

    #[test]
    fn a_better_row_pushes_the_last_one_out() {
        let mut r = Ranking::default();
        r.insert(&key(5), || row(5));
        r.insert(&key(7), || row(7));
        assert_eq!(seen(&r.changes(2, false)), [('+', 5, 1), ('+', 7, 2)]);
        r.insert(&key(3), || row(3));
        assert_eq!(seen(&r.changes(2, false)), [('-', 7, 2), ('+', 3, 1)]);
    }

    #[test]
    fn numbered_rows_that_move_are_deleted_and_inserted_at_their_new_rank() {
        let mut r = Ranking::default();
        r.insert(&key(5), || row(5));
        r.insert(&key(7), || row(7));
        r.changes(2, true);
        r.insert(&key(3), || row(3));
        assert_eq!(
            seen(&r.changes(2, true)),
            [('-', 5, 1), ('-', 7, 2), ('+', 3, 1), ('+', 5, 2)]
        );
    }

    #[test]
    fn a_retracted_row_is_replaced_by_the_next_best() {
        let mut r = Ranking::default();
        for v in [1, 2, 3] {
            r.insert(&key(v), || row(v.into()));
        }
        r.changes(2, false);
        assert!(r.retract(&key(1)).is_ok());
        assert_eq!(seen(&r.changes(2, false)), [('-', 1, 1), ('+', 3, 2)]);
        assert!(r.retract(&key(9)).is_err());
    }

    #[test]
    fn pruning_keeps_the_best_copies_only() {
        let mut r = Ranking::default();
        for v in [4, 1, 1, 3, 2] {
            r.insert(&key(v), || row(v.into()));
        }
        r.prune(2);
        assert_eq!(r.distinct(), 1);
        assert_eq!(r.rows().count(), 2);
        r.insert(&key(0), || row(0));
        r.prune(2);
        let kept: Vec<_> = r.rows().map(|v| value(v)).collect();
        assert_eq!(kept, [0, 1]);
    }

    #[test]
    fn copies_count_as_rows_of_the_top() {
        let mut r = Ranking::default();
        r.insert(&key(1), || row(1));
        r.insert(&key(1), || row(1));
        r.insert(&key(2), || row(2));
        assert_eq!(seen(&r.changes(2, true)), [('+', 1, 1), ('+', 1, 2)]);
        assert!(r.retract(&key(1)).is_ok());
        assert_eq!(seen(&r.changes(2, true)), [('-', 1, 2), ('+', 2, 2)]);
    }
}
