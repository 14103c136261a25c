//! Gathering rows: a new column or batch of the rows at given positions,
//! in the given order. Filters, sorts, joins and partitioners all come
//! down to this.

use crate::data::{Batch, BatchError, Bitmap, Column, ColumnData, ColumnView, Schema, ValuesView};

fn bitmap_take(bits: Bitmap<'_>, indices: &[u32]) -> Vec<u8> {
    let mut out = vec![0u8; indices.len().div_ceil(8)];
    for (k, &i) in indices.iter().enumerate() {
        if bits.get(i as usize) {
            out[k / 8] |= 1 << (k % 8);
        }
    }
    out
}

fn bytes_take(values: crate::data::BinaryValues<'_>, indices: &[u32]) -> (Vec<u32>, Vec<u8>) {
    let mut offsets = Vec::with_capacity(indices.len() + 1);
    offsets.push(0u32);
    // Sized once from the offsets alone: growing by doubling would copy
    // the bytes again and fault in fresh pages at every step.
    let starts = values.offsets();
    let bytes = indices
        .iter()
        .map(|&i| (starts[i as usize + 1] - starts[i as usize]) as usize)
        .sum();
    let mut data = Vec::with_capacity(bytes);
    for &i in indices {
        data.extend_from_slice(values.value(i as usize));
        offsets.push(u32::try_from(data.len()).unwrap_or(u32::MAX));
    }
    (offsets, data)
}

fn rows_take<T: Copy>(values: &[T], dim: usize, indices: &[u32]) -> Vec<T> {
    let mut out = Vec::with_capacity(indices.len() * dim);
    for &i in indices {
        let start = i as usize * dim;
        out.extend_from_slice(&values[start..start + dim]);
    }
    out
}

/// The rows of `column` at `indices` (each below its length).
pub fn take(column: &ColumnView<'_>, indices: &[u32]) -> Column {
    let data = match column.values {
        ValuesView::Bool(bits) => ColumnData::Bool(bitmap_take(bits, indices)),
        ValuesView::Int64(v) => ColumnData::Int64(indices.iter().map(|&i| v[i as usize]).collect()),
        ValuesView::Float64(v) => {
            ColumnData::Float64(indices.iter().map(|&i| v[i as usize]).collect())
        }
        ValuesView::Timestamp(v) => {
            ColumnData::Timestamp(indices.iter().map(|&i| v[i as usize]).collect())
        }
        ValuesView::Utf8(text) => {
            let (offsets, data) = bytes_take(text.raw(), indices);
            ColumnData::Utf8 { offsets, data }
        }
        ValuesView::Binary(bytes) => {
            let (offsets, data) = bytes_take(bytes, indices);
            ColumnData::Binary { offsets, data }
        }
        ValuesView::F32Vector { dim, values } => {
            ColumnData::F32Vector(rows_take(values, dim, indices))
        }
        ValuesView::F64Vector { dim, values } => {
            ColumnData::F64Vector(rows_take(values, dim, indices))
        }
    };
    let validity = column
        .validity
        .map(|bits| bitmap_take(bits, indices))
        .filter(|bits| {
            // Drop an all-valid bitmap: cheaper to carry and to read.
            (0..indices.len()).any(|k| bits[k / 8] & (1 << (k % 8)) == 0)
        });
    Column { validity, data }
}

/// An owned copy of every row of `column`, in order: one contiguous copy
/// per buffer instead of a row-by-row gather.
pub fn copy(column: &ColumnView<'_>) -> Column {
    let bytes = |values: crate::data::BinaryValues<'_>| {
        let offsets = values.offsets();
        let first = offsets.first().copied().unwrap_or(0);
        let last = offsets.last().copied().unwrap_or(0);
        let data = values.data()[first as usize..last as usize].to_vec();
        (offsets.iter().map(|o| o - first).collect(), data)
    };
    let data = match column.values {
        ValuesView::Int64(v) => ColumnData::Int64(v.to_vec()),
        ValuesView::Float64(v) => ColumnData::Float64(v.to_vec()),
        ValuesView::Timestamp(v) => ColumnData::Timestamp(v.to_vec()),
        ValuesView::Utf8(text) => {
            let (offsets, data) = bytes(text.raw());
            ColumnData::Utf8 { offsets, data }
        }
        ValuesView::Binary(values) => {
            let (offsets, data) = bytes(values);
            ColumnData::Binary { offsets, data }
        }
        ValuesView::F32Vector { values, .. } => ColumnData::F32Vector(values.to_vec()),
        ValuesView::F64Vector { values, .. } => ColumnData::F64Vector(values.to_vec()),
        ValuesView::Bool(_) => {
            let all: Vec<u32> = (0..column.len as u32).collect();
            return take(column, &all);
        }
    };
    let validity = match column.validity {
        Some(_) => {
            let all: Vec<u32> = (0..column.len as u32).collect();
            take(column, &all).validity
        }
        None => None,
    };
    Column { validity, data }
}

/// A batch of the rows of `columns` at `indices`.
pub fn take_batch(
    schema: &Schema,
    columns: &[ColumnView<'_>],
    indices: &[u32],
) -> Result<Batch, BatchError> {
    let columns = columns.iter().map(|c| take(c, indices)).collect();
    // SAFETY: `take` copies each value whole out of a checked view and
    // records its end as the next offset (`bytes_take`).
    unsafe { Batch::from_copied_values(schema.clone(), indices.len(), columns) }
}

/// Positions of the `true` entries of a selection.
pub fn selected(selection: &[bool]) -> Vec<u32> {
    selection
        .iter()
        .enumerate()
        .filter(|(_, keep)| **keep)
        .map(|(i, _)| i as u32)
        .collect()
}

/// One batch of all rows of `batches` (each of `schema`), in order.
pub fn concat(schema: &Schema, batches: &[Batch]) -> Result<Batch, BatchError> {
    let rows: usize = batches.iter().map(Batch::num_rows).sum();
    let mut builders: Vec<crate::data::ColumnBuilder> = schema
        .fields
        .iter()
        .map(|f| crate::data::ColumnBuilder::new(f.clone(), rows))
        .collect();
    for batch in batches {
        let columns = super::views(batch);
        for row in 0..batch.num_rows() {
            for (builder, column) in builders.iter_mut().zip(&columns) {
                super::rows::append_value(builder, column, row)?;
            }
        }
    }
    let columns = builders
        .into_iter()
        .map(crate::data::ColumnBuilder::finish)
        .collect();
    Batch::new(schema.clone(), rows, columns)
}
