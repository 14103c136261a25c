//! Sorting rows held in memory: the batches one `sort` run (or a `top_n`
//! compaction) holds (copies, or archives kept as they arrived: [`Held`])
//! are ordered by a 64-bit key prefix with the full key as tie-break,
//! then copied out in that order with typed per-column loops.
//! Kept apart from the merge of runs, which orders rows a different way
//! (one row at a time from a few streams).

use crate::data::{
    Batch, Column, ColumnBuilder, ColumnData, ColumnView, KeptArchive, Schema, ValuesView,
};
use crate::kernels::floats::key_bits;
use crate::kernels::rows::{append_value, compare_rows, KeyColumn};
use crate::kernels::views;
use crate::operator::OperatorError;

use super::OUTPUT_ROWS;

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
                // As compare_f64 orders: one NaN above everything, ±0 equal.
                let bits = key_bits(v[row]);
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

/// A batch a sort holds: one it copied, or an archive kept as received.
pub(super) enum Held {
    /// An owned copy of a batch's rows.
    Batch(Batch),
    /// A checked archive read in place from a shuffle node's file.
    Archive(KeptArchive),
}

impl Held {
    /// Bytes it holds, roughly.
    pub(super) fn bytes(&self) -> u64 {
        match self {
            Held::Batch(batch) => super::batch_bytes(batch),
            Held::Archive(archive) => archive.len() as u64,
        }
    }
}

/// The columns of every held batch, in order.
pub(super) fn held_views(held: &[Held]) -> Result<Vec<Vec<ColumnView<'_>>>, OperatorError> {
    held.iter()
        .map(|held| match held {
            Held::Batch(batch) => Ok(views(batch)),
            Held::Archive(archive) => Ok(archive.view()?.columns().to_vec()),
        })
        .collect()
}

/// Rows of a batch, from its columns.
fn rows_of(columns: &[ColumnView<'_>]) -> usize {
    columns.first().map_or(0, |column| column.len)
}

/// Positions `(batch, row)` of every row of `all` (each batch's columns),
/// in key order.
pub(super) fn sorted_positions(keys: &[KeyColumn], all: &[Vec<ColumnView<'_>>]) -> Vec<(u32, u32)> {
    let Some(first) = keys.first() else {
        return all
            .iter()
            .enumerate()
            .flat_map(|(b, columns)| (0..rows_of(columns) as u32).map(move |r| (b as u32, r)))
            .collect();
    };
    let mut entries: Vec<(u64, u32, u32)> =
        Vec::with_capacity(all.iter().map(|columns| rows_of(columns)).sum());
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

/// Copies rows at `positions` of `all` (each batch's columns) into
/// batches of at most [`OUTPUT_ROWS`] rows, handing each to `sink`. Each
/// column is copied with one typed loop over the positions.
pub(super) fn gather(
    schema: &Schema,
    all: &[Vec<ColumnView<'_>>],
    positions: &[(u32, u32)],
    sink: &mut dyn FnMut(Batch) -> Result<(), OperatorError>,
) -> Result<(), OperatorError> {
    for chunk in positions.chunks(OUTPUT_ROWS) {
        let mut columns = Vec::with_capacity(schema.fields.len());
        for (c, field) in schema.fields.iter().enumerate() {
            let fast = gather_column(all, c, chunk);
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
            // Sized once: growing by doubling would copy the text again
            // and fault in fresh pages at every step.
            let bytes = chunk
                .iter()
                .map(|&(b, r)| texts[b as usize].bytes(r as usize).len())
                .sum();
            let mut data = Vec::with_capacity(bytes);
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
