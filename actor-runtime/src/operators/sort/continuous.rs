//! The continuous `top_n`: `top_n` in a streaming job, where input never
//! ends, so the best rows cannot wait for it. As Flink's retracting Rank
//! does, it keeps every net row of its subtask and, after *each input
//! batch*, emits the change to the top `limit` as a changelog: `-D` of
//! each row that left it (pushed out, or retracted upstream), then `+I`
//! of each row that entered it. Applied in order, its output is after
//! every batch the top `limit` of the rows so far (ties at the boundary
//! broken by a fixed order of whole rows, see [`super::order_key`]).
//!
//! It consumes changelogs: an input `-U`/`-D` removes one copy of an equal
//! row (all columns), and if that row was shown, the next best row takes
//! its place. That is why it keeps *every* row rather than the best
//! `limit`: the replacement of a retracted row can be any of them. A
//! retraction of a row it does not hold is an error, not a silent skip.
//!
//! Limits: rows are held in memory (no spilling), within the `memory_bytes`
//! budget or `OverBudget`; a batch that changes the top `limit` costs
//! O(`limit`) to diff it (one that only touches rows below it costs
//! nothing beyond its own rows); there is no rank column (`top_n` has
//! none), so a row moving within the top `limit` emits nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::order_key::order_key;
use super::{key_columns, SortKey};
use crate::data::{BatchBuilder, RowKind, Schema, Value};
use crate::kernels::rows::KeyColumn;
use crate::operator::{Emit, Operator, OperatorError, Rows};

/// Bytes a held row costs beyond its key and values: the map node, the
/// row's allocation and its count, roughly.
const ENTRY_OVERHEAD: u64 = 64;

/// A row held, with how many equal copies of it are net present.
struct Held {
    row: Arc<[Value]>,
    count: usize,
}

/// Rows shown downstream, by order key: each row and its copies shown.
type Shown = BTreeMap<Box<[u8]>, (Arc<[Value]>, usize)>;

/// `top_n` emitting the changes to its best rows per batch, over inserts
/// or a changelog.
pub struct ContinuousTopN {
    schema: Schema,
    keys: Vec<KeyColumn>,
    limit: usize,
    budget: u64,
    /// Every net row, in `top_n` order (by [`order_key`]).
    held: BTreeMap<Box<[u8]>, Held>,
    /// The top `limit` as last emitted, with copies: what downstream holds.
    shown: Shown,
    /// Copies in `shown`.
    shown_rows: usize,
    bytes: u64,
    buffer: Vec<u8>,
}

impl ContinuousTopN {
    /// The best `limit` rows of `schema` by `keys`, kept up to date as
    /// rows come and go, holding at most `budget` bytes.
    pub fn new(
        keys: &[SortKey],
        schema: &Schema,
        limit: usize,
        budget: u64,
    ) -> Result<Self, OperatorError> {
        Ok(Self {
            schema: schema.clone(),
            keys: key_columns(keys, schema)?,
            limit,
            budget,
            held: BTreeMap::new(),
            shown: BTreeMap::new(),
            shown_rows: 0,
            bytes: 0,
            buffer: Vec::new(),
        })
    }

    /// Whether a row with order key `key` can change what is shown: the
    /// top is not full yet, or `key` sorts at or before its last row.
    fn reaches_top(&self, key: &[u8]) -> bool {
        self.shown_rows < self.limit
            || self
                .shown
                .last_key_value()
                .is_some_and(|(last, _)| key <= &last[..])
    }

    /// Adds one copy of row `row` of `rows` under `self.buffer`'s key.
    fn insert(&mut self, rows: &Rows<'_>, row: usize) {
        if let Some(held) = self.held.get_mut(&self.buffer[..]) {
            held.count += 1;
            return;
        }
        let values: Arc<[Value]> = rows.columns.iter().map(|c| c.value(row)).collect();
        self.bytes += entry_bytes(&self.buffer, &values);
        let key = self.buffer.clone().into_boxed_slice();
        self.held.insert(
            key,
            Held {
                row: values,
                count: 1,
            },
        );
    }

    /// Takes one copy of the row under `self.buffer`'s key away.
    fn retract(&mut self, rows: &Rows<'_>, row: usize) -> Result<(), OperatorError> {
        let Some(held) = self.held.get_mut(&self.buffer[..]) else {
            let values: Vec<String> = rows
                .columns
                .iter()
                .map(|c| format!("{} = {}", c.name, c.value(row)))
                .collect();
            return Err(OperatorError::BadInput(format!(
                "top_n: the changelog retracts ({}) a row it does not hold (row {row} of the \
                 batch: {}); a retraction must follow the row it retracts",
                rows.kind(row),
                values.join(", ")
            )));
        };
        held.count -= 1;
        if held.count == 0 {
            if let Some(held) = self.held.remove(&self.buffer[..]) {
                self.bytes = self
                    .bytes
                    .saturating_sub(entry_bytes(&self.buffer, &held.row));
            }
        }
        Ok(())
    }

    /// The top `limit` of what is held now, with copies, in order.
    fn top(&self) -> Shown {
        let mut top = BTreeMap::new();
        let mut left = self.limit;
        for (key, held) in &self.held {
            if left == 0 {
                break;
            }
            let copies = held.count.min(left);
            left -= copies;
            top.insert(key.clone(), (held.row.clone(), copies));
        }
        top
    }

    /// Replaces `shown` with the current top and returns the changelog
    /// between them: every `-D` first (in order), then every `+I`, so a
    /// table applying it never holds more than `limit` rows.
    fn diff(&mut self) -> Vec<(RowKind, Arc<[Value]>)> {
        let top = self.top();
        let mut deletes = Vec::new();
        let mut inserts = Vec::new();
        for (key, (row, copies)) in &self.shown {
            let now = top.get(key).map_or(0, |(_, n)| *n);
            for _ in now..*copies {
                deletes.push((RowKind::Delete, row.clone()));
            }
        }
        for (key, (row, copies)) in &top {
            let before = self.shown.get(key).map_or(0, |(_, n)| *n);
            for _ in before..*copies {
                inserts.push((RowKind::Insert, row.clone()));
            }
        }
        let shown_bytes =
            |shown: &Shown| -> u64 { shown.keys().map(|k| k.len() as u64 + ENTRY_OVERHEAD).sum() };
        self.bytes = self.bytes.saturating_sub(shown_bytes(&self.shown)) + shown_bytes(&top);
        self.shown_rows = top.values().map(|(_, n)| n).sum();
        self.shown = top;
        deletes.extend(inserts);
        deletes
    }
}

/// What one held row costs: its key, its values, the entry.
fn entry_bytes(key: &[u8], row: &[Value]) -> u64 {
    let values: usize = row
        .iter()
        .map(|value| {
            std::mem::size_of::<Value>()
                + match value {
                    Value::Utf8(text) => text.len(),
                    Value::Binary(bytes) => bytes.len(),
                    Value::F32Vector(v) => v.len() * 4,
                    Value::F64Vector(v) => v.len() * 8,
                    _ => 0,
                }
        })
        .sum();
    key.len() as u64 + values as u64 + ENTRY_OVERHEAD
}

impl Operator for ContinuousTopN {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let mut touched = false;
        for row in 0..rows.rows {
            self.buffer.clear();
            order_key(&self.keys, &rows.columns, row, &mut self.buffer);
            // Checked before the row moves anything: `shown` is still what
            // downstream holds, so this is the boundary it was cut at.
            touched |= self.reaches_top(&self.buffer);
            if rows.kind(row).is_retraction() {
                self.retract(rows, row)?;
            } else {
                self.insert(rows, row);
            }
        }
        if self.bytes > self.budget {
            return Err(OperatorError::OverBudget {
                operator: "top_n".into(),
                budget: self.budget,
                detail: format!(
                    "{} distinct rows of a streaming top_n, which keeps every row (one that \
                     leaves the top {} is replaced by the next) and cannot spill; give it more \
                     memory_bytes, or filter or aggregate before it",
                    self.held.len(),
                    self.limit
                ),
            });
        }
        if !touched {
            return Ok(());
        }
        let changes = self.diff();
        if changes.is_empty() {
            return Ok(());
        }
        let mut builder = BatchBuilder::new(self.schema.clone(), changes.len());
        let mut kinds = Vec::with_capacity(changes.len());
        for (kind, row) in &changes {
            builder.push_row(row)?;
            kinds.push(*kind);
        }
        out.emit(builder.finish()?.with_kinds(&kinds)?)
    }

    fn state_bytes(&self) -> u64 {
        self.bytes
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.held.clear();
        self.shown.clear();
        Ok(())
    }
}
