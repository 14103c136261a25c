//! The two-input streaming joins — [`window`] (`window_join`: rows of
//! both inputs with equal keys in the same event-time window, emitted when
//! the watermark passes the window) and [`interval`] (`interval_join`:
//! pairs whose times lie within a fixed interval of each other, emitted as
//! soon as both rows have arrived) — with their [`params`], and what they
//! share: reading a side's key and time columns, the spec checks, the
//! memory budget and building joined rows.
//!
//! Both reuse `hash_join`'s conventions ([`crate::operators::join`]): the
//! spec names the `left` and `right` vertices, keys pair up by position
//! and must have equal types, null keys never match, and a joined row is
//! the left's columns then the right's (names must be distinct). A row is
//! late when event time has passed it (the watermark the operator sees is
//! the smallest over both inputs); late rows and rows with a null time are
//! dropped and counted. In a batch job there are no watermarks: nothing is
//! late and everything is emitted by the end of both inputs.
//!
//! Known limits: state lives in memory, bounded by `memory_bytes` (over
//! it the join fails with [`OperatorError::OverBudget`]; no spilling), and
//! is not yet described to the catalogue for checkpoints (there is no
//! two-sided [`crate::catalogue::OperatorState`] yet).

pub mod interval;
pub mod params;
pub mod window;

pub use interval::{IntervalJoin, IntervalJoinDefinition};
pub use params::{IntervalJoinParams, WindowJoinKind, WindowJoinParams};
pub use window::{WindowJoin, WindowJoinDefinition};

use crate::catalogue::SchemaContext;
use crate::data::{Batch, Column, ColumnView, Schema, ValuesView};
use crate::kernels::rows::encode_key;
use crate::operator::{Emit, OperatorError};
use crate::operators::join::{check_keys, gather, indexes, sides};
use crate::spec::SpecError;

/// Input 0 is the left side, input 1 the right.
const LEFT: usize = 0;
/// The right side's input.
const RIGHT: usize = 1;

/// Most rows in one emitted batch, so a window with many matches comes
/// out as several batches rather than one huge one.
const OUTPUT_ROWS: usize = crate::spec::limits::DEFAULT_BATCH_ROWS;

/// The names a side's params give: its key columns and its time column.
pub(crate) struct SideNames<'a> {
    keys: &'a [String],
    time: &'a str,
}

/// Checks what both joins' params name — two inputs, keys of equal
/// types, a timestamp time column on each side — and returns the input
/// schemas, left then right.
fn check_sides<'s>(
    context: &SchemaContext<'_>,
    inputs: &'s [Schema],
    left: SideNames<'_>,
    right: SideNames<'_>,
) -> Result<(&'s Schema, &'s Schema), SpecError> {
    let (l, r) = sides(context, inputs)?;
    check_keys(context, l, r, left.keys, right.keys)?;
    let why = "a stream join's event time must be a timestamp";
    context.timestamp_column(l, left.time, "left_time", why)?;
    context.timestamp_column(r, right.time, "right_time", why)?;
    Ok((l, r))
}

/// Where one side's key and time columns are.
#[derive(Debug, Clone)]
struct SideColumns {
    schema: Schema,
    keys: Vec<usize>,
    time: usize,
}

impl SideColumns {
    fn new(schema: &Schema, names: SideNames<'_>) -> Result<Self, OperatorError> {
        let time = schema
            .index_of(names.time)
            .ok_or_else(|| OperatorError::BadInput(format!("no time column {}", names.time)))?;
        Ok(Self {
            schema: schema.clone(),
            keys: indexes(names.keys, schema)?,
            time,
        })
    }

    /// The time of each row (`None` when null) and, in `keys`, each row's
    /// encoded key (`None` when any key column is null: it never matches).
    fn read(
        &self,
        columns: &[ColumnView<'_>],
        rows: usize,
        keys: &mut Vec<Option<Box<[u8]>>>,
    ) -> Result<Vec<Option<i64>>, OperatorError> {
        let column = &columns[self.time];
        let ValuesView::Timestamp(times) = column.values else {
            return Err(OperatorError::BadInput(format!(
                "the join's time column {} is not a timestamp",
                self.schema.fields[self.time].name
            )));
        };
        let key_columns: Vec<_> = self.keys.iter().map(|&k| &columns[k]).collect();
        keys.clear();
        let mut buffer = Vec::new();
        for row in 0..rows {
            if key_columns.iter().any(|k| k.is_null(row)) {
                keys.push(None);
            } else {
                buffer.clear();
                encode_key(&key_columns, row, &mut buffer);
                keys.push(Some(buffer.as_slice().into()));
            }
        }
        Ok((0..rows)
            .map(|row| (!column.is_null(row)).then(|| times[row]))
            .collect())
    }
}

/// The bytes a held batch counts against the budget: its buffers plus
/// what indexing each of its rows costs (a key copy and bookkeeping).
fn held_bytes(batch: &Batch, key_bytes: usize) -> u64 {
    (batch.buffer_bytes() + key_bytes + 48 * batch.num_rows()) as u64
}

/// The error for state over `budget`.
fn over_budget(operator: &str, budget: u64, detail: String) -> OperatorError {
    OperatorError::OverBudget {
        operator: operator.to_string(),
        budget,
        detail,
    }
}

/// Joined rows: for each pair, the left row `left[i]` and the right row
/// `right[i]` as (source, row) in `left_sources` / `right_sources` (`None`:
/// nulls, for an outer join's unmatched row), after the `leading` columns
/// (made for a given number of rows); emitted in batches of at most
/// [`OUTPUT_ROWS`].
struct Pairs<'p, 'v> {
    output: &'p Schema,
    left_width: usize,
    left_sources: &'p [&'p [ColumnView<'v>]],
    right_sources: &'p [&'p [ColumnView<'v>]],
}

impl Pairs<'_, '_> {
    fn emit(
        &self,
        leading: &dyn Fn(usize) -> Vec<Column>,
        left: &[Option<(u32, u32)>],
        right: &[Option<(u32, u32)>],
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        for (left, right) in left.chunks(OUTPUT_ROWS).zip(right.chunks(OUTPUT_ROWS)) {
            let rows = left.len();
            let mut columns = leading(rows);
            let first = columns.len();
            for (i, field) in self.output.fields[first..].iter().enumerate() {
                columns.push(if i < self.left_width {
                    gather(field, self.left_sources, i, left)?
                } else {
                    gather(field, self.right_sources, i - self.left_width, right)?
                });
            }
            out.emit(Batch::new(self.output.clone(), rows, columns)?)?;
        }
        Ok(())
    }
}
