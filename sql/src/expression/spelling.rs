//! How Faro's expression engine spells what SQL writes: quoted names and
//! literals, operators (and which of them chain), cast types, `EXTRACT`
//! fields.

use sqlparser::ast as sql;
use sqlparser::tokenizer::Span;

use crate::error::SqlError;

/// The engine's function for `EXTRACT(field FROM ts)`.
pub(super) fn extract_function(
    field: &sql::DateTimeField,
    span: Span,
) -> Result<&'static str, SqlError> {
    use sql::DateTimeField as F;
    Ok(match field {
        F::Year | F::Years => "year",
        F::Quarter => "quarter",
        F::Month | F::Months => "month",
        F::Day | F::Days => "day",
        F::Hour | F::Hours => "hour",
        F::Minute | F::Minutes => "minute",
        F::Second | F::Seconds => "second",
        F::Millisecond | F::Milliseconds => "millisecond",
        F::Dow | F::DayOfWeek => "dayofweek",
        F::Doy | F::DayOfYear => "dayofyear",
        other => return Err(SqlError::unsupported(span, format!("EXTRACT({other} …)"))),
    })
}

/// An identifier as expression text (always quoted, so any name works).
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Text as a SQL string literal.
pub(super) fn quote_text(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

pub(super) fn literal(value: &sql::Value, span: Span) -> Result<String, SqlError> {
    Ok(match value {
        sql::Value::Null => "NULL".into(),
        sql::Value::Boolean(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        sql::Value::Number(n, _) => n.clone(),
        sql::Value::SingleQuotedString(s) => quote_text(s),
        other => return Err(SqlError::unsupported(span, format!("the literal {other}"))),
    })
}

pub(super) fn binary_symbol(op: &sql::BinaryOperator) -> Option<&'static str> {
    use sql::BinaryOperator as B;
    Some(match op {
        B::Plus => "+",
        B::Minus => "-",
        B::Multiply => "*",
        B::Divide => "/",
        B::Modulo => "%",
        B::Eq => "=",
        B::NotEq => "<>",
        B::Lt => "<",
        B::LtEq => "<=",
        B::Gt => ">",
        B::GtEq => ">=",
        B::And => "AND",
        B::Or => "OR",
        B::StringConcat => "||",
        _ => return None,
    })
}

/// Operators that associate left with each other: a left spine of them
/// can be written without parentheses. Comparisons are left alone (`a =
/// b = c` is not a chain).
pub(super) fn precedence_class(symbol: &str) -> u8 {
    match symbol {
        "+" | "-" => 1,
        "*" | "/" | "%" => 2,
        "AND" => 3,
        "OR" => 4,
        "||" => 5,
        _ => 0,
    }
}

pub(super) fn is_interval(expr: &sql::Expr) -> bool {
    matches!(expr, sql::Expr::Interval(_))
}

/// The engine's name for a SQL type in a cast.
pub(super) fn type_name(data_type: &sql::DataType, span: Span) -> Result<&'static str, SqlError> {
    use faro_runtime::data::DataType as D;
    Ok(match crate::table::data_type(data_type, span)? {
        D::Int64 => "BIGINT",
        D::Float64 => "DOUBLE",
        D::Utf8 => "VARCHAR",
        D::Bool => "BOOLEAN",
        D::Timestamp => "TIMESTAMP",
        other => return Err(SqlError::unsupported(span, format!("a cast to {other:?}"))),
    })
}
