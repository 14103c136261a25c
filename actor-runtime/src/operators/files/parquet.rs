//! Rows of a `files` sink written as one Parquet file: the sink's schema
//! mapped to Parquet's (nullable columns optional, timestamps as
//! `TIMESTAMP(MILLIS)`, text as `STRING`, vectors as a `LIST` of floats
//! that pyarrow, Spark and Faro's own `read` all take back), rows
//! buffered column by column and written a row group at a time, snappy
//! compressed.
//!
//! A row group is written when [`ROW_GROUP_ROWS`] rows or
//! [`ROW_GROUP_BYTES`] bytes are buffered, and when the part finishes;
//! row groups are the unit a later `read` shares out across its
//! subtasks, so a part of many row groups is read in parallel.

use std::fs::File;
use std::sync::Arc;

use parquet::basic::{Compression, LogicalType, Repetition, TimeUnit, Type as Physical};
use parquet::data_type::{
    BoolType, ByteArray, ByteArrayType, DataType as ParquetType, DoubleType, FloatType, Int64Type,
};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{Type, TypePtr};

use crate::data::{ColumnView, DataType, Field, Schema, ValuesView, VectorElement};

/// Rows a row group holds at most.
pub const ROW_GROUP_ROWS: usize = 1 << 17;

/// Buffered bytes at which a row group is written.
pub const ROW_GROUP_BYTES: u64 = 64 << 20;

/// Why writing a Parquet part failed, kept apart so that a full or
/// failing disk stays an I/O error (which recovery may retry) and only
/// rows Parquet cannot hold are bad input.
#[derive(Debug)]
pub(super) enum WriteError {
    /// Writing the file failed.
    Io(std::io::Error),
    /// The rows or schema cannot be written as Parquet.
    Format(String),
}

impl From<parquet::errors::ParquetError> for WriteError {
    fn from(error: parquet::errors::ParquetError) -> Self {
        // The crate carries the writer's I/O errors boxed.
        if let parquet::errors::ParquetError::External(inner) = &error {
            if let Some(io) = inner.downcast_ref::<std::io::Error>() {
                return Self::Io(std::io::Error::new(io.kind(), io.to_string()));
            }
        }
        Self::Format(error.to_string())
    }
}

/// One column's buffered rows: values of present rows, and levels.
enum Buffer {
    Bool(Vec<bool>),
    Int64(Vec<i64>),
    Double(Vec<f64>),
    Bytes(Vec<ByteArray>),
    FloatList(Vec<f32>),
    DoubleList(Vec<f64>),
}

/// A column's buffer with its definition (and, for lists, repetition)
/// levels.
struct ColumnBuffer {
    values: Buffer,
    def: Vec<i16>,
    rep: Vec<i16>,
    nullable: bool,
}

/// A Parquet file being written.
pub(super) struct ParquetWriter {
    writer: SerializedFileWriter<File>,
    columns: Vec<ColumnBuffer>,
    rows: usize,
    bytes: u64,
}

impl ParquetWriter {
    /// Starts a file of `schema` rows on `file`.
    pub(super) fn new(file: File, schema: &Schema) -> Result<Self, WriteError> {
        let fields: Vec<TypePtr> = schema
            .fields
            .iter()
            .map(parquet_type)
            .collect::<Result<_, _>>()
            .map_err(WriteError::Format)?;
        let root = Type::group_type_builder("schema")
            .with_fields(fields)
            .build()?;
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by(format!("faro {}", env!("CARGO_PKG_VERSION")))
            .build();
        // The writer buffers its output itself.
        let writer = SerializedFileWriter::new(file, Arc::new(root), Arc::new(properties))?;
        let columns = schema.fields.iter().map(ColumnBuffer::new).collect();
        Ok(Self {
            writer,
            columns,
            rows: 0,
            bytes: 0,
        })
    }

    /// Buffers rows `from..to` of `columns`, writing a row group when
    /// enough are buffered.
    pub(super) fn append(
        &mut self,
        columns: &[ColumnView<'_>],
        from: usize,
        to: usize,
    ) -> Result<(), WriteError> {
        for (buffer, column) in self.columns.iter_mut().zip(columns) {
            self.bytes += buffer.append(column, from, to);
        }
        self.rows += to - from;
        if self.rows >= ROW_GROUP_ROWS || self.bytes >= ROW_GROUP_BYTES {
            self.flush_group()?;
        }
        Ok(())
    }

    /// Writes the buffered rows as a row group.
    fn flush_group(&mut self) -> Result<(), WriteError> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut group = self.writer.next_row_group()?;
        for buffer in &mut self.columns {
            let Some(mut column) = group.next_column()? else {
                return Err(WriteError::Format(
                    "the file has fewer columns than the sink".into(),
                ));
            };
            let (def, rep) = (
                buffer.nullable_or_list().then_some(&buffer.def[..]),
                (!buffer.rep.is_empty()).then_some(&buffer.rep[..]),
            );
            match &buffer.values {
                Buffer::Bool(v) => write::<BoolType>(&mut column, v, def, rep),
                Buffer::Int64(v) => write::<Int64Type>(&mut column, v, def, rep),
                Buffer::Double(v) | Buffer::DoubleList(v) => {
                    write::<DoubleType>(&mut column, v, def, rep)
                }
                Buffer::FloatList(v) => write::<FloatType>(&mut column, v, def, rep),
                Buffer::Bytes(v) => write::<ByteArrayType>(&mut column, v, def, rep),
            }?;
            column.close()?;
            buffer.clear();
        }
        group.close()?;
        self.rows = 0;
        self.bytes = 0;
        Ok(())
    }

    /// Writes what is buffered and the footer, and gives the file back
    /// (to be synced).
    pub(super) fn finish(mut self) -> Result<File, WriteError> {
        self.flush_group()?;
        Ok(self.writer.into_inner()?)
    }
}

/// Where each of `rows`' rows ends in the bytes it will take once
/// buffered (an estimate: eight bytes a value, text and vectors at their
/// length), so a rolling sink can cut a batch at its byte limit.
pub(super) fn row_ends(columns: &[ColumnView<'_>], rows: usize) -> Vec<usize> {
    let mut end = 0;
    (0..rows)
        .map(|row| {
            for column in columns {
                end += match column.values {
                    ValuesView::Utf8(x) => x.bytes(row).len(),
                    ValuesView::Binary(x) => x.value(row).len(),
                    ValuesView::F32Vector { dim, .. } => 4 * dim,
                    ValuesView::F64Vector { dim, .. } => 8 * dim,
                    _ => 8,
                };
            }
            end
        })
        .collect()
}

fn write<T: ParquetType>(
    column: &mut parquet::file::writer::SerializedColumnWriter<'_>,
    values: &[T::T],
    def: Option<&[i16]>,
    rep: Option<&[i16]>,
) -> Result<usize, parquet::errors::ParquetError> {
    column.typed::<T>().write_batch(values, def, rep)
}

impl ColumnBuffer {
    fn new(field: &Field) -> Self {
        let values = match field.data_type {
            DataType::Bool => Buffer::Bool(Vec::new()),
            DataType::Int64 | DataType::Timestamp => Buffer::Int64(Vec::new()),
            DataType::Float64 => Buffer::Double(Vec::new()),
            DataType::Utf8 | DataType::Binary => Buffer::Bytes(Vec::new()),
            DataType::Vector {
                element: VectorElement::F32,
                ..
            } => Buffer::FloatList(Vec::new()),
            DataType::Vector {
                element: VectorElement::F64,
                ..
            } => Buffer::DoubleList(Vec::new()),
        };
        Self {
            values,
            def: Vec::new(),
            rep: Vec::new(),
            nullable: field.nullable,
        }
    }

    /// Whether the column is written with definition levels.
    fn nullable_or_list(&self) -> bool {
        self.nullable || matches!(self.values, Buffer::FloatList(_) | Buffer::DoubleList(_))
    }

    fn clear(&mut self) {
        match &mut self.values {
            Buffer::Bool(v) => v.clear(),
            Buffer::Int64(v) => v.clear(),
            Buffer::Double(v) | Buffer::DoubleList(v) => v.clear(),
            Buffer::FloatList(v) => v.clear(),
            Buffer::Bytes(v) => v.clear(),
        }
        self.def.clear();
        self.rep.clear();
    }

    /// Buffers rows `from..to` of `column`; the bytes they take.
    fn append(&mut self, column: &ColumnView<'_>, from: usize, to: usize) -> u64 {
        // A present value's level: 1 if the column may be null. A list's
        // element is one deeper (its repeated group), and a present list
        // of `dim` elements has `dim` levels, the first starting the row.
        let present = i16::from(self.nullable);
        let mut bytes = 0u64;
        for row in from..to {
            let null = column.is_null(row);
            match (&mut self.values, column.values) {
                (Buffer::Bool(v), ValuesView::Bool(bits)) if !null => v.push(bits.get(row)),
                (Buffer::Int64(v), ValuesView::Int64(x) | ValuesView::Timestamp(x)) if !null => {
                    v.push(x[row])
                }
                (Buffer::Double(v), ValuesView::Float64(x)) if !null => v.push(x[row]),
                (Buffer::Bytes(v), ValuesView::Utf8(x)) if !null => {
                    let value = x.bytes(row);
                    bytes += value.len() as u64;
                    v.push(ByteArray::from(value.to_vec()));
                }
                (Buffer::Bytes(v), ValuesView::Binary(x)) if !null => {
                    let value = x.value(row);
                    bytes += value.len() as u64;
                    v.push(ByteArray::from(value.to_vec()));
                }
                (Buffer::FloatList(v), ValuesView::F32Vector { dim, values }) if !null => {
                    v.extend_from_slice(&values[row * dim..(row + 1) * dim]);
                    self.list_levels(dim, present + 1);
                    bytes += 4 * dim as u64;
                    continue;
                }
                (Buffer::DoubleList(v), ValuesView::F64Vector { dim, values }) if !null => {
                    v.extend_from_slice(&values[row * dim..(row + 1) * dim]);
                    self.list_levels(dim, present + 1);
                    bytes += 8 * dim as u64;
                    continue;
                }
                (Buffer::FloatList(_) | Buffer::DoubleList(_), _) => {
                    // A null list: one level, below the list's own.
                    self.def.push(0);
                    self.rep.push(0);
                    continue;
                }
                _ => {
                    // A null (the view's type is the schema's, checked
                    // where the batch was made).
                    self.def.push(0);
                    continue;
                }
            }
            bytes += 8;
            if self.nullable {
                self.def.push(present);
            }
        }
        bytes
    }

    /// The levels of one present list of `dim` elements, each at `level`.
    fn list_levels(&mut self, dim: usize, level: i16) {
        for i in 0..dim {
            self.def.push(level);
            self.rep.push(i16::from(i > 0));
        }
    }
}

/// The Parquet type of a sink column.
fn parquet_type(field: &Field) -> Result<TypePtr, String> {
    let repetition = if field.nullable {
        Repetition::OPTIONAL
    } else {
        Repetition::REQUIRED
    };
    let primitive = |physical: Physical, logical: Option<LogicalType>| {
        Type::primitive_type_builder(&field.name, physical)
            .with_repetition(repetition)
            .with_logical_type(logical)
            .build()
    };
    let built = match field.data_type {
        DataType::Bool => primitive(Physical::BOOLEAN, None),
        DataType::Int64 => primitive(Physical::INT64, None),
        DataType::Float64 => primitive(Physical::DOUBLE, None),
        DataType::Utf8 => primitive(Physical::BYTE_ARRAY, Some(LogicalType::String)),
        DataType::Binary => primitive(Physical::BYTE_ARRAY, None),
        DataType::Timestamp => primitive(
            Physical::INT64,
            Some(LogicalType::timestamp(true, TimeUnit::MILLIS)),
        ),
        DataType::Vector { element, .. } => {
            let physical = match element {
                VectorElement::F32 => Physical::FLOAT,
                VectorElement::F64 => Physical::DOUBLE,
            };
            let item = Type::primitive_type_builder("element", physical)
                .with_repetition(Repetition::REQUIRED)
                .build()
                .map_err(|e| e.to_string())?;
            let list = Type::group_type_builder("list")
                .with_repetition(Repetition::REPEATED)
                .with_fields(vec![Arc::new(item)])
                .build()
                .map_err(|e| e.to_string())?;
            Type::group_type_builder(&field.name)
                .with_repetition(repetition)
                .with_logical_type(Some(LogicalType::List))
                .with_fields(vec![Arc::new(list)])
                .build()
        }
    };
    built
        .map(Arc::new)
        .map_err(|e| format!("column {:?}: {e}", field.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::errors::ParquetError;

    #[test]
    fn a_full_disk_stays_an_io_error_and_bad_rows_do_not() {
        let full = std::io::Error::new(std::io::ErrorKind::StorageFull, "no space left");
        match WriteError::from(ParquetError::External(Box::new(full))) {
            WriteError::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::StorageFull),
            other => panic!("{other:?}"),
        }
        match WriteError::from(ParquetError::General("bad levels".into())) {
            WriteError::Format(message) => assert!(message.contains("bad levels")),
            other => panic!("{other:?}"),
        }
    }
}
