//! One part file of the `files` sink: rows encoded in the sink's format
//! (lines of text, or a Parquet file through [`ParquetWriter`]), written
//! under an in-progress name, and renamed to the final name only once
//! flushed and synced — so no reader ever sees a half-written part under
//! a final name, and a part that is not finished (a failed or cancelled
//! attempt) is removed, leaving nothing behind.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::parquet::{row_ends, ParquetWriter, WriteError};
use crate::data::{ColumnView, Schema, Value};
use crate::operator::{OperatorError, Rows};
use crate::operators::read::{CsvOptions, FileFormat};

/// What a part's rows are written through.
enum Body {
    /// Encoded lines, appended as they come.
    Lines(BufWriter<File>),
    /// Rows buffered into row groups, the footer written at the end.
    Parquet(Box<ParquetWriter>),
}

/// A part being written.
pub(super) struct Part {
    /// The final name's path.
    path: PathBuf,
    /// Where it is written until it is finished.
    in_progress: PathBuf,
    body: Option<Body>,
    /// Rows written.
    pub(super) rows: u64,
    /// Bytes written, header included.
    pub(super) bytes: u64,
    /// When it was created.
    pub(super) opened: Instant,
    /// Whether a CSV header has been written.
    pub(super) wrote_header: bool,
}

impl Part {
    /// Creates `dir/NAME.inprogress-ATTEMPT`, to become `dir/NAME`, for
    /// rows of `schema` in `format`.
    pub(super) fn create(
        dir: &Path,
        name: &str,
        attempt: u32,
        format: FileFormat,
        schema: &Schema,
    ) -> Result<Self, OperatorError> {
        let in_progress = dir.join(format!("{name}.inprogress-{attempt}"));
        let file = File::create(&in_progress)
            .map_err(OperatorError::io("creating", in_progress.display()))?;
        let body = if format == FileFormat::Parquet {
            let writer = ParquetWriter::new(file, schema).map_err(|e| {
                let _ = std::fs::remove_file(&in_progress);
                written(&in_progress, e)
            })?;
            Body::Parquet(Box::new(writer))
        } else {
            Body::Lines(BufWriter::new(file))
        };
        Ok(Self {
            path: dir.join(name),
            in_progress,
            body: Some(body),
            rows: 0,
            bytes: 0,
            opened: Instant::now(),
            wrote_header: false,
        })
    }

    /// Appends `bytes` of text holding `rows` rows (a header: none).
    pub(super) fn write(&mut self, bytes: &[u8], rows: u64) -> Result<(), OperatorError> {
        let Some(Body::Lines(out)) = self.body.as_mut() else {
            return Ok(());
        };
        out.write_all(bytes)
            .map_err(OperatorError::io("writing", self.in_progress.display()))?;
        self.rows += rows;
        self.bytes += bytes.len() as u64;
        Ok(())
    }

    /// Appends the rows `range` of `rows`, whose encoding is `encoded`.
    pub(super) fn append(
        &mut self,
        encoded: &Encoded,
        rows: &Rows<'_>,
        range: Range<usize>,
    ) -> Result<(), OperatorError> {
        let from = range.start.checked_sub(1).map_or(0, |r| encoded.ends[r]);
        let to = range.end.checked_sub(1).map_or(0, |r| encoded.ends[r]);
        let count = (range.end - range.start) as u64;
        match self.body.as_mut() {
            Some(Body::Lines(_)) => self.write(&encoded.bytes[from..to], count),
            Some(Body::Parquet(writer)) => {
                writer
                    .append(&rows.columns, range.start, range.end)
                    .map_err(|e| written(&self.in_progress, e))?;
                self.rows += count;
                self.bytes += (to - from) as u64;
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Its final name.
    pub(super) fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Flushes, syncs and renames the part to `name` in its directory
    /// instead of its final name (a part pending its commit).
    pub(super) fn finish_as(mut self, name: &str) -> Result<(), OperatorError> {
        self.path.set_file_name(name);
        self.finish()
    }

    /// Flushes, syncs and renames the part to its final name.
    pub(super) fn finish(mut self) -> Result<(), OperatorError> {
        let Some(body) = self.body.take() else {
            return Ok(());
        };
        let writing = || OperatorError::io("writing", self.in_progress.display());
        let flushed = match body {
            Body::Lines(mut out) => out
                .flush()
                .map_err(writing())
                .and_then(|()| out.into_inner().map_err(|e| writing()(e.into_error()))),
            Body::Parquet(writer) => writer.finish().map_err(|e| written(&self.in_progress, e)),
        };
        let done = flushed
            .and_then(|file| {
                file.sync_all()
                    .map_err(OperatorError::io("syncing", self.in_progress.display()))
            })
            .and_then(|()| {
                std::fs::rename(&self.in_progress, &self.path)
                    .map_err(OperatorError::io("committing", self.path.display()))
            });
        if done.is_err() {
            let _ = std::fs::remove_file(&self.in_progress);
        }
        done
    }
}

/// Writes the rows of `batches` (of `schema`) to one file at `path` in
/// `format` — CSV with a header line, JSON lines, text or Parquet —
/// through the sink's own encoders: the file appears under its name only
/// once it is whole, replacing what was there. Returns the rows written.
/// (`faro run --output`: a result too large for a screen.)
pub fn write_file(
    path: &Path,
    format: FileFormat,
    schema: &Schema,
    batches: &[crate::data::Batch],
) -> Result<u64, OperatorError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| OperatorError::BadInput(format!("{}: not a file name", path.display())))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let csv = CsvOptions::default();
    let mut part = Part::create(dir, &name, 0, format, schema)?;
    let head = header(format, schema, &csv)?;
    part.write(&head, 0)?;
    for batch in batches {
        let rows = Rows::of_batch(batch);
        let encoded = encode((format, &csv), schema, &rows)?;
        part.append(&encoded, &rows, 0..rows.rows)?;
    }
    let written = part.rows;
    part.finish()?;
    Ok(written)
}

/// A failed Parquet write of `path` as the operator's error: the disk's
/// failures stay I/O errors.
fn written(path: &Path, error: WriteError) -> OperatorError {
    match error {
        WriteError::Io(source) => OperatorError::io("writing", path.display())(source),
        WriteError::Format(message) => {
            OperatorError::BadInput(format!("{}: {message}", path.display()))
        }
    }
}

impl Drop for Part {
    fn drop(&mut self) {
        // Not finished: the attempt failed or was cancelled (a cancelled
        // task is dropped without being closed).
        if self.body.take().is_some() {
            let _ = std::fs::remove_file(&self.in_progress);
        }
    }
}

/// Rows encoded in a file format: their bytes and where each row ends,
/// so a batch can be cut between any two rows into two parts. Parquet
/// rows are encoded only when their row group is written: for them
/// `bytes` is empty and `ends` are estimates.
pub(super) struct Encoded {
    /// The rows' bytes, one after another.
    pub(super) bytes: Vec<u8>,
    /// The end offset of each row in `bytes`.
    pub(super) ends: Vec<usize>,
}

/// A CSV header line (the column names), unless `csv` says there is
/// none; no header for other formats.
pub(super) fn header(
    format: FileFormat,
    schema: &Schema,
    csv: &CsvOptions,
) -> Result<Vec<u8>, OperatorError> {
    if format != FileFormat::Csv || !csv.header {
        return Ok(Vec::new());
    }
    let mut writer = csv.writer_builder().from_writer(Vec::new());
    let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    writer.write_record(&names).map_err(csv_error)?;
    writer.into_inner().map_err(|e| csv_error(e.into_error()))
}

fn csv_error(error: impl std::fmt::Display) -> OperatorError {
    OperatorError::BadInput(error.to_string())
}

/// A CSV or text cell: `null` for null.
fn text_of(column: &ColumnView<'_>, row: usize, null: &str) -> String {
    match column.value(row) {
        Value::Null => null.to_string(),
        Value::Utf8(s) => s,
        other => other.to_string(),
    }
}

/// `rows` of `schema` in `format` (CSV laid out as `csv` says), one
/// line each.
pub(super) fn encode(
    (format, csv): (FileFormat, &CsvOptions),
    schema: &Schema,
    rows: &Rows<'_>,
) -> Result<Encoded, OperatorError> {
    let mut ends = Vec::with_capacity(rows.rows);
    let bytes = match format {
        FileFormat::Parquet => {
            return Ok(Encoded {
                bytes: Vec::new(),
                ends: row_ends(&rows.columns, rows.rows),
            })
        }
        FileFormat::Csv => {
            let mut writer = csv.writer_builder().from_writer(Vec::new());
            let null = csv.null_value.as_deref().unwrap_or("");
            for row in 0..rows.rows {
                let fields: Vec<String> =
                    rows.columns.iter().map(|c| text_of(c, row, null)).collect();
                writer.write_record(&fields).map_err(csv_error)?;
                // The writer buffers: flushed, its vector ends at the row.
                writer.flush().map_err(csv_error)?;
                ends.push(writer.get_ref().len());
            }
            writer.into_inner().map_err(|e| csv_error(e.into_error()))?
        }
        FileFormat::Text => {
            let mut text = String::new();
            for row in 0..rows.rows {
                let cells: Vec<String> = rows.columns.iter().map(|c| text_of(c, row, "")).collect();
                text.push_str(&cells.join("\t"));
                text.push('\n');
                ends.push(text.len());
            }
            text.into_bytes()
        }
        FileFormat::JsonLines => {
            let mut text = String::new();
            // Members in the schema's column order (a `serde_json` map
            // would sort them by name).
            let names: Vec<String> = schema
                .fields
                .iter()
                .map(|f| serde_json::Value::from(f.name.as_str()).to_string())
                .collect();
            for row in 0..rows.rows {
                text.push('{');
                for (i, (name, column)) in names.iter().zip(&rows.columns).enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(name);
                    text.push(':');
                    text.push_str(&column.value(row).to_json().to_string());
                }
                text.push_str("}\n");
                ends.push(text.len());
            }
            text.into_bytes()
        }
    };
    Ok(Encoded { bytes, ends })
}
