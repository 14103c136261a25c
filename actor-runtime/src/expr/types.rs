//! The types and constant values expressions work with: the column types
//! expressions can read, plus the type of a bare `NULL`.

use std::fmt;

use crate::data::{DataType, Value};

/// The type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ty {
    /// A bare `NULL`, typed by where it is used.
    Null,
    /// Boolean.
    Bool,
    /// 64-bit integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// UTF-8 text.
    Utf8,
    /// Milliseconds since the epoch.
    Timestamp,
}

impl Ty {
    /// The expression type of a column type, if expressions read it.
    pub fn of(data_type: DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Bool => Ty::Bool,
            DataType::Int64 => Ty::Int64,
            DataType::Float64 => Ty::Float64,
            DataType::Utf8 => Ty::Utf8,
            DataType::Timestamp => Ty::Timestamp,
            DataType::Binary | DataType::Vector { .. } => return None,
        })
    }

    /// The column type results of this type are stored as (a bare `NULL`
    /// is stored as text).
    pub fn data_type(self) -> DataType {
        match self {
            Ty::Bool => DataType::Bool,
            Ty::Int64 => DataType::Int64,
            Ty::Float64 => DataType::Float64,
            Ty::Utf8 | Ty::Null => DataType::Utf8,
            Ty::Timestamp => DataType::Timestamp,
        }
    }

    /// Whether arithmetic applies.
    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Int64 | Ty::Float64)
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Null => f.write_str("null"),
            other => other.data_type().fmt(f),
        }
    }
}

/// One constant value.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// Absent.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int64(i64),
    /// A double.
    Float64(f64),
    /// Text.
    Utf8(String),
    /// Milliseconds since the epoch.
    Timestamp(i64),
}

impl Scalar {
    /// Whether this is `NULL`.
    pub fn is_null(&self) -> bool {
        matches!(self, Scalar::Null)
    }

    /// As a row value.
    pub fn to_value(&self) -> Value {
        match self {
            Scalar::Null => Value::Null,
            Scalar::Bool(b) => Value::Bool(*b),
            Scalar::Int64(v) => Value::Int64(*v),
            Scalar::Float64(v) => Value::Float64(*v),
            Scalar::Utf8(s) => Value::Utf8(s.clone()),
            Scalar::Timestamp(v) => Value::Timestamp(*v),
        }
    }
}
