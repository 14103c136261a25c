//! Byte strings that sort as rows do. `over` keys each row it holds by
//! one ([`order_key`]), so a map's order is the window's; the continuous
//! `top_n` keys its rows by the sort keys alone ([`sort_key`]) followed
//! by the row's stored values (see its `ranking` module).
//!
//! Each sort key column is encoded so that comparing the bytes compares
//! the values exactly as [`crate::kernels::rows::compare_values`] does
//! (nulls first, doubles as `compare_f64` orders them, NaN last, ±0
//! equal), and a descending column has its bytes inverted. Every column's
//! encoding is prefix-free, so whatever follows the sort keys only breaks
//! ties. [`order_key`] follows them with the whole row, every column
//! ascending (a vector, which has no order, as its elements' bits): rows
//! equal on the sort keys are ordered by their columns, left to right,
//! and two rows share a key exactly when they are equal (as grouping
//! counts equality), so a retraction finds the row it retracts by
//! encoding it again.

use crate::data::{ColumnView, ValuesView};
use crate::kernels::floats::key_bits;
use crate::kernels::rows::KeyColumn;

/// Appends row `row`'s order key to `out`: its sort key columns, then the
/// whole row as a tie-break.
pub(crate) fn order_key(
    keys: &[KeyColumn],
    columns: &[ColumnView<'_>],
    row: usize,
    out: &mut Vec<u8>,
) {
    sort_key(keys, columns, row, out);
    for column in columns {
        encode_ordered(column, row, out);
        match column.values {
            ValuesView::F32Vector { dim, values } if !column.is_null(row) => {
                for f in &values[row * dim..(row + 1) * dim] {
                    out.extend_from_slice(&f.to_bits().to_be_bytes());
                }
            }
            ValuesView::F64Vector { dim, values } if !column.is_null(row) => {
                for f in &values[row * dim..(row + 1) * dim] {
                    out.extend_from_slice(&f.to_bits().to_be_bytes());
                }
            }
            _ => {}
        }
    }
}

/// Appends row `row`'s sort key columns to `out`, each in its direction.
pub(crate) fn sort_key(
    keys: &[KeyColumn],
    columns: &[ColumnView<'_>],
    row: usize,
    out: &mut Vec<u8>,
) {
    for key in keys {
        let start = out.len();
        encode_ordered(&columns[key.column], row, out);
        if key.descending {
            // Inverting every byte reverses the order of the column's
            // encodings, the end marker of text included (see below), and
            // keeps them prefix-free.
            for byte in &mut out[start..] {
                *byte = !*byte;
            }
        }
    }
}

/// One value, order-preserving under byte comparison.
fn encode_ordered(column: &ColumnView<'_>, row: usize, out: &mut Vec<u8>) {
    if column.is_null(row) {
        out.push(0);
        return;
    }
    out.push(1);
    match column.values {
        ValuesView::Bool(bits) => out.push(u8::from(bits.get(row))),
        ValuesView::Int64(v) | ValuesView::Timestamp(v) => {
            // Flipping the sign bit makes two's complement sort unsigned.
            out.extend_from_slice(&((v[row] as u64) ^ (1 << 63)).to_be_bytes())
        }
        ValuesView::Float64(v) => {
            // IEEE bits sort as sign-magnitude: negative numbers inverted
            // whole, positive ones with the sign bit set.
            let bits = key_bits(v[row]);
            let ordered = if bits >> 63 == 1 {
                !bits
            } else {
                bits | (1 << 63)
            };
            out.extend_from_slice(&ordered.to_be_bytes());
        }
        ValuesView::Utf8(text) => escaped(text.bytes(row), out),
        ValuesView::Binary(bytes) => escaped(bytes.value(row), out),
        // Vectors have no order (compare_values calls them equal): only
        // their nullness counts, and the tie-break tells them apart.
        ValuesView::F32Vector { .. } | ValuesView::F64Vector { .. } => {}
    }
}

/// Bytes of variable length as a prefix-free, order-preserving string:
/// each 0 byte becomes `0 0xFF` and the end is `0 0`, so a string sorts
/// before every longer string it begins ("a" < "a\0" < "ab").
fn escaped(bytes: &[u8], out: &mut Vec<u8>) {
    for &byte in bytes {
        out.push(byte);
        if byte == 0 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0, 0]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchBuilder, DataType, Field, Schema, Value};
    use crate::kernels::rows::compare_rows;
    use crate::kernels::views;

    /// Byte order agrees with `compare_rows` on every pair of rows (where
    /// it calls them equal, the tie-break may order them either way).
    #[test]
    fn byte_order_is_compare_rows_order() {
        let schema = Schema::new(vec![
            Field::nullable("t", DataType::Utf8),
            Field::nullable("x", DataType::Float64),
            Field::nullable("i", DataType::Int64),
        ]);
        let texts = [
            None,
            Some(""),
            Some("a"),
            Some("a\0"),
            Some("a\0b"),
            Some("ab"),
            Some("b"),
        ];
        let floats = [
            None,
            Some(f64::NEG_INFINITY),
            Some(-1.5),
            Some(-0.0),
            Some(0.0),
            Some(2.0),
            Some(f64::NAN),
        ];
        let ints = [
            None,
            Some(i64::MIN),
            Some(-1),
            Some(0),
            Some(7),
            Some(i64::MAX),
        ];
        let mut builder = BatchBuilder::new(schema, 0);
        for (i, t) in texts.iter().enumerate() {
            for (j, x) in floats.iter().enumerate() {
                let n = ints[(i + j) % ints.len()];
                builder
                    .push_row(&[
                        t.map_or(Value::Null, |t| Value::Utf8(t.into())),
                        x.map_or(Value::Null, Value::Float64),
                        n.map_or(Value::Null, Value::Int64),
                    ])
                    .unwrap();
            }
        }
        let batch = builder.finish().unwrap();
        let columns = views(&batch);
        for descending in [false, true] {
            let keys: Vec<KeyColumn> = (0..3)
                .map(|column| KeyColumn {
                    column,
                    descending: descending ^ (column == 1),
                })
                .collect();
            let encoded: Vec<Vec<u8>> = (0..batch.num_rows())
                .map(|row| {
                    let mut out = Vec::new();
                    order_key(&keys, &columns, row, &mut out);
                    out
                })
                .collect();
            for a in 0..batch.num_rows() {
                for b in 0..batch.num_rows() {
                    let want = compare_rows(&keys, &columns, a, &columns, b);
                    if want != std::cmp::Ordering::Equal {
                        assert_eq!(encoded[a].cmp(&encoded[b]), want, "rows {a} and {b}");
                    }
                }
            }
        }
    }
}
