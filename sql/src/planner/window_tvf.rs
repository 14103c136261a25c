//! Flink's window table-valued functions: `TUMBLE`, `HOP`, `CUMULATE`
//! and `SESSION` over a table, read into the `window` operator's window
//! kind. A windowed relation is planned when it is grouped by
//! `window_start, window_end` (a window aggregation): the `window`
//! operator assigns, accumulates and fires in one step.

use faro_runtime::operators::window::WindowKind;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{ErrorKind, SqlError};
use crate::expression::{function_name, interval_ms};

/// A window table function, read.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowTvf {
    /// The table it windows.
    pub data: sql::ObjectName,
    /// The time column named by `DESCRIPTOR(…)`.
    pub time: sql::Ident,
    /// The windows.
    pub kind: WindowKind,
    /// Its alias, if any.
    pub alias: Option<sql::TableAlias>,
    /// Where it is.
    pub span: Span,
}

/// The table functions this reads.
pub const WINDOW_FUNCTIONS: &[&str] = &["tumble", "hop", "cumulate", "session"];

impl WindowTvf {
    /// Reads `TABLE(TUMBLE(…))` and its siblings.
    pub fn read(expr: &sql::Expr, alias: Option<&sql::TableAlias>) -> Result<Self, SqlError> {
        let span = expr.span();
        let sql::Expr::Function(function) = expr else {
            return Err(SqlError::unsupported(
                span,
                format!("the table function {expr}"),
            ));
        };
        let name = function_name(function);
        let arguments = arguments(function, &name, span)?;
        let arg = |position: usize, names: &[&str]| -> Result<&sql::Expr, SqlError> {
            arguments
                .iter()
                .find(|(n, _)| n.as_deref().is_some_and(|n| names.contains(&n)))
                .or_else(|| arguments.get(position).filter(|(n, _)| n.is_none()))
                .map(|(_, e)| *e)
                .ok_or_else(|| {
                    SqlError::invalid(
                        span,
                        format!("{} needs its {} argument", name.to_uppercase(), names[0]),
                    )
                })
        };
        let data = match arg(0, &["data"])? {
            sql::Expr::Identifier(ident) => sql::ObjectName::from(vec![ident.clone()]),
            sql::Expr::CompoundIdentifier(parts) => sql::ObjectName::from(parts.clone()),
            other => {
                return Err(SqlError::unsupported(
                    other.span(),
                    format!("windowing {other} (name a table, view or WITH query: TABLE t)"),
                ))
            }
        };
        let time = match arg(1, &["timecol"])? {
            sql::Expr::Function(d) if function_name(d) == "descriptor" => {
                match crate::expression::plain_arguments(d, d.span())?.as_slice() {
                    [sql::Expr::Identifier(ident)] => ident.clone(),
                    _ => return Err(SqlError::invalid(d.span(), "DESCRIPTOR names one column")),
                }
            }
            other => {
                return Err(SqlError::invalid(
                    other.span(),
                    format!("the time column is written DESCRIPTOR(column), not {other}"),
                ))
            }
        };
        let ms = |e: &sql::Expr| match e {
            sql::Expr::Interval(i) => interval_ms(i, e.span()),
            other => Err(SqlError::invalid(
                other.span(),
                format!("a window's length is an INTERVAL, not {other}"),
            )),
        };
        let kind = match name.as_str() {
            "tumble" => WindowKind::Tumbling {
                size_ms: ms(arg(2, &["size"])?)?,
            },
            "hop" => WindowKind::Hopping {
                slide_ms: ms(arg(2, &["slide"])?)?,
                size_ms: ms(arg(3, &["size"])?)?,
            },
            "cumulate" => WindowKind::Cumulating {
                step_ms: ms(arg(2, &["step"])?)?,
                max_size_ms: ms(arg(3, &["size", "max_size"])?)?,
            },
            "session" => WindowKind::Session {
                gap_ms: ms(arg(2, &["gap"])?)?,
            },
            _ => {
                return Err(SqlError::new(
                    ErrorKind::UnknownName,
                    span,
                    format!(
                        "unknown table function {name:?}{}; the window functions are TUMBLE, HOP, CUMULATE and SESSION",
                        crate::error::did_you_mean(&name, WINDOW_FUNCTIONS.iter().copied())
                    ),
                ))
            }
        };
        Ok(Self {
            data,
            time,
            kind,
            alias: alias.cloned(),
            span,
        })
    }
}

/// The arguments, each with its name if it has one (`SIZE => …`).
fn arguments<'f>(
    function: &'f sql::Function,
    name: &str,
    span: Span,
) -> Result<Vec<(Option<String>, &'f sql::Expr)>, SqlError> {
    let sql::FunctionArguments::List(list) = &function.args else {
        return Err(SqlError::invalid(
            span,
            format!("{} needs arguments", name.to_uppercase()),
        ));
    };
    list.args
        .iter()
        .map(|arg| match arg {
            sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e)) => Ok((None, e)),
            sql::FunctionArg::Named {
                name,
                arg: sql::FunctionArgExpr::Expr(e),
                ..
            } => Ok((Some(name.value.to_lowercase()), e)),
            other => Err(SqlError::unsupported(span, format!("the argument {other}"))),
        })
        .collect()
}
