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
        let levels = ListLevels {
            max_def,
            list_def: self.list_def,
            first_row,
        };
        let failed =
            |row: usize, problem: String| format!("row {}: {problem}", first_row + row as u64);
        let push_err = |row: usize| move |e: crate::data::BatchError| failed(row, e.to_string());
        match (&mut self.reader, self.source.decode) {
            (ColumnReader::BoolColumnReader(r), Decode::Bool) => {
                scalars(r, rows, max_def, def, |row, v| match v {
                    Some(v) => out.push_bool(*v).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                })
            }
            (ColumnReader::Int32ColumnReader(r), Decode::Int32(scale)) => {
                scalars(r, rows, max_def, def, |row, v| match v {
                    Some(v) => out
                        .push_i64(scale.apply(i64::from(*v)))
                        .map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                })
            }
            (ColumnReader::Int64ColumnReader(r), Decode::Int64(scale)) => {
                scalars(r, rows, max_def, def, |row, v| match v {
                    Some(v) => out.push_i64(scale.apply(*v)).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                })
            }
            (ColumnReader::Int32ColumnReader(r), Decode::Int32AsFloat) => {
                scalars(r, rows, max_def, def, |row, v| match v {
                    Some(v) => out.push_f64(f64::from(*v)).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                })
            }
            (ColumnReader::Int64ColumnReader(r), Decode::Int64AsFloat) => {
                scalars(r, rows, max_def, def, |row, v| match v {
                    Some(v) => out.push_f64(*v as f64).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                })
            }
            (ColumnReader::FloatColumnReader(r), Decode::Float) => {
                scalars(r, rows, max_def, def, |row, v| match v {
                    Some(v) => out.push_f64(f64::from(*v)).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                })
            }
            (ColumnReader::DoubleColumnReader(r), Decode::Double) => {
                scalars(r, rows, max_def, def, |row, v| match v {
                    Some(v) => out.push_f64(*v).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                })
            }
            (ColumnReader::ByteArrayColumnReader(r), Decode::Bytes { text }) => scalars(
                r,
                rows,
                max_def,
                def,
                |row, v: Option<&ByteArray>| match v {
                    Some(v) if text => {
                        let s = std::str::from_utf8(v.data())
                            .map_err(|_| failed(row, "text that is not UTF-8".into()))?;
                        out.push_str(s).map_err(push_err(row))
                    }
                    Some(v) => out.push_bytes(v.data()).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                },
            ),
            (ColumnReader::FixedLenByteArrayColumnReader(r), Decode::FixedBytes) => scalars(
                r,
                rows,
                max_def,
                def,
                |row, v: Option<&FixedLenByteArray>| match v {
                    Some(v) => out.push_bytes(v.data()).map_err(push_err(row)),
                    None => out.push_null().map_err(push_err(row)),
                },
            ),
            (ColumnReader::DoubleColumnReader(r), Decode::Vector { dim, element, .. }) => {
                let rep = &mut self.rep;
                vectors(r, rows, levels, def, rep, dim, |row, v: Option<&[f64]>| {
                    push_vector(out, element, v, |x| *x).map_err(push_err(row))
                })
            }
            (ColumnReader::FloatColumnReader(r), Decode::Vector { dim, element, .. }) => {
                let rep = &mut self.rep;
                vectors(r, rows, levels, def, rep, dim, |row, v: Option<&[f32]>| {
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

/// Reads `rows` records of a flat column, calling `push` with each row's
/// value (`None` for null) in order.
fn scalars<T: ParquetType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: usize,
    max_def: i16,
    def: &mut Vec<i16>,
    mut push: impl FnMut(usize, Option<&T::T>) -> Result<(), String>,
) -> Result<(), String> {
    let mut values = Vec::with_capacity(rows);
    def.clear();
    let mut read = 0;
    while read < rows {
        let (records, _, _) = reader
            .read_records(rows - read, Some(def), None, &mut values)
            .map_err(|e| e.to_string())?;
        if records == 0 {
            return Err(format!("the chunk ends {} rows early", rows - read));
        }
        read += records;
    }
    if max_def == 0 {
        for (row, value) in values.iter().enumerate() {
            push(row, Some(value))?;
        }
        return Ok(());
    }
    let mut next = values.iter();
    for (row, level) in def.iter().enumerate() {
        push(row, if *level == max_def { next.next() } else { None })?;
    }
    Ok(())
}

/// A list column's definition levels, and where its rows start.
#[derive(Clone, Copy)]
struct ListLevels {
    /// An element is present.
    max_def: i16,
    /// The list is present (below: null; at it less one: empty).
    list_def: i16,
    /// The first row's number in the file.
    first_row: u64,
}

/// Reads `rows` records of a list column, calling `push` with each row's
/// elements (`None` for a null list); every present list must hold `dim`
/// non-null elements.
fn vectors<T: ParquetType>(
    reader: &mut ColumnReaderImpl<T>,
    rows: usize,
    levels: ListLevels,
    def: &mut Vec<i16>,
    rep: &mut Vec<i16>,
    dim: u32,
    mut push: impl FnMut(usize, Option<&[T::T]>) -> Result<(), String>,
) -> Result<(), String> {
    let mut values = Vec::with_capacity(rows * dim as usize);
    def.clear();
    rep.clear();
    let mut read = 0;
    while read < rows {
        let (records, _, _) = reader
            .read_records(rows - read, Some(def), Some(rep), &mut values)
            .map_err(|e| e.to_string())?;
        if records == 0 {
            return Err(format!("the chunk ends {} rows early", rows - read));
        }
        read += records;
    }
    let ListLevels {
        max_def,
        list_def,
        first_row,
    } = levels;
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
