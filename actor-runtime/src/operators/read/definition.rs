//! `read`'s params (with the [`FileFormat`]s it shares with the `files`
//! sink) and its catalogue definition: a source of files whose schema the
//! spec declares, so its output schema is that declaration, checked.

use serde::{Deserialize, Serialize};

use super::parquet::ReadParquet;
use super::Read;
use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{DataType, Schema};
use crate::operator::OperatorError;
use crate::spec::limits;
use crate::spec::SpecError;

/// File formats of `read` and the `files` sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated values, with a header line (see [`CsvOptions`] for
    /// other layouts when reading).
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// Plain text: each line is one row of the schema's single text column.
    Text,
    /// Apache Parquet: columns read by name (only those declared), row
    /// groups shared out across subtasks.
    Parquet,
}

impl FileFormat {
    /// Whether files of this format are read line by line (every format
    /// but Parquet, whose columns sit apart in the file).
    pub fn is_lines(self) -> bool {
        self != Self::Parquet
    }
}

/// How CSV files are laid out, as Spark's and Flink's CSV formats let
/// one say: what `read` expects and what the `files` sink writes. The
/// defaults: a header line, `,` between fields, `"` around those that
/// need it, and only an empty field (of a column that is not text) null.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvOptions {
    /// The first line names the columns, which are matched by name;
    /// without one, the schema's columns are the fields in order.
    pub header: bool,
    /// The field separator: one ASCII character.
    pub delimiter: char,
    /// The quote character: one ASCII character.
    pub quote: char,
    /// A field of exactly this text is null, in a column of any type.
    pub null_value: Option<String>,
    /// Quoted fields may hold line breaks (Spark's `multiLine`): each
    /// file is then read whole by one subtask, since a byte range cannot
    /// tell where a record starts. Off by default, as in Spark: records
    /// are lines, and a big file is cut at line breaks and shared out.
    pub multi_line: bool,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            header: true,
            delimiter: ',',
            quote: '"',
            null_value: None,
            multi_line: false,
        }
    }
}

impl CsvOptions {
    /// Whether these are the defaults (left out of a spec).
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Why these options cannot read `format` files, if they cannot:
    /// they are for CSV only, and the separator and quote must be two
    /// different ASCII characters that are not line breaks.
    pub fn check(&self, format: FileFormat) -> Result<(), String> {
        if format != FileFormat::Csv {
            return match self.is_default() {
                true => Ok(()),
                false => Err("`csv` options are for csv files only".into()),
            };
        }
        for (name, c) in [("delimiter", self.delimiter), ("quote", self.quote)] {
            if !c.is_ascii() || c == '\n' || c == '\r' {
                return Err(format!(
                    "csv {name} {c:?} is not one ASCII character other than a line break"
                ));
            }
        }
        if self
            .null_value
            .as_deref()
            .is_some_and(|n| n.contains(['\n', '\r']))
        {
            return Err("csv null_value may not hold a line break".into());
        }
        if self.delimiter == self.quote {
            return Err(format!(
                "csv delimiter and quote are both {:?}",
                self.delimiter
            ));
        }
        Ok(())
    }
}

impl CsvOptions {
    /// Why these options cannot write `format` files, if they cannot:
    /// as [`Self::check`], and `multi_line` is for reading (a writer
    /// quotes a field with a line break anyway).
    pub fn check_writing(&self, format: FileFormat) -> Result<(), String> {
        self.check(format)?;
        match self.multi_line {
            true => Err("csv multi_line is for reading; a writer quotes line breaks anyway".into()),
            false => Ok(()),
        }
    }

    /// A CSV writer laid out as these options say.
    pub(crate) fn writer_builder(&self) -> csv::WriterBuilder {
        // `check` made both ASCII.
        let byte = |c: char| u8::try_from(c).unwrap_or(b',');
        let mut builder = csv::WriterBuilder::new();
        builder
            .has_headers(false)
            .delimiter(byte(self.delimiter))
            .quote(byte(self.quote));
        builder
    }
}

/// Where files live: a local path, or a path in an opendal store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSpec {
    /// opendal service (`fs`, `memory`, `s3`, …).
    pub scheme: String,
    /// The service's options.
    #[serde(default)]
    pub options: std::collections::BTreeMap<String, String>,
}

/// `read`: rows from CSV, JSON-lines, text or Parquet files of a declared
/// schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadParams {
    /// Files to read: a file, or a directory whose files are all read.
    pub path: String,
    /// Their format.
    pub format: FileFormat,
    /// The columns to read and their types.
    pub schema: Schema,
    /// An object store to read from instead of the local file system.
    #[serde(default)]
    pub store: Option<StoreSpec>,
    /// Rows per produced batch.
    #[serde(default = "crate::spec::limits::default_batch_rows")]
    pub batch_rows: usize,
    /// How CSV files are laid out (csv only).
    #[serde(default, skip_serializing_if = "CsvOptions::is_default")]
    pub csv: CsvOptions,
    /// Bytes per split of a text, JSON-lines or CSV file (as Spark's
    /// `maxPartitionBytes`); by default an even share of all the files
    /// per subtask, from 4 to 128 MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_bytes: Option<u64>,
}

/// The output schema of a source reading `format` files into `schema`
/// in batches of `batch_rows`: the declaration itself, once its column
/// names are unique, its batch size within bounds, and plain text read
/// into exactly one text column. Shared by every source of files.
pub(crate) fn declared_schema(
    format: FileFormat,
    schema: &Schema,
    batch_rows: usize,
    context: &SchemaContext<'_>,
) -> Result<Schema, SpecError> {
    limits::check_batch_rows(context.vertex(), batch_rows)?;
    let one_text = matches!(schema.fields.as_slice(), [f] if f.data_type == DataType::Utf8);
    if format == FileFormat::Text && !one_text {
        return Err(context.schema_error("text files are read into exactly one utf8 column"));
    }
    context.unique(schema.clone())
}

/// The catalogue's `read`.
pub struct ReadDefinition;

impl OperatorDefinition for ReadDefinition {
    type Params = ReadParams;

    fn name(&self) -> &'static str {
        "read"
    }

    fn is_source(&self) -> bool {
        true
    }

    /// Line formats save the file and row they have reached; Parquet
    /// files are not checkpointed yet.
    fn checkpointable(&self, params: &ReadParams) -> bool {
        params.format.is_lines()
    }

    fn output_schema(
        &self,
        params: &ReadParams,
        context: &SchemaContext<'_>,
        _: &[Schema],
    ) -> Result<Schema, SpecError> {
        params
            .csv
            .check(params.format)
            .map_err(|e| context.bad_params(e))?;
        declared_schema(params.format, &params.schema, params.batch_rows, context)
    }

    fn build(&self, params: &ReadParams, _: &BuildContext<'_>) -> Result<Built, OperatorError> {
        if params.format == FileFormat::Parquet {
            return Ok(Built::Source(Box::new(ReadParquet::new(params.clone()))));
        }
        Ok(Built::Source(Box::new(Read::new(params.clone()))))
    }
}
