//! `sort` (external merge sort) and `top_n`.
//!
//! Sort buffers its input; over its memory budget it sorts what it holds
//! into a run on disk and starts again. At the end it sorts the rest and,
//! if there are runs, merges them all (each run streamed back a batch at a
//! time), so it sorts far more than its budget with bounded memory.

use std::cmp::Ordering;
use std::path::PathBuf;

use crate::data::{Batch, Column, ColumnBuilder, ColumnData, ColumnView, Schema, ValuesView};
use crate::kernels::rows::{append_value, compare_rows, KeyColumn};
use crate::kernels::views;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::spill::{SpillReader, SpillWriter};
use crate::spec::operators::SortKey;

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

/// An order-preserving (not necessarily strict) 64-bit prefix of row
/// `row`'s key value: sorting by it first settles almost every comparison
/// with one integer compare; equal prefixes fall back to the full key.
fn key_prefix(column: &ColumnView<'_>, row: usize, descending: bool) -> u64 {
    let prefix = if column.is_null(row) {
        0
    } else {
        match column.values {
            ValuesView::Int64(v) | ValuesView::Timestamp(v) => (v[row] as u64) ^ (1 << 63),
            ValuesView::Float64(v) => {
                let bits = v[row].to_bits();
                if bits >> 63 == 1 {
                    !bits
                } else {
                    bits | (1 << 63)
                }
            }
            ValuesView::Bool(bits) => u64::from(bits.get(row)) + 1,
            ValuesView::Utf8(text) => bytes_prefix(text.bytes(row)),
            ValuesView::Binary(bytes) => bytes_prefix(bytes.value(row)),
            _ => 0,
        }
    };
    if descending {
        !prefix
    } else {
        prefix
    }
}

fn bytes_prefix(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    let n = bytes.len().min(8);
    word[..n].copy_from_slice(&bytes[..n]);
    u64::from_be_bytes(word)
}

/// Positions `(batch, row)` of every row, in key order.
fn sorted_positions(keys: &[KeyColumn], batches: &[Batch]) -> Vec<(u32, u32)> {
    let all: Vec<Vec<ColumnView<'_>>> = batches.iter().map(views).collect();
    let Some(first) = keys.first() else {
        return batches
            .iter()
            .enumerate()
            .flat_map(|(b, batch)| (0..batch.num_rows() as u32).map(move |r| (b as u32, r)))
            .collect();
    };
    let mut entries: Vec<(u64, u32, u32)> =
        Vec::with_capacity(batches.iter().map(Batch::num_rows).sum());
    for (b, columns) in all.iter().enumerate() {
        let column = &columns[first.column];
        for r in 0..column.len {
            entries.push((key_prefix(column, r, first.descending), b as u32, r as u32));
        }
    }
    entries.sort_unstable_by(|&(pa, ab, ar), &(pb, bb, br)| {
        pa.cmp(&pb).then_with(|| {
            compare_rows(
                keys,
                &all[ab as usize],
                ar as usize,
                &all[bb as usize],
                br as usize,
            )
        })
    });
    entries.into_iter().map(|(_, b, r)| (b, r)).collect()
}

/// Copies rows at `positions` of `batches` into batches of at most
/// [`OUTPUT_ROWS`] rows, handing each to `sink`. Each column is copied
/// with one typed loop over the positions.
fn gather(
    schema: &Schema,
    batches: &[Batch],
    positions: &[(u32, u32)],
    sink: &mut dyn FnMut(Batch) -> Result<(), OperatorError>,
) -> Result<(), OperatorError> {
    let all: Vec<Vec<ColumnView<'_>>> = batches.iter().map(views).collect();
    for chunk in positions.chunks(OUTPUT_ROWS) {
        let mut columns = Vec::with_capacity(schema.fields.len());
        for (c, field) in schema.fields.iter().enumerate() {
            let fast = gather_column(&all, c, chunk);
            let column = match fast {
                Some(column) => column,
                None => {
                    let mut builder = ColumnBuilder::new(field.clone(), chunk.len());
                    for &(b, r) in chunk {
                        append_value(&mut builder, &all[b as usize][c], r as usize)?;
                    }
                    builder.finish()
                }
            };
            columns.push(column);
        }
        sink(Batch::new(schema.clone(), chunk.len(), columns)?)?;
    }
    Ok(())
}

/// Typed copies of the common column types (no nulls, fixed width or
/// text); `None` for the rest, which go value by value.
fn gather_column(all: &[Vec<ColumnView<'_>>], c: usize, chunk: &[(u32, u32)]) -> Option<Column> {
    if all.iter().any(|cols| cols[c].validity.is_some()) {
        return None;
    }
    let data = match all.first()?[c].values {
        ValuesView::Int64(_) | ValuesView::Timestamp(_) => {
            let slices: Vec<&[i64]> = all
                .iter()
                .map(|cols| match cols[c].values {
                    ValuesView::Int64(v) | ValuesView::Timestamp(v) => v,
                    _ => &[],
                })
                .collect();
            let values = chunk
                .iter()
                .map(|&(b, r)| slices[b as usize][r as usize])
                .collect();
            if matches!(all[0][c].values, ValuesView::Int64(_)) {
                ColumnData::Int64(values)
            } else {
                ColumnData::Timestamp(values)
            }
        }
        ValuesView::Float64(_) => {
            let slices: Vec<&[f64]> = all
                .iter()
                .map(|cols| match cols[c].values {
                    ValuesView::Float64(v) => v,
                    _ => &[],
                })
                .collect();
            ColumnData::Float64(
                chunk
                    .iter()
                    .map(|&(b, r)| slices[b as usize][r as usize])
                    .collect(),
            )
        }
        ValuesView::Utf8(_) => {
            let texts: Vec<_> = all
                .iter()
                .filter_map(|cols| match cols[c].values {
                    ValuesView::Utf8(t) => Some(t),
                    _ => None,
                })
                .collect();
            if texts.len() != all.len() {
                return None;
            }
            let mut offsets = Vec::with_capacity(chunk.len() + 1);
            offsets.push(0u32);
            let mut data = Vec::new();
            for &(b, r) in chunk {
                data.extend_from_slice(texts[b as usize].bytes(r as usize));
                offsets.push(u32::try_from(data.len()).ok()?);
            }
            ColumnData::Utf8 { offsets, data }
        }
        _ => return None,
    };
    Some(Column {
        validity: None,
        data,
    })
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
        if self.rows > self.limit.saturating_mul(2).max(OUTPUT_ROWS) {
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
