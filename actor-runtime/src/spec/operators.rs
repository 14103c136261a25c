//! The typed parameters of the built-in operators, as a vertex's
//! free-form `params` hold them; each operator's catalogue definition
//! ([`crate::catalogue`]) parses its own.

use serde::{Deserialize, Serialize};

use crate::data::Schema;

/// A named output column computed by an expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedExpr {
    /// Output column name.
    pub name: String,
    /// SQL expression text.
    pub expr: String,
}

/// `generate`: `rows` rows whose columns are expressions over the row
/// index `i` (and seeded `random()` / `random_int(lo, hi)`), split over
/// the subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateParams {
    /// Rows in all, over all subtasks.
    pub rows: u64,
    /// The columns.
    pub columns: Vec<NamedExpr>,
    /// Seed of the random functions.
    #[serde(default)]
    pub seed: u64,
    /// Rows per produced batch.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

fn default_batch_rows() -> usize {
    8192
}

/// File formats of `read` and the `files` sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Comma-separated values, with a header line.
    Csv,
    /// One JSON object per line.
    JsonLines,
    /// Plain text: each line is one row of the schema's single text column.
    Text,
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

/// `read`: rows from CSV or JSON-lines files of a declared schema.
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
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
}

/// `filter`: keeps rows where the predicate is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    /// A boolean SQL expression.
    pub predicate: String,
}

/// `project`: computes new columns from each row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectParams {
    /// The output columns.
    pub columns: Vec<NamedExpr>,
}

/// `explode`: one row per whitespace-separated word of a text column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplodeParams {
    /// The text column to split.
    pub column: String,
    /// The name of the output column holding each word (default: the
    /// same name).
    #[serde(default, rename = "as")]
    pub into: Option<String>,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateFunction {
    /// Rows (or non-null values of the expression).
    Count,
    /// Sum.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean, as a double.
    Avg,
    /// Distinct non-null values.
    CountDistinct,
}

/// One aggregate output column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// Output column name.
    pub name: String,
    /// The function.
    pub function: AggregateFunction,
    /// Its argument; `count` without one counts rows.
    #[serde(default)]
    pub expr: Option<String>,
}

/// `aggregate`: groups rows by key columns and computes aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateParams {
    /// Key columns (none: one global group).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Output aggregates.
    pub aggregates: Vec<AggregateSpec>,
    /// Bytes of state before spilling to disk.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    /// The column.
    pub column: String,
    /// Largest first.
    #[serde(default)]
    pub descending: bool,
}

/// `sort`: orders all rows of each subtask (external merge sort).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortParams {
    /// Keys, most significant first.
    pub keys: Vec<SortKey>,
    /// Bytes of rows before spilling sorted runs to disk.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// `top_n`: the first `limit` rows in key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopNParams {
    /// Keys, most significant first.
    pub keys: Vec<SortKey>,
    /// Rows kept.
    pub limit: usize,
}

/// Join kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinKind {
    /// Matching pairs only.
    Inner,
    /// Every left row, with nulls where nothing matches.
    Left,
}

/// `hash_join`: builds a hash table of the right input, probes it with
/// the left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinParams {
    /// The vertex feeding the probe (left) side.
    pub left: String,
    /// The vertex feeding the build (right) side.
    pub right: String,
    /// Left key columns.
    pub left_keys: Vec<String>,
    /// Right key columns, pairwise with `left_keys`.
    pub right_keys: Vec<String>,
    /// Inner or left.
    #[serde(default = "inner")]
    pub kind: JoinKind,
    /// Bytes the build side may take; over it the join fails clearly.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

fn inner() -> JoinKind {
    JoinKind::Inner
}

/// `collect`: rows returned to whoever runs the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectParams {
    /// At most this many rows are kept (the job fails beyond it).
    #[serde(default = "default_collect_limit")]
    pub limit: usize,
}

fn default_collect_limit() -> usize {
    1_000_000
}

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
