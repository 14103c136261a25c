//! Errors of building, archiving and validating batches.
//!
//! Bytes that arrive from the network or disk are untrusted: every way they
//! can be wrong maps to a variant here that names the column and the rule
//! broken, never to a panic.

use super::schema::DataType;

/// Something is wrong with a batch or the bytes claiming to be one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// The bytes are not a structurally valid archived batch (bad pointers,
    /// lengths, enum tags, truncation), as found by rkyv's validator.
    #[error("malformed batch bytes: {0}")]
    Malformed(String),
    /// The buffer does not start on the alignment archived batches need.
    #[error("batch bytes at address {address:#x} are not {required}-byte aligned")]
    Misaligned {
        /// Address of the first byte.
        address: usize,
        /// Required alignment.
        required: usize,
    },
    /// The schema and the column list disagree on the number of columns.
    #[error("schema has {schema} fields but the batch has {columns} columns")]
    ColumnCount {
        /// Fields in the schema.
        schema: usize,
        /// Columns present.
        columns: usize,
    },
    /// A received batch's columns are not the ones its reader planned for.
    #[error("the batch has columns ({found}), not the expected ({expected})")]
    UnexpectedSchema {
        /// The columns expected, as `name type`.
        expected: String,
        /// The columns found.
        found: String,
    },
    /// A column's data is not of its field's type.
    #[error("column '{column}' is declared {expected} but holds {found} data")]
    TypeMismatch {
        /// Column name.
        column: String,
        /// Declared type.
        expected: DataType,
        /// What the data is.
        found: &'static str,
    },
    /// A buffer of a column has the wrong length for the batch's row count.
    #[error("column '{column}': {what} has length {found}, expected {expected}")]
    Length {
        /// Column name.
        column: String,
        /// Which buffer.
        what: &'static str,
        /// Length required by the row count.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// String or binary offsets are not a valid, in-bounds, ascending sequence.
    #[error("column '{column}': invalid offsets: {reason}")]
    Offsets {
        /// Column name.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// A text column holds bytes that are not UTF-8.
    #[error("column '{column}': text is not valid UTF-8 at row {row}")]
    InvalidUtf8 {
        /// Column name.
        column: String,
        /// First offending row.
        row: usize,
    },
    /// A column declared non-nullable carries nulls.
    #[error("column '{column}' is not nullable but has nulls")]
    UnexpectedNulls {
        /// Column name.
        column: String,
    },
    /// A value pushed into a builder does not fit the column.
    #[error("column '{column}' of type {expected} cannot take a {got} value")]
    WrongValue {
        /// Column name.
        column: String,
        /// The column's type.
        expected: DataType,
        /// What was pushed.
        got: &'static str,
    },
    /// A row has a different number of values than the schema has fields.
    #[error("row has {got} values, the schema has {expected} fields")]
    RowWidth {
        /// Fields in the schema.
        expected: usize,
        /// Values in the row.
        got: usize,
    },
    /// Builder columns ended with different lengths.
    #[error("column '{column}' has {found} rows, other columns have {expected}")]
    RaggedColumns {
        /// Column name.
        column: String,
        /// Rows of the first column.
        expected: usize,
        /// Rows of this column.
        found: usize,
    },
    /// A batch's row kinds are not one valid kind byte per row.
    #[error("row kinds: {0}")]
    RowKinds(String),
    /// More rows than a batch can hold.
    #[error("a batch holds at most {max} rows, got {rows}", max = u32::MAX)]
    TooManyRows {
        /// Rows requested.
        rows: usize,
    },
}
