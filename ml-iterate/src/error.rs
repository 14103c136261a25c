//! Why training could not go on: each error names the column, row or
//! parameter at fault, so a user can fix the input rather than guess.

/// A training error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MlError {
    /// A feature column the input does not have.
    #[error("no feature column {0:?}")]
    NoColumn(String),
    /// A feature column of a type that is not a number.
    #[error("feature column {column:?} is {data_type}; features must be numbers (i64, f64) or one vector column")]
    NotNumeric {
        /// The column.
        column: String,
        /// Its type, as schemas write it.
        data_type: String,
    },
    /// A null where a feature value must be.
    #[error("feature column {column:?} is null in row {row}")]
    Null {
        /// The column.
        column: String,
        /// The row, in its batch.
        row: usize,
    },
    /// NaN or an infinity among the features.
    #[error("feature column {column:?} holds {value} in row {row}; features must be finite")]
    NotFinite {
        /// The column.
        column: String,
        /// The row, in its batch.
        row: usize,
        /// The value (NaN, inf or -inf).
        value: f64,
    },
    /// A label column that is missing or holds something other than
    /// finite numbers.
    #[error("label column {column:?}: {reason}")]
    Label {
        /// The column.
        column: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A model file that cannot be read, written or trusted.
    #[error("model file {path}: {reason}")]
    ModelFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Rows of different widths, or no features at all.
    #[error("features: {0}")]
    Shape(String),
    /// A parameter out of its range (`k` larger than the rows, …).
    #[error("{0}")]
    BadParams(String),
}
