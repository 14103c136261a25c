//! `interval_join`: pairs of a left row `l` and a right row `r` with equal
//! keys and `l.time + lower_ms <= r.time <= l.time + upper_ms` (Flink's
//! interval join; inner). A pair is emitted as soon as its second row
//! arrives: each side's rows are held, indexed by key and time, and every
//! arriving row probes the other side's.
//!
//! The watermark frees what can no longer match: since no row at or
//! behind the watermark `w` is accepted any more, a left row goes once
//! `l.time + upper_ms <= w`, a right row once `r.time - lower_ms <= w`;
//! and once an input ends, the other side's rows (which only waited for
//! it) go too — which is what bounds a batch job's state. A row at or
//! behind the watermark is late: dropped and counted, as is a row with a
//! null time. The watermark passed downstream is held back by
//! `max(0, upper_ms, -lower_ms)`, so no later pair has a time at or
//! behind it.
//!
//! Known limits: inner join only; a held batch is freed when its last row
//! goes (one row that waits long keeps its batch); state is in memory,
//! bounded by `memory_bytes`.

use std::collections::{btree_map, BTreeMap, HashMap};

use super::params::IntervalJoinParams;
use super::{check_sides, held_bytes, over_budget, Pairs, SideColumns, LEFT, RIGHT};
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, ColumnView, Schema};
use crate::kernels::take::take_batch;
use crate::kernels::views;
use crate::message::Watermark;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::operators::join::{joined_fields, order_sides};
use crate::spec::SpecError;

/// The held rows of one key, by time, each as (held batch id, row).
type ByTime = BTreeMap<i64, Vec<(u64, u32)>>;

/// One held batch: how many of its rows still wait, and what it weighs.
struct Held {
    batch: Batch,
    live: usize,
    bytes: u64,
}

/// One side's held rows, by key then time, and by time for freeing them.
#[derive(Default)]
struct Store {
    batches: HashMap<u64, Held>,
    next: u64,
    by_key: HashMap<Box<[u8]>, ByTime>,
    by_time: BTreeMap<i64, Vec<Box<[u8]>>>,
    bytes: u64,
    rows: usize,
}

impl Store {
    /// Holds `batch`, whose row `i` has key and time `entries[i]`.
    fn insert(&mut self, batch: Batch, entries: Vec<(Box<[u8]>, i64)>) -> u64 {
        let id = self.next;
        self.next += 1;
        // Each (key, time) keeps up to two key copies: index and expiry.
        let key_bytes = entries.iter().map(|(k, _)| 2 * k.len()).sum();
        let bytes = held_bytes(&batch, key_bytes);
        let live = entries.len();
        for (row, (key, time)) in entries.into_iter().enumerate() {
            let times = self.by_key.entry(key.clone()).or_default();
            match times.entry(time) {
                btree_map::Entry::Occupied(rows) => rows.into_mut().push((id, row as u32)),
                btree_map::Entry::Vacant(rows) => {
                    rows.insert(vec![(id, row as u32)]);
                    self.by_time.entry(time).or_default().push(key);
                }
            }
        }
        self.batches.insert(id, Held { batch, live, bytes });
        self.bytes += bytes;
        self.rows += live;
        bytes
    }

    /// Appends the rows of `key` with a time in `from..=to` to `out`.
    fn matches(&self, key: &[u8], from: i64, to: i64, out: &mut Vec<(u64, u32)>) {
        let Some(times) = self.by_key.get(key).filter(|_| from <= to) else {
            return;
        };
        for (_, rows) in times.range(from..=to) {
            out.extend_from_slice(rows);
        }
    }

    /// Drops every row with a time at or before `cutoff`.
    fn expire(&mut self, cutoff: i64) {
        let expired = match cutoff.checked_add(1) {
            Some(after) => {
                let kept = self.by_time.split_off(&after);
                std::mem::replace(&mut self.by_time, kept)
            }
            None => std::mem::take(&mut self.by_time),
        };
        for (time, keys) in expired {
            for key in keys {
                let Some(times) = self.by_key.get_mut(&key) else {
                    continue;
                };
                let rows = times.remove(&time).unwrap_or_default();
                if times.is_empty() {
                    self.by_key.remove(&key);
                }
                for (id, _) in rows {
                    self.release(id);
                }
            }
        }
    }

    fn release(&mut self, id: u64) {
        let Some(held) = self.batches.get_mut(&id) else {
            return;
        };
        held.live = held.live.saturating_sub(1);
        self.rows = self.rows.saturating_sub(1);
        if held.live == 0 {
            self.bytes = self.bytes.saturating_sub(held.bytes);
            self.batches.remove(&id);
        }
    }

    fn clear(&mut self) {
        *self = Self {
            next: self.next,
            ..Self::default()
        };
    }
}

/// The running `interval_join`.
pub struct IntervalJoin {
    sides: [SideColumns; 2],
    stores: [Store; 2],
    lower: i64,
    upper: i64,
    output: Schema,
    budget: u64,
    watermark: Watermark,
    ended: [bool; 2],
    late_rows: u64,
    keys: Vec<Option<Box<[u8]>>>,
}

impl IntervalJoin {
    /// An interval join of `left` and `right` rows, holding at most
    /// `budget` bytes of them.
    pub fn new(
        params: &IntervalJoinParams,
        left: &Schema,
        right: &Schema,
        budget: u64,
    ) -> Result<Self, OperatorError> {
        params.check().map_err(OperatorError::BadInput)?;
        Ok(Self {
            sides: [
                SideColumns::new(left, params.names(LEFT))?,
                SideColumns::new(right, params.names(RIGHT))?,
            ],
            stores: [Store::default(), Store::default()],
            lower: params.lower_ms,
            upper: params.upper_ms,
            output: Schema::new(joined_fields(left, right, false, false)),
            budget,
            watermark: Watermark::MIN,
            ended: [false; 2],
            late_rows: 0,
            keys: Vec::new(),
        })
    }

    /// The schema of the joined rows.
    pub fn output_schema(&self) -> &Schema {
        &self.output
    }

    /// Rows held waiting for a match, both sides.
    pub fn buffered_rows(&self) -> usize {
        self.stores.iter().map(|s| s.rows).sum()
    }

    /// The times of the other side's rows that match a row of `side` at `t`.
    fn partners(&self, side: usize, t: i64) -> (i64, i64) {
        match side {
            LEFT => (t.saturating_add(self.lower), t.saturating_add(self.upper)),
            _ => (t.saturating_sub(self.upper), t.saturating_sub(self.lower)),
        }
    }

    /// Rows of `side` at or before this time can no longer match: every
    /// partner they could have would be at or behind the watermark.
    fn cutoff(&self, side: usize) -> i64 {
        match side {
            LEFT => self.watermark.0.saturating_sub(self.upper),
            _ => self.watermark.0.saturating_add(self.lower),
        }
    }

    fn is_late(&self, t: i64) -> bool {
        self.watermark > Watermark::MIN && t <= self.watermark.0
    }
}

impl Operator for IntervalJoin {
    fn late_rows(&self) -> u64 {
        self.late_rows
    }

    fn state_bytes(&self) -> u64 {
        self.stores[LEFT].bytes + self.stores[RIGHT].bytes
    }

    fn process(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let Some(side) = self.sides.get(input) else {
            return Err(OperatorError::BadInput(format!(
                "interval_join has no input {input}"
            )));
        };
        let other = 1 - input;
        let times = side.read(&rows.columns, rows.rows, &mut self.keys)?;
        // Hold a row only if a partner may still come for it.
        let (hold, cutoff) = (!self.ended[other], self.cutoff(input));
        let (mut these, mut partners) = (Vec::new(), Vec::new());
        let (mut kept, mut entries) = (Vec::new(), Vec::new());
        for (row, time) in times.iter().enumerate() {
            let t = match *time {
                Some(t) if !self.is_late(t) => t,
                _ => {
                    self.late_rows += 1;
                    continue;
                }
            };
            let Some(key) = &self.keys[row] else {
                continue;
            };
            let (from, to) = self.partners(input, t);
            self.stores[other].matches(key, from, to, &mut partners);
            these.resize(partners.len(), Some((0, row as u32)));
            if hold && t > cutoff {
                kept.push(row as u32);
                entries.push((key.clone(), t));
            }
        }
        if !partners.is_empty() {
            // Number the held batches the pairs touch, as gather's sources.
            let mut order: HashMap<u64, u32> = HashMap::new();
            let mut held: Vec<&Batch> = Vec::new();
            let mut picks: Vec<Option<(u32, u32)>> = Vec::with_capacity(partners.len());
            for &(id, row) in &partners {
                let source = match order.get(&id) {
                    Some(&source) => source,
                    None => {
                        let batch = self.stores[other].batches.get(&id).ok_or_else(|| {
                            OperatorError::BadInput(format!("interval_join lost held batch {id}"))
                        })?;
                        held.push(&batch.batch);
                        order.insert(id, held.len() as u32 - 1);
                        held.len() as u32 - 1
                    }
                };
                picks.push(Some((source, row)));
            }
            let held_views: Vec<Vec<ColumnView<'_>>> = held.iter().map(|b| views(b)).collect();
            let sources: Vec<&[ColumnView<'_>]> = held_views.iter().map(Vec::as_slice).collect();
            let current = [rows.columns.as_slice()];
            let (left_sources, right_sources, left, right) = match input {
                LEFT => (&current[..], &sources[..], &these, &picks),
                _ => (&sources[..], &current[..], &picks, &these),
            };
            let pairs = Pairs {
                output: &self.output,
                left_width: self.sides[LEFT].schema.fields.len(),
                left_sources,
                right_sources,
            };
            pairs.emit(&|_| Vec::new(), left, right, out)?;
        }
        if !kept.is_empty() {
            let batch = take_batch(&side.schema, &rows.columns, &kept)?;
            self.stores[input].insert(batch, entries);
            let held = self.stores[LEFT].bytes + self.stores[RIGHT].bytes;
            if held > self.budget {
                return Err(over_budget(
                    "interval_join",
                    self.budget,
                    format!(
                        "{held} bytes of rows wait for a match ({} left, {} right); a row is freed only once the watermark passes its interval or the other input ends, so give it more memory or use a narrower interval",
                        self.stores[LEFT].rows, self.stores[RIGHT].rows
                    ),
                ));
            }
        }
        Ok(())
    }

    fn on_watermark(
        &mut self,
        watermark: Watermark,
        _out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        self.watermark = self.watermark.max(watermark);
        for side in [LEFT, RIGHT] {
            let cutoff = self.cutoff(side);
            self.stores[side].expire(cutoff);
        }
        // A later pair is made when its second row arrives (after the
        // watermark); its first may be up to this much older.
        let hold_back = 0.max(self.upper).max(self.lower.saturating_neg());
        Ok(Some(Watermark(self.watermark.0.saturating_sub(hold_back))))
    }

    fn end_input(&mut self, input: usize, _out: &mut dyn Emit) -> Result<(), OperatorError> {
        let Some(ended) = self.ended.get_mut(input) else {
            return Ok(());
        };
        *ended = true;
        // The other side's rows only waited for rows of this input.
        self.stores[1 - input].clear();
        if self.ended == [true; 2] && self.late_rows > 0 {
            tracing::info!(
                late_rows = self.late_rows,
                "interval_join dropped late rows"
            );
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.stores.iter_mut().for_each(Store::clear);
        Ok(())
    }
}

/// The catalogue's `interval_join`.
pub struct IntervalJoinDefinition;

impl OperatorDefinition for IntervalJoinDefinition {
    type Params = IntervalJoinParams;

    fn name(&self) -> &'static str {
        "interval_join"
    }

    fn inputs(&self) -> (usize, usize) {
        (2, 2)
    }

    fn order_inputs(
        &self,
        vertex: &str,
        params: &IntervalJoinParams,
        from: &[&str],
    ) -> Result<Vec<usize>, SpecError> {
        order_sides(vertex, &params.left, &params.right, from)
    }

    fn output_schema(
        &self,
        params: &IntervalJoinParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let (left, right) = check_sides(context, inputs, params.names(LEFT), params.names(RIGHT))?;
        params.check().map_err(|e| context.bad_params(e))?;
        context.unique(Schema::new(joined_fields(left, right, false, false)))
    }

    fn build(
        &self,
        params: &IntervalJoinParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let budget = context.budget(params.memory_bytes);
        let (left, right) = (context.input(LEFT), context.input(RIGHT));
        let join = IntervalJoin::new(params, &left, &right, budget)?;
        Ok(Built::Operator(Box::new(join)))
    }
}
