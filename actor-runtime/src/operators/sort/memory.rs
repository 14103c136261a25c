//! Sorting rows held in memory: the batches one `sort` run (or a `top_n`
//! compaction) holds (copies, or archives kept as they arrived: [`Held`])
//! are ordered by a 64-bit key prefix ([`crate::kernels::radix`]) with the full
//! key as tie-break, then copied out in that order with typed per-column
//! loops that prefetch the rows a few positions ahead: the rows are
//! scattered over everything the sort holds, so each would otherwise
//! cost a cache miss of its own. Behind a range edge each held frame
//! is already in key order (see [`crate::exchange::partition`]), so the
//! copy reads every frame front to back and each line it fetches serves
//! the next rows of that frame too.
//! Kept apart from the merge of runs, which orders rows a different way
//! (one row at a time from a few streams).

use crate::data::BinaryValues;
use crate::data::{
    Batch, Column, ColumnBuilder, ColumnData, ColumnView, KeptArchive, Schema, ValuesView,
};
use crate::kernels::prefetch::{prefetch, prefetch_bytes};
use crate::kernels::radix::{sort_by_prefix, Entry};
use crate::kernels::rows::{append_value, compare_rows, key_prefix, KeyColumn};
use crate::kernels::views;
use crate::operator::OperatorError;

use super::OUTPUT_ROWS;

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
    let mut entries: Vec<Entry> =
        Vec::with_capacity(all.iter().map(|columns| rows_of(columns)).sum());
    for (b, columns) in all.iter().enumerate() {
        let column = &columns[first.column];
        for r in 0..column.len {
            entries.push((key_prefix(column, r, first.descending), b as u32, r as u32));
        }
    }
    sort_by_prefix(&mut entries);
    for tied in entries.chunk_by_mut(|a, b| a.0 == b.0) {
        if tied.len() > 1 {
            tied.sort_unstable_by(|&(_, ab, ar), &(_, bb, br)| {
                compare_rows(
                    keys,
                    &all[ab as usize],
                    ar as usize,
                    &all[bb as usize],
                    br as usize,
                )
            });
        }
    }
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
        // SAFETY: every value was copied whole out of a checked view,
        // its end recorded as the next offset (`gather_bytes`,
        // `append_value`).
        let batch = unsafe { Batch::from_copied_values(schema.clone(), chunk.len(), columns) }?;
        sink(batch)?;
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
        ValuesView::Utf8(_) | ValuesView::Binary(_) => {
            let text = matches!(all[0][c].values, ValuesView::Utf8(_));
            // Every held batch's values of the column, of one type.
            let raw = all
                .iter()
                .map(|cols| match cols[c].values {
                    ValuesView::Utf8(t) if text => Some(t.raw()),
                    ValuesView::Binary(bytes) if !text => Some(bytes),
                    _ => None,
                })
                .collect::<Option<Vec<BinaryValues<'_>>>>()?;
            let (offsets, data) = gather_bytes(&raw, chunk)?;
            match text {
                true => ColumnData::Utf8 { offsets, data },
                false => ColumnData::Binary { offsets, data },
            }
        }
        _ => return None,
    };
    Some(Column {
        validity: None,
        data,
    })
}

/// The values of `sources` (one per held batch) at each position of
/// `chunk`, laid end to end as a variable-width column's offsets and
/// bytes; `None` past 4 GiB.
fn gather_bytes(sources: &[BinaryValues<'_>], chunk: &[(u32, u32)]) -> Option<(Vec<u32>, Vec<u8>)> {
    // Far enough ahead that a miss resolves before the copy reaches it,
    // near enough that the prefetched lines are still in L1.
    const AHEAD: usize = 8;
    // First every value's place, which reads each row's offsets (one
    // miss per row, overlapped by prefetching the offsets ahead)...
    let mut values: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    let mut bytes = 0usize;
    for (i, &(b, r)) in chunk.iter().enumerate() {
        if let Some(&(b, r)) = chunk.get(i + AHEAD) {
            if let Some(offset) = sources[b as usize].offsets().get(r as usize) {
                prefetch(offset);
            }
        }
        let v = sources[b as usize].value(r as usize);
        bytes += v.len();
        values.push(v);
    }
    // ...then the bytes, sized once: growing by doubling would copy the
    // text again and fault in fresh pages at every step.
    let mut offsets = Vec::with_capacity(chunk.len() + 1);
    offsets.push(0u32);
    let mut data = Vec::with_capacity(bytes);
    for (i, v) in values.iter().enumerate() {
        if let Some(ahead) = values.get(i + AHEAD) {
            prefetch_bytes(ahead);
        }
        data.extend_from_slice(v);
        offsets.push(u32::try_from(data.len()).ok()?);
    }
    Some((offsets, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataType, Field};

    /// Batches of (text, number) whose texts often share their first
    /// eight bytes, so the prefix alone cannot order them.
    fn batches() -> (Schema, Vec<Batch>) {
        let schema = Schema::new(vec![
            Field::new("s", DataType::Utf8),
            Field::new("n", DataType::Int64),
        ]);
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut random = move |below: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % below
        };
        let batches = (0..5)
            .map(|_| {
                let rows = 300 + random(300) as usize;
                let (mut offsets, mut data, mut numbers) = (vec![0u32], Vec::new(), Vec::new());
                for _ in 0..rows {
                    let len = 6 + random(7) as usize;
                    data.extend(
                        (0..len).map(|i| if i < 6 { b'k' } else { b'a' + random(3) as u8 }),
                    );
                    offsets.push(data.len() as u32);
                    numbers.push(random(5) as i64 - 2);
                }
                let columns = vec![
                    Column {
                        validity: None,
                        data: ColumnData::Utf8 { offsets, data },
                    },
                    Column {
                        validity: None,
                        data: ColumnData::Int64(numbers),
                    },
                ];
                Batch::new(schema.clone(), rows, columns).unwrap()
            })
            .collect();
        (schema, batches)
    }

    fn rows(batch: &Batch) -> Vec<(String, i64)> {
        let columns = views(batch);
        (0..batch.num_rows())
            .map(|r| match (columns[0].values, columns[1].values) {
                (ValuesView::Utf8(s), ValuesView::Int64(n)) => (s.value(r).to_string(), n[r]),
                _ => unreachable!("the test's own schema"),
            })
            .collect()
    }

    #[test]
    fn orders_by_every_key_where_prefixes_tie_and_copies_every_row_once() {
        let (schema, batches) = batches();
        let all: Vec<_> = batches.iter().map(views).collect();
        let keys = [
            KeyColumn {
                column: 0,
                descending: false,
            },
            KeyColumn {
                column: 1,
                descending: true,
            },
        ];
        let positions = sorted_positions(&keys, &all);
        let mut out = Vec::new();
        gather(&schema, &all, &positions, &mut |batch| {
            out.extend(rows(&batch));
            Ok(())
        })
        .unwrap();
        let mut expected: Vec<(String, i64)> = batches.iter().flat_map(rows).collect();
        expected.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        assert_eq!(out, expected);
    }
}
