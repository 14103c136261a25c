//! Retractions in accumulators: folding a changelog's rows in with their
//! sign, for the continuous aggregate ([`super::continuous`]).
//!
//! `count`, `sum` and `avg` are invertible: a retracted row (`-U`, `-D`)
//! takes its value back out, so their state stays a count and a sum.
//! `min`, `max` and `count_distinct` are not — retracting the current
//! minimum needs the next one — and Faro keeps no per-group multiset of
//! values for them, so validation refuses them over a changelog, naming
//! the aggregate ([`retractable`]); a retraction reaching one anyway is an
//! error here, not a wrong answer.

use super::accumulator::{number, Accumulator, Slots, SumOverflow};
use super::AggregateFunction;
use crate::data::RowKinds;
use crate::expr::{Array, Values};

/// Whether `function` can take retractions (see the module docs).
pub fn retractable(function: AggregateFunction) -> bool {
    matches!(
        function,
        AggregateFunction::Count | AggregateFunction::Sum | AggregateFunction::Avg
    )
}

/// Why a signed fold failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedError {
    /// An integer sum left BIGINT's range.
    Overflow(SumOverflow),
    /// A retraction reached a function that cannot take one, at this row.
    NotRetractable {
        /// The row.
        row: usize,
    },
}

impl Accumulator {
    /// Folds raw values into their groups with each row's sign: a row
    /// whose kind is a retraction takes its value back out. `arg` is
    /// `None` for `count(*)`.
    pub fn update_signed(
        &mut self,
        groups: &[u32],
        arg: Option<&Array<'_>>,
        kinds: RowKinds<'_>,
    ) -> Result<(), SignedError> {
        if !retractable(self.function) {
            if let Some(row) = kinds.iter().position(|kind| kind.is_retraction()) {
                return Err(SignedError::NotRetractable { row });
            }
            return self.update(groups, arg).map_err(SignedError::Overflow);
        }
        for (row, &g) in groups.iter().enumerate() {
            let g = g as usize;
            let sign: i64 = if kinds.get(row).is_retraction() {
                -1
            } else {
                1
            };
            let Some(arg) = arg else {
                self.counts[g] += sign;
                continue;
            };
            if !arg.is_valid(row) {
                continue;
            }
            match self.function {
                AggregateFunction::Avg => self.sums[g] += sign as f64 * number(arg, row),
                AggregateFunction::Sum => self.add_to_sum(g, arg, row, sign)?,
                _ => {}
            }
            self.counts[g] += sign;
        }
        Ok(())
    }

    /// Adds (`sign` 1) or takes out (-1) row `row`'s value to group `g`'s
    /// sum; the sum of a group without values is null, so it restarts.
    fn add_to_sum(
        &mut self,
        g: usize,
        arg: &Array<'_>,
        row: usize,
        sign: i64,
    ) -> Result<(), SignedError> {
        let fresh = self.counts[g] == 0;
        match (&mut self.slots, &arg.values) {
            (Slots::I64(slots), Values::Int64(v) | Values::Timestamp(v)) => {
                let value = v[row];
                let start = if fresh { 0 } else { slots[g] };
                slots[g] = if sign > 0 {
                    start.checked_add(value)
                } else {
                    start.checked_sub(value)
                }
                .ok_or(SignedError::Overflow(SumOverflow { row }))?;
            }
            (Slots::F64(slots), Values::Float64(v)) => {
                let start = if fresh { 0.0 } else { slots[g] };
                slots[g] = start + sign as f64 * v[row];
            }
            _ => {}
        }
        Ok(())
    }

    /// Forgets group `g`'s state: its last row was retracted, and a row
    /// that brings it back starts afresh (no float residue of old sums).
    pub fn reset(&mut self, g: usize) {
        self.counts[g] = 0;
        if let Some(sum) = self.sums.get_mut(g) {
            *sum = 0.0;
        }
        self.clear_distinct(g);
    }
}
