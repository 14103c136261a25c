//! Expressions: SQL expression text from job specs (`price * 0.908`,
//! `auction % 123 = 0 AND channel <> 'x'`, `CASE …`, casts, string
//! functions), parsed with `sqlparser` ([`ast`]), type-checked against the
//! input schema ([`check`]) and evaluated column-at-a-time over batches
//! ([`eval`]).
//!
//! Semantics follow standard SQL (and Spark's ANSI mode): nulls propagate
//! through arithmetic and comparisons, `AND`/`OR` are three-valued,
//! integer `/` truncates. A value that cannot be computed — an integer
//! overflow, a division by zero, a cast of a value that does not fit its
//! type — is an error naming the operands, the expression and the row's
//! values, never a wrapped or silently null result. Doubles follow IEEE
//! 754 (NaN and ±infinity flow through arithmetic and math functions);
//! NaN equals NaN and orders above every number in comparisons, sorting
//! and grouping ([`crate::kernels::floats`]). Expression size is bounded
//! ([`ast::MAX_TOKENS`], [`ast::MAX_DEPTH`]) so no expression can exhaust
//! a thread's stack.

pub mod array;
pub mod ast;
mod branch;
mod cast;
pub mod check;
mod checked;
mod error;
pub mod eval;
pub mod functions;
pub mod in_set;
mod like;
pub mod regex;
pub mod temporal;
pub mod text;
pub mod types;

pub use array::{Array, Datum, Values};
pub use error::{excerpt, ExprError};
pub use eval::{EvalContext, Input};
pub use types::{Scalar, Ty};

use crate::data::{Column, DataType, Field, Schema};

/// `name = value` for each of `columns` at `row` of `input`, as an error
/// names the row that failed.
pub fn row_values(input: &Input<'_, '_>, columns: &[usize], row: usize) -> String {
    columns
        .iter()
        .filter_map(|&c| input.columns.get(c))
        .filter(|column| row < column.len)
        .map(|column| {
            let value = column.value(row);
            match value {
                crate::data::Value::Utf8(text) => format!("{} = {:?}", column.name, excerpt(&text)),
                other => format!("{} = {other}", column.name),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A parsed and type-checked expression, ready to evaluate over batches
/// of the schema it was compiled against.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    text: String,
    typed: check::Typed,
    /// The input columns it reads (named in errors about a row).
    reads: Vec<usize>,
}

impl Expr {
    /// Parses `text` and checks it against `schema`.
    pub fn compile(text: &str, schema: &Schema) -> Result<Self, ExprError> {
        let ast = ast::parse(text)?;
        let typed = check::check(&ast, schema)?;
        Ok(Self {
            text: text.to_string(),
            reads: typed.columns_read(),
            typed,
        })
    }

    /// The text it was compiled from.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Positions of the input columns it reads.
    pub fn columns_read(&self) -> &[usize] {
        &self.reads
    }

    /// The type of its values.
    pub fn ty(&self) -> Ty {
        self.typed.ty
    }

    /// The column type its values are stored as.
    pub fn data_type(&self) -> DataType {
        self.typed.ty.data_type()
    }

    /// Whether it may evaluate to null.
    pub fn nullable(&self) -> bool {
        self.typed.nullable
    }

    /// The output field for a column named `name` holding its values.
    pub fn field(&self, name: &str) -> Field {
        Field {
            name: name.to_string(),
            data_type: self.data_type(),
            nullable: self.nullable(),
        }
    }

    /// Evaluates over `input`.
    pub fn eval<'a>(&self, input: &Input<'_, 'a>) -> Result<Datum<'a>, ExprError> {
        eval::eval(&self.typed, input).map_err(|error| self.locate(error, input))
    }

    /// Names this expression, and the row's values it read, in a value
    /// error raised while evaluating it.
    fn locate(&self, error: ExprError, input: &Input<'_, '_>) -> ExprError {
        match error {
            ExprError::BadValue {
                text,
                problem,
                values,
                row,
            } if text.is_empty() => ExprError::BadValue {
                text: excerpt(&self.text),
                values: match row {
                    Some(row) if values.is_empty() => row_values(input, &self.reads, row),
                    _ => values,
                },
                problem,
                row,
            },
            other => other,
        }
    }

    /// Evaluates over `input` into a storage column.
    pub fn eval_column(&self, input: &Input<'_, '_>) -> Result<Column, ExprError> {
        let array = self.eval(input)?.into_array(self.typed.ty, input.rows);
        Ok(array.into_column())
    }

    /// Evaluates a boolean expression into a selection: true where the
    /// value is true (null counts as false, as in `WHERE`).
    pub fn eval_selection(&self, input: &Input<'_, '_>) -> Result<Vec<bool>, ExprError> {
        if self.typed.ty != Ty::Bool {
            return Err(ExprError::TypeMismatch {
                message: format!("{:?} is {}, not a condition", self.text, self.typed.ty),
            });
        }
        Ok(match self.eval(input)? {
            Datum::Scalar(Scalar::Bool(b)) => vec![b; input.rows],
            Datum::Scalar(_) => vec![false; input.rows],
            Datum::Array(array) => match &array.values {
                Values::Bool(values) => (0..input.rows)
                    .map(|i| values[i] && array.is_valid(i))
                    .collect(),
                _ => vec![false; input.rows],
            },
        })
    }
}
