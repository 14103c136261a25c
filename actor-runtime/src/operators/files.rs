//! The `files` sink: rows written as CSV (with a header line), JSON lines
//! or text, one file per subtask in the target directory.
//!
//! Each subtask writes `part-NNNNN.EXT.inprogress-ATTEMPT` and renames it
//! to `part-NNNNN.EXT` once its input ended and the file is synced, so a
//! reader never sees a half-written part and a failed attempt leaves
//! nothing under the final name (its in-progress file is removed).
//!
//! Existing output is not replaced unless the job says `mode: overwrite`:
//! the first attempt of a subtask fails, naming the file, if its part
//! already exists. A re-run attempt may replace it, since after a first
//! attempt found the name free, a part under it can only be this job's.
//! The directory must lie under the worker's write roots.
//!
//! Its params and its catalogue entry, [`FilesDefinition`], are here too.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::access::Access;
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{ColumnView, Schema, Value};
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::operators::read::FileFormat;
use crate::spec::SpecError;

/// What the `files` sink does when its output already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteMode {
    /// Fail the job, leaving the existing files as they are.
    #[default]
    Error,
    /// Replace the existing part files (and remove parts beyond the
    /// job's parallelism).
    Overwrite,
}

/// `files`: writes rows to files, one per subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesParams {
    /// Directory to write `part-N.csv` / `part-N.jsonl` into.
    pub path: String,
    /// Their format.
    pub format: FileFormat,
    /// Whether existing output may be replaced.
    #[serde(default)]
    pub mode: WriteMode,
}

/// The `files` sink: one file per subtask in the target directory.
pub struct Files {
    params: FilesParams,
    schema: Schema,
    /// The part's final name.
    path: PathBuf,
    /// Where it is written until it is complete.
    in_progress: PathBuf,
    out: Option<BufWriter<File>>,
    wrote_header: bool,
}

impl Files {
    /// A sink of `schema` rows as `params` says.
    pub fn new(params: FilesParams, schema: &Schema) -> Self {
        Self {
            params,
            schema: schema.clone(),
            path: PathBuf::new(),
            in_progress: PathBuf::new(),
            out: None,
            wrote_header: false,
        }
    }

    fn extension(&self) -> &'static str {
        match self.params.format {
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
            FileFormat::Text => "txt",
        }
    }

    /// Removes parts numbered `parallelism` and up, left by an earlier
    /// run with more subtasks (overwrite mode, subtask 0 only).
    fn remove_stale_parts(
        &self,
        dir: &std::path::Path,
        parallelism: u32,
    ) -> Result<(), OperatorError> {
        let suffix = format!(".{}", self.extension());
        let entries =
            std::fs::read_dir(dir).map_err(OperatorError::io("listing", dir.display()))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = name
                .strip_prefix("part-")
                .and_then(|rest| rest.strip_suffix(&suffix))
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= parallelism);
            if stale {
                std::fs::remove_file(entry.path())
                    .map_err(OperatorError::io("removing", entry.path().display()))?;
            }
        }
        Ok(())
    }
}

/// A CSV or text cell: empty for null.
fn text_of(column: &ColumnView<'_>, row: usize) -> String {
    match column.value(row) {
        Value::Null => String::new(),
        Value::Utf8(s) => s,
        other => other.to_string(),
    }
}

impl Operator for Files {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let dir = context
            .access
            .check(std::path::Path::new(&self.params.path), Access::Write)?;
        std::fs::create_dir_all(&dir).map_err(OperatorError::io("creating", dir.display()))?;
        let name = format!("part-{:05}.{}", context.subtask, self.extension());
        self.path = dir.join(&name);
        self.in_progress = dir.join(format!("{name}.inprogress-{}", context.attempt));
        match self.params.mode {
            WriteMode::Error if context.attempt == 0 && self.path.exists() => {
                return Err(OperatorError::AccessDenied {
                    action: "writing",
                    path: self.path.display().to_string(),
                    reason: "the file exists; say `mode: overwrite` to replace it".into(),
                });
            }
            WriteMode::Overwrite if context.subtask == 0 => {
                self.remove_stale_parts(&dir, context.parallelism)?;
            }
            _ => {}
        }
        let file = File::create(&self.in_progress)
            .map_err(OperatorError::io("creating", self.in_progress.display()))?;
        self.out = Some(BufWriter::new(file));
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let io = OperatorError::io("writing", self.in_progress.display());
        let Some(out) = self.out.as_mut() else {
            return Ok(());
        };
        let mut text = String::new();
        match self.params.format {
            FileFormat::Csv => {
                let mut writer = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(Vec::new());
                if !self.wrote_header {
                    let names: Vec<&str> =
                        self.schema.fields.iter().map(|f| f.name.as_str()).collect();
                    writer
                        .write_record(&names)
                        .map_err(|e| OperatorError::BadInput(e.to_string()))?;
                    self.wrote_header = true;
                }
                for row in 0..rows.rows {
                    let fields: Vec<String> =
                        rows.columns.iter().map(|c| text_of(c, row)).collect();
                    writer
                        .write_record(&fields)
                        .map_err(|e| OperatorError::BadInput(e.to_string()))?;
                }
                let bytes = writer
                    .into_inner()
                    .map_err(|e| OperatorError::BadInput(e.to_string()))?;
                return out.write_all(&bytes).map_err(io);
            }
            FileFormat::Text => {
                for row in 0..rows.rows {
                    let cells: Vec<String> = rows.columns.iter().map(|c| text_of(c, row)).collect();
                    text.push_str(&cells.join("\t"));
                    text.push('\n');
                }
            }
            FileFormat::JsonLines => {
                for row in 0..rows.rows {
                    let object: serde_json::Map<String, serde_json::Value> = self
                        .schema
                        .fields
                        .iter()
                        .zip(&rows.columns)
                        .map(|(f, c)| (f.name.clone(), c.value(row).to_json()))
                        .collect();
                    text.push_str(&serde_json::Value::Object(object).to_string());
                    text.push('\n');
                }
            }
        }
        out.write_all(text.as_bytes()).map_err(io)
    }

    fn end_input(&mut self, _: usize, _: &mut dyn Emit) -> Result<(), OperatorError> {
        if let Some(mut out) = self.out.take() {
            let writing = || OperatorError::io("writing", self.in_progress.display());
            out.flush().map_err(writing())?;
            out.into_inner()
                .map_err(|e| writing()(e.into_error()))?
                .sync_all()
                .map_err(OperatorError::io("syncing", self.in_progress.display()))?;
            std::fs::rename(&self.in_progress, &self.path)
                .map_err(OperatorError::io("committing", self.path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        // Not committed: the attempt failed or was cancelled (a cancelled
        // task is dropped without being closed).
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.in_progress);
        }
    }
}

/// The catalogue's `files`.
pub struct FilesDefinition;

impl OperatorDefinition for FilesDefinition {
    type Params = FilesParams;

    fn name(&self) -> &'static str {
        "files"
    }

    fn is_sink(&self) -> bool {
        true
    }

    fn output_schema(
        &self,
        _: &FilesParams,
        _: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        Ok(inputs.first().cloned().unwrap_or_default())
    }

    fn build(
        &self,
        params: &FilesParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let files = Files::new(params.clone(), &context.input(0));
        Ok(Built::Operator(Box::new(files)))
    }
}
