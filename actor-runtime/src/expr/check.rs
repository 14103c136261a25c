//! Type checking: resolves column names against the input schema, gives
//! every node a type, inserts the implicit casts SQL allows (integer to
//! double, `NULL` to anything) and refuses everything else with a message
//! naming the operation and the types. Desugars `BETWEEN`, the simple
//! `CASE` form and `IN` over expressions, so evaluation has fewer shapes
//! to handle; `IN` over constants becomes one set lookup per row.

use super::ast::{Ast, BinaryOp, Literal};
use super::error::ExprError;
use super::functions::Function;
use super::in_set::ValueSet;
use super::like::LikePattern;
use super::types::{Scalar, Ty};
use crate::data::Schema;

/// A typed expression node.
#[derive(Debug, Clone, PartialEq)]
pub struct Typed {
    /// What it computes.
    pub kind: Kind,
    /// Its type.
    pub ty: Ty,
    /// Whether it may be null.
    pub nullable: bool,
}

/// Arithmetic operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

/// What a typed node computes. Operands already have the types the
/// operation needs.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Input column at this position.
    Column(usize),
    /// A constant.
    Literal(Scalar),
    /// Numeric negation.
    Neg(Box<Typed>),
    /// Boolean negation.
    Not(Box<Typed>),
    /// Arithmetic on two operands of the node's type.
    Arith(ArithOp, Box<Typed>, Box<Typed>),
    /// Comparison of two operands of one type.
    Compare(CmpOp, Box<Typed>, Box<Typed>),
    /// Three-valued AND of two or more conditions.
    And(Vec<Typed>),
    /// Three-valued OR of two or more conditions.
    Or(Vec<Typed>),
    /// Text concatenation of two or more texts (null if any is).
    Concat(Vec<Typed>),
    /// `x [NOT] IN (constants…)`: the operand, the constants, and whether
    /// it is negated.
    InSet(Box<Typed>, ValueSet, bool),
    /// `IS NULL` (or `IS NOT NULL` when the flag is set).
    IsNull(Box<Typed>, bool),
    /// Boolean conditions and their results, then the default.
    Case(Vec<(Typed, Typed)>, Option<Box<Typed>>),
    /// Conversion to the node's type.
    Cast(Box<Typed>),
    /// A built-in function.
    Call(Function, Vec<Typed>),
    /// `LIKE` against a constant pattern (negated when the flag is set).
    Like(Box<Typed>, LikePattern, bool),
}

impl Typed {
    fn new(kind: Kind, ty: Ty, nullable: bool) -> Self {
        Self { kind, ty, nullable }
    }

    /// The input columns it reads, by position, each once, in order.
    pub fn columns_read(&self) -> Vec<usize> {
        let mut read = Vec::new();
        self.collect_columns(&mut read);
        read.sort_unstable();
        read.dedup();
        read
    }

    fn collect_columns(&self, read: &mut Vec<usize>) {
        match &self.kind {
            Kind::Column(index) => read.push(*index),
            Kind::Literal(_) => {}
            Kind::Neg(inner)
            | Kind::Not(inner)
            | Kind::IsNull(inner, _)
            | Kind::Cast(inner)
            | Kind::Like(inner, _, _)
            | Kind::InSet(inner, _, _) => inner.collect_columns(read),
            Kind::Arith(_, left, right) | Kind::Compare(_, left, right) => {
                left.collect_columns(read);
                right.collect_columns(read);
            }
            Kind::And(operands)
            | Kind::Or(operands)
            | Kind::Concat(operands)
            | Kind::Call(_, operands) => {
                for operand in operands {
                    operand.collect_columns(read);
                }
            }
            Kind::Case(branches, otherwise) => {
                for (condition, result) in branches {
                    condition.collect_columns(read);
                    result.collect_columns(read);
                }
                if let Some(otherwise) = otherwise {
                    otherwise.collect_columns(read);
                }
            }
        }
    }

    /// This node converted to `ty` (no-op if it already is).
    pub fn cast_to(self, ty: Ty) -> Typed {
        if self.ty == ty {
            return self;
        }
        let nullable = self.nullable;
        Typed::new(Kind::Cast(Box::new(self)), ty, nullable)
    }
}

fn mismatch(message: String) -> ExprError {
    ExprError::TypeMismatch { message }
}

/// The type two operands are brought to, if any.
pub fn common_type(a: Ty, b: Ty) -> Option<Ty> {
    match (a, b) {
        _ if a == b => Some(a),
        (Ty::Null, other) | (other, Ty::Null) => Some(other),
        (Ty::Int64, Ty::Float64) | (Ty::Float64, Ty::Int64) => Some(Ty::Float64),
        _ => None,
    }
}

/// Types `ast` against `schema`.
pub fn check(ast: &Ast, schema: &Schema) -> Result<Typed, ExprError> {
    Ok(match ast {
        Ast::Column(name) => {
            let index = schema
                .index_of(name)
                .ok_or_else(|| ExprError::unknown_column(name, schema))?;
            let field = &schema.fields[index];
            let ty = Ty::of(field.data_type).ok_or_else(|| ExprError::UnreadableColumn {
                name: name.clone(),
                data_type: field.data_type,
            })?;
            Typed::new(Kind::Column(index), ty, field.nullable)
        }
        Ast::Literal(literal) => {
            let (scalar, ty) = match literal {
                Literal::Null => (Scalar::Null, Ty::Null),
                Literal::Bool(b) => (Scalar::Bool(*b), Ty::Bool),
                Literal::Int64(v) => (Scalar::Int64(*v), Ty::Int64),
                Literal::Float64(v) => (Scalar::Float64(*v), Ty::Float64),
                Literal::Utf8(s) => (Scalar::Utf8(s.clone()), Ty::Utf8),
            };
            let nullable = scalar.is_null();
            Typed::new(Kind::Literal(scalar), ty, nullable)
        }
        Ast::Neg(inner) => {
            let inner = check(inner, schema)?;
            if !inner.ty.is_numeric() {
                return Err(mismatch(format!("cannot negate a {} value", inner.ty)));
            }
            let (ty, nullable) = (inner.ty, inner.nullable);
            Typed::new(Kind::Neg(Box::new(inner)), ty, nullable)
        }
        Ast::Not(inner) => {
            let inner = boolean(check(inner, schema)?, "NOT")?;
            let nullable = inner.nullable;
            Typed::new(Kind::Not(Box::new(inner)), Ty::Bool, nullable)
        }
        Ast::Binary(op, left, right) => binary(*op, check(left, schema)?, check(right, schema)?)?,
        Ast::Chain(op, operands) => chain(
            *op,
            operands
                .iter()
                .map(|operand| check(operand, schema))
                .collect::<Result<_, _>>()?,
        )?,
        Ast::IsNull { expr, negated } => {
            let inner = check(expr, schema)?;
            Typed::new(Kind::IsNull(Box::new(inner), *negated), Ty::Bool, false)
        }
        Ast::Case {
            operand,
            whens,
            otherwise,
        } => case(operand.as_deref(), whens, otherwise.as_deref(), schema)?,
        Ast::Cast(inner, to) => {
            let inner = check(inner, schema)?;
            let to = Ty::of(*to).ok_or_else(|| mismatch(format!("cannot cast to {to}")))?;
            inner.cast_to(to)
        }
        Ast::Call(name, args) => {
            let args = args
                .iter()
                .map(|arg| check(arg, schema))
                .collect::<Result<Vec<_>, _>>()?;
            Function::check(name, args)?
        }
        Ast::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let value = check(expr, schema)?;
            let above = binary(BinaryOp::GtEq, value.clone(), check(low, schema)?)?;
            let below = binary(BinaryOp::LtEq, value, check(high, schema)?)?;
            let within = binary(BinaryOp::And, above, below)?;
            negate_if(within, *negated)
        }
        Ast::InList {
            expr,
            list,
            negated,
        } => in_list(check(expr, schema)?, list, *negated, schema)?,
        Ast::Like {
            expr,
            pattern,
            negated,
        } => {
            let value = check(expr, schema)?;
            if value.ty != Ty::Utf8 {
                return Err(mismatch(format!("LIKE needs text, got {}", value.ty)));
            }
            let Ast::Literal(Literal::Utf8(pattern)) = pattern.as_ref() else {
                return Err(mismatch("the LIKE pattern must be a text constant".into()));
            };
            let nullable = value.nullable;
            Typed::new(
                Kind::Like(Box::new(value), LikePattern::new(pattern), *negated),
                Ty::Bool,
                nullable,
            )
        }
    })
}

fn negate_if(expr: Typed, negated: bool) -> Typed {
    if negated {
        let nullable = expr.nullable;
        Typed::new(Kind::Not(Box::new(expr)), Ty::Bool, nullable)
    } else {
        expr
    }
}

fn boolean(expr: Typed, context: &str) -> Result<Typed, ExprError> {
    match expr.ty {
        Ty::Bool => Ok(expr),
        Ty::Null => Ok(expr.cast_to(Ty::Bool)),
        other => Err(mismatch(format!(
            "{context} needs bool operands, got {other}"
        ))),
    }
}

fn binary(op: BinaryOp, left: Typed, right: Typed) -> Result<Typed, ExprError> {
    let nullable = left.nullable || right.nullable;
    let (lt, rt) = (left.ty, right.ty);
    let refuse = || mismatch(format!("cannot apply {} to {lt} and {rt}", op.symbol()));
    let arith = |op: ArithOp| -> Result<Typed, ExprError> {
        let ty = common_type(lt, rt)
            .filter(|t| t.is_numeric())
            .ok_or_else(refuse)?;
        Ok(Typed::new(
            Kind::Arith(
                op,
                Box::new(left.clone().cast_to(ty)),
                Box::new(right.clone().cast_to(ty)),
            ),
            ty,
            nullable,
        ))
    };
    let compare = |op: CmpOp| -> Result<Typed, ExprError> {
        let ty = common_type(lt, rt).ok_or_else(refuse)?;
        Ok(Typed::new(
            Kind::Compare(
                op,
                Box::new(left.clone().cast_to(ty)),
                Box::new(right.clone().cast_to(ty)),
            ),
            Ty::Bool,
            nullable,
        ))
    };
    match op {
        BinaryOp::Add => arith(ArithOp::Add),
        BinaryOp::Sub => arith(ArithOp::Sub),
        BinaryOp::Mul => arith(ArithOp::Mul),
        BinaryOp::Div => arith(ArithOp::Div),
        BinaryOp::Mod => arith(ArithOp::Mod),
        BinaryOp::Eq => compare(CmpOp::Eq),
        BinaryOp::NotEq => compare(CmpOp::NotEq),
        BinaryOp::Lt => compare(CmpOp::Lt),
        BinaryOp::LtEq => compare(CmpOp::LtEq),
        BinaryOp::Gt => compare(CmpOp::Gt),
        BinaryOp::GtEq => compare(CmpOp::GtEq),
        BinaryOp::And | BinaryOp::Or | BinaryOp::Concat => chain(op, vec![left, right]),
    }
}

/// `a op b op …` for `AND`, `OR` or `||`.
fn chain(op: BinaryOp, operands: Vec<Typed>) -> Result<Typed, ExprError> {
    let nullable = operands.iter().any(|o| o.nullable);
    match op {
        BinaryOp::And | BinaryOp::Or => {
            let operands = operands
                .into_iter()
                .map(|o| boolean(o, op.symbol()))
                .collect::<Result<Vec<_>, _>>()?;
            let kind = if op == BinaryOp::And {
                Kind::And(operands)
            } else {
                Kind::Or(operands)
            };
            Ok(Typed::new(kind, Ty::Bool, nullable))
        }
        BinaryOp::Concat => {
            if let Some(b) = operands.iter().find(|o| o.ty == Ty::Bool) {
                return Err(mismatch(format!("cannot apply || to {}", b.ty)));
            }
            let operands = operands.into_iter().map(|o| o.cast_to(Ty::Utf8)).collect();
            Ok(Typed::new(Kind::Concat(operands), Ty::Utf8, nullable))
        }
        other => Err(mismatch(format!("{} does not chain", other.symbol()))),
    }
}

/// `value [NOT] IN (list)`: a set lookup when every candidate is a
/// constant, else an OR of equalities.
fn in_list(value: Typed, list: &[Ast], negated: bool, schema: &Schema) -> Result<Typed, ExprError> {
    if list.is_empty() {
        return Err(mismatch("IN () needs at least one value".into()));
    }
    let candidates = list
        .iter()
        .map(|candidate| check(candidate, schema))
        .collect::<Result<Vec<_>, _>>()?;
    let mut ty = value.ty;
    for candidate in &candidates {
        ty = common_type(ty, candidate.ty).ok_or_else(|| {
            mismatch(format!(
                "cannot compare {} with an IN value of type {}",
                value.ty, candidate.ty
            ))
        })?;
    }
    let constants: Option<Vec<Scalar>> = candidates
        .iter()
        .map(|c| match &c.kind {
            Kind::Literal(scalar) => Some(scalar.clone()),
            _ => None,
        })
        .collect();
    if let Some(constants) = constants {
        let set = ValueSet::new(ty, &constants)?;
        let nullable = value.nullable || set.has_null();
        return Ok(Typed::new(
            Kind::InSet(Box::new(value.cast_to(ty)), set, negated),
            Ty::Bool,
            nullable,
        ));
    }
    let equalities = candidates
        .into_iter()
        .map(|candidate| binary(BinaryOp::Eq, value.clone(), candidate))
        .collect::<Result<Vec<_>, _>>()?;
    let any = if equalities.len() == 1 {
        equalities
            .into_iter()
            .next()
            .ok_or_else(|| mismatch("IN ()".into()))?
    } else {
        chain(BinaryOp::Or, equalities)?
    };
    Ok(negate_if(any, negated))
}

fn case(
    operand: Option<&Ast>,
    whens: &[(Ast, Ast)],
    otherwise: Option<&Ast>,
    schema: &Schema,
) -> Result<Typed, ExprError> {
    let operand = operand.map(|o| check(o, schema)).transpose()?;
    let mut conditions = Vec::with_capacity(whens.len());
    let mut results = Vec::with_capacity(whens.len());
    for (when, then) in whens {
        let when = check(when, schema)?;
        let condition = match &operand {
            Some(operand) => binary(BinaryOp::Eq, operand.clone(), when)?,
            None => boolean(when, "CASE WHEN")?,
        };
        conditions.push(condition);
        results.push(check(then, schema)?);
    }
    let otherwise = otherwise.map(|o| check(o, schema)).transpose()?;
    let mut ty = Ty::Null;
    for result in results.iter().chain(otherwise.iter()) {
        ty = common_type(ty, result.ty).ok_or_else(|| {
            mismatch(format!(
                "CASE results of types {ty} and {} cannot be combined",
                result.ty
            ))
        })?;
    }
    let nullable =
        otherwise.as_ref().is_none_or(|o| o.nullable) || results.iter().any(|r| r.nullable);
    let branches = conditions
        .into_iter()
        .zip(results)
        .map(|(condition, result)| (condition, result.cast_to(ty)))
        .collect();
    Ok(Typed::new(
        Kind::Case(branches, otherwise.map(|o| Box::new(o.cast_to(ty)))),
        ty,
        nullable,
    ))
}

#[cfg(test)]
mod tests {
    use super::super::ast::parse;
    use super::*;
    use crate::data::{DataType, Field};

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("price", DataType::Int64),
            Field::nullable("channel", DataType::Utf8),
            Field::new("rate", DataType::Float64),
        ])
    }

    fn typed(text: &str) -> Result<Typed, ExprError> {
        check(&parse(text)?, &schema())
    }

    #[test]
    fn types_and_implicit_casts() {
        assert_eq!(typed("price * 0.908").unwrap().ty, Ty::Float64);
        assert_eq!(typed("price % 123").unwrap().ty, Ty::Int64);
        assert_eq!(
            typed("price % 123 = 0 AND channel <> 'x'").unwrap().ty,
            Ty::Bool
        );
        let case = typed("CASE WHEN price > 10 THEN 1 ELSE rate END").unwrap();
        assert_eq!(case.ty, Ty::Float64);
        assert!(!case.nullable);
        assert!(typed("CASE WHEN price > 10 THEN 1 END").unwrap().nullable);
        assert_eq!(typed("price BETWEEN 1 AND 5").unwrap().ty, Ty::Bool);
        assert_eq!(typed("channel IN ('a', 'b')").unwrap().ty, Ty::Bool);
        assert_eq!(typed("CAST(price AS VARCHAR) || '!'").unwrap().ty, Ty::Utf8);
    }

    #[test]
    fn mistakes_are_named() {
        assert_eq!(
            typed("prize + 1").unwrap_err().to_string(),
            "unknown column \"prize\" (the input has: price, channel, rate)"
        );
        assert_eq!(
            typed("channel + 1").unwrap_err().to_string(),
            "type mismatch: cannot apply + to utf8 and i64"
        );
        assert_eq!(
            typed("price AND true").unwrap_err().to_string(),
            "type mismatch: AND needs bool operands, got i64"
        );
        assert!(typed("CASE WHEN true THEN 'a' ELSE 1 END")
            .unwrap_err()
            .to_string()
            .contains("CASE results"));
    }
}
