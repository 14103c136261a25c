//! The regular (unwindowed) join: `hash_join` in a streaming job, where
//! neither input may ever end, so neither can be built first. As Flink's
//! regular streaming join does, it keeps both inputs' net rows, keyed by
//! the join key, and handles each row as it comes: a row joins the other
//! side's rows with its key, and its output goes out at once.
//!
//! Its output, per input row (`l` left, `r` right, `∅` a null-padded
//! side):
//! - an insert (`+I`/`+U`) emits `+I` of each joined pair it makes; a
//!   retraction (`-U`/`-D`) emits `-D` of each pair it made, so applied in
//!   order the output is always the join of the net rows;
//! - on a side the join keeps whole (the left of a left join, both of a
//!   full one), a row with no match emits `+I (l, ∅)` (and its retraction
//!   `-D (l, ∅)`); the first row of the other side to match `l` replaces
//!   that row: `-U (l, ∅)` then `+U (l, r)`; the last match to leave puts
//!   it back: `-U (l, r)` then `+U (l, ∅)` — and the same, mirrored, for
//!   the right side of a full join.
//!
//! Null keys never match (SQL): such a row of a side kept whole is padded
//! at once and not held; on another side it changes nothing. A retraction
//! of a row it does not hold is an error, not a silent skip.
//!
//! Limits: both sides are held in memory (no spilling), within the join's
//! `memory_bytes` or `OverBudget`; nothing is ever forgotten (no state
//! TTL, no time bound: for those, `interval_join`); and per row it emits
//! one pair per matching row, so a hot key costs what it joins.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::join::{indexes, JoinKind, JoinParams};
use crate::data::{Batch, BatchBuilder, RowKind, Schema, Value};
use crate::kernels::rows::encode_key;
use crate::operator::{Emit, Operator, OperatorError, Rows};

const LEFT: usize = 0;
const RIGHT: usize = 1;

/// Rows per emitted batch.
const OUTPUT_ROWS: usize = 8192;

/// Bytes a held row costs beyond its values and identity: map nodes, the
/// row's allocation, its count.
const ENTRY_OVERHEAD: u64 = 96;

/// A row held, with how many equal copies of it are net present.
struct Held {
    row: Arc<[Value]>,
    count: usize,
}

/// One side's rows with one join key, by identity (the whole row encoded).
#[derive(Default)]
struct Bucket {
    rows: BTreeMap<Box<[u8]>, Held>,
    /// Copies held, over all rows.
    total: usize,
}

/// One output row: its kind, and its left and right rows (`None`: padded
/// with nulls).
type Change = (RowKind, Option<Arc<[Value]>>, Option<Arc<[Value]>>);

/// `hash_join` in a streaming job (see the module docs).
pub struct RegularJoin {
    kind: JoinKind,
    keys: [Vec<usize>; 2],
    output: Schema,
    /// Columns of each input (nulls in a padded row).
    widths: [usize; 2],
    budget: u64,
    sides: [HashMap<Box<[u8]>, Bucket>; 2],
    bytes: u64,
    key: Vec<u8>,
    identity: Vec<u8>,
}

impl RegularJoin {
    /// A regular join of `left` and `right` rows into `output` rows,
    /// holding both sides in at most `budget` bytes.
    pub fn new(
        params: &JoinParams,
        left: &Schema,
        right: &Schema,
        output: &Schema,
        budget: u64,
    ) -> Result<Self, OperatorError> {
        Ok(Self {
            kind: params.kind,
            keys: [
                indexes(&params.left_keys, left)?,
                indexes(&params.right_keys, right)?,
            ],
            output: output.clone(),
            widths: [left.fields.len(), right.fields.len()],
            budget,
            sides: [HashMap::new(), HashMap::new()],
            bytes: 0,
            key: Vec::new(),
            identity: Vec::new(),
        })
    }

    /// Adds one copy of `row` to `side` under the current key and identity.
    fn hold(&mut self, side: usize, row: &Arc<[Value]>) {
        let bucket = self.sides[side]
            .entry(self.key.clone().into_boxed_slice())
            .or_default();
        bucket.total += 1;
        if let Some(held) = bucket.rows.get_mut(&self.identity[..]) {
            held.count += 1;
            return;
        }
        self.bytes += entry_bytes(self.key.len() + self.identity.len(), row);
        let held = Held {
            row: row.clone(),
            count: 1,
        };
        bucket
            .rows
            .insert(self.identity.clone().into_boxed_slice(), held);
    }

    /// Takes one copy of the row under the current key and identity out
    /// of `side`; `false` if it holds none.
    fn release(&mut self, side: usize) -> bool {
        let Some(bucket) = self.sides[side].get_mut(&self.key[..]) else {
            return false;
        };
        let Some(held) = bucket.rows.get_mut(&self.identity[..]) else {
            return false;
        };
        held.count -= 1;
        bucket.total -= 1;
        if held.count == 0 {
            if let Some(held) = bucket.rows.remove(&self.identity[..]) {
                let cost = entry_bytes(self.key.len() + self.identity.len(), &held.row);
                self.bytes = self.bytes.saturating_sub(cost);
            }
        }
        // Empty buckets go, so keys that come and go leave nothing behind.
        if bucket.total == 0 {
            self.sides[side].remove(&self.key[..]);
        }
        true
    }

    /// The rows `side` holds under the current key, each as many times
    /// as its copies.
    fn matches(&self, side: usize) -> Vec<Arc<[Value]>> {
        let Some(bucket) = self.sides[side].get(&self.key[..]) else {
            return Vec::new();
        };
        bucket
            .rows
            .values()
            .flat_map(|held| std::iter::repeat_n(held.row.clone(), held.count))
            .collect()
    }

    /// Copies held on `side` under the current key.
    fn held(&self, side: usize) -> usize {
        self.sides[side].get(&self.key[..]).map_or(0, |b| b.total)
    }

    /// Whether the join keeps every row of `side`, matched or not.
    fn keeps(&self, side: usize) -> bool {
        if side == LEFT {
            self.kind.keeps_left()
        } else {
            self.kind.keeps_right()
        }
    }

    /// Handles row `row` of input `input`, appending what it changes.
    fn row(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        row: usize,
        changes: &mut Vec<Change>,
    ) -> Result<(), OperatorError> {
        let retract = rows.kind(row).is_retraction();
        let values: Arc<[Value]> = rows.columns.iter().map(|c| c.value(row)).collect();
        let pair = if retract {
            RowKind::Delete
        } else {
            RowKind::Insert
        };
        // `values` on its own side, `other` (or padding) on the other.
        let placed = |kind, other: Option<Arc<[Value]>>| -> Change {
            if input == LEFT {
                (kind, Some(values.clone()), other)
            } else {
                (kind, other, Some(values.clone()))
            }
        };
        let key_columns: Vec<_> = self.keys[input].iter().map(|&k| &rows.columns[k]).collect();
        if key_columns.iter().any(|c| c.is_null(row)) {
            // Matches nothing, ever: only a side kept whole shows it.
            if self.keeps(input) {
                changes.push(placed(pair, None));
            }
            return Ok(());
        }
        self.key.clear();
        encode_key(&key_columns, row, &mut self.key);
        self.identity.clear();
        let all: Vec<_> = rows.columns.iter().collect();
        encode_key(&all, row, &mut self.identity);
        if retract {
            if !self.release(input) {
                return Err(not_held(input, rows, row));
            }
        } else {
            self.hold(input, &values);
        }
        let other = 1 - input;
        let matches = self.matches(other);
        if matches.is_empty() && self.keeps(input) {
            changes.push(placed(pair, None));
        }
        // The first match of a row on a side kept whole replaces its
        // padded row, and the last one to go restores it.
        let now = self.held(input);
        let padding_changes = self.keeps(other) && now == usize::from(!retract);
        for matched in matches {
            let (before, after) = match (padding_changes, retract) {
                (false, _) => {
                    changes.push(placed(pair, Some(matched)));
                    continue;
                }
                (true, false) => (None, Some(matched.clone())),
                (true, true) => (Some(matched.clone()), None),
            };
            let mut change = |kind, joined: Option<Arc<[Value]>>| {
                let (ours, theirs) = (joined.map(|_| values.clone()), Some(matched.clone()));
                changes.push(if input == LEFT {
                    (kind, ours, theirs)
                } else {
                    (kind, theirs, ours)
                });
            };
            change(RowKind::UpdateBefore, before);
            change(RowKind::UpdateAfter, after);
        }
        Ok(())
    }

    /// `changes` as output batches: kinds only when some row is not an
    /// insert, so an inner join of growing inputs emits plain rows.
    fn emit(&self, changes: &[Change], out: &mut dyn Emit) -> Result<(), OperatorError> {
        let padding = [
            vec![Value::Null; self.widths[LEFT]],
            vec![Value::Null; self.widths[RIGHT]],
        ];
        for chunk in changes.chunks(OUTPUT_ROWS) {
            let mut builder = BatchBuilder::new(self.output.clone(), chunk.len());
            let mut row = Vec::with_capacity(self.output.fields.len());
            for (_, left, right) in chunk {
                row.clear();
                row.extend_from_slice(left.as_deref().unwrap_or(&padding[LEFT]));
                row.extend_from_slice(right.as_deref().unwrap_or(&padding[RIGHT]));
                builder.push_row(&row)?;
            }
            let kinds: Vec<RowKind> = chunk.iter().map(|(kind, _, _)| *kind).collect();
            let batch: Batch = builder.finish()?;
            out.emit(if kinds.iter().all(|k| *k == RowKind::Insert) {
                batch
            } else {
                batch.with_kinds(&kinds)?
            })?;
        }
        Ok(())
    }
}

/// What one held row costs: its key and identity, its values, the entry.
fn entry_bytes(encoded: usize, row: &[Value]) -> u64 {
    let values: usize = row.iter().map(Value::held_bytes).sum();
    (encoded + values) as u64 + ENTRY_OVERHEAD
}

/// The error for a retraction of a row the join does not hold.
fn not_held(input: usize, rows: &Rows<'_>, row: usize) -> OperatorError {
    let values: Vec<String> = rows
        .columns
        .iter()
        .map(|c| format!("{} = {}", c.name, c.value(row)))
        .collect();
    OperatorError::BadInput(format!(
        "hash_join: the changelog on its {} input retracts ({}) a row it does not hold \
         (row {row} of the batch: {}); a retraction must follow the row it retracts",
        if input == LEFT { "left" } else { "right" },
        rows.kind(row),
        values.join(", ")
    ))
}

impl Operator for RegularJoin {
    fn process(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        if input > RIGHT {
            return Err(OperatorError::BadInput(format!(
                "hash_join has no input {input}"
            )));
        }
        let mut changes = Vec::new();
        for row in 0..rows.rows {
            self.row(input, rows, row, &mut changes)?;
        }
        if self.bytes > self.budget {
            let rows: usize = self
                .sides
                .iter()
                .flat_map(|s| s.values())
                .map(|b| b.total)
                .sum();
            return Err(OperatorError::OverBudget {
                operator: "hash_join".into(),
                budget: self.budget,
                detail: format!(
                    "{rows} rows of both inputs of a streaming join, which keeps every row of \
                     each side to join the other's later rows and cannot spill; give it more \
                     memory_bytes, or bound it in time with interval_join or window_join"
                ),
            });
        }
        self.emit(&changes, out)
    }

    fn state_bytes(&self) -> u64 {
        self.bytes
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.sides = [HashMap::new(), HashMap::new()];
        Ok(())
    }
}
