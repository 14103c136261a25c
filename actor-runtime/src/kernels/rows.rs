//! Row-level helpers for operators that work on keys: encoding a row's key
//! columns as bytes (hash-table keys for grouping and joins), copying one
//! value into a builder, and ordering rows by sort keys.

use std::cmp::Ordering;

use super::floats::{compare_f64, key_bits};
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
