//! One aggregate's state for every group, as typed vectors indexed by
//! group: updated from raw values, merged from another table's state
//! (after a shuffle or a spill), and emitted as final values or as state.
//!
//! State columns (what a partial aggregate emits): `count` → i64;
//! `sum`, `min`, `max` → the value type, null for a group without values;
//! `avg` → a sum (f64) and a count (i64); `count_distinct` → the set of
//! distinct values itself, as bytes ([`encode_set`]), so a merge is a
//! union and the aggregate splits, spills and checkpoints like the rest.
//!
//! An integer `sum` that overflows BIGINT is an error (the row that
//! overflowed it is reported), not a wrapped total; doubles sum as IEEE
//! 754 does; `min` and `max` of doubles order NaN above every number.

use std::collections::HashSet;

/// One group's distinct values, encoded.
pub(super) type DistinctSet = HashSet<Vec<u8>, foldhash::fast::RandomState>;

use super::AggregateFunction;
use crate::data::{ColumnBuilder, ColumnView, DataType, Field, ValuesView};
use crate::expr::{Array, Values};
use crate::kernels::floats::{compare_f64, key_bits};

/// Typed per-group values of a min/max/sum.
#[derive(Debug)]
pub(super) enum Slots {
    I64(Vec<i64>),
    F64(Vec<f64>),
    Str(Vec<String>),
    Bool(Vec<bool>),
}

impl Slots {
    fn for_type(data_type: DataType) -> Self {
        match data_type {
            DataType::Float64 => Slots::F64(Vec::new()),
            DataType::Utf8 => Slots::Str(Vec::new()),
            DataType::Bool => Slots::Bool(Vec::new()),
            _ => Slots::I64(Vec::new()),
        }
    }

    fn grow(&mut self, groups: usize) {
        match self {
            Slots::I64(v) => v.resize(groups, 0),
            Slots::F64(v) => v.resize(groups, 0.0),
            Slots::Str(v) => v.resize(groups, String::new()),
            Slots::Bool(v) => v.resize(groups, false),
        }
    }
}

/// An integer sum left BIGINT's range at this row of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SumOverflow {
    /// The row (of the raw or state batch being folded).
    pub row: usize,
}

/// The state of one aggregate over all groups of a table.
#[derive(Debug)]
pub struct Accumulator {
    pub(super) function: AggregateFunction,
    /// Output type of the final value.
    data_type: DataType,
    /// Per group: how many values (count; avg's count).
    pub(super) counts: Vec<i64>,
    /// Per group: sum / min / max.
    pub(super) slots: Slots,
    /// avg's sums.
    pub(super) sums: Vec<f64>,
    /// count_distinct's values, encoded.
    pub(super) distinct: Vec<DistinctSet>,
    /// Bytes of the values in `distinct`, for the memory budget.
    distinct_bytes: usize,
}

fn valid(array: &Array<'_>, row: usize) -> bool {
    array.is_valid(row)
}

impl Accumulator {
    /// State for `function` whose final values are of `data_type`.
    pub fn new(function: AggregateFunction, data_type: DataType) -> Self {
        Self {
            function,
            data_type,
            counts: Vec::new(),
            slots: Slots::for_type(data_type),
            sums: Vec::new(),
            distinct: Vec::new(),
            distinct_bytes: 0,
        }
    }

    /// Empty state of the same aggregate.
    pub fn fresh_like(&self) -> Self {
        Self::new(self.function, self.data_type)
    }

    /// Makes room for `groups` groups.
    pub fn grow(&mut self, groups: usize) {
        self.counts.resize(groups, 0);
        match self.function {
            AggregateFunction::Avg => self.sums.resize(groups, 0.0),
            AggregateFunction::CountDistinct => {
                self.distinct.resize_with(groups, DistinctSet::default)
            }
            AggregateFunction::Sum | AggregateFunction::Min | AggregateFunction::Max => {
                self.slots.grow(groups)
            }
            AggregateFunction::Count => {}
        }
    }

    /// Approximate bytes of state per group (for the memory budget).
    pub fn bytes_per_group(&self) -> usize {
        match self.function {
            AggregateFunction::CountDistinct => 48,
            AggregateFunction::Avg => 16,
            _ if self.data_type == DataType::Utf8 => 40,
            _ => 16,
        }
    }

    /// Approximate bytes of state beyond [`Accumulator::bytes_per_group`]:
    /// the distinct values a `count_distinct` holds.
    pub fn held_bytes(&self) -> usize {
        self.distinct_bytes
    }

    /// Folds raw values into their groups; `arg` is `None` for `count(*)`.
    pub fn update(&mut self, groups: &[u32], arg: Option<&Array<'_>>) -> Result<(), SumOverflow> {
        use AggregateFunction as A;
        let Some(arg) = arg else {
            for &g in groups {
                self.counts[g as usize] += 1;
            }
            return Ok(());
        };
        match self.function {
            A::Count => {
                for (row, &g) in groups.iter().enumerate() {
                    self.counts[g as usize] += i64::from(valid(arg, row));
                }
            }
            A::Avg => {
                for (row, &g) in groups.iter().enumerate() {
                    if valid(arg, row) {
                        self.counts[g as usize] += 1;
                        self.sums[g as usize] += number(arg, row);
                    }
                }
            }
            A::CountDistinct => {
                // Most values are seen before: look them up before
                // allocating their copy.
                let mut value = Vec::new();
                for (row, &g) in groups.iter().enumerate() {
                    if valid(arg, row) {
                        value.clear();
                        encode(arg, row, &mut value);
                        if !self.distinct[g as usize].contains(value.as_slice()) {
                            self.insert_distinct(g as usize, value.clone());
                        }
                    }
                }
            }
            A::Sum | A::Min | A::Max => return self.fold(groups, arg),
        }
        Ok(())
    }

    /// Folds another table's state columns (see the module docs) into
    /// their groups.
    pub fn merge(&mut self, groups: &[u32], state: &[Array<'_>]) -> Result<(), SumOverflow> {
        use AggregateFunction as A;
        match self.function {
            A::Count => {
                if let Some(Values::Int64(counts)) = state.first().map(|s| &s.values) {
                    for (row, &g) in groups.iter().enumerate() {
                        self.counts[g as usize] += counts[row];
                    }
                }
            }
            A::Avg => {
                if let (Some(sums), Some(Values::Int64(counts))) =
                    (state.first(), state.get(1).map(|s| &s.values))
                {
                    for (row, &g) in groups.iter().enumerate() {
                        if valid(sums, row) {
                            self.sums[g as usize] += number(sums, row);
                        }
                        self.counts[g as usize] += counts[row];
                    }
                }
            }
            A::Sum | A::Min | A::Max => {
                if let Some(values) = state.first() {
                    return self.fold(groups, values);
                }
            }
            // Read from bytes by `merge_sets`: expressions read no bytes.
            A::CountDistinct => {}
        }
        Ok(())
    }

    /// Folds another table's `count_distinct` state (each row a set of
    /// values as [`encode_set`] wrote it) into their groups: a union.
    pub fn merge_sets(&mut self, groups: &[u32], sets: &ColumnView<'_>) -> Result<(), BadSet> {
        let ValuesView::Binary(bytes) = sets.values else {
            return Err(BadSet { row: 0 });
        };
        for (row, &g) in groups.iter().enumerate() {
            if sets.is_null(row) {
                continue;
            }
            let mut set = bytes.value(row);
            while !set.is_empty() {
                let (value, rest) = next_value(set).ok_or(BadSet { row })?;
                if !self.distinct[g as usize].contains(value) {
                    self.insert_distinct(g as usize, value.to_vec());
                }
                set = rest;
            }
        }
        Ok(())
    }

    fn insert_distinct(&mut self, g: usize, value: Vec<u8>) {
        let bytes = value.len() + DISTINCT_OVERHEAD;
        if self.distinct[g].insert(value) {
            self.distinct_bytes += bytes;
        }
    }

    /// Forgets group `g`'s distinct values (a restore replacing them).
    pub(super) fn clear_distinct(&mut self, g: usize) {
        if let Some(set) = self.distinct.get_mut(g) {
            let held: usize = set.iter().map(|v| v.len() + DISTINCT_OVERHEAD).sum();
            self.distinct_bytes = self.distinct_bytes.saturating_sub(held);
            set.clear();
        }
    }

    fn fold(&mut self, groups: &[u32], arg: &Array<'_>) -> Result<(), SumOverflow> {
        let function = self.function;
        let counts = &mut self.counts;
        macro_rules! fold {
            ($slots:expr, $values:expr, $pick:expr) => {
                for (row, &g) in groups.iter().enumerate() {
                    if !valid(arg, row) {
                        continue;
                    }
                    let g = g as usize;
                    let value = &$values[row];
                    if counts[g] == 0 {
                        $slots[g] = value.clone();
                    } else {
                        $pick(&mut $slots[g], value);
                    }
                    counts[g] += 1;
                }
            };
        }
        match (&mut self.slots, &arg.values) {
            (Slots::I64(slots), Values::Int64(v) | Values::Timestamp(v)) => match function {
                AggregateFunction::Sum => {
                    for (row, &g) in groups.iter().enumerate() {
                        if !valid(arg, row) {
                            continue;
                        }
                        let g = g as usize;
                        slots[g] = if counts[g] == 0 {
                            v[row]
                        } else {
                            slots[g].checked_add(v[row]).ok_or(SumOverflow { row })?
                        };
                        counts[g] += 1;
                    }
                }
                AggregateFunction::Min => fold!(slots, v, |s: &mut i64, x: &i64| *s = (*s).min(*x)),
                _ => fold!(slots, v, |s: &mut i64, x: &i64| *s = (*s).max(*x)),
            },
            (Slots::F64(slots), Values::Float64(v)) => match function {
                AggregateFunction::Sum => fold!(slots, v, |s: &mut f64, x: &f64| *s += *x),
                AggregateFunction::Min => {
                    fold!(
                        slots,
                        v,
                        |s: &mut f64, x: &f64| if compare_f64(*x, *s).is_lt() {
                            *s = *x
                        }
                    )
                }
                _ => fold!(
                    slots,
                    v,
                    |s: &mut f64, x: &f64| if compare_f64(*x, *s).is_gt() {
                        *s = *x
                    }
                ),
            },
            (Slots::Bool(slots), Values::Bool(v)) => match function {
                AggregateFunction::Min => fold!(slots, v, |s: &mut bool, x: &bool| *s = *s && *x),
                _ => fold!(slots, v, |s: &mut bool, x: &bool| *s = *s || *x),
            },
            (Slots::Str(slots), Values::Utf8(text)) => {
                for (row, &g) in groups.iter().enumerate() {
                    if !valid(arg, row) {
                        continue;
                    }
                    let (g, value) = (g as usize, text.get(row));
                    let better = counts[g] == 0
                        || match function {
                            AggregateFunction::Min => value < slots[g].as_str(),
                            _ => value > slots[g].as_str(),
                        };
                    if better {
                        slots[g] = value.to_string();
                    }
                    counts[g] += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The state fields of this aggregate called `name`.
    pub fn state_fields(&self, name: &str) -> Vec<Field> {
        match self.function {
            AggregateFunction::Count => vec![Field::new(name, DataType::Int64)],
            AggregateFunction::CountDistinct => vec![Field::new(name, DataType::Binary)],
            AggregateFunction::Avg => vec![
                Field::nullable(format!("{name}__sum"), DataType::Float64),
                Field::new(format!("{name}__count"), DataType::Int64),
            ],
            _ => vec![Field::nullable(name, self.data_type)],
        }
    }

    /// Appends group `g`'s state to `builders` (one per state field).
    pub fn push_state(
        &self,
        g: usize,
        builders: &mut [ColumnBuilder],
    ) -> Result<(), crate::data::BatchError> {
        match self.function {
            AggregateFunction::Avg => {
                builders[0].push_f64(self.sums[g])?;
                builders[1].push_i64(self.counts[g])
            }
            AggregateFunction::CountDistinct => {
                builders[0].push_bytes(&encode_set(&self.distinct[g]))
            }
            _ => self.push_final(g, &mut builders[0]),
        }
    }

    /// Appends group `g`'s final value to `builder`.
    pub fn push_final(
        &self,
        g: usize,
        builder: &mut ColumnBuilder,
    ) -> Result<(), crate::data::BatchError> {
        use AggregateFunction as A;
        match self.function {
            A::Count => builder.push_i64(self.counts[g]),
            A::CountDistinct => builder.push_i64(self.distinct[g].len() as i64),
            A::Avg if self.counts[g] == 0 => builder.push_null(),
            A::Avg => builder.push_f64(self.sums[g] / self.counts[g] as f64),
            _ if self.counts[g] == 0 => builder.push_null(),
            _ => match &self.slots {
                Slots::I64(v) => builder.push_i64(v[g]),
                Slots::F64(v) => builder.push_f64(v[g]),
                Slots::Str(v) => builder.push_str(&v[g]),
                Slots::Bool(v) => builder.push_bool(v[g]),
            },
        }
    }
}

pub(super) fn number(array: &Array<'_>, row: usize) -> f64 {
    match &array.values {
        Values::Int64(v) | Values::Timestamp(v) => v[row] as f64,
        Values::Float64(v) => v[row],
        _ => 0.0,
    }
}

/// A row of `count_distinct` state that is not a set [`encode_set`]
/// wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSet {
    /// The row of the state batch.
    pub row: usize,
}

/// What a held distinct value costs beyond its bytes (the set's slot and
/// the vector's header), for the memory budget.
const DISTINCT_OVERHEAD: usize = 40;

/// A set of distinct values as bytes: each value behind its length (u32,
/// little-endian), in no particular order.
pub(super) fn encode_set(set: &DistinctSet) -> Vec<u8> {
    let mut out = Vec::with_capacity(set.iter().map(|v| v.len() + 4).sum());
    for value in set {
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    out
}

/// The first value of an encoded set and the rest; `None` if cut short.
fn next_value(set: &[u8]) -> Option<(&[u8], &[u8])> {
    let (length, rest) = set.split_first_chunk::<4>()?;
    let length = u32::from_le_bytes(*length) as usize;
    (rest.len() >= length).then(|| rest.split_at(length))
}

/// Appends row `row`'s value to `out`, as the distinct sets hold it.
fn encode(array: &Array<'_>, row: usize, out: &mut Vec<u8>) {
    match &array.values {
        Values::Int64(v) | Values::Timestamp(v) => out.extend_from_slice(&v[row].to_le_bytes()),
        Values::Float64(v) => out.extend_from_slice(&key_bits(v[row]).to_le_bytes()),
        Values::Bool(v) => out.push(u8::from(v[row])),
        Values::Utf8(s) => out.extend_from_slice(s.bytes(row)),
    }
}
