//! `window_join`: joins two streams on equal keys within the same
//! event-time window (Flink's window join) — tumbling, hopping or
//! cumulating windows, as the `window` operator assigns them
//! ([`crate::operators::window::assign`]). Each side's rows are held per
//! window; when the watermark passes a window's end, that window's pairs
//! are emitted, each with `window_start` and `window_end`, and its rows
//! dropped. In a batch job every window is emitted once both inputs end,
//! so one spec gives the same rows in both modes.
//!
//! Kinds: inner, and left, right or full outer (an unmatched row of a
//! kept side comes out once per window it is in, with nulls for the other
//! side — cheap, since a window's rows are all at hand when it fires).
//!
//! A row all of whose windows have fired is late: dropped and counted, as
//! is a row with a null time. The watermark passed downstream is held back
//! by the longest window less one millisecond, so no later output row has
//! a time (either side's, or the window's bounds) at or behind it.
//! Known limits: a row is copied into each window it belongs to (hopping
//! and cumulating windows hold it several times); no allowed lateness;
//! state is in memory only, bounded by `memory_bytes`.

use std::collections::{BTreeMap, HashMap};

use super::params::{WindowJoinKind, WindowJoinParams};
use super::{check_sides, held_bytes, over_budget, Pairs, SideColumns, LEFT, RIGHT};
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, Column, ColumnData, ColumnView, Schema};
use crate::kernels::take::take_batch;
use crate::kernels::views;
use crate::message::Watermark;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::operators::join::order_sides;
use crate::operators::window::{Assigner, Window};
use crate::spec::SpecError;

/// One open window: the rows of each side that fell in it.
#[derive(Default)]
struct Open {
    sides: [Vec<Batch>; 2],
    bytes: u64,
}

/// The running `window_join`.
pub struct WindowJoin {
    assigner: Assigner,
    kind: WindowJoinKind,
    sides: [SideColumns; 2],
    output: Schema,
    budget: u64,
    hold_back: i64,
    watermark: Watermark,
    open: BTreeMap<(i64, i64), Open>,
    held: u64,
    ended: [bool; 2],
    late_rows: u64,
    keys: Vec<Option<Box<[u8]>>>,
}

impl WindowJoin {
    /// A window join of `left` and `right` rows, holding at most `budget`
    /// bytes of them.
    pub fn new(
        params: &WindowJoinParams,
        left: &Schema,
        right: &Schema,
        budget: u64,
    ) -> Result<Self, OperatorError> {
        let assigner = params.assigner().map_err(OperatorError::BadInput)?;
        assigner
            .check()
            .map_err(|e| OperatorError::BadInput(e.to_string()))?;
        Ok(Self {
            assigner,
            kind: params.kind,
            sides: [
                SideColumns::new(left, params.names(LEFT))?,
                SideColumns::new(right, params.names(RIGHT))?,
            ],
            output: params.output(left, right),
            budget,
            // Windows still to fire end after the watermark, so their rows
            // are no older than the watermark less the longest window.
            hold_back: params.longest().saturating_sub(1),
            watermark: Watermark::MIN,
            open: BTreeMap::new(),
            held: 0,
            ended: [false; 2],
            late_rows: 0,
            keys: Vec::new(),
        })
    }

    /// The schema of the joined rows.
    pub fn output_schema(&self) -> &Schema {
        &self.output
    }

    /// Rows held in open windows (a row counts once per window).
    pub fn buffered_rows(&self) -> usize {
        self.open
            .values()
            .flat_map(|o| o.sides.iter().flatten())
            .map(Batch::num_rows)
            .sum()
    }

    fn fired(&self, window: &Window) -> bool {
        window.max_timestamp() <= self.watermark.0
    }

    /// Emits and drops every window the watermark has passed (all of them
    /// when `all`), earliest end first.
    fn fire(&mut self, all: bool, out: &mut dyn Emit) -> Result<(), OperatorError> {
        while let Some((&(end, start), _)) = self.open.first_key_value() {
            if !all && !self.fired(&Window { start, end }) {
                break;
            }
            let Some(open) = self.open.remove(&(end, start)) else {
                break;
            };
            self.held = self.held.saturating_sub(open.bytes);
            self.join_window(start, end, &open, out)?;
        }
        Ok(())
    }

    /// The pairs of one window: a hash table of its right rows, probed by
    /// its left rows, then the unmatched rows of kept sides.
    fn join_window(
        &self,
        start: i64,
        end: i64,
        open: &Open,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let [left, right] = &open.sides;
        let left_views: Vec<Vec<ColumnView<'_>>> = left.iter().map(views).collect();
        let right_views: Vec<Vec<ColumnView<'_>>> = right.iter().map(views).collect();
        let mut keys = Vec::new();
        let mut table: HashMap<Box<[u8]>, Vec<(u32, u32)>> = HashMap::new();
        for (b, (batch, columns)) in right.iter().zip(&right_views).enumerate() {
            self.sides[RIGHT].read(columns, batch.num_rows(), &mut keys)?;
            for (row, key) in keys.drain(..).enumerate() {
                if let Some(key) = key {
                    table.entry(key).or_default().push((b as u32, row as u32));
                }
            }
        }
        let mut matched: Vec<Vec<bool>> = match self.kind.keeps(RIGHT) {
            true => right.iter().map(|b| vec![false; b.num_rows()]).collect(),
            false => Vec::new(),
        };
        let (mut left_picks, mut right_picks) = (Vec::new(), Vec::new());
        for (b, (batch, columns)) in left.iter().zip(&left_views).enumerate() {
            self.sides[LEFT].read(columns, batch.num_rows(), &mut keys)?;
            for (row, key) in keys.iter().enumerate() {
                let pick = Some((b as u32, row as u32));
                match key.as_ref().and_then(|k| table.get(k)) {
                    Some(hits) => {
                        for &(rb, rr) in hits {
                            left_picks.push(pick);
                            right_picks.push(Some((rb, rr)));
                            if let Some(seen) = matched.get_mut(rb as usize) {
                                seen[rr as usize] = true;
                            }
                        }
                    }
                    None if self.kind.keeps(LEFT) => {
                        left_picks.push(pick);
                        right_picks.push(None);
                    }
                    None => {}
                }
            }
        }
        for (rb, seen) in matched.iter().enumerate() {
            for (rr, _) in seen.iter().enumerate().filter(|(_, &hit)| !hit) {
                left_picks.push(None);
                right_picks.push(Some((rb as u32, rr as u32)));
            }
        }
        let left_sources: Vec<&[ColumnView<'_>]> = left_views.iter().map(Vec::as_slice).collect();
        let right_sources: Vec<&[ColumnView<'_>]> = right_views.iter().map(Vec::as_slice).collect();
        let pairs = Pairs {
            output: &self.output,
            left_width: self.sides[LEFT].schema.fields.len(),
            left_sources: &left_sources,
            right_sources: &right_sources,
        };
        let bounds = |rows: usize| {
            [start, end]
                .map(|ts| Column {
                    validity: None,
                    data: ColumnData::Timestamp(vec![ts; rows]),
                })
                .to_vec()
        };
        pairs.emit(&bounds, &left_picks, &right_picks, out)
    }
}

impl Operator for WindowJoin {
    fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn state_bytes(&self) -> u64 {
        self.held
    }

    fn process(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        _out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let Some(side) = self.sides.get(input) else {
            return Err(OperatorError::BadInput(format!(
                "window_join has no input {input}"
            )));
        };
        let times = side.read(&rows.columns, rows.rows, &mut self.keys)?;
        // A row with a null key matches nothing: only an outer side keeps it.
        let keep_unkeyed = self.kind.keeps(input);
        let mut per_window: BTreeMap<(i64, i64), Vec<u32>> = BTreeMap::new();
        let mut windows = Vec::with_capacity(self.assigner.windows_per_row());
        for (row, time) in times.iter().enumerate() {
            let Some(ts) = *time else {
                self.late_rows += 1;
                continue;
            };
            windows.clear();
            self.assigner.assign(ts, &mut windows);
            windows.retain(|w| !self.fired(w));
            if windows.is_empty() {
                self.late_rows += 1;
                continue;
            }
            if self.keys[row].is_none() && !keep_unkeyed {
                continue;
            }
            for window in &windows {
                let picks = per_window.entry((window.end, window.start)).or_default();
                picks.push(row as u32);
            }
        }
        for (window, picks) in per_window {
            let batch = take_batch(&side.schema, &rows.columns, &picks)?;
            let bytes = held_bytes(&batch, 0);
            let open = self.open.entry(window).or_default();
            open.bytes += bytes;
            open.sides[input].push(batch);
            self.held += bytes;
        }
        if self.held > self.budget {
            return Err(over_budget(
                "window_join",
                self.budget,
                format!(
                    "{} open windows hold {} bytes of rows waiting for the watermark to pass their ends; give it more memory, or use shorter windows or a watermark that follows event time more closely",
                    self.open.len(),
                    self.held
                ),
            ));
        }
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.watermark = self.watermark.max(watermark);
        self.fire(false, out)?;
        Ok(Some(Watermark(
            self.watermark.0.saturating_sub(self.hold_back),
        )))
    }

    fn end_input(&mut self, input: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        if let Some(ended) = self.ended.get_mut(input) {
            *ended = true;
        }
        // The open windows may still get rows from the other input.
        if self.ended == [true; 2] {
            self.fire(true, out)?;
            if self.late_rows > 0 {
                tracing::info!(late_rows = self.late_rows, "window_join dropped late rows");
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.open.clear();
        self.held = 0;
        Ok(())
    }
}

/// The catalogue's `window_join`.
pub struct WindowJoinDefinition;

impl OperatorDefinition for WindowJoinDefinition {
    type Params = WindowJoinParams;

    fn name(&self) -> &'static str {
        "window_join"
    }

    fn inputs(&self) -> (usize, usize) {
        (2, 2)
    }

    fn order_inputs(
        &self,
        vertex: &str,
        params: &WindowJoinParams,
        from: &[&str],
    ) -> Result<Vec<usize>, SpecError> {
        order_sides(vertex, &params.left, &params.right, from)
    }

    fn output_schema(
        &self,
        params: &WindowJoinParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let (left, right) = check_sides(context, inputs, params.names(LEFT), params.names(RIGHT))?;
        params
            .assigner()
            .map_err(|e| context.bad_params(e))?
            .check()
            .map_err(|e| context.bad_params(e.to_string()))?;
        context.unique(params.output(left, right))
    }

    fn build(
        &self,
        params: &WindowJoinParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let budget = context.budget(params.memory_bytes);
        let (left, right) = (context.input(LEFT), context.input(RIGHT));
        let join = WindowJoin::new(params, &left, &right, budget)?;
        Ok(Built::Operator(Box::new(join)))
    }
}
