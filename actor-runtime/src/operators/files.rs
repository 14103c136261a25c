//! The `files` sink: rows written as CSV (with a header line), JSON lines
//! or text, one file per subtask in the target directory, synced at the
//! end of input.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::data::{ColumnView, Schema, Value};
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows};
use crate::spec::operators::{FileFormat, FilesParams};

/// The `files` sink: one file per subtask in the target directory.
pub struct Files {
    params: FilesParams,
    schema: Schema,
    path: PathBuf,
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
            out: None,
            wrote_header: false,
        }
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
        std::fs::create_dir_all(&self.params.path)
            .map_err(OperatorError::io("creating", &self.params.path))?;
        let extension = match self.params.format {
            FileFormat::Csv => "csv",
            FileFormat::JsonLines => "jsonl",
            FileFormat::Text => "txt",
        };
        self.path = PathBuf::from(&self.params.path)
            .join(format!("part-{:05}.{extension}", context.subtask));
        let file =
            File::create(&self.path).map_err(OperatorError::io("creating", self.path.display()))?;
        self.out = Some(BufWriter::new(file));
        Ok(())
    }

    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let io = OperatorError::io("writing", self.path.display());
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
            out.flush()
                .map_err(OperatorError::io("writing", self.path.display()))?;
            out.into_inner()
                .map_err(|e| OperatorError::BadInput(e.to_string()))?
                .sync_all()
                .map_err(OperatorError::io("syncing", self.path.display()))?;
        }
        Ok(())
    }
}
