//! Aligned windows — tumbling, hopping, cumulating — whose windows follow
//! from a row's time alone. Each open window keeps an incremental
//! [`Aggregate`] (the batch accumulators, spilling as they do), so a
//! window's result is exactly the batch aggregate of its rows.
//!
//! The row's time is its event-time column, or (processing time) the
//! wall clock when the batch arrives. Event-time windows fire when the
//! watermark passes their end plus the allowed lateness; wall-clock
//! windows once the clock has passed their end: the operator's timer
//! (`Operator::timer`) wakes the task at the earliest open window's end,
//! so a silent input does not delay them.
//!
//! At a checkpoint the open windows' groups, the watermark and the late
//! count are snapshotted (`aligned_state`), and restored before the
//! operator opens. In a checkpointed job each window's aggregate tracks
//! the groups it changes, and a snapshot is incremental: a part per
//! window and key group, unchanged, appended to or whole (numbered
//! `1 + window id × 128 + key group`, where a window's id is the
//! smallest no other open window has; part 0 is the header).

use std::collections::BTreeMap;

use super::aggregate::with_bounds;
use super::aligned_state::{decode, encode_header, encode_rows, Saved, WindowKey};
use super::assign::{Assigner, Window};
use super::WindowParams;
use crate::checkpoint::Rescaled;
use crate::data::{Batch, Schema, ValuesView};
use crate::kernels::take::take_batch;
use crate::message::Watermark;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::aggregate::{
    Aggregate, AggregateMode, AggregateParams, StatePiece, STATE_KEY_GROUPS,
};
use crate::state::parts::{Part, StateSnapshot};

/// Milliseconds since the epoch, by the wall clock.
pub fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Where a row's time comes from.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// This column (a timestamp).
    Event(usize),
    /// The wall clock at arrival, read by this function (a test's may
    /// be fake).
    Wall(fn() -> i64),
}

/// The running operator for aligned windows.
pub struct AlignedWindows {
    assigner: Assigner,
    clock: Clock,
    params: AggregateParams,
    input: Schema,
    output: Schema,
    lateness: i64,
    watermark: Watermark,
    open: BTreeMap<WindowKey, Aggregate>,
    context: Option<OperatorContext>,
    late_rows: u64,
    /// Checkpointed: windows track their changes, for incremental
    /// snapshots.
    incremental: bool,
    /// Each open window's id, numbering its parts.
    ids: BTreeMap<WindowKey, u32>,
    /// The checkpoint of the newest snapshot taken (0: none).
    taken: u64,
}

impl AlignedWindows {
    /// Windows of `params` (not sessions) over rows of `input`, emitting
    /// `output`; `wall` is the clock processing time reads.
    pub fn new(
        params: &WindowParams,
        assigner: Assigner,
        input: &Schema,
        output: Schema,
        wall: fn() -> i64,
    ) -> Result<Self, OperatorError> {
        let clock = match &params.time {
            Some(time) => Clock::Event(
                input
                    .index_of(time)
                    .ok_or_else(|| OperatorError::BadInput(format!("no time column {time}")))?,
            ),
            None => Clock::Wall(wall),
        };
        Ok(Self {
            assigner,
            clock,
            params: params.aggregate(),
            input: input.clone(),
            output,
            lateness: params.allowed_lateness_ms.max(0),
            watermark: Watermark::MIN,
            open: BTreeMap::new(),
            context: None,
            late_rows: 0,
            incremental: false,
            ids: BTreeMap::new(),
            taken: 0,
        })
    }

    /// Makes its snapshots incremental (in a checkpointed job): each
    /// window's aggregate tracks the groups it changes.
    pub fn incremental(mut self) -> Self {
        self.incremental = true;
        self
    }

    /// A fresh aggregate for a window opening now, with its id.
    fn open_window(&mut self, key: WindowKey) -> Result<(), OperatorError> {
        let mut aggregate = Aggregate::new(&self.params, &self.input, AggregateMode::Complete)?;
        if self.incremental {
            aggregate.track_changes(self.taken);
        }
        if let Some(context) = &self.context {
            aggregate.open(context)?;
        }
        let used: std::collections::BTreeSet<u32> = self.ids.values().copied().collect();
        let id = (0..).find(|id| !used.contains(id)).unwrap_or(0);
        self.ids.insert(key, id);
        self.open.insert(key, aggregate);
        Ok(())
    }

    /// The clock's time for this call, read once so that rows assigned by
    /// it never land in a window it already counts as complete.
    fn now(&self) -> i64 {
        match self.clock {
            Clock::Event(_) => self.watermark.0,
            Clock::Wall(now) => now(),
        }
    }

    /// Whether `window` is complete at `now` (from [`Self::now`]).
    fn fired(&self, window: &Window, now: i64) -> bool {
        match self.clock {
            Clock::Event(_) => window.max_timestamp().saturating_add(self.lateness) <= now,
            Clock::Wall(_) => window.end <= now,
        }
    }

    /// Emits and drops every window complete at `now` (all of them at
    /// `i64::MAX`: end of input), earliest end first.
    fn fire(&mut self, now: i64, out: &mut dyn Emit) -> Result<(), OperatorError> {
        while let Some((&(end, start), _)) = self.open.first_key_value() {
            if !self.fired(&Window { start, end }, now) {
                break;
            }
            let Some(mut aggregate) = self.open.remove(&(end, start)) else {
                break;
            };
            self.ids.remove(&(end, start));
            let mut results: Vec<Batch> = Vec::new();
            aggregate.end_input(0, &mut results)?;
            aggregate.close()?;
            for batch in results {
                out.emit(with_bounds(&self.output, start, end, &batch)?)?;
            }
        }
        Ok(())
    }

    /// Each row's time, or `None` for a row without one.
    fn times(&self, rows: &Rows<'_>, now: i64) -> Result<Vec<Option<i64>>, OperatorError> {
        match self.clock {
            Clock::Wall(_) => Ok(vec![Some(now); rows.rows]),
            Clock::Event(time) => {
                let column = &rows.columns[time];
                let ValuesView::Timestamp(times) = column.values else {
                    return Err(OperatorError::BadInput(
                        "the window's time column is not a timestamp".into(),
                    ));
                };
                Ok((0..rows.rows)
                    .map(|row| (!column.is_null(row)).then(|| times[row]))
                    .collect())
            }
        }
    }
}

impl AlignedWindows {
    /// The aggregate of window `key`, opened if it is not.
    fn window(&mut self, key: WindowKey) -> Result<&mut Aggregate, OperatorError> {
        if !self.open.contains_key(&key) {
            self.open_window(key)?;
        }
        self.open
            .get_mut(&key)
            .ok_or_else(|| OperatorError::BadInput("a window opened and gone".into()))
    }

    /// Takes back one subtask's saved state: pieces in order, each row
    /// replacing what its group held.
    fn restore_saved(&mut self, saved: Saved) -> Result<(), OperatorError> {
        self.watermark = Watermark(saved.watermark);
        self.late_rows = saved.late_rows;
        for (key, batch) in saved.pieces {
            self.window(key)?.absorb_replacing(&batch)?;
        }
        Ok(())
    }

    /// Each window's state as whole state batches (its saved pieces
    /// read in order): what an old subtask leaves a rescaled restore.
    fn windows_of(&self, saved: Saved) -> Result<BTreeMap<WindowKey, Vec<Batch>>, OperatorError> {
        let mut staging: BTreeMap<WindowKey, Aggregate> = BTreeMap::new();
        for (key, batch) in saved.pieces {
            let aggregate =
                match staging.entry(key) {
                    std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                    std::collections::btree_map::Entry::Vacant(entry) => entry.insert(
                        Aggregate::new(&self.params, &self.input, AggregateMode::Complete)?,
                    ),
                };
            aggregate.absorb_replacing(&batch)?;
        }
        let mut windows = BTreeMap::new();
        for (key, mut aggregate) in staging {
            windows.insert(key, aggregate.state_batches()?);
        }
        Ok(windows)
    }
}

impl Operator for AlignedWindows {
    /// Processing-time windows fire by the clock: at the earliest open
    /// window's end, input or not.
    fn timer(&self) -> Option<std::time::Instant> {
        let Clock::Wall(now) = self.clock else {
            return None;
        };
        let (&(end, _), _) = self.open.first_key_value()?;
        let wait = u64::try_from(end.saturating_sub(now())).unwrap_or(0);
        Some(std::time::Instant::now() + std::time::Duration::from_millis(wait))
    }

    fn on_timer(&mut self, out: &mut dyn Emit) -> Result<(), OperatorError> {
        let now = self.now();
        self.fire(now, out)
    }

    fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn state_bytes(&self) -> u64 {
        self.open.values().map(Operator::state_bytes).sum()
    }

    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.context = Some(context.clone());
        // Windows a restore brought back.
        for aggregate in self.open.values_mut() {
            aggregate.open(context)?;
        }
        Ok(())
    }

    fn snapshot_parts(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
    ) -> Result<Option<StateSnapshot>, OperatorError> {
        let header = encode_header(self.watermark.0, self.late_rows);
        let mut parts = vec![(0, Part::Changed(header))];
        for (key, aggregate) in &mut self.open {
            let id = self.ids.get(key).copied().unwrap_or(0);
            for (key_group, piece) in aggregate.snapshot_pieces(checkpoint, since)? {
                let part = id
                    .checked_mul(STATE_KEY_GROUPS)
                    .and_then(|p| p.checked_add(key_group + 1))
                    .ok_or_else(|| {
                        OperatorError::BadInput(format!("window {id} past the part numbers"))
                    })?;
                let part_state = match piece {
                    StatePiece::Unchanged => Part::Unchanged,
                    StatePiece::Appended(batch) => Part::Appended(encode_rows(*key, &batch)),
                    StatePiece::Whole(batch) => Part::Changed(encode_rows(*key, &batch)),
                };
                parts.push((part, part_state));
            }
        }
        parts.sort_by_key(|(part, _)| *part);
        self.taken = self.taken.max(checkpoint);
        Ok(Some(StateSnapshot::Parts(parts)))
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        self.restore_saved(decode(state)?)
    }

    /// Keyed (a hash edge feeds it), each old subtask's windows give up
    /// the groups whose keys this subtask now owns; unkeyed (a partial
    /// aggregate before its shuffle), whole states move. The watermark is
    /// the lowest saved, so no row the old subtasks would have counted is
    /// dropped as late.
    fn restore_rescaled(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        let mut watermark = i64::MAX;
        let mut late_rows = 0;
        for (old, bytes) in from.states {
            let saved = decode(bytes)?;
            watermark = watermark.min(saved.watermark);
            let adopted = from.adopts(*old);
            if adopted {
                late_rows += saved.late_rows;
            }
            match from.keys {
                // Each key was one old subtask's: its rows, in order,
                // replace one another as in a restore at the same
                // parallelism.
                Some(_) => {
                    for (key, batch) in saved.pieces {
                        let owned = from.owned_rows(&batch, "window state")?;
                        if owned.num_rows() > 0 {
                            self.window(key)?.absorb_replacing(&owned)?;
                        }
                    }
                }
                // Whole states of unkeyed windows: old subtasks' shares
                // of one window add up.
                None if adopted => {
                    for (key, batches) in self.windows_of(saved)? {
                        self.window(key)?.merge_state(&batches)?;
                    }
                }
                None => {}
            }
        }
        self.watermark = Watermark(watermark);
        self.late_rows = late_rows;
        Ok(())
    }

    fn process(
        &mut self,
        _input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let now = self.now();
        if let Clock::Wall(_) = self.clock {
            // Before assigning: these rows arrive after those windows.
            self.fire(now, out)?;
        }
        let mut per_window: BTreeMap<(i64, i64), Vec<u32>> = BTreeMap::new();
        let mut windows = Vec::with_capacity(self.assigner.windows_per_row());
        for (row, ts) in self.times(rows, now)?.into_iter().enumerate() {
            let Some(ts) = ts else {
                self.late_rows += 1;
                continue;
            };
            windows.clear();
            self.assigner.assign(ts, &mut windows);
            let mut placed = false;
            for window in windows.iter().filter(|w| !self.fired(w, now)) {
                per_window
                    .entry((window.end, window.start))
                    .or_default()
                    .push(row as u32);
                placed = true;
            }
            self.late_rows += u64::from(!placed);
        }
        for (key, picks) in per_window {
            let batch = take_batch(&self.input, &rows.columns, &picks)?;
            let aggregate = self.window(key)?;
            let mut early: Vec<Batch> = Vec::new();
            aggregate.process(0, &Rows::of_batch(&batch), &mut early)?;
        }
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.watermark = self.watermark.max(watermark);
        let now = self.now();
        self.fire(now, out)?;
        Ok(Some(watermark))
    }

    fn end_input(&mut self, _input: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.fire(i64::MAX, out)
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        let mut first = None;
        for (_, mut aggregate) in std::mem::take(&mut self.open) {
            if let Err(error) = aggregate.close() {
                first.get_or_insert(error);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchBuilder, DataType, Field, Value};
    use crate::operators::window::WindowParams;
    use std::sync::atomic::{AtomicI64, Ordering};

    static FAKE_NOW: AtomicI64 = AtomicI64::new(0);

    fn fake_now() -> i64 {
        FAKE_NOW.load(Ordering::SeqCst)
    }

    #[test]
    fn wall_clock_windows_take_the_arrival_time_and_fire_once_it_passes_their_end() {
        let schema = Schema::new(vec![Field::new("v", DataType::Int64)]);
        let params: WindowParams = serde_json::from_value(serde_json::json!({
            "processing_time": true, "window": {"tumbling": {"size_ms": 100}},
            "aggregates": [{"name": "n", "function": "count"}]}))
        .unwrap();
        let output = Schema::new(vec![
            Field::new("window_start", DataType::Timestamp),
            Field::new("window_end", DataType::Timestamp),
            Field::new("n", DataType::Int64),
        ]);
        let assigner = params.assigner().unwrap();
        let mut op = AlignedWindows::new(&params, assigner, &schema, output, fake_now).unwrap();
        let batch = |n: usize| {
            let mut b = BatchBuilder::new(schema.clone(), n);
            for i in 0..n {
                b.push_row(&[Value::Int64(i as i64)]).unwrap();
            }
            b.finish().unwrap()
        };
        let mut out = Vec::new();
        FAKE_NOW.store(1_050, Ordering::SeqCst);
        op.process(0, &Rows::of_batch(&batch(3)), &mut out).unwrap();
        FAKE_NOW.store(1_099, Ordering::SeqCst);
        op.process(0, &Rows::of_batch(&batch(2)), &mut out).unwrap();
        assert!(out.is_empty(), "the clock has not passed 1100");
        FAKE_NOW.store(1_100, Ordering::SeqCst);
        op.on_watermark(Watermark::MIN, &mut out).unwrap();
        let rows = crate::kernels::views(&out[0]);
        assert_eq!(
            (0..3).map(|c| rows[c].value(0)).collect::<Vec<_>>(),
            [
                Value::Timestamp(1_000),
                Value::Timestamp(1_100),
                Value::Int64(5)
            ]
        );
        op.process(0, &Rows::of_batch(&batch(1)), &mut out).unwrap();
        op.end_input(0, &mut out).unwrap();
        assert_eq!(out.len(), 2, "end of input fires the open window");
        assert_eq!(op.late_rows(), 0);
    }
}
