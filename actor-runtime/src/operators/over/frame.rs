//! One partition of an `over_aggregate`: its rows in order, and for each
//! row the aggregates over its frame (itself and up to `preceding` rows
//! before it) as last shown downstream. Pure: no batches, no I/O.
//!
//! Rows are keyed by their order key (the sort columns, then the whole
//! row as a tie-break, as `top_n` orders them), so equal rows share an
//! entry with a count, each copy a position of its own. A change at one
//! position changes the frames of that position and the `preceding` ones
//! after it, and no others (later frames hold the same rows, shifted), so
//! after a batch only those are recomputed and compared with what was
//! shown.

use std::collections::BTreeMap;
use std::ops::Bound::{Included, Unbounded};
use std::sync::Arc;

use crate::data::RowKind;

/// One aggregate input or output value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// SQL null: skipped by every aggregate.
    Null,
    /// An integer (or a timestamp's milliseconds).
    Int(i64),
    /// A double.
    Float(f64),
}

/// An aggregate over a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// Rows whose value is not null (every row for `COUNT(*)`, given a
    /// non-null input).
    Count,
    /// Sum of the non-null values (null if none).
    Sum,
    /// Mean of the non-null values, as a double (null if none).
    Avg,
    /// Least non-null value.
    Min,
    /// Greatest non-null value.
    Max,
}

impl Function {
    /// The aggregate of `values`; `None` if an integer sum overflows.
    pub fn over(self, values: impl Iterator<Item = Number>) -> Option<Number> {
        let present = values.filter(|v| *v != Number::Null);
        let (mut count, mut int, mut float, mut floats) = (0i64, 0i64, 0f64, false);
        let mut best: Option<Number> = None;
        for value in present {
            count += 1;
            match value {
                Number::Int(x) => {
                    int = int.checked_add(x)?;
                    float += x as f64;
                }
                Number::Float(x) => {
                    floats = true;
                    float += x;
                }
                Number::Null => {}
            }
            let better = match (best, value) {
                (None, _) => true,
                (Some(Number::Int(b)), Number::Int(x)) => {
                    (self == Function::Min && x < b) || (self == Function::Max && x > b)
                }
                (Some(Number::Float(b)), Number::Float(x)) => {
                    (self == Function::Min && x < b) || (self == Function::Max && x > b)
                }
                _ => false,
            };
            if better {
                best = Some(value);
            }
        }
        Some(match self {
            Function::Count => Number::Int(count),
            _ if count == 0 => Number::Null,
            Function::Sum if floats => Number::Float(float),
            Function::Sum => Number::Int(int),
            Function::Avg => Number::Float(float / count as f64),
            Function::Min | Function::Max => best.unwrap_or(Number::Null),
        })
    }
}

/// A row held: its encoding, the values its aggregates read, its copies.
struct Held {
    row: Arc<[u8]>,
    inputs: Box<[Number]>,
    count: usize,
}

/// One output change: a row, the aggregates shown with it, and its kind.
pub struct Change {
    /// Insert, delete, or an update's two halves.
    pub kind: RowKind,
    /// The row's encoding.
    pub row: Arc<[u8]>,
    /// Its aggregates.
    pub values: Vec<Number>,
}

/// Why a frame's aggregate cannot be computed.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A retraction of a row the partition does not hold.
    NotHeld,
    /// An integer sum passed 64 bits.
    Overflow,
}

/// One position of a partition's order: a row's order key, which copy of
/// it, and its encoding.
type Position = (Box<[u8]>, usize, Arc<[u8]>);

/// What is shown of one row: its encoding and each copy's aggregates.
struct Shown {
    row: Arc<[u8]>,
    copies: Vec<Vec<Number>>,
}

/// One partition's rows and what is shown of their aggregates.
#[derive(Default)]
pub struct Partition {
    held: BTreeMap<Box<[u8]>, Held>,
    shown: BTreeMap<Box<[u8]>, Shown>,
}

/// What one held row costs beyond its key and encoding: map nodes, the
/// allocations, what is shown of it.
const ENTRY_OVERHEAD: usize = 160;

impl Partition {
    /// Adds a copy of the row with order `key`; `make` gives its encoding
    /// and aggregate inputs when no equal row is held. Returns the bytes
    /// it added.
    pub fn insert(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> (Arc<[u8]>, Box<[Number]>),
    ) -> usize {
        if let Some(held) = self.held.get_mut(key) {
            held.count += 1;
            return 0;
        }
        let (row, inputs) = make();
        let bytes = entry_bytes(key, &row, &inputs);
        self.held.insert(
            key.into(),
            Held {
                row,
                inputs,
                count: 1,
            },
        );
        bytes
    }

    /// Takes a copy of the row with order `key` away; the bytes freed.
    pub fn retract(&mut self, key: &[u8]) -> Result<usize, FrameError> {
        let held = self.held.get_mut(key).ok_or(FrameError::NotHeld)?;
        held.count -= 1;
        if held.count > 0 {
            return Ok(0);
        }
        Ok(self
            .held
            .remove(key)
            .map_or(0, |h| entry_bytes(key, &h.row, &h.inputs)))
    }

    /// Whether nothing is held or shown.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty() && self.shown.is_empty()
    }

    /// Rows held, one per copy, in order.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<[u8]>> {
        self.held
            .values()
            .flat_map(|h| std::iter::repeat_n(&h.row, h.count))
    }

    /// The aggregates of the frame ending at copy `copy` of `key`.
    fn frame(
        &self,
        key: &[u8],
        copy: usize,
        preceding: usize,
        functions: &[(Function, usize)],
    ) -> Result<Vec<Number>, FrameError> {
        // The frame's rows, newest first: earlier copies of this row,
        // then the rows before it.
        let mut rows: Vec<&Held> = Vec::with_capacity(preceding + 1);
        let mut left = preceding + 1;
        for (k, held) in self.held.range::<[u8], _>((Unbounded, Included(key))).rev() {
            let copies = if &k[..] == key { copy + 1 } else { held.count };
            let taken = copies.min(left);
            rows.extend(std::iter::repeat_n(held, taken));
            left -= taken;
            if left == 0 {
                break;
            }
        }
        functions
            .iter()
            .map(|&(function, input)| {
                function
                    .over(rows.iter().map(|h| h.inputs[input]))
                    .ok_or(FrameError::Overflow)
            })
            .collect()
    }

    /// Brings what is shown up to date after the rows with order keys
    /// `changed` (in order) were inserted or retracted, appending the
    /// changes: copies of a changed row that went, then each of the
    /// `preceding + 1` positions from each changed row on whose
    /// aggregates differ from what was shown.
    pub fn changes(
        &mut self,
        changed: &[Box<[u8]>],
        preceding: usize,
        functions: &[(Function, usize)],
        out: &mut Vec<Change>,
    ) -> Result<(), FrameError> {
        self.update(changed, preceding + 1, preceding, functions, out)
    }

    /// Every row with its aggregates, as changes from what was shown
    /// (all inserts, when nothing was): a batch job's output.
    pub fn everything(
        &mut self,
        preceding: usize,
        functions: &[(Function, usize)],
        out: &mut Vec<Change>,
    ) -> Result<(), FrameError> {
        let first: Vec<Box<[u8]>> = self.held.keys().take(1).cloned().collect();
        let positions = self.held.values().map(|h| h.count).sum();
        self.update(&first, positions, preceding, functions, out)
    }

    /// Marks every row's current aggregates as shown without emitting:
    /// after a restore, downstream already holds them.
    pub fn settle(
        &mut self,
        preceding: usize,
        functions: &[(Function, usize)],
    ) -> Result<(), FrameError> {
        self.everything(preceding, functions, &mut Vec::new())
    }

    /// [`Partition::changes`], walking `walk` positions past each
    /// changed row's copies (any of which may be the one that changed).
    fn update(
        &mut self,
        changed: &[Box<[u8]>],
        walk: usize,
        preceding: usize,
        functions: &[(Function, usize)],
        out: &mut Vec<Change>,
    ) -> Result<(), FrameError> {
        for key in changed {
            let now = self.held.get(&key[..]).map_or(0, |h| h.count);
            if let Some(shown) = self.shown.get_mut(&key[..]) {
                while shown.copies.len() > now {
                    if let Some(values) = shown.copies.pop() {
                        out.push(Change {
                            kind: RowKind::Delete,
                            row: shown.row.clone(),
                            values,
                        });
                    }
                }
                if shown.copies.is_empty() {
                    self.shown.remove(&key[..]);
                }
            }
            let positions: Vec<Position> = self
                .held
                .range::<[u8], _>((Included(&key[..]), Unbounded))
                .flat_map(|(k, h)| (0..h.count).map(move |c| (k.clone(), c, h.row.clone())))
                .take(now + walk)
                .collect();
            for (k, copy, row) in positions {
                let values = self.frame(&k, copy, preceding, functions)?;
                let shown = self.shown.entry(k).or_insert_with(|| Shown {
                    row: row.clone(),
                    copies: Vec::new(),
                });
                match shown.copies.get_mut(copy) {
                    Some(old) if *old == values => {}
                    Some(old) => {
                        let before = std::mem::replace(old, values.clone());
                        out.push(Change {
                            kind: RowKind::UpdateBefore,
                            row: row.clone(),
                            values: before,
                        });
                        out.push(Change {
                            kind: RowKind::UpdateAfter,
                            row,
                            values,
                        });
                    }
                    None => {
                        shown.copies.push(values.clone());
                        out.push(Change {
                            kind: RowKind::Insert,
                            row,
                            values,
                        });
                    }
                }
            }
        }
        Ok(())
    }
}

fn entry_bytes(key: &[u8], row: &[u8], inputs: &[Number]) -> usize {
    key.len() + row.len() + std::mem::size_of_val(inputs) + ENTRY_OVERHEAD
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRECEDING: usize = 2;
    const FUNCTIONS: [(Function, usize); 3] =
        [(Function::Avg, 0), (Function::Count, 0), (Function::Max, 0)];

    fn make(v: u8) -> (Arc<[u8]>, Box<[Number]>) {
        let input = if v == 0 {
            Number::Null
        } else {
            Number::Int(i64::from(v))
        };
        (Arc::from(vec![v]), Box::new([input]))
    }

    /// The whole output, computed from scratch: each position's row and
    /// the aggregates of it and the `PRECEDING` positions before it.
    fn expected(net: &[u8]) -> Vec<(u8, Vec<Number>)> {
        let mut sorted = net.to_vec();
        sorted.sort_unstable();
        (0..sorted.len())
            .map(|i| {
                let frame = &sorted[i.saturating_sub(PRECEDING)..=i];
                let values = FUNCTIONS
                    .iter()
                    .map(|(f, _)| {
                        let inputs = frame.iter().map(|&v| make(v).1[0]);
                        f.over(inputs).unwrap()
                    })
                    .collect();
                (sorted[i], values)
            })
            .collect()
    }

    /// Random inserts and retractions in small batches: the changes,
    /// applied in order to a table, leave exactly the from-scratch output
    /// after every batch.
    #[test]
    fn applied_changes_equal_the_output_computed_afresh() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..200 {
            let mut partition = Partition::default();
            let mut net: Vec<u8> = Vec::new();
            let mut table: Vec<(u8, Vec<Number>)> = Vec::new();
            for _ in 0..15 {
                let mut changed = Vec::new();
                for _ in 0..1 + next(4) {
                    if net.is_empty() || next(3) > 0 {
                        let v = next(8) as u8;
                        partition.insert(&[v], || make(v));
                        net.push(v);
                        changed.push(Box::from([v]));
                    } else {
                        let v = net.swap_remove(next(net.len() as u64) as usize);
                        partition.retract(&[v]).unwrap();
                        changed.push(Box::from([v]));
                    }
                }
                changed.sort();
                changed.dedup();
                let mut out = Vec::new();
                partition
                    .changes(&changed, PRECEDING, &FUNCTIONS, &mut out)
                    .unwrap();
                for change in out {
                    let row = (change.row[0], change.values);
                    if change.kind.is_retraction() {
                        let at = table
                            .iter()
                            .position(|r| *r == row)
                            .expect("retracts a row shown");
                        table.swap_remove(at);
                    } else {
                        table.push(row);
                    }
                }
                let mut shown = table.clone();
                shown.sort_by_key(|r| format!("{r:?}"));
                let mut want = expected(&net);
                want.sort_by_key(|r| format!("{r:?}"));
                assert_eq!(shown, want);
            }
        }
        assert!(Partition::default().retract(&[1]).is_err());
    }

    #[test]
    fn aggregates_skip_nulls_and_an_integer_sum_may_overflow() {
        let values = [Number::Null, Number::Int(2), Number::Int(4)];
        assert_eq!(
            Function::Avg.over(values.into_iter()),
            Some(Number::Float(3.0))
        );
        assert_eq!(
            Function::Count.over(values.into_iter()),
            Some(Number::Int(2))
        );
        assert_eq!(Function::Min.over(values.into_iter()), Some(Number::Int(2)));
        assert_eq!(
            Function::Sum.over([Number::Null].into_iter()),
            Some(Number::Null)
        );
        let huge = [Number::Int(i64::MAX), Number::Int(1)];
        assert_eq!(Function::Sum.over(huge.into_iter()), None);
    }
}
