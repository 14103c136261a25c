//! One file's bytes parsed into rows of a declared schema: CSV (laid out
//! as its [`CsvOptions`] say, its records found by [`CsvRecords`]), JSON
//! lines, or plain text lines. Shared by the sources
//! that read files (`read`, which streams a store's bytes through a
//! channel, and `follow`, which reads local files as they appear), so
//! both accept the same files and report errors the same way: every
//! error names the file and line, and the column where there is one.

use std::io::{BufRead, BufReader, Read};

use super::csv_records::CsvRecords;
use super::{CsvOptions, FileFormat, MAX_LINE_BYTES};
use crate::data::{BatchBuilder, ColumnBuilder, DataType, Schema};
use crate::operator::OperatorError;

/// A file being parsed, positioned after its last row taken.
pub(crate) enum FileRows<R: Read> {
    /// A CSV file: its reader and each schema column's position in it.
    Csv {
        /// The records.
        reader: Box<CsvRecords<R>>,
        /// Where each schema column is in a record.
        positions: Vec<usize>,
        /// A field of this text is null.
        null_value: Option<String>,
        /// The file, as errors name it.
        file: String,
    },
    /// A JSON-lines or plain text file.
    Lines {
        /// The lines.
        reader: BufReader<R>,
        /// The file, as errors name it.
        file: String,
        /// The last line read.
        line: u64,
        /// Plain text: the line itself is the row's one column.
        text: bool,
    },
}

impl<R: Read> FileRows<R> {
    /// Starts on `file`, whose bytes `reader` yields, as `format`; a CSV
    /// file with a header must name every column of `schema` in it.
    pub(crate) fn open(
        format: FileFormat,
        schema: &Schema,
        csv: &CsvOptions,
        file: String,
        reader: R,
    ) -> Result<Self, OperatorError> {
        Ok(match format {
            FileFormat::Csv => {
                // `CsvOptions::check` made both ASCII at validation.
                let byte = |c: char| u8::try_from(c).unwrap_or(b',');
                let mut reader = CsvRecords::new(reader, byte(csv.delimiter), byte(csv.quote));
                let positions = match csv.header {
                    true => header_positions(&mut reader, schema, &file)?,
                    false => (0..schema.fields.len()).collect(),
                };
                Self::Csv {
                    reader: Box::new(reader),
                    positions,
                    null_value: csv.null_value.clone(),
                    file,
                }
            }
            FileFormat::Parquet => {
                return Err(OperatorError::BadInput(format!(
                    "{file}: Parquet files are not read line by line"
                )))
            }
            FileFormat::JsonLines | FileFormat::Text => Self::Lines {
                reader: BufReader::new(reader),
                file,
                line: 0,
                text: format == FileFormat::Text,
            },
        })
    }

    /// The byte source (to ask it why a read failed).
    pub(crate) fn source(&self) -> &R {
        match self {
            Self::Csv { reader, .. } => reader.get_ref(),
            Self::Lines { reader, .. } => reader.get_ref(),
        }
    }

    /// The byte source back, once the file has ended.
    pub(crate) fn into_source(self) -> R {
        match self {
            Self::Csv { reader, .. } => reader.into_inner(),
            Self::Lines { reader, .. } => reader.into_inner(),
        }
    }

    /// Appends rows of `schema` to `builder` until it holds `limit` rows
    /// (`Ok(true)`: the file may have more) or the file ends (`Ok(false)`).
    pub(crate) fn fill(
        &mut self,
        schema: &Schema,
        builder: &mut BatchBuilder,
        limit: usize,
    ) -> Result<bool, OperatorError> {
        while builder.len() < limit {
            let more = match self {
                Self::Csv {
                    reader,
                    positions,
                    null_value,
                    file,
                } => {
                    let null = null_value.as_deref();
                    csv_row(reader, positions, null, file, schema, builder)?
                }
                Self::Lines {
                    reader,
                    file,
                    line,
                    text,
                } => line_row(reader, file, line, *text, schema, builder)?,
            };
            if !more {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Where each column of `schema` is in the records of a CSV file, by the
/// names its header line gives.
fn header_positions<R: Read>(
    reader: &mut CsvRecords<R>,
    schema: &Schema,
    file: &str,
) -> Result<Vec<usize>, OperatorError> {
    let header = reader
        .next_record()
        .map_err(|e| OperatorError::BadInput(format!("{file} line 1: {e}")))?;
    // An empty file has no header, so no column is in it.
    let names: Vec<&str> = header.map(|h| h.iter().collect()).unwrap_or_default();
    schema
        .fields
        .iter()
        .map(|f| {
            names.iter().position(|&h| h == f.name).ok_or_else(|| {
                OperatorError::BadInput(format!("{file}: no column {:?} in the header", f.name))
            })
        })
        .collect()
}

/// Reads one CSV record into `builder` (a field equal to `null` is
/// null); `false` at the end of the file.
fn csv_row<R: Read>(
    reader: &mut CsvRecords<R>,
    positions: &[usize],
    null: Option<&str>,
    file: &str,
    schema: &Schema,
    builder: &mut BatchBuilder,
) -> Result<bool, OperatorError> {
    let record = match reader.next_record() {
        Ok(Some(record)) => record,
        Ok(None) => return Ok(false),
        Err(e) => {
            let line = reader.line();
            return Err(OperatorError::BadInput(format!("{file} line {line}: {e}")));
        }
    };
    let line = record.line();
    let failed = |e: String| OperatorError::BadInput(format!("{file} line {line}: {e}"));
    for (c, (field, &position)) in schema.fields.iter().zip(positions).enumerate() {
        let text = record.get(position).ok_or_else(|| {
            failed(format!(
                "{} fields, no field {} for column {}",
                record.len(),
                position + 1,
                field.name
            ))
        })?;
        let pushed = match null == Some(text) {
            true => (builder.column(c).push_null())
                .map_err(|_| "null in a non-nullable column".to_string()),
            false => push_field(builder.column(c), field.data_type, text),
        };
        pushed.map_err(|e| failed(format!("column {}: {e}", field.name)))?;
    }
    Ok(true)
}

/// Reads one JSON or text line into `builder` (a blank JSON line adds
/// no row); `false` at the end of the file.
fn line_row<R: Read>(
    reader: &mut BufReader<R>,
    file: &str,
    line: &mut u64,
    plain: bool,
    schema: &Schema,
    builder: &mut BatchBuilder,
) -> Result<bool, OperatorError> {
    *line += 1;
    let failed = |e: String| OperatorError::BadInput(format!("{file} line {line}: {e}"));
    let mut text = String::new();
    // Bounded, so a file without line breaks is never held whole.
    let n = reader
        .take(MAX_LINE_BYTES + 1)
        .read_line(&mut text)
        .map_err(|e| failed(e.to_string()))?;
    if n as u64 > MAX_LINE_BYTES {
        return Err(failed(format!(
            "a line longer than {} MiB",
            MAX_LINE_BYTES >> 20
        )));
    }
    if n == 0 {
        return Ok(false);
    }
    if plain {
        let content = text.trim_end_matches(['\n', '\r']);
        builder
            .column(0)
            .push_str(content)
            .map_err(|e| failed(e.to_string()))?;
    } else if !text.trim().is_empty() {
        push_json_row(&text, schema, builder).map_err(failed)?;
    }
    Ok(true)
}

/// Parses one JSON object into a row of `schema` in `builder` (a missing
/// member is null); the error names the column where there is one. Also
/// how `kafka` reads a record's value.
pub(crate) fn push_json_row(
    text: &str,
    schema: &Schema,
    builder: &mut BatchBuilder,
) -> Result<(), String> {
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| e.to_string())?;
    for (c, field) in schema.fields.iter().enumerate() {
        push_json(builder.column(c), field.data_type, object.get(&field.name))
            .map_err(|e| format!("column {}: {e}", field.name))?;
    }
    Ok(())
}

/// Parses one text field into `builder`.
fn push_field(builder: &mut ColumnBuilder, data_type: DataType, text: &str) -> Result<(), String> {
    if text.is_empty() && data_type != DataType::Utf8 {
        return builder
            .push_null()
            .map_err(|_| "empty value in a non-nullable column".to_string());
    }
    let bad = |what: &str| format!("{text:?} is not {what}");
    let result = match data_type {
        DataType::Int64 => builder.push_i64(text.trim().parse().map_err(|_| bad("an integer"))?),
        DataType::Timestamp => {
            builder.push_i64(text.trim().parse().map_err(|_| bad("a timestamp in ms"))?)
        }
        DataType::Float64 => builder.push_f64(text.trim().parse().map_err(|_| bad("a number"))?),
        DataType::Bool => builder.push_bool(match text.trim() {
            "true" | "TRUE" | "1" => true,
            "false" | "FALSE" | "0" => false,
            _ => return Err(bad("a boolean")),
        }),
        DataType::Utf8 => builder.push_str(text),
        other => return Err(format!("{other} columns cannot be read from text files")),
    };
    result.map_err(|e| e.to_string())
}

/// Parses one JSON value into `builder`.
fn push_json(
    builder: &mut ColumnBuilder,
    data_type: DataType,
    value: Option<&serde_json::Value>,
) -> Result<(), String> {
    use serde_json::Value as J;
    let result = match (data_type, value) {
        (_, None | Some(J::Null)) => builder.push_null(),
        (DataType::Int64 | DataType::Timestamp, Some(J::Number(n))) => {
            builder.push_i64(n.as_i64().ok_or_else(|| format!("{n} is not an integer"))?)
        }
        (DataType::Float64, Some(J::Number(n))) => builder.push_f64(n.as_f64().unwrap_or(f64::NAN)),
        (DataType::Bool, Some(J::Bool(b))) => builder.push_bool(*b),
        (DataType::Utf8, Some(J::String(s))) => builder.push_str(s),
        (expected, Some(other)) => return Err(format!("{other} is not {expected}")),
    };
    result.map_err(|e| e.to_string())
}
