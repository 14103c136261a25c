//! Where `faro run` puts a job's result: the screen (a table, or JSON
//! objects) or, with `--output FILE`, a CSV, JSON-lines or Parquet file
//! written by the `files` sink's own encoders.

use std::path::{Path, PathBuf};

use anyhow::Context;
use faro_runtime::operators::read::FileFormat;
use faro_runtime::spec::ValidJob;
use faro_runtime::Batch;

use crate::exit::Status;

/// How `run_on` shows a job's result.
#[derive(Debug, Default)]
pub struct Printing {
    /// JSON objects instead of a table (and no progress bars).
    pub json: bool,
    /// A file to write the rows to instead, and its format.
    pub output: Option<(PathBuf, FileFormat)>,
}

/// The format `--output FILE` asks for, by its extension.
pub fn format_of(path: &Path) -> anyhow::Result<(PathBuf, FileFormat)> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let format = match extension.as_str() {
        "csv" => FileFormat::Csv,
        "jsonl" | "json" | "ndjson" => FileFormat::JsonLines,
        "parquet" => FileFormat::Parquet,
        _ => {
            return Err(Status::usage(format!(
                "--output {}: name a .csv, .jsonl (or .json) or .parquet file",
                path.display()
            ))
            .into())
        }
    };
    Ok((path.to_path_buf(), format))
}

/// The schema of the rows a job's `collect` sink takes.
fn collected_schema(job: &ValidJob) -> Option<faro_runtime::data::Schema> {
    job.vertices
        .iter()
        .find(|v| v.operator.name() == "collect")
        .and_then(|v| v.input_schemas.first().cloned())
}

/// Writes `batches`, the result of `job`, to `path` in `format`; the rows
/// written.
pub fn write(
    path: &Path,
    format: FileFormat,
    job: &ValidJob,
    batches: &[Batch],
) -> anyhow::Result<u64> {
    let schema = batches
        .first()
        .map(|b| b.schema().clone())
        .or_else(|| collected_schema(job))
        .ok_or_else(|| Status::usage("--output: the job has no collect sink"))?;
    faro_runtime::operators::files::write_file(path, format, &schema, batches)
        .with_context(|| format!("writing {}", path.display()))
}
