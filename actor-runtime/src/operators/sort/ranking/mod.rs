//! One partition of a continuous `top_n`: the rows it holds in order, the
//! best `limit` of them as last shown downstream, and the changelog that
//! takes what was shown to what is best now. Pure: no batches, no I/O.
//!
//! A row is held as one byte string, its *entry*: the order of its sort
//! keys ([`super::order_key::sort_key`]) followed by its values
//! ([`RowCodec`](crate::kernels::row_codec::RowCodec)). Comparing entries
//! compares the sort keys first (their encoding is prefix-free) and breaks
//! ties by the values' bytes, a fixed order of whole rows; two entries are
//! equal exactly when the rows are, so a retraction finds the row it
//! retracts by encoding it again.
//!
//! Two shapes, chosen by what the input can do:
//! - [`Best`], over input that only grows: no row that fell below the best
//!   `limit` can come back, so a partition keeps just those, in a short
//!   sorted vector — one allocation per row, none per lookup.
//! - [`All`], over a changelog: a retraction may bring back any row, so a
//!   partition keeps every row, counted, in an ordered map.

mod all;
mod best;

pub(super) use all::All;
pub(super) use best::Best;

use crate::data::RowKind;

/// Bytes a held entry costs beyond its own, roughly: the allocation, the
/// slot that points at it, its count.
pub(super) const ENTRY_OVERHEAD: u64 = 48;

/// A retraction of a row the ranking does not hold.
pub(super) struct NotHeld;

/// The rows of one partition and what of them is shown.
pub(super) enum Ranking {
    /// Over input that only grows.
    Best(Best),
    /// Over a changelog (boxed: rare, and much larger than `Best`).
    All(Box<All>),
}

impl Ranking {
    /// An empty partition; `retracting` when the input is a changelog.
    pub fn new(retracting: bool) -> Self {
        match retracting {
            true => Self::All(Box::default()),
            false => Self::Best(Best::default()),
        }
    }

    /// Bytes it holds, roughly.
    pub fn bytes(&self) -> u64 {
        match self {
            Self::Best(best) => best.bytes(),
            Self::All(all) => all.bytes(),
        }
    }

    /// Distinct rows held.
    pub fn distinct(&self) -> usize {
        match self {
            Self::Best(best) => best.len(),
            Self::All(all) => all.distinct(),
        }
    }

    /// Whether nothing is held or shown (the partition can be forgotten).
    pub fn is_empty(&self) -> bool {
        match self {
            Self::Best(best) => best.is_empty(),
            Self::All(all) => all.is_empty(),
        }
    }

    /// Whether the row `entry` can change the best `limit`: fewer are
    /// shown, or it sorts at or before the last one shown.
    pub fn reaches_top(&self, entry: &[u8], limit: usize) -> bool {
        match self {
            Self::Best(best) => best.reaches_top(entry, limit),
            Self::All(all) => all.reaches_top(entry, limit),
        }
    }

    /// Adds one copy of the row `entry`, whose values start at `sort_len`.
    pub fn insert(&mut self, entry: &[u8], sort_len: usize) {
        match self {
            Self::Best(best) => best.insert(entry, sort_len),
            Self::All(all) => all.insert(entry, sort_len),
        }
    }

    /// Takes one copy of the row `entry` away. Over input that only grows
    /// there is nothing to take: the row may well have been forgotten.
    pub fn retract(&mut self, entry: &[u8]) -> Result<(), NotHeld> {
        match self {
            Self::Best(_) => Err(NotHeld),
            Self::All(all) => all.retract(entry),
        }
    }

    /// Forgets every row below the best `limit` (input that only grows).
    pub fn prune(&mut self, limit: usize) {
        if let Self::Best(best) = self {
            best.prune(limit);
        }
    }

    /// Makes the best `limit` rows the ones shown, and gives `emit` each
    /// change from what was shown — a row's values, its kind and its
    /// 1-based rank: every delete first, then every insert, so a table
    /// applying them never holds more than `limit` rows. Numbered
    /// (`ranked`), a row is its values *and* its rank, so a row that moved
    /// is deleted at its old rank and inserted at its new one; unnumbered,
    /// only rows that entered or left count.
    pub fn changes<E>(
        &mut self,
        limit: usize,
        ranked: bool,
        emit: impl FnMut(RowKind, &[u8], usize) -> Result<(), E>,
    ) -> Result<(), E> {
        match self {
            Self::Best(best) => best.changes(limit, ranked, emit),
            Self::All(all) => all.changes(limit, ranked, emit),
        }
    }

    /// Every held row's values, one per copy, in order (what a snapshot
    /// saves).
    pub fn rows<'a>(&'a self, into: &mut Vec<&'a [u8]>) {
        match self {
            Self::Best(best) => best.rows(into),
            Self::All(all) => all.rows(into),
        }
    }

    /// Marks the current best `limit` as shown without emitting: after a
    /// restore, downstream already holds them (it restored the same
    /// checkpoint).
    pub fn settle(&mut self, limit: usize) {
        match self {
            Self::Best(best) => best.settle(limit),
            Self::All(all) => all.settle(limit),
        }
    }
}

/// A shown or held row: its entry, and where its values start in it.
#[derive(Clone, Copy)]
struct Shown<'a> {
    entry: &'a [u8],
    sort_len: usize,
}

impl<'a> Shown<'a> {
    fn values(self) -> &'a [u8] {
        &self.entry[self.sort_len..]
    }
}

/// Gives `emit` the changes of one `kind` that take the list `old` (what
/// was shown, best first) to `new` (what is best now): deletes of rows of
/// `old`, or inserts of rows of `new`, with their ranks. Called once per
/// kind, so that every delete comes before every insert.
fn diff<'a, E>(
    old: impl Iterator<Item = Shown<'a>>,
    new: impl Iterator<Item = Shown<'a>>,
    ranked: bool,
    kind: RowKind,
    emit: &mut impl FnMut(RowKind, &[u8], usize) -> Result<(), E>,
) -> Result<(), E> {
    let deleting = kind == RowKind::Delete;
    let (mut old, mut new) = (old.peekable(), new.peekable());
    // 0-based ranks of the next row of each list.
    let (mut i, mut j) = (0, 0);
    loop {
        let (before, now) = (old.peek().copied(), new.peek().copied());
        let (left, entered) = match (before, now) {
            (None, None) => return Ok(()),
            (Some(a), Some(b)) if a.entry == b.entry => (None, None),
            // Numbered, rank by rank: the row that was at a rank leaves
            // it, and the one there now enters.
            _ if ranked => (before, now),
            // Unnumbered, both lists are in order: a merge finds the
            // multiset differences.
            (Some(a), Some(b)) if b.entry < a.entry => (None, Some(b)),
            (Some(a), _) => (Some(a), None),
            (None, Some(b)) => (None, Some(b)),
        };
        let both = ranked || (left.is_none() && entered.is_none());
        if both || left.is_some() {
            if let (true, Some(row)) = (deleting, left) {
                emit(kind, row.values(), i + 1)?;
            }
            old.next();
            i += 1;
        }
        if both || entered.is_some() {
            if let (false, Some(row)) = (deleting, entered) {
                emit(kind, row.values(), j + 1)?;
            }
            new.next();
            j += 1;
        }
    }
}

#[cfg(test)]
pub(super) mod testing {
    //! Rows of one `i64` sort key as test entries.

    use super::Ranking;
    use crate::data::RowKind;

    /// The entry of a row whose sort key and value are both `v`.
    pub fn entry(v: i64) -> Vec<u8> {
        let mut entry = ((v as u64) ^ (1 << 63)).to_be_bytes().to_vec();
        entry.extend_from_slice(&v.to_le_bytes());
        entry
    }

    /// Inserts one copy of `v`.
    pub fn insert(r: &mut Ranking, v: i64) {
        r.insert(&entry(v), 8);
    }

    /// The changes as `(+/-, value, rank)`.
    pub fn changes(r: &mut Ranking, limit: usize, ranked: bool) -> Vec<(char, i64, usize)> {
        let mut seen = Vec::new();
        let _ = r.changes(limit, ranked, |kind, row, rank| {
            let sign = if kind == RowKind::Delete { '-' } else { '+' };
            let value = i64::from_le_bytes(row.try_into().map_err(|_| ())?);
            seen.push((sign, value, rank));
            Ok::<(), ()>(())
        });
        seen
    }

    /// The values held, in order.
    pub fn held(r: &Ranking) -> Vec<i64> {
        let mut rows = Vec::new();
        r.rows(&mut rows);
        rows.iter()
            .map(|row| i64::from_le_bytes((*row).try_into().unwrap_or([0; 8])))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{changes, held, insert};
    use super::*;

    #[test]
    fn both_shapes_agree_over_input_that_only_grows() {
        for limit in 1..4 {
            for ranked in [false, true] {
                let (mut best, mut all) = (Ranking::new(false), Ranking::new(true));
                for batch in [&[5, 7][..], &[3], &[9, 1, 1], &[2, 8], &[0, 0, 0]] {
                    for &v in batch {
                        insert(&mut best, v);
                        insert(&mut all, v);
                    }
                    assert_eq!(
                        changes(&mut best, limit, ranked),
                        changes(&mut all, limit, ranked),
                        "limit {limit}, ranked {ranked}, after {batch:?}"
                    );
                    best.prune(limit);
                }
                assert_eq!(held(&best), held(&all)[..limit.min(held(&all).len())]);
            }
        }
    }
}
