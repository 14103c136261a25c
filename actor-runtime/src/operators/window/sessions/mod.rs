//! Session windows of `window`: per group, rows less than the gap apart
//! share a session `[first, last + gap)`; sessions merge when a row
//! bridges them, and a session fires when the watermark passes its end
//! (less one, plus the allowed lateness) — or at end of input.
//!
//! What a session holds is partial aggregate state: each batch is folded
//! by a partial [`Aggregate`] grouped by (session, keys), and the state
//! rows are kept in shared batches, each session listing its rows. A
//! merge of sessions is then a concatenation of those lists, and a fired
//! session's rows, relabelled with its final bounds, go through a final
//! aggregate: the batch accumulators' own merge, so a session's result
//! is exactly the batch aggregate of its rows. Open sessions are bounded
//! by the memory budget: beyond it the operator fails (`OverBudget`).
//!
//! Held batches outlive their fired rows while a row of theirs is still
//! open, and a long session gathers a state row per batch; so once the
//! held rows are more than twice the open sessions, every open session's
//! rows are taken, merged into one state row per session, and held
//! again. Known limit: the budget counts held rows, not the per-session
//! index.
//!
//! A checkpoint does the same merge and saves the result: one state row
//! per open session, with its bounds, behind the watermark and the late
//! rows counted ([`checkpoint`]). A restore holds those rows
//! again and re-opens their sessions; at another parallelism each
//! subtask keeps the rows whose keys it now owns.
//!
//! Lateness follows Flink: a row is late if its own window `[t, t + gap)`
//! has fired and it touches no open session of its group.

use std::collections::{BTreeMap, BTreeSet, HashMap};

mod checkpoint;

use super::assign::Window;
use super::held::{schedule, HeldRow, HeldRows, Taking};
use super::session::{add, containing, touches};
use super::WindowParams;
use crate::checkpoint::Rescaled;
use crate::data::{Batch, Column, ColumnData, DataType, Field, Schema, ValuesView};
use crate::kernels::rows::encode_key;
use crate::kernels::take::take_batch;
use crate::kernels::views;
use crate::message::Watermark;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::aggregate::{Aggregate, AggregateMode, AggregateParams};

/// Held rows beyond twice what is needed before they are held again.
const SLACK_ROWS: usize = 4096;

/// Names of the session bounds inside the operator; never user columns.
const START: &str = "\u{1}session_start";
const END: &str = "\u{1}session_end";

/// Where the session's start is in a held (state) row; its end follows.
const HELD_START: usize = 0;

/// One group's open sessions and where each session's rows are held.
#[derive(Default)]
struct Group {
    /// Sorted, disjoint, as [`add`] keeps them.
    windows: Vec<Window>,
    /// By session start: where each of its rows is held.
    held: BTreeMap<i64, Vec<HeldRow>>,
}

/// The running operator for session windows.
pub struct SessionWindows {
    gap: i64,
    time: usize,
    keys: Vec<usize>,
    input: Schema,
    /// The input with the two bounds appended.
    bounded: Schema,
    /// Groups by (session start, end, keys…).
    merge: AggregateParams,
    /// Where the keys are in a held row.
    held_keys: Vec<usize>,
    held: HeldRows,
    output: Schema,
    lateness: i64,
    watermark: Watermark,
    groups: HashMap<Box<[u8]>, Group>,
    /// Every open session as (end, start, group): the next to fire first.
    due: BTreeSet<(i64, i64, Box<[u8]>)>,
    budget: u64,
    context: Option<OperatorContext>,
    late_rows: u64,
}

impl SessionWindows {
    /// Sessions of `gap` ms over rows of `input`, emitting `output`.
    pub fn new(
        params: &WindowParams,
        gap: i64,
        input: &Schema,
        output: Schema,
    ) -> Result<Self, OperatorError> {
        let column = |name: &str| {
            input
                .index_of(name)
                .ok_or_else(|| OperatorError::BadInput(format!("no column {name}")))
        };
        let time = column(params.time.as_deref().unwrap_or_default())?;
        let keys = params
            .group_by
            .iter()
            .map(|k| column(k))
            .collect::<Result<Vec<_>, _>>()?;
        let mut bounded = input.clone();
        bounded.fields.push(Field::new(START, DataType::Timestamp));
        bounded.fields.push(Field::new(END, DataType::Timestamp));
        let mut merge = params.aggregate();
        merge.group_by = [START.to_string(), END.to_string()]
            .into_iter()
            .chain(params.group_by.iter().cloned())
            .collect();
        let held_schema = Aggregate::new(&merge, &bounded, AggregateMode::Partial)?.state_schema();
        let held_keys = (2..2 + keys.len()).collect();
        Ok(Self {
            gap,
            time,
            keys,
            input: input.clone(),
            bounded,
            merge,
            held: HeldRows::new(held_schema, HELD_START),
            held_keys,
            output,
            lateness: params.allowed_lateness_ms.max(0),
            watermark: Watermark::MIN,
            groups: HashMap::new(),
            due: BTreeSet::new(),
            budget: params.memory_bytes.unwrap_or(u64::MAX),
            context: None,
            late_rows: 0,
        })
    }

    fn is_due(&self, window: &Window) -> bool {
        window.max_timestamp().saturating_add(self.lateness) <= self.watermark.0
    }

    /// Adds a row at `ts` of group `key` to its sessions, unless late.
    fn place(&mut self, key: &[u8], ts: i64) -> bool {
        let group = self.groups.get(key);
        let own = Window {
            start: ts,
            end: ts.saturating_add(self.gap),
        };
        if self.is_due(&own) && !group.is_some_and(|g| touches(&g.windows, ts, self.gap)) {
            return false;
        }
        let group = self.groups.entry(key.into()).or_default();
        let merge = add(&mut group.windows, ts, self.gap);
        let mut rows = Vec::new();
        for old in &merge.merged {
            rows.extend(group.held.remove(&old.start).unwrap_or_default());
            self.due.remove(&(old.end, old.start, key.into()));
        }
        group
            .held
            .entry(merge.window.start)
            .or_default()
            .extend(rows);
        self.due
            .insert((merge.window.end, merge.window.start, key.into()));
        true
    }

    /// Keeps `batch` (of the held schema), each row joining the session
    /// its bounds name.
    fn hold(&mut self, batch: Batch) -> Result<(), OperatorError> {
        let columns = views(&batch);
        let ValuesView::Timestamp(starts) = columns[HELD_START].values else {
            return Err(OperatorError::BadInput(
                "session bounds are not timestamps".into(),
            ));
        };
        let keys: Vec<_> = self.held_keys.iter().map(|&k| &columns[k]).collect();
        let mut homes = Vec::with_capacity(batch.num_rows());
        let mut key = Vec::new();
        for (row, &start) in starts.iter().enumerate().take(batch.num_rows()) {
            key.clear();
            encode_key(&keys, row, &mut key);
            homes.push((key.as_slice().to_vec(), start));
        }
        let id = self.held.push(batch);
        for (row, (key, start)) in homes.into_iter().enumerate() {
            let group = self.groups.get_mut(key.as_slice());
            let Some(rows) = group.and_then(|g| g.held.get_mut(&start)) else {
                return Err(OperatorError::BadInput(
                    "a held row lost its session".into(),
                ));
            };
            rows.push((id, row as u32));
        }
        if self.held.bytes() > self.budget {
            return Err(OperatorError::OverBudget {
                operator: "window".into(),
                budget: self.budget,
                detail: format!(
                    "{} open sessions hold {} bytes of state; shorten the gap or the lateness",
                    self.due.len(),
                    self.held.bytes(),
                ),
            });
        }
        Ok(())
    }

    /// Takes every open session's rows and holds them again, merged into
    /// one state row per session — once the held rows are more than
    /// twice the open sessions.
    fn compact(&mut self) -> Result<(), OperatorError> {
        if self.held.rows() <= self.due.len().saturating_mul(2) + SLACK_ROWS {
            return Ok(());
        }
        self.merge_open()?;
        Ok(())
    }

    /// Merges every open session's rows into one state row each, holds
    /// them again and returns them (what a checkpoint saves).
    fn merge_open(&mut self) -> Result<Vec<Batch>, OperatorError> {
        let mut taking = Taking::new();
        for group in self.groups.values_mut() {
            for &window in &group.windows {
                let rows = group.held.get_mut(&window.start).map(std::mem::take);
                schedule(&mut taking, rows.unwrap_or_default(), window);
            }
        }
        let taken = self.held.take(taking)?;
        let mut merge = Aggregate::new(&self.merge, &self.bounded, AggregateMode::Final)?;
        if let Some(context) = &self.context {
            merge.open(context)?;
        }
        // A final aggregate emits only at its end, which is never called.
        let mut none: Vec<Batch> = Vec::new();
        for batch in &taken {
            merge.process(0, &Rows::of_batch(batch), &mut none)?;
        }
        let merged = merge.state_batches();
        merge.close()?;
        let merged = merged?;
        for batch in &merged {
            self.hold(batch.clone())?;
        }
        Ok(merged)
    }

    /// `batches` (held rows with their final bounds) through an aggregate
    /// by session and keys in `mode`: its output.
    fn merge(&self, mode: AggregateMode, batches: Vec<Batch>) -> Result<Vec<Batch>, OperatorError> {
        let mut merge = Aggregate::new(&self.merge, &self.bounded, mode)?;
        let mut results: Vec<Batch> = Vec::new();
        let mut run = || -> Result<(), OperatorError> {
            if let Some(context) = &self.context {
                merge.open(context)?;
            }
            for batch in &batches {
                merge.process(0, &Rows::of_batch(batch), &mut results)?;
            }
            merge.end_input(0, &mut results)
        };
        let result = run();
        let closed = merge.close();
        result.and(closed)?;
        Ok(results)
    }

    /// Emits and drops every due session (all at end of input).
    fn fire(&mut self, all: bool, out: &mut dyn Emit) -> Result<(), OperatorError> {
        let mut taking = Taking::new();
        while let Some((end, start, key)) = self.due.first().cloned() {
            if !all && !self.is_due(&Window { start, end }) {
                break;
            }
            self.due.pop_first();
            let Some(group) = self.groups.get_mut(&key) else {
                continue;
            };
            group.windows.retain(|w| w.start != start);
            let rows = group.held.remove(&start).unwrap_or_default();
            schedule(&mut taking, rows, Window { start, end });
            if group.windows.is_empty() {
                self.groups.remove(&key);
            }
        }
        if taking.is_empty() {
            return Ok(());
        }
        let taken = self.held.take(taking)?;
        for batch in self.merge(AggregateMode::Final, taken)? {
            // Already (start, end, keys, aggregates): only names change.
            let columns = batch.columns().to_vec();
            out.emit(Batch::new(self.output.clone(), batch.num_rows(), columns)?)?;
        }
        Ok(())
    }
}

impl Operator for SessionWindows {
    fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn state_bytes(&self) -> u64 {
        self.held.bytes()
    }

    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.context = Some(context.clone());
        Ok(())
    }

    fn process(
        &mut self,
        _input: usize,
        rows: &Rows<'_>,
        _out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let column = &rows.columns[self.time];
        let ValuesView::Timestamp(times) = column.values else {
            return Err(OperatorError::BadInput(
                "the window's time column is not a timestamp".into(),
            ));
        };
        let keys: Vec<_> = self.keys.iter().map(|&k| &rows.columns[k]).collect();
        let mut placed: Vec<(u32, Box<[u8]>, i64)> = Vec::new();
        let mut key = Vec::new();
        for (row, &ts) in times.iter().enumerate().take(rows.rows) {
            key.clear();
            encode_key(&keys, row, &mut key);
            if !column.is_null(row) && self.place(&key, ts) {
                placed.push((row as u32, key.as_slice().into(), ts));
            } else {
                self.late_rows += 1;
            }
        }
        if placed.is_empty() {
            return Ok(());
        }
        // Bounds once the whole batch has merged: a later row may have
        // bridged the session an earlier one opened.
        let (mut starts, mut ends) = (Vec::new(), Vec::new());
        for (_, key, ts) in &placed {
            let holder = self
                .groups
                .get(key)
                .and_then(|g| containing(&g.windows, *ts))
                .ok_or_else(|| OperatorError::BadInput("a row lost its session".into()))?;
            starts.push(holder.start);
            ends.push(holder.end);
        }
        let picks: Vec<u32> = placed.iter().map(|(row, _, _)| *row).collect();
        let taken = take_batch(&self.input, &rows.columns, &picks)?;
        let mut columns = taken.columns().to_vec();
        for values in [starts, ends] {
            columns.push(Column {
                validity: None,
                data: ColumnData::Timestamp(values),
            });
        }
        let bounded = Batch::new(self.bounded.clone(), picks.len(), columns)?;
        let mut partial = Aggregate::new(&self.merge, &self.bounded, AggregateMode::Partial)?;
        let mut state: Vec<Batch> = Vec::new();
        partial.process(0, &Rows::of_batch(&bounded), &mut state)?;
        partial.end_input(0, &mut state)?;
        partial.close()?;
        for batch in state {
            self.hold(batch)?;
        }
        self.compact()
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.watermark = self.watermark.max(watermark);
        self.fire(false, out)?;
        Ok(Some(watermark))
    }

    fn end_input(&mut self, _input: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.fire(true, out)
    }

    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        self.snapshot().map(Some)
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        self.restore(state)
    }

    fn restore_rescaled(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        self.restore_share(from)
    }
}
