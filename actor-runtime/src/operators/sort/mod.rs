//! `sort` (external merge sort) and `top_n`.
//!
//! Sort buffers its input; over its memory budget it sorts what it holds
//! into a run on disk and starts again. At the end it sorts the rest and,
//! if there are runs, merges them all (each run streamed back a batch at a
//! time), so it sorts far more than its budget with bounded memory.
//! Sorting what is held in memory is [`memory`]'s.

mod memory;

use std::cmp::Ordering;
use std::path::PathBuf;

use crate::data::{Batch, ColumnBuilder, ColumnView, Schema};
use crate::kernels::rows::{append_value, compare_rows, KeyColumn};
use crate::kernels::views;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::spill::{SpillReader, SpillWriter};
use crate::spec::operators::SortKey;

use memory::{gather, sorted_positions};

const OUTPUT_ROWS: usize = 8192;

/// Resolves sort keys against `schema`.
pub fn key_columns(keys: &[SortKey], schema: &Schema) -> Result<Vec<KeyColumn>, OperatorError> {
    keys.iter()
        .map(|key| {
            schema
                .index_of(&key.column)
                .map(|column| KeyColumn {
                    column,
                    descending: key.descending,
                })
                .ok_or_else(|| OperatorError::BadInput(format!("no sort column {}", key.column)))
        })
        .collect()
}

/// Bytes a batch holds, roughly.
fn batch_bytes(batch: &Batch) -> u64 {
    batch
        .columns()
        .iter()
        .map(|c| match &c.data {
            crate::data::ColumnData::Utf8 { offsets, data }
            | crate::data::ColumnData::Binary { offsets, data } => offsets.len() * 4 + data.len(),
            _ => batch.num_rows() * 8,
        } as u64)
        .sum()
}

/// The `sort` operator.
pub struct Sort {
    schema: Schema,
    keys: Vec<KeyColumn>,
    budget: Option<u64>,
    buffered: Vec<Batch>,
    bytes: u64,
    spill_dir: PathBuf,
    runs: Vec<SpillReader>,
}

impl Sort {
    /// A sort of `schema` rows by `keys`, spilling beyond `budget` bytes.
    pub fn new(
        keys: &[SortKey],
        schema: &Schema,
        budget: Option<u64>,
    ) -> Result<Self, OperatorError> {
        Ok(Self {
            schema: schema.clone(),
            keys: key_columns(keys, schema)?,
            budget,
            buffered: Vec::new(),
            bytes: 0,
            spill_dir: PathBuf::new(),
            runs: Vec::new(),
        })
    }

    fn spill_run(&mut self) -> Result<(), OperatorError> {
        let batches = std::mem::take(&mut self.buffered);
        self.bytes = 0;
        let positions = sorted_positions(&self.keys, &batches);
        let path = self.spill_dir.join(format!(
            "sort-{}-{}.run",
            std::process::id(),
            self.runs.len()
        ));
        let mut writer = SpillWriter::create(&path)?;
        gather(&self.schema, &batches, &positions, &mut |batch| {
            writer.write(&batch)
        })?;
        self.runs.push(writer.finish()?);
        Ok(())
    }

    fn merge_runs(&mut self, out: &mut dyn Emit) -> Result<(), OperatorError> {
        // Each run's current batch and next row; the smallest head wins.
        let mut heads: Vec<Option<(Batch, usize)>> = Vec::with_capacity(self.runs.len());
        for run in &mut self.runs {
            heads.push(run.next_batch()?.map(|b| (b, 0)));
        }
        let mut builders = self.builders();
        let mut pending = 0;
        loop {
            // Views of every head, taken once per output row.
            let head_views: Vec<Option<(Vec<ColumnView<'_>>, usize)>> = heads
                .iter()
                .map(|h| h.as_ref().map(|(batch, row)| (views(batch), *row)))
                .collect();
            let mut best: Option<usize> = None;
            for (i, head) in head_views.iter().enumerate() {
                let Some((columns, row)) = head else { continue };
                let better = match best.and_then(|b| head_views[b].as_ref()) {
                    None => true,
                    Some((other, other_row)) => {
                        compare_rows(&self.keys, columns, *row, other, *other_row) == Ordering::Less
                    }
                };
                if better {
                    best = Some(i);
                }
            }
            drop(head_views);
            let Some(winner) = best else { break };
            if let Some((batch, row)) = &mut heads[winner] {
                let columns = views(batch);
                for (builder, column) in builders.iter_mut().zip(&columns) {
                    append_value(builder, column, *row)?;
                }
                *row += 1;
                pending += 1;
                if *row == batch.num_rows() {
                    heads[winner] = self.runs[winner].next_batch()?.map(|b| (b, 0));
                }
            }
            if pending == OUTPUT_ROWS {
                out.emit(self.finish(std::mem::replace(&mut builders, self.builders()), pending)?)?;
                pending = 0;
            }
        }
        if pending > 0 {
            out.emit(self.finish(builders, pending)?)?;
        }
        self.runs.clear();
        Ok(())
    }

    fn builders(&self) -> Vec<ColumnBuilder> {
        self.schema
            .fields
            .iter()
            .map(|f| ColumnBuilder::new(f.clone(), OUTPUT_ROWS))
            .collect()
    }

    fn finish(&self, builders: Vec<ColumnBuilder>, rows: usize) -> Result<Batch, OperatorError> {
        let columns = builders.into_iter().map(ColumnBuilder::finish).collect();
        Ok(Batch::new(self.schema.clone(), rows, columns)?)
    }
}

impl Operator for Sort {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        self.spill_dir = context.spill_dir.clone();
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let batch = rows.to_batch(&self.schema)?;
        self.bytes += batch_bytes(&batch);
        self.buffered.push(batch);
        if self.budget.is_some_and(|b| self.bytes > b) {
            self.spill_run()?;
        }
        Ok(())
    }

    fn end_input(&mut self, _: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        if self.runs.is_empty() {
            let batches = std::mem::take(&mut self.buffered);
            let positions = sorted_positions(&self.keys, &batches);
            return gather(&self.schema, &batches, &positions, &mut |batch| {
                out.emit(batch)
            });
        }
        if !self.buffered.is_empty() {
            self.spill_run()?;
        }
        self.merge_runs(out)
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        self.runs.clear();
        self.buffered.clear();
        Ok(())
    }
}

/// The `top_n` operator: keeps the first `limit` rows in key order.
pub struct TopN {
    schema: Schema,
    keys: Vec<KeyColumn>,
    limit: usize,
    buffered: Vec<Batch>,
    rows: usize,
}

impl TopN {
    /// The first `limit` rows of `schema` by `keys`.
    pub fn new(keys: &[SortKey], schema: &Schema, limit: usize) -> Result<Self, OperatorError> {
        Ok(Self {
            schema: schema.clone(),
            keys: key_columns(keys, schema)?,
            limit,
            buffered: Vec::new(),
            rows: 0,
        })
    }

    /// Keeps only the best `limit` rows held so far, in one batch.
    fn compact(&mut self) -> Result<(), OperatorError> {
        let batches = std::mem::take(&mut self.buffered);
        let mut positions = sorted_positions(&self.keys, &batches);
        positions.truncate(self.limit);
        let mut kept = Vec::new();
        gather(&self.schema, &batches, &positions, &mut |b| {
            kept.push(b);
            Ok(())
        })?;
        self.rows = kept.iter().map(Batch::num_rows).sum();
        self.buffered = kept;
        Ok(())
    }
}

impl Operator for TopN {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let batch = rows.to_batch(&self.schema)?;
        self.rows += batch.num_rows();
        self.buffered.push(batch);
        if self.rows > (self.limit * 2).max(OUTPUT_ROWS) {
            self.compact()?;
        }
        Ok(())
    }

    fn end_input(&mut self, _: usize, out: &mut dyn Emit) -> Result<(), OperatorError> {
        self.compact()?;
        for batch in std::mem::take(&mut self.buffered) {
            out.emit(batch)?;
        }
        Ok(())
    }
}
