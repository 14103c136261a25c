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
//! Held rows are kept encoded ([`side`]), about the size of their values,
//! and checkpointed ([`snapshot`]): both sides' rows, split by join key
//! when a savepoint resumes at another parallelism.
//!
//! Once an input has ended (a bounded table joined to a stream: a side
//! input, a dimension table), the other side's rows are only ever joined
//! with what it holds, never waited for: unless the ended side is kept
//! whole (its padded rows depend on how many rows match), the other side
//! is no longer held, and what it held is dropped. Such a join of a
//! stream and a table costs the table, not the stream.
//!
//! Limits: both sides are held in memory (no spilling), within the join's
//! `memory_bytes` or `OverBudget`; nothing is ever forgotten (no state
//! TTL, no time bound: for those, `interval_join`); per row it emits one
//! pair per matching row, so a hot key costs what it joins; a retraction
//! searches the rows its key holds.

mod side;
mod snapshot;

use super::join::{indexes, JoinKind, JoinParams};
use crate::data::{Batch, BatchBuilder, ColumnView, RowKind, Schema};
use crate::kernels::row_codec::RowCodec;
use crate::kernels::rows::encode_key;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use side::Side;

const LEFT: usize = 0;
const RIGHT: usize = 1;

/// Rows per emitted batch.
const OUTPUT_ROWS: usize = 8192;

/// `hash_join` in a streaming job (see the module docs).
pub struct RegularJoin {
    kind: JoinKind,
    keys: [Vec<usize>; 2],
    inputs: [Schema; 2],
    codecs: [RowCodec; 2],
    output: Schema,
    budget: u64,
    sides: [Side; 2],
    /// Whether each input has ended.
    ended: [bool; 2],
    /// Whether some saved state was restored (a rescaled restore reads
    /// several).
    restored: bool,
    key: Vec<u8>,
    identity: Vec<u8>,
}

/// One side of an output row.
#[derive(Clone, Copy)]
enum Part<'a> {
    /// Row `.1` of the incoming batch's columns.
    Incoming(&'a [ColumnView<'a>], usize),
    /// A held row's encoding.
    Held(&'a [u8]),
    /// Nulls: the side is padded.
    Padded,
}

/// Output rows being built, emitted a batch at a time.
struct Output<'o> {
    schema: &'o Schema,
    codecs: &'o [RowCodec; 2],
    builder: BatchBuilder,
    kinds: Vec<RowKind>,
    out: &'o mut dyn Emit,
}

impl<'o> Output<'o> {
    fn new(schema: &'o Schema, codecs: &'o [RowCodec; 2], out: &'o mut dyn Emit) -> Self {
        Self {
            schema,
            codecs,
            builder: BatchBuilder::new(schema.clone(), OUTPUT_ROWS),
            kinds: Vec::new(),
            out,
        }
    }

    /// Appends a row of kind `kind`: `left`'s columns, then `right`'s.
    fn push(
        &mut self,
        kind: RowKind,
        left: Part<'_>,
        right: Part<'_>,
    ) -> Result<(), OperatorError> {
        let first = [0, self.codecs[LEFT].width()];
        for (side, part) in [(LEFT, left), (RIGHT, right)] {
            let codec = &self.codecs[side];
            match part {
                Part::Incoming(columns, row) => {
                    RowCodec::copy(columns, row, &mut self.builder, first[side])?
                }
                Part::Held(bytes) => codec.decode(bytes, &mut self.builder, first[side])?,
                Part::Padded => codec.push_nulls(&mut self.builder, first[side])?,
            }
        }
        self.kinds.push(kind);
        if self.kinds.len() == OUTPUT_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Emits the rows built so far: with kinds only when some row is not
    /// an insert, so an inner join of growing inputs emits plain rows.
    fn flush(&mut self) -> Result<(), OperatorError> {
        if self.kinds.is_empty() {
            return Ok(());
        }
        let builder = std::mem::replace(
            &mut self.builder,
            BatchBuilder::new(self.schema.clone(), OUTPUT_ROWS),
        );
        let batch: Batch = builder.finish()?;
        let batch = if self.kinds.iter().all(|k| *k == RowKind::Insert) {
            batch
        } else {
            batch.with_kinds(&self.kinds)?
        };
        self.kinds.clear();
        self.out.emit(batch)
    }
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
        let codec =
            |schema: &Schema| RowCodec::new(schema.fields.iter().map(|f| f.data_type).collect());
        Ok(Self {
            kind: params.kind,
            keys: [
                indexes(&params.left_keys, left)?,
                indexes(&params.right_keys, right)?,
            ],
            inputs: [left.clone(), right.clone()],
            codecs: [codec(left), codec(right)],
            output: output.clone(),
            budget,
            sides: [Side::default(), Side::default()],
            ended: [false, false],
            restored: false,
            key: Vec::new(),
            identity: Vec::new(),
        })
    }

    /// Whether the join keeps every row of `side`, matched or not.
    fn keeps(&self, side: usize) -> bool {
        if side == LEFT {
            self.kind.keeps_left()
        } else {
            self.kind.keeps_right()
        }
    }

    /// Whether rows of `side` must be held: the other input may still
    /// send rows to join them with, or keeps its rows whole (so counts
    /// matches).
    fn holds(&self, side: usize) -> bool {
        let other = 1 - side;
        !self.ended[other] || self.keeps(other)
    }

    /// The join key columns of `input` among `columns`, looked up once
    /// per batch rather than per row.
    fn key_columns<'c, 'v>(
        &self,
        input: usize,
        columns: &'c [ColumnView<'v>],
    ) -> Vec<&'c ColumnView<'v>> {
        self.keys[input].iter().map(|&k| &columns[k]).collect()
    }

    /// Encodes row `row`'s join key (of `key_columns`) into `self.key`;
    /// `false` if a key column is null (such a row matches nothing, ever).
    fn encode_key(&mut self, key_columns: &[&ColumnView<'_>], row: usize) -> bool {
        if key_columns.iter().any(|c| c.is_null(row)) {
            return false;
        }
        self.key.clear();
        encode_key(key_columns, row, &mut self.key);
        true
    }

    /// Handles row `row` of input `input`, appending what it changes.
    fn row(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        key_columns: &[&ColumnView<'_>],
        row: usize,
        output: &mut Output<'_>,
    ) -> Result<(), OperatorError> {
        let retract = rows.kind(row).is_retraction();
        let pair = if retract {
            RowKind::Delete
        } else {
            RowKind::Insert
        };
        let own = Part::Incoming(&rows.columns, row);
        // `ours` on this row's side, `theirs` on the other.
        let mut push = |kind, ours: Part<'_>, theirs: Part<'_>| {
            if input == LEFT {
                output.push(kind, ours, theirs)
            } else {
                output.push(kind, theirs, ours)
            }
        };
        if !self.encode_key(key_columns, row) {
            // Matches nothing, ever: only a side kept whole shows it.
            if self.keeps(input) {
                push(pair, own, Part::Padded)?;
            }
            return Ok(());
        }
        if self.holds(input) {
            self.identity.clear();
            self.codecs[input].encode(&rows.columns, row, &mut self.identity);
            if retract {
                if !self.sides[input].release(&self.key, &self.identity) {
                    let side = if input == LEFT { "left" } else { "right" };
                    let what = format!("hash_join: the changelog on its {side} input");
                    return Err(OperatorError::not_held(&what, rows, row));
                }
            } else {
                self.sides[input].hold(&self.key, &self.identity);
            }
        }
        let other = 1 - input;
        let matches = self.sides[other].matches(&self.key);
        if matches.is_empty() && self.keeps(input) {
            push(pair, own, Part::Padded)?;
        }
        // The first match of a row on a side kept whole replaces its
        // padded row, and the last one to go restores it.
        let now = self.sides[input].matches(&self.key).len();
        let padding_changes = self.keeps(other) && now == usize::from(!retract);
        for matched in matches {
            let matched = Part::Held(matched);
            if !padding_changes {
                push(pair, own, matched)?;
                continue;
            }
            let (before, after) = if retract {
                (own, Part::Padded)
            } else {
                (Part::Padded, own)
            };
            push(RowKind::UpdateBefore, before, matched)?;
            push(RowKind::UpdateAfter, after, matched)?;
        }
        Ok(())
    }

    /// Rows held on both sides.
    fn held_rows(&self) -> usize {
        self.sides.iter().map(Side::rows).sum()
    }
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
        let codecs = self.codecs.clone();
        let output_schema = self.output.clone();
        let mut output = Output::new(&output_schema, &codecs, out);
        let key_columns = self.key_columns(input, &rows.columns);
        for row in 0..rows.rows {
            self.row(input, rows, &key_columns, row, &mut output)?;
        }
        if self.state_bytes() > self.budget {
            return Err(OperatorError::OverBudget {
                operator: "hash_join".into(),
                budget: self.budget,
                detail: format!(
                    "{} rows of both inputs of a streaming join, which keeps every row of \
                     each side to join the other's later rows and cannot spill; give it more \
                     memory_bytes, or bound it in time with interval_join or window_join",
                    self.held_rows()
                ),
            });
        }
        output.flush()
    }

    fn state_bytes(&self) -> u64 {
        self.sides.iter().map(Side::bytes).sum()
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        self.snapshot().map(Some)
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        self.restore(state, None)
    }

    fn restore_rescaled(
        &mut self,
        from: &crate::checkpoint::Rescaled<'_>,
    ) -> Result<(), OperatorError> {
        for (_, state) in from.states {
            self.restore(state, Some(from))?;
        }
        Ok(())
    }

    fn end_input(&mut self, input: usize, _out: &mut dyn Emit) -> Result<(), OperatorError> {
        if input > RIGHT {
            return Ok(());
        }
        self.ended[input] = true;
        let other = 1 - input;
        if !self.holds(other) {
            self.sides[other] = Side::default();
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.sides = [Side::default(), Side::default()];
        Ok(())
    }
}
