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
    let mut data = Vec::new();
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

/// A batch of the rows of `columns` at `indices`.
pub fn take_batch(
    schema: &Schema,
    columns: &[ColumnView<'_>],
    indices: &[u32],
) -> Result<Batch, BatchError> {
    let columns = columns.iter().map(|c| take(c, indices)).collect();
    Batch::new(schema.clone(), indices.len(), columns)
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
