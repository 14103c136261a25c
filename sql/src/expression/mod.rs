//! SQL expressions to Faro expression text: names resolved to the
//! columns that carry them, group keys and aggregate calls replaced by
//! the columns an aggregation made, Flink's spellings mapped onto the
//! engine's functions. The text is then compiled by the runtime's own
//! expression engine ([`faro_runtime::expr`]), so its type rules are the
//! ones the job will run with.

use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{ErrorKind, SqlError};
use crate::scope::Scope;

mod interval;
mod spelling;
mod walk;

pub use interval::interval_ms;
pub use spelling::quote;
pub use walk::{canonical, visit};

use spelling::{
    binary_symbol, extract_function, is_interval, literal, precedence_class, quote_text, type_name,
};

/// Aggregate functions a query may call.
pub const AGGREGATES: &[&str] = &["count", "sum", "min", "max", "avg"];

/// Whether `function` is a call of an aggregate function.
pub fn is_aggregate(function: &sql::Function) -> bool {
    function.over.is_none() && AGGREGATES.contains(&function_name(function).as_str())
}

/// A function's name, lower-cased.
pub fn function_name(function: &sql::Function) -> String {
    function.name.to_string().to_lowercase()
}

/// How an expression's names are resolved.
pub struct Resolver<'a> {
    /// The columns in reach.
    pub scope: &'a Scope,
    /// Whole expressions (as sqlparser prints them) that stand for a
    /// column: group keys and aggregate calls after an aggregation.
    pub replaced: &'a [(String, String)],
    /// Where the expression is (`WHERE`, `ON`, …), for an aggregate found
    /// where none may be.
    pub clause: &'static str,
}

impl Resolver<'_> {
    /// Names resolved against `scope` alone.
    pub fn plain<'a>(scope: &'a Scope, clause: &'static str) -> Resolver<'a> {
        Resolver {
            scope,
            replaced: &[],
            clause,
        }
    }

    /// `expr` as expression text.
    pub fn render(&self, expr: &sql::Expr) -> Result<String, SqlError> {
        if !self.replaced.is_empty() {
            let printed = canonical(expr);
            if let Some((_, column)) = self.replaced.iter().find(|(e, _)| *e == printed) {
                return Ok(quote(column));
            }
        }
        use sql::Expr as E;
        let r = |e: &sql::Expr| self.render(e);
        Ok(match expr {
            E::Identifier(ident) => {
                quote(&self.scope.resolve(std::slice::from_ref(ident))?.internal)
            }
            E::CompoundIdentifier(parts) => quote(&self.scope.resolve(parts)?.internal),
            E::Value(value) => literal(&value.value, expr.span())?,
            E::TypedString(typed) => {
                let sql::Value::SingleQuotedString(text) = &typed.value.value else {
                    return Err(SqlError::unsupported(
                        expr.span(),
                        format!("the literal {expr}"),
                    ));
                };
                format!(
                    "CAST({} AS {})",
                    quote_text(text),
                    type_name(&typed.data_type, expr.span())?
                )
            }
            E::Nested(inner) => format!("({})", r(inner)?),
            E::UnaryOp { op, expr: inner } => match op {
                sql::UnaryOperator::Minus => format!("(-{})", r(inner)?),
                sql::UnaryOperator::Plus => r(inner)?,
                sql::UnaryOperator::Not => format!("(NOT {})", r(inner)?),
                other => {
                    return Err(SqlError::unsupported(
                        expr.span(),
                        format!("the operator {other}"),
                    ))
                }
            },
            // Timestamp arithmetic with an interval: milliseconds added.
            E::BinaryOp { left, op, right } if is_interval(right) || is_interval(left) => {
                let (ts, interval, negate) = match (op, is_interval(right)) {
                    (sql::BinaryOperator::Plus, true) => (left, right, false),
                    (sql::BinaryOperator::Minus, true) => (left, right, true),
                    (sql::BinaryOperator::Plus, false) => (right, left, false),
                    _ => {
                        return Err(SqlError::unsupported(
                            expr.span(),
                            format!("{op} with an INTERVAL (add or subtract one from a timestamp)"),
                        ))
                    }
                };
                let sql::Expr::Interval(i) = interval.as_ref() else {
                    return Err(SqlError::unsupported(
                        expr.span(),
                        format!("the expression {expr}"),
                    ));
                };
                let ms = interval_ms(i, interval.span())?;
                format!("add_millis({}, {})", r(ts)?, if negate { -ms } else { ms })
            }
            E::BinaryOp { .. } => self.chain(expr)?,
            E::Extract {
                field, expr: inner, ..
            } => {
                format!("{}({})", extract_function(field, expr.span())?, r(inner)?)
            }
            E::Position { expr: sub, r#in } => format!("strpos({}, {})", r(r#in)?, r(sub)?),
            E::Trim {
                trim_where: Some(side),
                trim_what: None,
                expr: inner,
                trim_characters: None,
            } => {
                let name = match side {
                    sql::TrimWhereField::Both => "trim",
                    sql::TrimWhereField::Leading => "ltrim",
                    sql::TrimWhereField::Trailing => "rtrim",
                };
                format!("{name}({})", r(inner)?)
            }
            E::IsNull(inner) => format!("({} IS NULL)", r(inner)?),
            E::IsNotNull(inner) => format!("({} IS NOT NULL)", r(inner)?),
            E::IsTrue(inner) => format!("coalesce({}, FALSE)", r(inner)?),
            E::IsNotTrue(inner) => format!("(NOT coalesce({}, FALSE))", r(inner)?),
            E::IsFalse(inner) => format!("coalesce(NOT {}, FALSE)", r(inner)?),
            E::IsNotFalse(inner) => format!("(NOT coalesce(NOT {}, FALSE))", r(inner)?),
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                let mut text = String::from("(CASE");
                if let Some(operand) = operand {
                    text += &format!(" {}", r(operand)?);
                }
                for when in conditions {
                    text += &format!(" WHEN {} THEN {}", r(&when.condition)?, r(&when.result)?);
                }
                if let Some(otherwise) = else_result {
                    text += &format!(" ELSE {}", r(otherwise)?);
                }
                text + " END)"
            }
            E::Cast {
                kind: sql::CastKind::Cast | sql::CastKind::DoubleColon,
                expr: inner,
                data_type,
                format: None,
            } => format!(
                "CAST({} AS {})",
                r(inner)?,
                type_name(data_type, expr.span())?
            ),
            E::Function(function) => self.function(function, expr)?,
            E::Substring {
                expr: inner,
                substring_from,
                substring_for,
                ..
            } => {
                let from = substring_from
                    .as_deref()
                    .map(r)
                    .transpose()?
                    .unwrap_or("1".into());
                match substring_for {
                    Some(length) => format!("substr({}, {from}, {})", r(inner)?, r(length)?),
                    None => format!("substr({}, {from})", r(inner)?),
                }
            }
            E::Trim {
                trim_where: None,
                trim_what: None,
                expr: inner,
                trim_characters: None,
            } => format!("trim({})", r(inner)?),
            E::Ceil { expr: inner, field } | E::Floor { expr: inner, field }
                if matches!(
                    field,
                    sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime)
                ) =>
            {
                let name = if matches!(expr, E::Ceil { .. }) {
                    "ceil"
                } else {
                    "floor"
                };
                format!("{name}({})", r(inner)?)
            }
            E::Between {
                expr: inner,
                negated,
                low,
                high,
            } => format!(
                "({} {}BETWEEN {} AND {})",
                r(inner)?,
                if *negated { "NOT " } else { "" },
                r(low)?,
                r(high)?
            ),
            E::InList {
                expr: inner,
                list,
                negated,
            } => format!(
                "({} {}IN ({}))",
                r(inner)?,
                if *negated { "NOT " } else { "" },
                list.iter()
                    .map(r)
                    .collect::<Result<Vec<_>, _>>()?
                    .join(", ")
            ),
            E::Like {
                negated,
                any: false,
                expr: inner,
                pattern,
                escape_char: None,
            } => format!(
                "({} {}LIKE {})",
                r(inner)?,
                if *negated { "NOT " } else { "" },
                r(pattern)?
            ),
            E::ILike {
                negated,
                any: false,
                expr: inner,
                pattern,
                escape_char: None,
            } => format!(
                "(lower({}) {}LIKE lower({}))",
                r(inner)?,
                if *negated { "NOT " } else { "" },
                r(pattern)?
            ),
            E::Subquery(_) | E::InSubquery { .. } | E::Exists { .. } => {
                return Err(SqlError::unsupported(
                    expr.span(),
                    "a subquery inside an expression (use a JOIN or a subquery in FROM)",
                ))
            }
            E::Interval(_) => {
                return Err(SqlError::unsupported(
                    expr.span(),
                    "an INTERVAL outside window and join bounds",
                ))
            }
            other => {
                return Err(SqlError::unsupported(
                    expr.span(),
                    format!("the expression {other}"),
                ))
            }
        })
    }

    /// A chain of operators of one precedence (`a - b + c`, `x AND y AND
    /// z`) as one flat parenthesized run: its left spine is walked in a
    /// loop, so a long chain neither recurses here nor nests parentheses
    /// the engine's parser would have to descend.
    fn chain(&self, expr: &sql::Expr) -> Result<String, SqlError> {
        let mut links: Vec<(&'static str, &sql::Expr)> = Vec::new();
        let mut spine = expr;
        let class = |op: &sql::BinaryOperator| binary_symbol(op).map(precedence_class);
        let top = match expr {
            sql::Expr::BinaryOp { op, .. } => class(op),
            _ => None,
        };
        while let sql::Expr::BinaryOp { left, op, right } = spine {
            let symbol = binary_symbol(op)
                .ok_or_else(|| SqlError::unsupported(spine.span(), format!("the operator {op}")))?;
            if class(op) != top {
                break;
            }
            if is_interval(left) || is_interval(right) {
                // `a + b + INTERVAL …`: the interval part renders alone.
                break;
            }
            links.push((symbol, right));
            spine = left;
            if top == Some(0) {
                // Comparisons do not chain.
                break;
            }
        }
        let mut text = format!("({}", self.render(spine)?);
        for (symbol, right) in links.iter().rev() {
            text += &format!(" {symbol} {}", self.render(right)?);
        }
        Ok(text + ")")
    }

    /// A function call: aggregates are refused here (an aggregation
    /// replaces the calls it computes), Flink's spellings mapped.
    fn function(&self, function: &sql::Function, expr: &sql::Expr) -> Result<String, SqlError> {
        let span = expr.span();
        let name = function_name(function);
        if function.over.is_some() {
            return Err(SqlError::unsupported(
                span,
                format!("the window function {expr} here (ROW_NUMBER() OVER goes in a subquery filtered on its rank)"),
            ));
        }
        if AGGREGATES.contains(&name.as_str()) {
            return Err(SqlError::new(
                ErrorKind::Invalid,
                span,
                format!("the aggregate {expr} is not allowed in {}", self.clause),
            ));
        }
        if function.filter.is_some() || !function.within_group.is_empty() {
            return Err(SqlError::unsupported(
                span,
                format!("{expr} on a scalar function"),
            ));
        }
        let args = plain_arguments(function, span)?
            .into_iter()
            .map(|a| self.render(a))
            .collect::<Result<Vec<_>, _>>()?;
        let call = |f: &str| format!("{f}({})", args.join(", "));
        Ok(match (name.as_str(), args.as_slice()) {
            ("character_length", _) => call("char_length"),
            ("ifnull" | "nvl", _) => call("coalesce"),
            ("mod", [a, b]) => format!("({a} % {b})"),
            ("nullif", [a, b]) => format!("(CASE WHEN {a} = {b} THEN NULL ELSE {a} END)"),
            ("if", [c, a, b]) => format!("(CASE WHEN {c} THEN {a} ELSE {b} END)"),
            _ => call(&name),
        })
    }
}

/// A function's arguments, all plain expressions.
pub fn plain_arguments(function: &sql::Function, span: Span) -> Result<Vec<&sql::Expr>, SqlError> {
    match &function.args {
        sql::FunctionArguments::None => Ok(Vec::new()),
        sql::FunctionArguments::List(list) if list.clauses.is_empty() => list
            .args
            .iter()
            .map(|arg| match arg {
                sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e)) => Ok(e),
                other => Err(SqlError::unsupported(span, format!("the argument {other}"))),
            })
            .collect(),
        _ => Err(SqlError::unsupported(span, format!("the call {function}"))),
    }
}
