//! `aggregate`: hash aggregation with a memory budget.
//!
//! Three modes make "combine before shuffling" possible: a *partial*
//! aggregate (chained to the producer) folds raw rows into per-group state
//! and emits that state — early, whenever its table outgrows the budget,
//! since the final side merges anyway; a *final* aggregate (after the hash
//! exchange) merges state; a *complete* one does both in one place.
//!
//! Over budget, a complete or final aggregate spills its table as state
//! batches into 16 files by key hash and starts afresh; at the end it
//! merges each file on its own, so it needs memory for about 1/16 of the
//! groups at a time and still produces the exact answer.
//!
//! In a streaming job `aggregate` is continuous instead
//! ([`ContinuousAggregate`]): it emits a changelog of updates after each
//! batch, and takes retractions in its input.
//!
//! Its output and state schemas are worked out in one place,
//! [`AggregateShape`], which validation and planning use too; its
//! catalogue entry is [`AggregateDefinition`].

mod accumulator;
mod continuous;
mod continuous_state;
mod definition;
mod key_groups;
mod pieces;
mod retract;
mod schema;
mod table;

use std::path::PathBuf;

use accumulator::SumOverflow;
pub use continuous::ContinuousAggregate;
pub use definition::{AggregateDefinition, AggregateFunction, AggregateParams, AggregateSpec};
use key_groups::KeyGroupIndex;
pub use key_groups::STATE_KEY_GROUPS;
pub use pieces::StatePiece;
pub use retract::retractable;
use schema::accumulators;
pub use schema::AggregateShape;
use table::GroupTable;

use crate::data::{Batch, Schema};
use crate::expr::{excerpt, row_values, EvalContext, ExprError};
use crate::kernels::hash::{hash_rows, partition_of};
use crate::kernels::views;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::spill::SpillWriter;
use crate::spec::SpecError;

/// Where an aggregate sits relative to its shuffle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateMode {
    /// Raw rows in, final values out.
    Complete,
    /// Raw rows in, state out (before the exchange).
    Partial,
    /// State in, final values out (after the exchange).
    Final,
}

const SPILL_BUCKETS: u32 = 16;
const OUTPUT_ROWS: usize = 8192;

/// The `aggregate` operator.
pub struct Aggregate {
    mode: AggregateMode,
    /// Where the keys are in the batches it folds.
    keys: Vec<usize>,
    /// Keys, arguments and output, as validation saw them.
    shape: AggregateShape,
    /// Where each aggregate's state columns start in a state batch.
    state_offsets: Vec<usize>,
    table: GroupTable,
    budget: Option<u64>,
    spill_dir: PathBuf,
    spills: Vec<SpillWriter>,
    /// Which groups changed when, once a checkpointed window asks
    /// ([`Aggregate::track_changes`]).
    changes: Option<KeyGroupIndex>,
}

impl Aggregate {
    /// An aggregate of `params` in `mode`. `input` is the schema of the
    /// raw rows (for a final aggregate too: state columns are derived).
    pub fn new(
        params: &AggregateParams,
        input: &Schema,
        mode: AggregateMode,
    ) -> Result<Self, OperatorError> {
        if let Some(name) = params.group_by.iter().find(|k| input.index_of(k).is_none()) {
            return Err(OperatorError::BadInput(format!("no key column {name}")));
        }
        let shape =
            AggregateShape::new("aggregate", params, input).map_err(|error| match error {
                SpecError::Expr { error, .. } => OperatorError::Expr(error),
                other => OperatorError::BadInput(other.to_string()),
            })?;
        // In a state batch the keys come first.
        let keys = if mode == AggregateMode::Final {
            (0..shape.keys.len()).collect()
        } else {
            shape.keys.clone()
        };
        let mut state_offsets = Vec::new();
        let mut offset = shape.key_fields.len();
        for column in &shape.columns {
            state_offsets.push(offset);
            offset += if column.function == AggregateFunction::Avg {
                2
            } else {
                1
            };
        }
        let table = GroupTable::new(&shape.key_fields, &accumulators(&shape.columns));
        Ok(Self {
            mode,
            keys,
            shape,
            state_offsets,
            table,
            budget: params.memory_bytes,
            spill_dir: PathBuf::new(),
            spills: Vec::new(),
            changes: None,
        })
    }

    /// The schema of state batches (keys, then each aggregate's state).
    pub fn state_schema(&self) -> Schema {
        self.shape.state_schema()
    }

    /// The schema of final output (keys, then each aggregate's value).
    pub fn output_schema(&self) -> Schema {
        self.shape.output_schema().clone()
    }

    fn fresh_table(&self) -> GroupTable {
        GroupTable::new(&self.shape.key_fields, &accumulators(&self.shape.columns))
    }

    /// The current table, leaving an empty one in its place.
    fn take_table(&mut self) -> GroupTable {
        let fresh = self.fresh_table();
        std::mem::replace(&mut self.table, fresh)
    }

    /// Folds one batch (raw rows, or state in final mode) into `table`;
    /// returns each row's group.
    fn fold(
        &self,
        table: &mut GroupTable,
        rows: &Rows<'_>,
        merging: bool,
    ) -> Result<Vec<u32>, OperatorError> {
        let key_columns: Vec<_> = if merging {
            rows.columns[..self.shape.key_fields.len()].iter().collect()
        } else {
            self.keys.iter().map(|&k| &rows.columns[k]).collect()
        };
        let groups = table.groups_of(&key_columns, rows.rows)?;
        self.fold_into(table, rows, merging, &groups)?;
        Ok(groups)
    }

    /// Folds one batch into `table`, its rows' groups already found.
    fn fold_into(
        &self,
        table: &mut GroupTable,
        rows: &Rows<'_>,
        merging: bool,
        groups: &[u32],
    ) -> Result<(), OperatorError> {
        let input = rows.input(EvalContext::default());
        for (a, acc) in table.accumulators.iter_mut().enumerate() {
            if merging {
                let start = self.state_offsets[a];
                if self.shape.columns[a].function == AggregateFunction::CountDistinct {
                    acc.merge_sets(groups, &rows.columns[start])
                        .map_err(|bad| {
                            OperatorError::BadInput(format!(
                                "aggregate state: row {} of {} is not a set of distinct values",
                                bad.row, rows.columns[start].name
                            ))
                        })?;
                    continue;
                }
                let width = if self.shape.columns[a].function == AggregateFunction::Avg {
                    2
                } else {
                    1
                };
                let state = rows.columns[start..start + width]
                    .iter()
                    .map(|c| {
                        crate::expr::Array::from_view(c).ok_or_else(|| {
                            OperatorError::BadInput(format!("unreadable state column {}", c.name))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                acc.merge(groups, &state)
                    .map_err(|overflow| self.overflow(a, rows, overflow))?;
            } else {
                let arg = match &self.shape.args[a] {
                    Some(expr) => Some(expr.eval(&input)?.into_array(expr.ty(), rows.rows)),
                    None => None,
                };
                acc.update(groups, arg.as_ref())
                    .map_err(|overflow| self.overflow(a, rows, overflow))?;
            }
        }
        Ok(())
    }

    /// The error for aggregate `a`'s sum leaving BIGINT's range at a row
    /// of `rows`, naming the aggregate and the row's group.
    fn overflow(&self, a: usize, rows: &Rows<'_>, overflow: SumOverflow) -> OperatorError {
        let column = &self.shape.columns[a];
        let keys: Vec<usize> = if self.mode == AggregateMode::Final {
            (0..self.shape.key_fields.len()).collect()
        } else {
            self.keys.clone()
        };
        let text = match &self.shape.args[a] {
            Some(expr) => format!("sum({}) AS {}", excerpt(expr.text()), column.name),
            None => column.name.clone(),
        };
        OperatorError::Expr(ExprError::BadValue {
            text,
            problem: "BIGINT overflow in a sum".into(),
            values: row_values(&rows.input(EvalContext::default()), &keys, overflow.row),
            row: Some(overflow.row),
        })
    }

    /// Its groups' state as state batches (keys, then each aggregate's
    /// state: what a partial aggregate emits), the aggregate left as it
    /// was: a checkpoint's copy. State spilled to disk is not copied yet,
    /// so an aggregate that spilled refuses, naming why.
    pub fn state_batches(&mut self) -> Result<Vec<Batch>, OperatorError> {
        if !self.spills.is_empty() {
            return Err(OperatorError::OverBudget {
                operator: "aggregate".into(),
                budget: self.budget.unwrap_or(0),
                detail: "state spilled to disk, which checkpoints do not copy yet".into(),
            });
        }
        let batches = self
            .take_table()
            .drain(&self.state_schema(), true, OUTPUT_ROWS)?;
        self.merge_state(&batches)?;
        Ok(batches)
    }

    /// Merges state batches (from [`Aggregate::state_batches`]) into its
    /// groups: a restore. Groups it changes count as changed when it
    /// tracks changes.
    pub fn merge_state(&mut self, batches: &[Batch]) -> Result<(), OperatorError> {
        let mut table = std::mem::replace(&mut self.table, GroupTable::empty());
        let mut merged = Ok(());
        for batch in batches {
            let rows = Rows::of_batch(batch);
            let groups = match self.fold(&mut table, &rows, true) {
                Ok(groups) => groups,
                Err(error) => {
                    merged = Err(error);
                    break;
                }
            };
            if let Some(changes) = &mut self.changes {
                let keys: Vec<_> = rows.columns[..self.shape.key_fields.len()].iter().collect();
                changes.place(&keys, rows.rows, &groups);
                for g in groups {
                    changes.touch(g);
                }
            }
        }
        self.table = table;
        merged
    }

    fn over_budget(&self) -> bool {
        self.budget
            .is_some_and(|budget| self.table.bytes() as u64 > budget)
    }

    fn spill(&mut self) -> Result<(), OperatorError> {
        if self.spills.is_empty() {
            // Several aggregates may share a task's spill directory (two
            // in a chain; a window's, one per open window).
            static INSTANCES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let instance = INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            for bucket in 0..SPILL_BUCKETS {
                let path = self.spill_dir.join(format!(
                    "aggregate-{}-{instance}-{bucket}.spill",
                    std::process::id()
                ));
                self.spills.push(SpillWriter::create(&path)?);
            }
        }
        let table = self.take_table();
        let schema = self.state_schema();
        for batch in table.drain(&schema, true, OUTPUT_ROWS)? {
            let columns = views(&batch);
            let key_columns: Vec<_> = columns[..self.shape.key_fields.len()].iter().collect();
            let hashes = hash_rows(&key_columns, batch.num_rows());
            let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); SPILL_BUCKETS as usize];
            for (row, hash) in hashes.iter().enumerate() {
                buckets[partition_of(*hash, SPILL_BUCKETS) as usize].push(row as u32);
            }
            for (bucket, rows) in buckets.iter().enumerate() {
                if !rows.is_empty() {
                    let part = crate::kernels::take::take_batch(&schema, &columns, rows)?;
                    self.spills[bucket].write(&part)?;
                }
            }
        }
        Ok(())
    }
}

impl Operator for Aggregate {
    fn state_bytes(&self) -> u64 {
        self.table.bytes() as u64
    }

    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.spill_dir = context.spill_dir.clone();
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let merging = self.mode == AggregateMode::Final;
        let mut table = std::mem::replace(&mut self.table, GroupTable::empty());
        let folded = self.fold(&mut table, rows, merging);
        self.table = table;
        let groups = folded?;
        if let Some(changes) = &mut self.changes {
            let keys: Vec<_> = self.keys.iter().map(|&k| &rows.columns[k]).collect();
            changes.place(&keys, rows.rows, &groups);
            for g in groups {
                changes.touch(g);
            }
        }
        if self.over_budget() {
            if self.mode == AggregateMode::Partial {
                let table = self.take_table();
                for batch in table.drain(&self.state_schema(), true, OUTPUT_ROWS)? {
                    out.emit(batch)?;
                }
            } else {
                self.spill()?;
            }
        }
        Ok(())
    }

    fn end_input(&mut self, _: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        let state = self.mode == AggregateMode::Partial;
        let schema = if state {
            self.state_schema()
        } else {
            self.output_schema()
        };
        if self.spills.is_empty() {
            let mut table = self.take_table();
            if !state && self.shape.key_fields.is_empty() && table.len() == 0 {
                // SQL: a global aggregate of nothing is one row.
                table.groups_of(&[], 1)?;
            }
            for batch in table.drain(&schema, state, OUTPUT_ROWS)? {
                out.emit(batch)?;
            }
            return Ok(());
        }
        self.spill()?;
        for writer in std::mem::take(&mut self.spills) {
            let mut reader = writer.finish()?;
            let mut table = self.fresh_table();
            while let Some(bytes) = reader.next_archive()? {
                let view = crate::data::BatchView::new(&bytes)?;
                self.fold(&mut table, &Rows::of_view(&view), true)?;
            }
            for batch in table.drain(&schema, false, OUTPUT_ROWS)? {
                out.emit(batch)?;
            }
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.spills.clear();
        Ok(())
    }
}
