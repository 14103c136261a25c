//! Row-level helpers for operators that work on keys: encoding a row's key
//! columns as bytes (hash-table keys for grouping and joins), copying one
//! value into a builder, and ordering rows by sort keys (a 64-bit key
//! prefix first, the whole key where prefixes tie).

use std::cmp::Ordering;

use super::floats::{compare_f64, key_bits};
use super::radix::{sort_by_prefix, Entry};
use crate::data::{BatchError, ColumnBuilder, ColumnView, ValuesView};

/// Appends an encoding of row `row` of `columns` to `out`: equal keys
/// encode equal, different keys differently (each value is tagged and
/// variable-length values are length-prefixed).
pub fn encode_key(columns: &[&ColumnView<'_>], row: usize, out: &mut Vec<u8>) {
    for column in columns {
        if column.is_null(row) {
            out.push(0);
            continue;
        }
        out.push(1);
        match column.values {
            ValuesView::Bool(bits) => out.push(u8::from(bits.get(row))),
            ValuesView::Int64(v) | ValuesView::Timestamp(v) => {
                out.extend_from_slice(&v[row].to_le_bytes())
            }
            ValuesView::Float64(v) => out.extend_from_slice(&key_bits(v[row]).to_le_bytes()),
            ValuesView::Utf8(text) => {
                let bytes = text.bytes(row);
                out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            ValuesView::Binary(bytes) => {
                let bytes = bytes.value(row);
                out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            ValuesView::F32Vector { dim, values } => {
                for f in &values[row * dim..(row + 1) * dim] {
                    out.extend_from_slice(&f.to_bits().to_le_bytes());
                }
            }
            ValuesView::F64Vector { dim, values } => {
                for f in &values[row * dim..(row + 1) * dim] {
                    out.extend_from_slice(&f.to_bits().to_le_bytes());
                }
            }
        }
    }
}

/// Appends row `row` of `column` to `builder` (of the same type).
pub fn append_value(
    builder: &mut ColumnBuilder,
    column: &ColumnView<'_>,
    row: usize,
) -> Result<(), BatchError> {
    if column.is_null(row) {
        return builder.push_null();
    }
    match column.values {
        ValuesView::Bool(bits) => builder.push_bool(bits.get(row)),
        ValuesView::Int64(v) | ValuesView::Timestamp(v) => builder.push_i64(v[row]),
        ValuesView::Float64(v) => builder.push_f64(v[row]),
        ValuesView::Utf8(text) => builder.push_str(text.value(row)),
        ValuesView::Binary(bytes) => builder.push_bytes(bytes.value(row)),
        ValuesView::F32Vector { dim, values } => {
            builder.push_f32_vector(&values[row * dim..(row + 1) * dim])
        }
        ValuesView::F64Vector { dim, values } => {
            builder.push_f64_vector(&values[row * dim..(row + 1) * dim])
        }
    }
}

/// Orders row `a` of column `x` against row `b` of column `y` (same
/// type): nulls first, doubles as [`compare_f64`] orders them (NaN last).
pub fn compare_values(x: &ColumnView<'_>, a: usize, y: &ColumnView<'_>, b: usize) -> Ordering {
    match (x.is_null(a), y.is_null(b)) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    match (x.values, y.values) {
        (ValuesView::Int64(p), ValuesView::Int64(q))
        | (ValuesView::Timestamp(p), ValuesView::Timestamp(q)) => p[a].cmp(&q[b]),
        (ValuesView::Float64(p), ValuesView::Float64(q)) => compare_f64(p[a], q[b]),
        (ValuesView::Bool(p), ValuesView::Bool(q)) => p.get(a).cmp(&q.get(b)),
        (ValuesView::Utf8(p), ValuesView::Utf8(q)) => p.bytes(a).cmp(q.bytes(b)),
        (ValuesView::Binary(p), ValuesView::Binary(q)) => p.value(a).cmp(q.value(b)),
        _ => Ordering::Equal,
    }
}

/// A sort key: column position and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyColumn {
    /// The column's position.
    pub column: usize,
    /// Largest first.
    pub descending: bool,
}

/// Orders row `a` of `xs` against row `b` of `ys` by `keys`.
pub fn compare_rows(
    keys: &[KeyColumn],
    xs: &[ColumnView<'_>],
    a: usize,
    ys: &[ColumnView<'_>],
    b: usize,
) -> Ordering {
    for key in keys {
        let ordering = compare_values(&xs[key.column], a, &ys[key.column], b);
        let ordering = if key.descending {
            ordering.reverse()
        } else {
            ordering
        };
        if ordering != Ordering::Equal {
            return ordering;
        }
    }
    Ordering::Equal
}

/// An order-preserving (not necessarily strict) 64-bit prefix of row
/// `row`'s key value: sorting by it first settles almost every comparison
/// with one integer compare; equal prefixes fall back to the full key.
pub fn key_prefix(column: &ColumnView<'_>, row: usize, descending: bool) -> u64 {
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

/// Orders `positions` (rows of `columns`) by `keys`: by the first key's
/// [`key_prefix`] (a radix sort), then by the whole keys where prefixes
/// tie.
pub fn order_positions(keys: &[KeyColumn], columns: &[ColumnView<'_>], positions: &mut [u32]) {
    let Some(first) = keys.first() else { return };
    let column = &columns[first.column];
    let mut entries: Vec<Entry> = positions
        .iter()
        .map(|&row| (key_prefix(column, row as usize, first.descending), 0, row))
        .collect();
    sort_by_prefix(&mut entries);
    for tied in entries.chunk_by_mut(|a, b| a.0 == b.0) {
        if tied.len() > 1 {
            tied.sort_unstable_by(|a, b| {
                compare_rows(keys, columns, a.2 as usize, columns, b.2 as usize)
            });
        }
    }
    for (position, (_, _, row)) in positions.iter_mut().zip(entries) {
        *position = row;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchBuilder, DataType, Field, Schema, Value};
    use crate::kernels::views;

    #[test]
    fn order_positions_sorts_as_a_comparison_of_whole_keys() {
        let schema = Schema::new(vec![
            Field::nullable("s", DataType::Utf8),
            Field::new("n", DataType::Int64),
        ]);
        let mut builder = BatchBuilder::new(schema, 500);
        for i in 0..500i64 {
            // Texts share long prefixes; some are null.
            let text = match i % 10 {
                0 => Value::Null,
                _ => Value::Utf8(format!("sharedpfx{}", (i * 7919) % 20)),
            };
            builder
                .push_row(&[text, Value::Int64((i * 31) % 7 - 3)])
                .unwrap();
        }
        let batch = builder.finish().unwrap();
        let columns = views(&batch);
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
        // Every other row, as a partitioner's split would hand over.
        let mut positions: Vec<u32> = (0..500).step_by(2).collect();
        let mut expected = positions.clone();
        expected.sort_by(|&a, &b| compare_rows(&keys, &columns, a as usize, &columns, b as usize));
        order_positions(&keys, &columns, &mut positions);
        let order = |rows: &[u32]| -> Vec<Option<(String, i64)>> {
            rows.iter()
                .map(|&r| match (columns[0].values, columns[1].values) {
                    (ValuesView::Utf8(s), ValuesView::Int64(n))
                        if !columns[0].is_null(r as usize) =>
                    {
                        Some((s.value(r as usize).to_string(), n[r as usize]))
                    }
                    _ => None,
                })
                .collect()
        };
        assert_eq!(order(&positions), order(&expected));
        let mut sorted = positions.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..500).step_by(2).collect::<Vec<u32>>());
    }
}
