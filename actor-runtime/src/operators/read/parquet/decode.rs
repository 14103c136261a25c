//! One column chunk of a row group decoded into a declared column, some
//! rows at a time: the `parquet` crate's typed column reader yields the
//! non-null values densely with a definition level per row (and, for
//! lists, a repetition level per element); here they are laid back out
//! row by row, nulls included, converted as the [`Decode`] says.
//!
//! Every error names the row (counted from the file's first) so a bad
//! value can be found in the file.

use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{ByteArray, DataType as ParquetType, FixedLenByteArray};
use parquet::schema::types::ColumnDescriptor;

use super::projection::{ColumnSource, Decode};
use crate::data::{ColumnBuilder, VectorElement};

/// A column chunk being read.
pub(super) struct ColumnDecoder {
    reader: ColumnReader,
    source: ColumnSource,
    /// The definition level of a present value.
    max_def: i16,
    /// The definition level of a list that is present (for lists).
    list_def: i16,
    def: Vec<i16>,
    rep: Vec<i16>,
}

impl ColumnDecoder {
    /// Decodes `reader`'s column, described by `column`, as `source`
    /// says.
    pub(super) fn new(
        reader: ColumnReader,
        source: ColumnSource,
        column: &ColumnDescriptor,
    ) -> Self {
        Self {
            reader,
            source,
            max_def: column.max_def_level(),
            list_def: column.repeated_ancestor_def_level(),
            def: Vec::new(),
            rep: Vec::new(),
        }
    }

    /// Appends the next `rows` rows to `out`; `first_row` is the first's
    /// row number in the file, for errors.
    pub(super) fn read(
        &mut self,
        rows: usize,
        out: &mut ColumnBuilder,
        first_row: u64,
    ) -> Result<(), String> {
        let (max_def, def) = (self.max_def, &mut self.def);
        let failed =
            |row: usize, problem: String| format!("row {}: {problem}", first_row + row as u64);
        let push_err = |row: usize| move |e: crate::data::BatchError| failed(row, e.to_string());
        let chunk = RowSpan {
            count: rows,
            max_def,
            list_def: self.list_def,
            first_row,
        };
        let said = |e: crate::data::BatchError| e.to_string();
        match (&mut self.reader, self.source.decode) {
            (ColumnReader::BoolColumnReader(r), Decode::Bool) => {
                scalars(r, chunk, def, out, |o, v| o.push_bool(*v).map_err(said))
            }
            (ColumnReader::Int32ColumnReader(r), Decode::Int32(scale)) => {
                scalars(r, chunk, def, out, |o, v| {
                    o.push_i64(scale.apply(i64::from(*v))).map_err(said)
                })
            }
            (ColumnReader::Int64ColumnReader(r), Decode::Int64(scale)) => {
                scalars(r, chunk, def, out, |o, v| {
                    o.push_i64(scale.apply(*v)).map_err(said)
                })
            }
            (ColumnReader::Int32ColumnReader(r), Decode::Int32AsFloat) => {
                scalars(r, chunk, def, out, |o, v| {
                    o.push_f64(f64::from(*v)).map_err(said)
                })
            }
            (ColumnReader::Int64ColumnReader(r), Decode::Int64AsFloat) => {
                scalars(r, chunk, def, out, |o, v| {
                    o.push_f64(*v as f64).map_err(said)
                })
            }
            (ColumnReader::FloatColumnReader(r), Decode::Float) => {
                scalars(r, chunk, def, out, |o, v| {
                    o.push_f64(f64::from(*v)).map_err(said)
                })
            }
            (ColumnReader::DoubleColumnReader(r), Decode::Double) => {
                scalars(r, chunk, def, out, |o, v| o.push_f64(*v).map_err(said))
            }
            (ColumnReader::ByteArrayColumnReader(r), Decode::Bytes { text: true }) => {
                scalars(r, chunk, def, out, |o, v: &ByteArray| {
                    let text = std::str::from_utf8(v.data())
                        .map_err(|_| "text that is not UTF-8".to_string())?;
                    o.push_str(text).map_err(said)
                })
            }
            (ColumnReader::ByteArrayColumnReader(r), Decode::Bytes { text: false }) => {
                scalars(r, chunk, def, out, |o, v: &ByteArray| {
                    o.push_bytes(v.data()).map_err(said)
                })
            }
            (ColumnReader::FixedLenByteArrayColumnReader(r), Decode::FixedBytes) => {
                scalars(r, chunk, def, out, |o, v: &FixedLenByteArray| {
                    o.push_bytes(v.data()).map_err(said)
                })
            }
            (ColumnReader::DoubleColumnReader(r), Decode::Vector { dim, element, .. }) => {
                let rep = &mut self.rep;
                vectors(r, chunk, def, rep, dim, |row, v: Option<&[f64]>| {
                    push_vector(out, element, v, |x| *x).map_err(push_err(row))
                })
            }
            (ColumnReader::FloatColumnReader(r), Decode::Vector { dim, element, .. }) => {
                let rep = &mut self.rep;
                vectors(r, chunk, def, rep, dim, |row, v: Option<&[f32]>| {
                    push_vector(out, element, v, |x| f64::from(*x)).map_err(push_err(row))
                })
            }
            _ => Err(format!(
                "column {:?}: the reader does not match its physical type",
                self.source.field.name
            )),
        }
        .map_err(|problem| format!("column {:?}: {problem}", self.source.field.name))
    }
}

/// Reads `rows` whole records: their values (non-null ones only) into
/// `values`, their levels into `def` (and `rep`, for lists), replacing
/// what the buffers held.
fn records<T: ParquetType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: usize,
    def: &mut Vec<i16>,
    mut rep: Option<&mut Vec<i16>>,
    values: &mut Vec<T::T>,
) -> Result<(), String> {
    def.clear();
    if let Some(rep) = rep.as_deref_mut() {
        rep.clear();
    }
    let mut read = 0;
    while read < rows {
        let (records, _, _) = reader
            .read_records(rows - read, Some(def), rep.as_deref_mut(), values)
            .map_err(|e| e.to_string())?;
        if records == 0 {
            return Err(format!("the chunk ends {} rows early", rows - read));
        }
        read += records;
    }
    Ok(())
}

/// The rows a read takes and how their levels read.
#[derive(Clone, Copy)]
struct RowSpan {
    /// How many to read.
    count: usize,
    /// The definition level of a present value (a list's element).
    max_def: i16,
    /// A list's: the level of a present list (below it less one: null;
    /// at it less one: empty).
    list_def: i16,
    /// The first row's number in the file.
    first_row: u64,
}

/// Reads `rows.count` records of a flat column into `out`: a null for
/// each missing value, `push` for each present one.
fn scalars<T: ParquetType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: RowSpan,
    def: &mut Vec<i16>,
    out: &mut ColumnBuilder,
    mut push: impl FnMut(&mut ColumnBuilder, &T::T) -> Result<(), String>,
) -> Result<(), String> {
    let RowSpan {
        count: rows,
        max_def,
        first_row,
        ..
    } = rows;
    let mut values = Vec::with_capacity(rows);
    records(reader, rows, def, None, &mut values)?;
    // A required column has no levels: every value is present.
    let present = |row: usize| max_def == 0 || def.get(row) == Some(&max_def);
    let mut next = values.iter();
    for row in 0..rows {
        let pushed = match present(row).then(|| next.next()).flatten() {
            Some(value) => push(out, value),
            None => out.push_null().map_err(|e| e.to_string()),
        };
        pushed.map_err(|problem| format!("row {}: {problem}", first_row + row as u64))?;
    }
    Ok(())
}

/// Reads `rows.count` records of a list column, calling `push` with each row's
/// elements (`None` for a null list); every present list must hold `dim`
/// non-null elements.
fn vectors<T: ParquetType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: RowSpan,
    def: &mut Vec<i16>,
    rep: &mut Vec<i16>,
    dim: u32,
    mut push: impl FnMut(usize, Option<&[T::T]>) -> Result<(), String>,
) -> Result<(), String> {
    let RowSpan {
        count: rows,
        max_def,
        list_def,
        first_row,
    } = rows;
    let mut values = Vec::with_capacity(rows * dim as usize);
    records(reader, rows, def, Some(&mut *rep), &mut values)?;
    let failed = |row: usize, problem: &str| format!("row {}: {problem}", first_row + row as u64);
    let (mut row, mut at, mut level) = (0, 0, 0);
    while level < def.len() {
        // A row's levels run from a repetition level of 0 to the next.
        let end = (level + 1..def.len())
            .find(|&l| rep[l] == 0)
            .unwrap_or(def.len());
        let present = def[level..end].iter().filter(|&&d| d == max_def).count();
        if end - level == 1 && def[level] < list_def - 1 {
            push(row, None)?;
        } else if end - level == 1 && def[level] == list_def - 1 && dim > 0 {
            return Err(failed(row, &format!("an empty list, not {dim} numbers")));
        } else if present != end - level {
            return Err(failed(row, "a null element in a vector"));
        } else if present != dim as usize {
            return Err(failed(
                row,
                &format!("a list of {present} numbers, not {dim}"),
            ));
        } else {
            push(row, Some(&values[at..at + present]))?;
        }
        at += present;
        level = end;
        row += 1;
    }
    Ok(())
}

/// Appends one vector (or a null) as the declared element width.
fn push_vector<T>(
    out: &mut ColumnBuilder,
    element: VectorElement,
    value: Option<&[T]>,
    widen: impl Fn(&T) -> f64,
) -> Result<(), crate::data::BatchError> {
    let Some(value) = value else {
        return out.push_null();
    };
    match element {
        VectorElement::F64 => {
            let wide: Vec<f64> = value.iter().map(widen).collect();
            out.push_f64_vector(&wide)
        }
        VectorElement::F32 => {
            let narrow: Vec<f32> = value.iter().map(|x| widen(x) as f32).collect();
            out.push_f32_vector(&narrow)
        }
    }
}
