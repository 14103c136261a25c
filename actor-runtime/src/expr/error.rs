//! Why an expression cannot be parsed, typed or evaluated. Each error
//! names the expression text or the offending part, since job specs hold
//! many expressions.

use crate::data::{DataType, Schema};

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
    /// A value that cannot be converted (a cast of `'abc'` to a number).
    #[error("cannot cast {value:?} to {to}")]
    BadCast {
        /// The value, as text.
        value: String,
        /// The target type.
        to: DataType,
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

impl ExprError {
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
