//! Whole rows as compact bytes, and back: how an operator that must hold
//! many rows of a schema (the streaming join's two sides) keeps them.
//! A row of values would cost an enum of 32 bytes per value plus a heap
//! allocation per string; encoded, an integer costs 9 bytes and a string
//! its length plus one or two, in one allocation per row.
//!
//! Per column: a tag byte (0 null, 1 present), then the value: a boolean
//! as one byte, integers, timestamps and doubles as 8 little-endian bytes
//! (a double's exact bits, so `-0.0` and `0.0` stay apart and every row
//! reads back as it was), text and bytes as a LEB128 length and the bytes,
//! a vector as its schema's `dim` elements. Equal rows encode equal, so
//! the bytes are also the row's identity.

use super::rows::append_value;
use crate::data::{
    Batch, BatchBuilder, BatchError, ColumnView, DataType, Schema, ValuesView, VectorElement,
};

/// Encodes and decodes rows of one schema's column types.
#[derive(Debug, Clone)]
pub struct RowCodec {
    types: Vec<DataType>,
}

impl RowCodec {
    /// A codec for rows of these column types, in order.
    pub fn new(types: Vec<DataType>) -> Self {
        Self { types }
    }

    /// Columns per row.
    pub fn width(&self) -> usize {
        self.types.len()
    }

    /// Appends row `row` of `columns` (of this codec's types) to `out`.
    pub fn encode(&self, columns: &[ColumnView<'_>], row: usize, out: &mut Vec<u8>) {
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
                ValuesView::Float64(v) => out.extend_from_slice(&v[row].to_bits().to_le_bytes()),
                ValuesView::Utf8(text) => put_bytes(out, text.bytes(row)),
                ValuesView::Binary(bytes) => put_bytes(out, bytes.value(row)),
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

    /// Appends the row `bytes` encodes to columns `first..first + width`
    /// of `builder`; an error if the bytes are not one whole row of this
    /// codec's types.
    pub fn decode(
        &self,
        mut bytes: &[u8],
        builder: &mut BatchBuilder,
        first: usize,
    ) -> Result<(), BatchError> {
        for (i, data_type) in self.types.iter().enumerate() {
            let column = builder.column(first + i);
            if take(&mut bytes, 1)?[0] == 0 {
                column.push_null()?;
                continue;
            }
            match data_type {
                DataType::Bool => column.push_bool(take(&mut bytes, 1)?[0] != 0)?,
                DataType::Int64 | DataType::Timestamp => column.push_i64(take_i64(&mut bytes)?)?,
                DataType::Float64 => {
                    column.push_f64(f64::from_bits(take_i64(&mut bytes)? as u64))?
                }
                DataType::Utf8 => {
                    let text = take_bytes(&mut bytes)?;
                    let text = std::str::from_utf8(text)
                        .map_err(|e| malformed(&format!("text that is not UTF-8: {e}")))?;
                    column.push_str(text)?
                }
                DataType::Binary => column.push_bytes(take_bytes(&mut bytes)?)?,
                DataType::Vector { element, dim } => {
                    let dim = *dim as usize;
                    match element {
                        VectorElement::F32 => {
                            let raw = take(&mut bytes, dim * 4)?;
                            let values: Vec<f32> = raw
                                .chunks_exact(4)
                                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                                .collect();
                            column.push_f32_vector(&values)?
                        }
                        VectorElement::F64 => {
                            let raw = take(&mut bytes, dim * 8)?;
                            let values: Vec<f64> = raw
                                .chunks_exact(8)
                                .map(|c| f64::from_bits(u64::from_le_bytes(word(c))))
                                .collect();
                            column.push_f64_vector(&values)?
                        }
                    }
                }
            }
        }
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(malformed(&format!(
                "{} bytes past its last column",
                bytes.len()
            )))
        }
    }

    /// A batch of `schema` (this codec's types) holding the rows
    /// `encoded`, in order: what an operator holding encoded rows saves
    /// at a checkpoint.
    pub fn to_batch<'r>(
        &self,
        schema: &Schema,
        encoded: impl ExactSizeIterator<Item = &'r [u8]>,
    ) -> Result<Batch, BatchError> {
        let mut builder = BatchBuilder::new(schema.clone(), encoded.len());
        for row in encoded {
            self.decode(row, &mut builder, 0)?;
        }
        builder.finish()
    }

    /// Appends a row of nulls to columns `first..first + width`.
    pub fn push_nulls(&self, builder: &mut BatchBuilder, first: usize) -> Result<(), BatchError> {
        (first..first + self.width()).try_for_each(|i| builder.column(i).push_null())
    }

    /// Appends row `row` of `columns` as it is (no encoding) to columns
    /// `first..` of `builder`.
    pub fn copy(
        columns: &[ColumnView<'_>],
        row: usize,
        builder: &mut BatchBuilder,
        first: usize,
    ) -> Result<(), BatchError> {
        for (i, column) in columns.iter().enumerate() {
            append_value(builder.column(first + i), column, row)?;
        }
        Ok(())
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut len = bytes.len();
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(bytes);
}

fn malformed(what: &str) -> BatchError {
    BatchError::Malformed(format!("an encoded row holds {what}"))
}

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], BatchError> {
    if bytes.len() < n {
        return Err(malformed("fewer bytes than its columns need"));
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

fn word(chunk: &[u8]) -> [u8; 8] {
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    word
}

fn take_i64(bytes: &mut &[u8]) -> Result<i64, BatchError> {
    Ok(i64::from_le_bytes(word(take(bytes, 8)?)))
}

fn take_bytes<'a>(bytes: &mut &'a [u8]) -> Result<&'a [u8], BatchError> {
    let mut len = 0usize;
    for shift in (0..64).step_by(7) {
        let byte = take(bytes, 1)?[0];
        len |= usize::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return take(bytes, len);
        }
    }
    Err(malformed("a length longer than 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Field, Schema, Value};
    use crate::kernels::views;

    fn schema() -> Schema {
        Schema::new(vec![
            Field::nullable("b", DataType::Bool),
            Field::nullable("i", DataType::Int64),
            Field::nullable("f", DataType::Float64),
            Field::nullable("s", DataType::Utf8),
            Field::nullable("x", DataType::Binary),
            Field::nullable("t", DataType::Timestamp),
            Field::nullable(
                "v",
                DataType::Vector {
                    element: VectorElement::F32,
                    dim: 2,
                },
            ),
        ])
    }

    fn rows() -> Vec<Vec<Value>> {
        vec![
            vec![
                Value::Bool(true),
                Value::Int64(-7),
                Value::Float64(-0.0),
                Value::Utf8("é".repeat(100)),
                Value::Binary(vec![0, 255]),
                Value::Timestamp(1_700_000_000_000),
                Value::F32Vector(vec![1.5, -2.0]),
            ],
            vec![Value::Null; 7],
            vec![
                Value::Bool(false),
                Value::Int64(i64::MAX),
                Value::Float64(f64::NAN),
                Value::Utf8(String::new()),
                Value::Binary(Vec::new()),
                Value::Timestamp(0),
                Value::F32Vector(vec![0.0, 0.0]),
            ],
        ]
    }

    #[test]
    fn rows_read_back_as_they_were() {
        let schema = schema();
        let mut builder = BatchBuilder::new(schema.clone(), 3);
        for row in rows() {
            builder.push_row(&row).unwrap();
        }
        let batch = builder.finish().unwrap();
        let columns = views(&batch);
        let codec = RowCodec::new(schema.fields.iter().map(|f| f.data_type).collect());
        let mut decoded = BatchBuilder::new(schema.clone(), 3);
        let mut encodings = Vec::new();
        for row in 0..3 {
            let mut bytes = Vec::new();
            codec.encode(&columns, row, &mut bytes);
            codec.decode(&bytes, &mut decoded, 0).unwrap();
            encodings.push(bytes);
        }
        let decoded = decoded.finish().unwrap();
        let again = views(&decoded);
        for (row, encoded) in encodings.iter().enumerate() {
            let mut bytes = Vec::new();
            codec.encode(&again, row, &mut bytes);
            assert_eq!(&bytes, encoded, "row {row} changed through the codec");
        }
        assert_eq!(decoded.to_bytes()[..], batch.to_bytes()[..]);
    }

    #[test]
    fn truncated_or_padded_bytes_are_errors() {
        let schema = schema();
        let mut builder = BatchBuilder::new(schema.clone(), 1);
        builder.push_row(&rows()[0]).unwrap();
        let batch = builder.finish().unwrap();
        let codec = RowCodec::new(schema.fields.iter().map(|f| f.data_type).collect());
        let mut bytes = Vec::new();
        codec.encode(&views(&batch), 0, &mut bytes);
        for cut in 0..bytes.len() {
            let mut out = BatchBuilder::new(schema.clone(), 1);
            assert!(
                codec.decode(&bytes[..cut], &mut out, 0).is_err(),
                "cut at {cut}"
            );
        }
        bytes.push(0);
        let mut out = BatchBuilder::new(schema, 1);
        assert!(codec.decode(&bytes, &mut out, 0).is_err());
    }
}
