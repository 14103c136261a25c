//! Why an expression cannot be parsed, typed or evaluated. Each error
//! names the expression text or the offending part, since job specs hold
//! many expressions.

use crate::data::{DataType, Schema};

/// Longest piece of an expression's text an error message quotes.
const EXCERPT_CHARS: usize = 200;

/// `text`, cut to 200 characters (marked with `…`): an error
/// quotes the expression, and an expression may be long.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// An expression problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExprError {
    /// The text is not a SQL expression.
    #[error("cannot parse expression {text:?}: {message}")]
    Syntax {
        /// The expression text.
        text: String,
        /// The parser's message.
        message: String,
    },
    /// Valid SQL, but outside what Faro evaluates.
    #[error("expression {text:?}: {construct} is not supported")]
    Unsupported {
        /// The expression text.
        text: String,
        /// The construct.
        construct: String,
    },
    /// Too many tokens, or nested too deep.
    #[error("expression {text:?} is too large: {message}")]
    TooLarge {
        /// The expression text (an excerpt).
        text: String,
        /// Which bound it exceeds.
        message: String,
    },
    /// A value the expression cannot compute: an integer overflow, a
    /// division by zero, a cast of a value that does not fit its target.
    #[error("{problem}{place}", place = value_place(text, values))]
    BadValue {
        /// The expression (or aggregate) text; empty until the error
        /// reaches the expression that raised it.
        text: String,
        /// What cannot be computed, with the operands.
        problem: String,
        /// The row's values of the columns the expression reads
        /// (`a = 1, b = null`), where known.
        values: String,
        /// The row within its batch, where known.
        row: Option<usize>,
    },
    /// A column the input does not have.
    #[error("unknown column {name:?} (the input has: {available})")]
    UnknownColumn {
        /// The name used.
        name: String,
        /// The input's columns, comma-separated.
        available: String,
    },
    /// Operand types that do not fit the operation.
    #[error("type mismatch: {message}")]
    TypeMismatch {
        /// What does not fit, with the types involved.
        message: String,
    },
    /// A function Faro does not have, or called with the wrong arity.
    #[error("unknown function {name}({arity} arguments)")]
    UnknownFunction {
        /// The function name.
        name: String,
        /// How many arguments it was given.
        arity: usize,
    },
    /// A column of a type expressions do not read (binary, vectors).
    #[error("column {name:?} of type {data_type} cannot be used in expressions")]
    UnreadableColumn {
        /// The column.
        name: String,
        /// Its type.
        data_type: DataType,
    },
}

fn value_place(text: &str, values: &str) -> String {
    let mut place = String::new();
    if !text.is_empty() {
        place.push_str(&format!(" in {text:?}"));
    }
    if !values.is_empty() {
        place.push_str(&format!(" at the row where {values}"));
    }
    place
}

impl ExprError {
    /// A value problem found at `row` of a batch.
    pub fn bad_value(problem: String, row: Option<usize>) -> Self {
        Self::BadValue {
            text: String::new(),
            problem,
            values: String::new(),
            row,
        }
    }

    /// `name` is not a column of `schema`; the message lists the columns.
    pub fn unknown_column(name: &str, schema: &Schema) -> Self {
        Self::UnknownColumn {
            name: name.to_string(),
            available: schema
                .fields
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}
