//! Expression syntax: SQL expression text parsed with `sqlparser` into
//! Faro's own small tree, so the rest of the engine never depends on the
//! parser's (much larger, dialect-laden) types. Anything outside the
//! supported subset is refused here, naming the construct.
//!
//! Expressions come from users, so their size is bounded before anything
//! recursive touches them: at most [`MAX_TOKENS`] tokens (counted by the
//! tokenizer, which loops), and a tree at most [`MAX_DEPTH`] deep. A flat
//! chain such as `a + b + … + z` parses into a tree as deep as it is long;
//! chains of `AND`, `OR` and `||` become one n-ary node instead (they are
//! associative), so long conjunctions cost no depth, and `IN` keeps its
//! list as a list. Everything downstream (type checking, evaluation,
//! dropping the tree) recurses at most as deep as these bounds allow.

use sqlparser::ast as sql;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

use super::error::{excerpt, ExprError};
use crate::data::DataType;

/// Most tokens (words, literals, operators; not whitespace) one
/// expression may have: room for an `IN` list of 20,000 values or an
/// `OR` of 10,000 comparisons, while bounding the work one expression
/// costs.
pub const MAX_TOKENS: usize = 50_000;

/// Deepest an expression tree may be. Each operand of a binary operator,
/// function argument, `CASE` branch or cast is one level below its
/// parent; the operands of an `AND`, `OR` or `||` chain, however long,
/// are one level below the chain.
pub const MAX_DEPTH: usize = 128;

/// A literal value in expression text.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `NULL`.
    Null,
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// An integer literal.
    Int64(i64),
    /// A literal with a decimal point or exponent.
    Float64(f64),
    /// A quoted string.
    Utf8(String),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (integer division for integers; division by zero is null)
    Div,
    /// `%` (null for a zero divisor)
    Mod,
    /// `=`
    Eq,
    /// `<>` or `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
    /// `AND` (three-valued)
    And,
    /// `OR` (three-valued)
    Or,
    /// `||` string concatenation
    Concat,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Mod => "%",
            Self::Eq => "=",
            Self::NotEq => "<>",
            Self::Lt => "<",
            Self::LtEq => "<=",
            Self::Gt => ">",
            Self::GtEq => ">=",
            Self::And => "AND",
            Self::Or => "OR",
            Self::Concat => "||",
        }
    }
}

/// An untyped expression tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Ast {
    /// A column of the input, by name.
    Column(String),
    /// A constant.
    Literal(Literal),
    /// `-x`
    Neg(Box<Ast>),
    /// `NOT x`
    Not(Box<Ast>),
    /// `l op r`
    Binary(BinaryOp, Box<Ast>, Box<Ast>),
    /// `a op b op c …` for an associative `op` (`AND`, `OR`, `||`): the
    /// operands in order, at least two.
    Chain(BinaryOp, Vec<Ast>),
    /// `x IS [NOT] NULL`
    IsNull {
        /// The operand.
        expr: Box<Ast>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `CASE [operand] WHEN … THEN … [ELSE …] END`
    Case {
        /// For the simple form, the value each `WHEN` is compared with.
        operand: Option<Box<Ast>>,
        /// Conditions (or values) and their results, in order.
        whens: Vec<(Ast, Ast)>,
        /// The result when nothing matches (null if absent).
        otherwise: Option<Box<Ast>>,
    },
    /// `CAST(x AS type)`
    Cast(Box<Ast>, DataType),
    /// `name(args…)`
    Call(String, Vec<Ast>),
    /// `x [NOT] BETWEEN low AND high`
    Between {
        /// The operand.
        expr: Box<Ast>,
        /// Inclusive lower bound.
        low: Box<Ast>,
        /// Inclusive upper bound.
        high: Box<Ast>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `x [NOT] IN (a, b, …)`
    InList {
        /// The operand.
        expr: Box<Ast>,
        /// The candidates.
        list: Vec<Ast>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `x [NOT] LIKE 'pattern'` (`%` any run, `_` one character)
    Like {
        /// The operand.
        expr: Box<Ast>,
        /// The pattern.
        pattern: Box<Ast>,
        /// `NOT LIKE`.
        negated: bool,
    },
}

/// Parses SQL expression text.
pub fn parse(text: &str) -> Result<Ast, ExprError> {
    let syntax = |message: String| ExprError::Syntax {
        text: excerpt(text),
        message,
    };
    let dialect = GenericDialect {};
    let tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| syntax(e.to_string()))?;
    let counted = tokens
        .iter()
        .filter(|t| !matches!(t.token, Token::Whitespace(_)))
        .count();
    if counted > MAX_TOKENS {
        return Err(ExprError::TooLarge {
            text: excerpt(text),
            message: format!("{counted} tokens, more than the {MAX_TOKENS} an expression may have"),
        });
    }
    let mut parser = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let expr = parser.parse_expr().map_err(|e| syntax(e.to_string()))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(syntax(format!(
            "unexpected {} after the expression",
            next.token
        )));
    }
    let converted = convert(&expr, 1);
    dismantle(expr);
    converted.map_err(|refusal| match refusal {
        Refusal::Unsupported(construct) => ExprError::Unsupported {
            text: excerpt(text),
            construct: excerpt(&construct),
        },
        Refusal::TooDeep => ExprError::TooLarge {
            text: excerpt(text),
            message: format!(
                "nested more than {MAX_DEPTH} levels deep (each operator of a chain \
                 like `a + b + c` is one level; split it, or sum columns in steps)"
            ),
        },
    })
}

/// Drops sqlparser's tree without recursing down its chains. A flat chain
/// (`a + b + …`, `x IS NULL IS NULL …`, `a::T::T …`) parses into a tree
/// as deep as it is long, which Rust's drop glue would descend one stack
/// frame per level; here the chain's links are taken apart in a loop.
/// Other shapes nest only as deep as the parser's own recursion limit.
fn dismantle(expr: sql::Expr) {
    use sql::Expr as E;
    let mut pending = vec![expr];
    while let Some(expr) = pending.pop() {
        match expr {
            E::BinaryOp { left, right, .. } => pending.extend([*left, *right]),
            E::UnaryOp { expr, .. }
            | E::Nested(expr)
            | E::IsNull(expr)
            | E::IsNotNull(expr)
            | E::IsTrue(expr)
            | E::IsNotTrue(expr)
            | E::IsFalse(expr)
            | E::IsNotFalse(expr)
            | E::IsUnknown(expr)
            | E::IsNotUnknown(expr)
            | E::Cast { expr, .. }
            | E::Collate { expr, .. } => pending.push(*expr),
            E::InList { expr, list, .. } => {
                pending.push(*expr);
                pending.extend(list);
            }
            E::Between {
                expr, low, high, ..
            } => pending.extend([*expr, *low, *high]),
            E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => {
                pending.extend([*expr, *pattern])
            }
            E::AtTimeZone {
                timestamp,
                time_zone,
            } => pending.extend([*timestamp, *time_zone]),
            E::IsDistinctFrom(left, right) | E::IsNotDistinctFrom(left, right) => {
                pending.extend([*left, *right])
            }
            other => drop(other),
        }
    }
}

/// Why sqlparser's tree cannot become Faro's.
enum Refusal {
    /// This construct is not supported (its SQL text).
    Unsupported(String),
    /// The tree is deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl From<String> for Refusal {
    fn from(construct: String) -> Self {
        Self::Unsupported(construct)
    }
}

fn boxed(expr: &sql::Expr, depth: usize) -> Result<Box<Ast>, Refusal> {
    convert(expr, depth).map(Box::new)
}

/// The operands of a chain of `op` rooted at `expr`, in order, found
/// without recursion (a parenthesized chain of the same operator joins
/// its parent: `op` is associative).
fn chain_operands<'e>(expr: &'e sql::Expr, op: &sql::BinaryOperator) -> Vec<&'e sql::Expr> {
    let mut operands = Vec::new();
    let mut pending = vec![expr];
    while let Some(mut next) = pending.pop() {
        while let sql::Expr::Nested(inner) = next {
            next = inner;
        }
        match next {
            sql::Expr::BinaryOp {
                left,
                op: inner,
                right,
            } if inner == op => {
                pending.push(right);
                pending.push(left);
            }
            operand => operands.push(operand),
        }
    }
    operands
}

/// Converts sqlparser's tree, `depth` levels down; a refusal names the
/// construct that is not supported, or says the tree is too deep.
fn convert(expr: &sql::Expr, depth: usize) -> Result<Ast, Refusal> {
    use sql::Expr as E;
    if depth > MAX_DEPTH {
        return Err(Refusal::TooDeep);
    }
    let below = depth + 1;
    Ok(match expr {
        E::Identifier(ident) => Ast::Column(ident.value.clone()),
        E::CompoundIdentifier(parts) => Ast::Column(
            parts
                .iter()
                .map(|p| p.value.as_str())
                .collect::<Vec<_>>()
                .join("."),
        ),
        E::Value(value) => Ast::Literal(literal(&value.value)?),
        E::Nested(inner) => convert(inner, depth)?,
        E::UnaryOp { op, expr } => match op {
            sql::UnaryOperator::Minus => match negative_integer(expr) {
                // `-9223372036854775808` is the smallest BIGINT, though
                // `9223372036854775808` alone does not fit.
                Some(v) => Ast::Literal(Literal::Int64(v)),
                None => match convert(expr, below)? {
                    Ast::Literal(Literal::Int64(v)) if v != i64::MIN => {
                        Ast::Literal(Literal::Int64(-v))
                    }
                    Ast::Literal(Literal::Float64(v)) => Ast::Literal(Literal::Float64(-v)),
                    other => Ast::Neg(Box::new(other)),
                },
            },
            sql::UnaryOperator::Plus => convert(expr, below)?,
            sql::UnaryOperator::Not => Ast::Not(boxed(expr, below)?),
            other => return Err(format!("unary operator {other}").into()),
        },
        E::BinaryOp { left, op, right } => {
            let op_kind = match op {
                sql::BinaryOperator::Plus => BinaryOp::Add,
                sql::BinaryOperator::Minus => BinaryOp::Sub,
                sql::BinaryOperator::Multiply => BinaryOp::Mul,
                sql::BinaryOperator::Divide => BinaryOp::Div,
                sql::BinaryOperator::Modulo => BinaryOp::Mod,
                sql::BinaryOperator::Eq => BinaryOp::Eq,
                sql::BinaryOperator::NotEq => BinaryOp::NotEq,
                sql::BinaryOperator::Lt => BinaryOp::Lt,
                sql::BinaryOperator::LtEq => BinaryOp::LtEq,
                sql::BinaryOperator::Gt => BinaryOp::Gt,
                sql::BinaryOperator::GtEq => BinaryOp::GtEq,
                sql::BinaryOperator::And => BinaryOp::And,
                sql::BinaryOperator::Or => BinaryOp::Or,
                sql::BinaryOperator::StringConcat => BinaryOp::Concat,
                other => return Err(format!("operator {other}").into()),
            };
            if matches!(op_kind, BinaryOp::And | BinaryOp::Or | BinaryOp::Concat) {
                let operands = chain_operands(expr, op)
                    .into_iter()
                    .map(|operand| convert(operand, below))
                    .collect::<Result<Vec<_>, _>>()?;
                Ast::Chain(op_kind, operands)
            } else {
                Ast::Binary(op_kind, boxed(left, below)?, boxed(right, below)?)
            }
        }
        E::IsNull(inner) => Ast::IsNull {
            expr: boxed(inner, below)?,
            negated: false,
        },
        E::IsNotNull(inner) => Ast::IsNull {
            expr: boxed(inner, below)?,
            negated: true,
        },
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => Ast::Case {
            operand: operand.as_deref().map(|o| boxed(o, below)).transpose()?,
            whens: conditions
                .iter()
                .map(|when| {
                    Ok((
                        convert(&when.condition, below)?,
                        convert(&when.result, below)?,
                    ))
                })
                .collect::<Result<_, Refusal>>()?,
            otherwise: else_result
                .as_deref()
                .map(|o| boxed(o, below))
                .transpose()?,
        },
        E::Cast {
            kind: sql::CastKind::Cast,
            expr,
            data_type,
            format: None,
        } => Ast::Cast(boxed(expr, below)?, cast_type(data_type)?),
        E::Function(function) => call(function, below)?,
        // sqlparser gives these their own nodes; to Faro they are calls.
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![convert(expr, below)?];
            args.push(match substring_from {
                Some(from) => convert(from, below)?,
                None => Ast::Literal(Literal::Int64(1)),
            });
            if let Some(length) = substring_for {
                args.push(convert(length, below)?);
            }
            Ast::Call("substr".into(), args)
        }
        E::Trim {
            trim_where: None,
            trim_what: None,
            expr,
            trim_characters: None,
        } => Ast::Call("trim".into(), vec![convert(expr, below)?]),
        E::Ceil {
            expr,
            field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
        } => Ast::Call("ceil".into(), vec![convert(expr, below)?]),
        E::Floor {
            expr,
            field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
        } => Ast::Call("floor".into(), vec![convert(expr, below)?]),
        E::Between {
            expr,
            negated,
            low,
            high,
        } => Ast::Between {
            expr: boxed(expr, below)?,
            low: boxed(low, below)?,
            high: boxed(high, below)?,
            negated: *negated,
        },
        E::InList {
            expr,
            list,
            negated,
        } => Ast::InList {
            expr: boxed(expr, below)?,
            list: list
                .iter()
                .map(|item| convert(item, below))
                .collect::<Result<_, _>>()?,
            negated: *negated,
        },
        E::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => Ast::Like {
            expr: boxed(expr, below)?,
            pattern: boxed(pattern, below)?,
            negated: *negated,
        },
        other => return Err(format!("{other}").into()),
    })
}

/// The value of `-expr` if `expr` is an integer literal whose negation
/// is a BIGINT.
fn negative_integer(expr: &sql::Expr) -> Option<i64> {
    match expr {
        sql::Expr::Value(sql::ValueWithSpan {
            value: sql::Value::Number(text, _),
            ..
        }) => format!("-{text}").parse().ok(),
        _ => None,
    }
}

fn literal(value: &sql::Value) -> Result<Literal, String> {
    Ok(match value {
        sql::Value::Null => Literal::Null,
        sql::Value::Boolean(b) => Literal::Bool(*b),
        sql::Value::Number(text, _) => match text.parse::<i64>() {
            Ok(v) => Literal::Int64(v),
            Err(_) => Literal::Float64(text.parse::<f64>().map_err(|_| format!("number {text}"))?),
        },
        sql::Value::SingleQuotedString(s) | sql::Value::DoubleQuotedString(s) => {
            Literal::Utf8(s.clone())
        }
        other => return Err(format!("literal {other}")),
    })
}

fn cast_type(data_type: &sql::DataType) -> Result<DataType, String> {
    use sql::DataType as T;
    Ok(match data_type {
        T::BigInt(_) | T::Int(_) | T::Integer(_) | T::Int64 => DataType::Int64,
        T::Double(_) | T::Float(_) | T::Float64 | T::Float8 | T::DoublePrecision | T::Real => {
            DataType::Float64
        }
        T::Varchar(_) | T::Text | T::String(_) => DataType::Utf8,
        T::Bool | T::Boolean => DataType::Bool,
        T::Timestamp(_, _) => DataType::Timestamp,
        other => return Err(format!("cast to {other}")),
    })
}

fn call(function: &sql::Function, depth: usize) -> Result<Ast, Refusal> {
    let name = function.name.to_string().to_lowercase();
    let plain = function.over.is_none()
        && function.filter.is_none()
        && function.within_group.is_empty()
        && matches!(function.parameters, sql::FunctionArguments::None);
    if !plain {
        return Err(format!("function call {function}").into());
    }
    let args = match &function.args {
        sql::FunctionArguments::None => Vec::new(),
        sql::FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args
                .iter()
                .map(|arg| match arg {
                    sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(expr)) => {
                        convert(expr, depth)
                    }
                    other => Err(format!("argument {other} of {name}").into()),
                })
                .collect::<Result<_, _>>()?
        }
        _ => return Err(format!("function call {function}").into()),
    };
    Ok(Ast::Call(name, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str) -> Box<Ast> {
        Box::new(Ast::Column(name.into()))
    }

    #[test]
    fn parses_the_supported_forms() {
        assert_eq!(
            parse("price * 0.908").unwrap(),
            Ast::Binary(
                BinaryOp::Mul,
                col("price"),
                Box::new(Ast::Literal(Literal::Float64(0.908)))
            )
        );
        assert!(matches!(
            parse("auction % 123 = 0 AND channel <> 'x'").unwrap(),
            Ast::Chain(BinaryOp::And, operands) if operands.len() == 2
        ));
        // A chain, parenthesized or not, is one flat node.
        assert!(matches!(
            parse("a OR (b OR c) OR d").unwrap(),
            Ast::Chain(BinaryOp::Or, operands) if operands.len() == 4
        ));
        assert!(matches!(
            parse("CASE WHEN a > 1 THEN 'big' ELSE 'small' END").unwrap(),
            Ast::Case { operand: None, .. }
        ));
        assert_eq!(
            parse("CAST(x AS DOUBLE)").unwrap(),
            Ast::Cast(col("x"), DataType::Float64)
        );
        assert_eq!(
            parse("upper(name)").unwrap(),
            Ast::Call("upper".into(), vec![Ast::Column("name".into())])
        );
        assert_eq!(parse("-5").unwrap(), Ast::Literal(Literal::Int64(-5)));
    }

    #[test]
    fn refuses_what_it_does_not_support_by_name() {
        let err = parse("x IN (SELECT 1)").unwrap_err().to_string();
        assert!(err.contains("not supported"), "{err}");
        let err = parse("a +").unwrap_err().to_string();
        assert!(err.contains("a +"), "{err}");
        let err = parse("a b").unwrap_err().to_string();
        assert!(err.contains("after the expression"), "{err}");
    }
}
