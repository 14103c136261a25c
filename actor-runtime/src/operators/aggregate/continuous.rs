//! The continuous aggregate: `aggregate` in a streaming job, where input
//! never ends, so results cannot wait for it. As Flink's unwindowed group
//! aggregate does (without mini-batches), it emits after *each input
//! batch* the change to every group that batch touched: `-U` of the old
//! row and `+U` of the new one for a group that existed and changed, `+I`
//! for a new group, `-D` for a group whose last row was retracted, and
//! nothing for a group whose row came out the same. Its output is a
//! changelog ([`crate::data::RowKind`]): applied in order it is, after
//! every batch, the batch aggregate of the rows so far.
//!
//! It consumes changelogs too: a retracted input row (`-U`, `-D`) takes
//! its value back out of `count`, `sum` and `avg` ([`super::retract`]);
//! validation refuses `min`, `max` and `count_distinct` over a changelog.
//! Each group counts its net rows, so "the group exists" means "it has a
//! row", as SQL's `GROUP BY` does; a retraction of a row never inserted is
//! an error.
//!
//! It is checkpointed incrementally: its groups are kept by key group,
//! and a checkpoint stores only the key groups a batch touched since the
//! last complete one ([`super::continuous_state`]).
//!
//! Known limits: state is held in memory (no spilling; beyond its budget
//! it fails `OverBudget`), and a deleted group keeps its slot in the table
//! (state grows with the distinct keys ever seen). A global aggregate (no
//! `group_by`) over no rows emits nothing, where a batch job emits one row.

use std::collections::HashMap;

use super::key_groups::KeyGroupIndex;
use super::retract::SignedError;
use super::{Aggregate, AggregateMode, AggregateParams};
use crate::checkpoint::Rescaled;
use crate::data::{Batch, ColumnBuilder, RowKind, Schema};
use crate::expr::{EvalContext, ExprError};
use crate::kernels::take::take;
use crate::kernels::views;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::state::parts::StateSnapshot;

/// `aggregate` emitting updates per batch, over inserts or a changelog.
pub struct ContinuousAggregate {
    /// The batch aggregate whose table, shape and errors it shares.
    pub(super) inner: Aggregate,
    /// Per group: rows inserted less rows retracted.
    pub(super) live: Vec<i64>,
    /// Its groups by key group, and which changed when: what its
    /// incremental checkpoints need ([`super::continuous_state`]).
    pub(super) key_groups: KeyGroupIndex,
    /// What it was made of, to make another like it (a restore's
    /// staging).
    pub(super) made_of: (AggregateParams, Schema),
}

impl ContinuousAggregate {
    /// A continuous aggregate of `params` over rows of `input`.
    pub fn new(params: &AggregateParams, input: &Schema) -> Result<Self, OperatorError> {
        Ok(Self {
            inner: Aggregate::new(params, input, AggregateMode::Complete)?,
            live: Vec::new(),
            key_groups: KeyGroupIndex::default(),
            made_of: (params.clone(), input.clone()),
        })
    }

    /// The schema of its output rows (keys, then each aggregate's value).
    pub fn output_schema(&self) -> Schema {
        self.inner.output_schema()
    }

    /// Appends group `g`'s current value of every aggregate to `builders`.
    fn push_values(&self, g: usize, builders: &mut [ColumnBuilder]) -> Result<(), OperatorError> {
        for (acc, builder) in self.inner.table.accumulators.iter().zip(builders) {
            acc.push_final(g, builder)?;
        }
        Ok(())
    }

    /// Folds `rows` in, each with its kind's sign.
    fn fold(&mut self, rows: &Rows<'_>, groups: &[u32]) -> Result<(), OperatorError> {
        let Some(kinds) = rows.kinds else {
            let mut table = std::mem::replace(&mut self.inner.table, super::GroupTable::empty());
            // The groups are known; folding finds the same ones again.
            let folded = self.inner.fold(&mut table, rows, false);
            self.inner.table = table;
            return folded.map(drop);
        };
        let input = rows.input(EvalContext::default());
        for a in 0..self.inner.table.accumulators.len() {
            let arg = match &self.inner.shape.args[a] {
                Some(expr) => Some(expr.eval(&input)?.into_array(expr.ty(), rows.rows)),
                None => None,
            };
            let acc = &mut self.inner.table.accumulators[a];
            match acc.update_signed(groups, arg.as_ref(), kinds) {
                Ok(()) => {}
                Err(SignedError::Overflow(overflow)) => {
                    return Err(self.inner.overflow(a, rows, overflow))
                }
                Err(SignedError::NotRetractable { row }) => {
                    let column = &self.inner.shape.columns[a];
                    return Err(OperatorError::BadInput(format!(
                        "aggregate {:?} ({:?}) cannot take the retraction at row {row}: \
                         only count, sum and avg can",
                        column.name, column.function
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Operator for ContinuousAggregate {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.inner.open(context)
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let key_columns: Vec<_> = self.inner.keys.iter().map(|&k| &rows.columns[k]).collect();
        let groups = self.inner.table.groups_of(&key_columns, rows.rows)?;
        self.key_groups.place(&key_columns, rows.rows, &groups);
        self.live.resize(self.inner.table.len(), 0);
        // The groups the batch touches, in first-seen order, each with a
        // row of it (whose key columns give the group's key).
        let mut first_row: HashMap<u32, usize> = HashMap::new();
        let mut touched: Vec<(u32, usize)> = Vec::new();
        for (row, &g) in groups.iter().enumerate() {
            first_row.entry(g).or_insert_with(|| {
                touched.push((g, row));
                row
            });
        }
        for &(g, _) in &touched {
            self.key_groups.touch(g);
        }
        let fields = self.output_schema().fields[self.inner.keys.len()..].to_vec();
        let mut values: Vec<ColumnBuilder> = fields
            .iter()
            .map(|f| ColumnBuilder::new(f.clone(), touched.len() * 2))
            .collect();
        // Old values first (rows 0..n of `values`), then new (n..2n).
        let existed: Vec<bool> = touched
            .iter()
            .map(|&(g, _)| self.live[g as usize] > 0)
            .collect();
        for &(g, _) in &touched {
            self.push_values(g as usize, &mut values)?;
        }
        self.fold(rows, &groups)?;
        for (row, &g) in groups.iter().enumerate() {
            self.live[g as usize] += if rows.kind(row).is_retraction() {
                -1
            } else {
                1
            };
        }
        for &(g, row) in &touched {
            let g = g as usize;
            if self.live[g] < 0 {
                let keys = crate::expr::row_values(
                    &rows.input(EvalContext::default()),
                    &self.inner.keys,
                    row,
                );
                return Err(OperatorError::Expr(ExprError::BadValue {
                    text: "aggregate".into(),
                    problem: "the changelog retracts a row of a group that has none".into(),
                    values: keys,
                    row: Some(row),
                }));
            }
            if self.live[g] == 0 {
                for acc in &mut self.inner.table.accumulators {
                    acc.reset(g);
                }
            }
            self.push_values(g, &mut values)?;
        }
        if self.inner.over_budget() {
            return Err(OperatorError::OverBudget {
                operator: "aggregate".into(),
                budget: self.inner.budget.unwrap_or(0),
                detail: format!(
                    "{} groups of a continuous aggregate, which cannot spill",
                    self.inner.table.len()
                ),
            });
        }
        let value_schema = Schema::new(fields);
        let n = touched.len();
        let values = Batch::new(
            value_schema,
            n * 2,
            values.into_iter().map(ColumnBuilder::finish).collect(),
        )?;
        let value_views = views(&values);
        // Which input row gives each output row its key, which row of
        // `values` its aggregates, and its kind.
        let (mut key_rows, mut value_rows, mut kinds) = (Vec::new(), Vec::new(), Vec::new());
        for (t, &(g, row)) in touched.iter().enumerate() {
            let exists = self.live[g as usize] > 0;
            let unchanged = existed[t]
                && exists
                && value_views
                    .iter()
                    .all(|column| column.value(t) == column.value(n + t));
            if unchanged {
                continue;
            }
            let mut push = |value_row: usize, kind: RowKind| {
                key_rows.push(row as u32);
                value_rows.push(value_row as u32);
                kinds.push(kind);
            };
            match (existed[t], exists) {
                (true, true) => {
                    push(t, RowKind::UpdateBefore);
                    push(n + t, RowKind::UpdateAfter);
                }
                (false, true) => push(n + t, RowKind::Insert),
                (true, false) => push(t, RowKind::Delete),
                (false, false) => {}
            }
        }
        if kinds.is_empty() {
            return Ok(());
        }
        let mut columns: Vec<_> = self
            .inner
            .keys
            .iter()
            .map(|&k| take(&rows.columns[k], &key_rows))
            .collect();
        columns.extend(value_views.iter().map(|c| take(c, &value_rows)));
        let batch = Batch::new(self.output_schema(), kinds.len(), columns)?.with_kinds(&kinds)?;
        out.emit(batch)
    }

    fn snapshot_parts(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
    ) -> Result<Option<StateSnapshot>, OperatorError> {
        self.snapshot_in_parts(checkpoint, since)
    }

    fn restore_state(&mut self, state: &[u8]) -> Result<(), OperatorError> {
        self.restore_saved(state)
    }

    fn restore_rescaled(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        self.restore_share(from)
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.inner.close()
    }
}
