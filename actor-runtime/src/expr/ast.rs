//! Expression syntax: SQL expression text parsed with `sqlparser` into
//! Faro's own small tree, so the rest of the engine never depends on the
//! parser's (much larger, dialect-laden) types. Anything outside the
//! supported subset is refused here, naming the construct.

use sqlparser::ast as sql;
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

use super::error::ExprError;
use crate::data::DataType;

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
        text: text.to_string(),
        message,
    };
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .try_with_sql(text)
        .map_err(|e| syntax(e.to_string()))?;
    let expr = parser.parse_expr().map_err(|e| syntax(e.to_string()))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(syntax(format!(
            "unexpected {} after the expression",
            next.token
        )));
    }
    convert(&expr).map_err(|construct| ExprError::Unsupported {
        text: text.to_string(),
        construct,
    })
}

fn boxed(expr: &sql::Expr) -> Result<Box<Ast>, String> {
    convert(expr).map(Box::new)
}

/// Converts sqlparser's tree; `Err` names the construct that is not
/// supported.
fn convert(expr: &sql::Expr) -> Result<Ast, String> {
    use sql::Expr as E;
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
        E::Nested(inner) => convert(inner)?,
        E::UnaryOp { op, expr } => match op {
            sql::UnaryOperator::Minus => match convert(expr)? {
                Ast::Literal(Literal::Int64(v)) => Ast::Literal(Literal::Int64(-v)),
                Ast::Literal(Literal::Float64(v)) => Ast::Literal(Literal::Float64(-v)),
                other => Ast::Neg(Box::new(other)),
            },
            sql::UnaryOperator::Plus => convert(expr)?,
            sql::UnaryOperator::Not => Ast::Not(boxed(expr)?),
            other => return Err(format!("unary operator {other}")),
        },
        E::BinaryOp { left, op, right } => {
            let op = match op {
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
                other => return Err(format!("operator {other}")),
            };
            Ast::Binary(op, boxed(left)?, boxed(right)?)
        }
        E::IsNull(inner) => Ast::IsNull {
            expr: boxed(inner)?,
            negated: false,
        },
        E::IsNotNull(inner) => Ast::IsNull {
            expr: boxed(inner)?,
            negated: true,
        },
        E::Case {
            operand,
            conditions,
            else_result,
            ..
        } => Ast::Case {
            operand: operand.as_deref().map(boxed).transpose()?,
            whens: conditions
                .iter()
                .map(|when| Ok((convert(&when.condition)?, convert(&when.result)?)))
                .collect::<Result<_, String>>()?,
            otherwise: else_result.as_deref().map(boxed).transpose()?,
        },
        E::Cast {
            kind: sql::CastKind::Cast,
            expr,
            data_type,
            format: None,
        } => Ast::Cast(boxed(expr)?, cast_type(data_type)?),
        E::Function(function) => call(function)?,
        // sqlparser gives these their own nodes; to Faro they are calls.
        E::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![convert(expr)?];
            args.push(match substring_from {
                Some(from) => convert(from)?,
                None => Ast::Literal(Literal::Int64(1)),
            });
            if let Some(length) = substring_for {
                args.push(convert(length)?);
            }
            Ast::Call("substr".into(), args)
        }
        E::Trim {
            trim_where: None,
            trim_what: None,
            expr,
            trim_characters: None,
        } => Ast::Call("trim".into(), vec![convert(expr)?]),
        E::Ceil {
            expr,
            field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
        } => Ast::Call("ceil".into(), vec![convert(expr)?]),
        E::Floor {
            expr,
            field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
        } => Ast::Call("floor".into(), vec![convert(expr)?]),
        E::Between {
            expr,
            negated,
            low,
            high,
        } => Ast::Between {
            expr: boxed(expr)?,
            low: boxed(low)?,
            high: boxed(high)?,
            negated: *negated,
        },
        E::InList {
            expr,
            list,
            negated,
        } => Ast::InList {
            expr: boxed(expr)?,
            list: list.iter().map(convert).collect::<Result<_, _>>()?,
            negated: *negated,
        },
        E::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => Ast::Like {
            expr: boxed(expr)?,
            pattern: boxed(pattern)?,
            negated: *negated,
        },
        other => return Err(format!("{other}")),
    })
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

fn call(function: &sql::Function) -> Result<Ast, String> {
    let name = function.name.to_string().to_lowercase();
    let plain = function.over.is_none()
        && function.filter.is_none()
        && function.within_group.is_empty()
        && matches!(function.parameters, sql::FunctionArguments::None);
    if !plain {
        return Err(format!("function call {function}"));
    }
    let args = match &function.args {
        sql::FunctionArguments::None => Vec::new(),
        sql::FunctionArguments::List(list)
            if list.duplicate_treatment.is_none() && list.clauses.is_empty() =>
        {
            list.args
                .iter()
                .map(|arg| match arg {
                    sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(expr)) => convert(expr),
                    other => Err(format!("argument {other} of {name}")),
                })
                .collect::<Result<_, _>>()?
        }
        _ => return Err(format!("function call {function}")),
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
            Ast::Binary(BinaryOp::And, _, _)
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
