//! Column-at-a-time evaluation of typed expressions over a batch's
//! columns. Each operation runs one tight loop per column (a constant side
//! is broadcast without being materialized), nulls travel in a separate
//! validity vector, and column references borrow the input's buffers.
//!
//! Integer arithmetic is checked, as in standard SQL and Spark's ANSI
//! mode: an overflow or a division by zero is an error naming the
//! operands (the loops only collect an overflow flag; the failing row is
//! looked for once something overflowed, so the common case stays one
//! tight loop). Double arithmetic follows IEEE 754 (NaN and ±infinity
//! flow through), except that dividing by zero is an error as for
//! integers. Doubles compare as [`crate::kernels::floats::compare_f64`]
//! orders them.

use std::borrow::Cow;

use super::array::{Array, Datum, Values};
use super::branch;
use super::check::{ArithOp, CmpOp, Kind, Typed};
use super::error::ExprError;
use super::types::{Scalar, Ty};
use crate::data::ColumnView;

/// What an evaluation may depend on besides the input: the seed of
/// seeded random functions and the global index of the first row, so a
/// generated column is the same however the rows are split into batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EvalContext {
    /// Seed of `random()` and `random_int()`.
    pub seed: u64,
    /// Index of the batch's first row in its stream.
    pub first_row: u64,
}

/// A batch's columns, as expressions read them.
#[derive(Debug, Clone, Copy)]
pub struct Input<'i, 'a> {
    /// The columns, in schema order.
    pub columns: &'i [ColumnView<'a>],
    /// Rows in the batch.
    pub rows: usize,
    /// Seed and position.
    pub context: EvalContext,
}

/// One operand of a binary loop: a column's values or a constant.
#[derive(Clone, Copy)]
pub(super) enum Side<'s, T> {
    Slice(&'s [T]),
    Const(T),
}

impl<T: Copy> Side<'_, T> {
    fn at(&self, i: usize) -> T {
        match self {
            Side::Slice(v) => v[i],
            Side::Const(c) => *c,
        }
    }
}

/// `f` over two operands, one loop per shape so each can vectorize.
pub(super) fn map2<A: Copy, B: Copy, O: Clone>(
    left: Side<'_, A>,
    right: Side<'_, B>,
    rows: usize,
    f: impl Fn(A, B) -> O,
) -> Vec<O> {
    match (left, right) {
        (Side::Slice(a), Side::Slice(b)) => a.iter().zip(b).map(|(&x, &y)| f(x, y)).collect(),
        (Side::Slice(a), Side::Const(y)) => a.iter().map(|&x| f(x, y)).collect(),
        (Side::Const(x), Side::Slice(b)) => b.iter().map(|&y| f(x, y)).collect(),
        (Side::Const(x), Side::Const(y)) => vec![f(x, y); rows],
    }
}

/// Rows valid in both (`None`: all valid).
pub(super) fn both_valid(a: Option<&[bool]>, b: Option<&[bool]>) -> Option<Vec<bool>> {
    match (a, b) {
        (None, None) => None,
        (Some(v), None) | (None, Some(v)) => Some(v.to_vec()),
        (Some(a), Some(b)) => Some(a.iter().zip(b).map(|(x, y)| *x && *y).collect()),
    }
}

pub(super) fn validity<'d>(datum: &'d Datum<'_>) -> Option<&'d [bool]> {
    match datum {
        Datum::Array(array) => array.validity.as_deref(),
        Datum::Scalar(_) => None,
    }
}

fn both_scalars(l: &Datum<'_>, r: &Datum<'_>) -> bool {
    matches!((l, r), (Datum::Scalar(_), Datum::Scalar(_)))
}

pub(super) fn is_null_scalar(datum: &Datum<'_>) -> bool {
    matches!(datum, Datum::Scalar(Scalar::Null))
}

fn i64_side<'s>(datum: &'s Datum<'_>) -> Side<'s, i64> {
    match datum {
        Datum::Array(Array {
            values: Values::Int64(v) | Values::Timestamp(v),
            ..
        }) => Side::Slice(v),
        Datum::Scalar(Scalar::Int64(v) | Scalar::Timestamp(v)) => Side::Const(*v),
        _ => Side::Const(0),
    }
}

fn f64_side<'s>(datum: &'s Datum<'_>) -> Side<'s, f64> {
    match datum {
        Datum::Array(Array {
            values: Values::Float64(v),
            ..
        }) => Side::Slice(v),
        Datum::Scalar(Scalar::Float64(v)) => Side::Const(*v),
        _ => Side::Const(0.0),
    }
}

fn bool_side<'s>(datum: &'s Datum<'_>) -> Side<'s, bool> {
    match datum {
        Datum::Array(Array {
            values: Values::Bool(v),
            ..
        }) => Side::Slice(v),
        Datum::Scalar(Scalar::Bool(v)) => Side::Const(*v),
        _ => Side::Const(false),
    }
}

/// Evaluates `expr` over `input`.
pub fn eval<'a>(expr: &Typed, input: &Input<'_, 'a>) -> Result<Datum<'a>, ExprError> {
    let rows = input.rows;
    Ok(match &expr.kind {
        Kind::Column(index) => {
            let view = input
                .columns
                .get(*index)
                .ok_or_else(|| ExprError::UnknownColumn {
                    name: format!("#{index}"),
                    available: format!("{} columns", input.columns.len()),
                })?;
            Datum::Array(
                Array::from_view(view).ok_or_else(|| ExprError::UnreadableColumn {
                    name: view.name.to_string(),
                    data_type: view.data_type,
                })?,
            )
        }
        Kind::Literal(value) => Datum::Scalar(value.clone()),
        Kind::Neg(inner) => negate(eval(inner, input)?, expr.ty, rows)?,
        Kind::Not(inner) => {
            let value = eval(inner, input)?;
            if let Datum::Scalar(s) = &value {
                return Ok(Datum::Scalar(match s {
                    Scalar::Bool(b) => Scalar::Bool(!b),
                    _ => Scalar::Null,
                }));
            }
            let values = map2(bool_side(&value), Side::Const(()), rows, |b, ()| !b);
            Datum::Array(Array {
                values: Values::Bool(Cow::Owned(values)),
                validity: validity(&value).map(<[bool]>::to_vec),
            })
        }
        Kind::Arith(op, left, right) => {
            let (l, r) = (eval(left, input)?, eval(right, input)?);
            arith(*op, l, r, expr.ty, rows)?
        }
        Kind::Compare(op, left, right) => {
            let (l, r) = (eval(left, input)?, eval(right, input)?);
            compare(*op, l, r, left.ty, rows)
        }
        Kind::And(operands) | Kind::Or(operands) => {
            let and = matches!(expr.kind, Kind::And(_));
            let mut operands = operands.iter();
            let mut value = match operands.next() {
                Some(first) => eval(first, input)?,
                None => Datum::Scalar(Scalar::Bool(and)),
            };
            for operand in operands {
                value = branch::logic(and, value, eval(operand, input)?, rows);
            }
            value
        }
        Kind::Concat(operands) => {
            let values = operands
                .iter()
                .map(|operand| eval(operand, input))
                .collect::<Result<Vec<_>, _>>()?;
            branch::concat(&values, rows)?
        }
        Kind::InSet(value, set, negated) => set.test(eval(value, input)?, value.ty, *negated, rows),
        Kind::IsNull(inner, negated) => {
            let value = eval(inner, input)?;
            let nulls: Vec<bool> = match &value {
                Datum::Scalar(s) => vec![s.is_null() != *negated; rows],
                Datum::Array(array) => match &array.validity {
                    None => vec![*negated; rows],
                    Some(valid) => valid.iter().map(|v| *v == *negated).collect(),
                },
            };
            Datum::Array(Array {
                values: Values::Bool(Cow::Owned(nulls)),
                validity: None,
            })
        }
        Kind::Case(branches, otherwise) => {
            branch::case(branches, otherwise.as_deref(), expr.ty, input)?
        }
        Kind::Cast(inner) => super::cast::cast(eval(inner, input)?, inner.ty, expr.ty, rows)?,
        Kind::Call(function, args) => {
            let args = args
                .iter()
                .map(|arg| eval(arg, input).map(|d| (d, arg.ty)))
                .collect::<Result<Vec<_>, _>>()?;
            function.eval(args, expr.ty, input)?
        }
        Kind::Like(inner, pattern, negated) => {
            let value = eval(inner, input)?;
            match value {
                Datum::Scalar(Scalar::Utf8(s)) => {
                    Datum::Scalar(Scalar::Bool(pattern.matches(&s) != *negated))
                }
                Datum::Scalar(_) => Datum::Scalar(Scalar::Null),
                Datum::Array(array) => {
                    let Values::Utf8(text) = &array.values else {
                        return Ok(Datum::Scalar(Scalar::Null));
                    };
                    let matched = (0..rows)
                        .map(|i| pattern.matches(text.get(i)) != *negated)
                        .collect();
                    Datum::Array(Array {
                        values: Values::Bool(Cow::Owned(matched)),
                        validity: array.validity,
                    })
                }
            }
        }
    })
}

pub(super) fn all_null(ty: Ty, rows: usize) -> Datum<'static> {
    Datum::Array(Array::repeat(&Scalar::Null, ty, rows))
}

/// A value error at `row` (filled in with the expression's text and the
/// row's values by [`super::Expr::eval`]).
pub(super) fn arithmetic(problem: String, row: usize) -> ExprError {
    ExprError::bad_value(problem, Some(row))
}

/// Integer `x op y`, or why it has no BIGINT value.
fn checked_i64(op: ArithOp, x: i64, y: i64) -> Result<i64, String> {
    let symbol = match op {
        ArithOp::Add => "+",
        ArithOp::Sub => "-",
        ArithOp::Mul => "*",
        ArithOp::Div => "/",
        ArithOp::Mod => "%",
    };
    if y == 0 && matches!(op, ArithOp::Div | ArithOp::Mod) {
        return Err(format!("division by zero: {x} {symbol} 0"));
    }
    let value = match op {
        ArithOp::Add => x.checked_add(y),
        ArithOp::Sub => x.checked_sub(y),
        ArithOp::Mul => x.checked_mul(y),
        ArithOp::Div => x.checked_div(y),
        // i64::MIN % -1 is 0, though computing it traps.
        ArithOp::Mod => Some(x.wrapping_rem(y)),
    };
    value.ok_or_else(|| format!("BIGINT overflow: {x} {symbol} {y}"))
}

fn arith<'a>(
    op: ArithOp,
    l: Datum<'a>,
    r: Datum<'a>,
    ty: Ty,
    rows: usize,
) -> Result<Datum<'a>, ExprError> {
    if is_null_scalar(&l) || is_null_scalar(&r) {
        return Ok(all_null(ty, rows));
    }
    // Two constants make one value, whatever the batch's size (even 0).
    let rows = if both_scalars(&l, &r) { 1 } else { rows };
    let valid = both_valid(validity(&l), validity(&r));
    let is_valid = |i: usize| valid.as_ref().is_none_or(|v| v[i]);
    let values = if ty == Ty::Float64 {
        let (a, b) = (f64_side(&l), f64_side(&r));
        if matches!(op, ArithOp::Div | ArithOp::Mod) {
            if let Some(row) = (0..rows).find(|&i| is_valid(i) && b.at(i) == 0.0) {
                let symbol = if op == ArithOp::Div { "/" } else { "%" };
                return Err(arithmetic(
                    format!("division by zero: {} {symbol} 0", a.at(row)),
                    row,
                ));
            }
        }
        let out = match op {
            ArithOp::Add => map2(a, b, rows, |x, y| x + y),
            ArithOp::Sub => map2(a, b, rows, |x, y| x - y),
            ArithOp::Mul => map2(a, b, rows, |x, y| x * y),
            ArithOp::Div => map2(a, b, rows, |x, y| x / y),
            ArithOp::Mod => map2(a, b, rows, |x, y| x % y),
        };
        Values::Float64(Cow::Owned(out))
    } else {
        let (a, b) = (i64_side(&l), i64_side(&r));
        let (out, bad) = super::checked::int_op(op, a, b, rows);
        if bad {
            // Only a valid row's overflow counts: a null row's
            // placeholder values mean nothing.
            for i in (0..rows).filter(|&i| is_valid(i)) {
                checked_i64(op, a.at(i), b.at(i)).map_err(|problem| arithmetic(problem, i))?;
            }
        }
        if ty == Ty::Timestamp {
            Values::Timestamp(Cow::Owned(out))
        } else {
            Values::Int64(Cow::Owned(out))
        }
    };
    if let (Datum::Scalar(_), Datum::Scalar(_)) = (&l, &r) {
        let array = Array {
            values,
            validity: valid,
        };
        return Ok(Datum::Scalar(array.scalar(0)));
    }
    Ok(Datum::Array(Array {
        values,
        validity: valid,
    }))
}

/// `-x`: checked for integers (`-(-9223372036854775808)` has no BIGINT).
fn negate<'a>(value: Datum<'a>, ty: Ty, rows: usize) -> Result<Datum<'a>, ExprError> {
    let negated = |x: &Scalar| match x {
        Scalar::Int64(v) => v
            .checked_neg()
            .map(Scalar::Int64)
            .ok_or_else(|| format!("BIGINT overflow: -({v})")),
        Scalar::Float64(v) => Ok(Scalar::Float64(-v)),
        other => Ok(other.clone()),
    };
    let array = match value {
        Datum::Scalar(s) => return negated(&s).map(Datum::Scalar).map_err(|p| arithmetic(p, 0)),
        Datum::Array(array) => array,
    };
    let values = match &array.values {
        Values::Float64(v) => Values::Float64(Cow::Owned(v.iter().map(|x| -x).collect())),
        Values::Int64(v) => {
            if let Some(row) = (0..v.len()).find(|&i| v[i] == i64::MIN && array.is_valid(i)) {
                return Err(arithmetic(format!("BIGINT overflow: -({})", i64::MIN), row));
            }
            Values::Int64(Cow::Owned(v.iter().map(|x| x.wrapping_neg()).collect()))
        }
        _ => return Ok(all_null(ty, rows)),
    };
    Ok(Datum::Array(Array {
        values,
        validity: array.validity,
    }))
}

/// Doubles compared as [`crate::kernels::floats::compare_f64`] orders them (NaN equal to NaN and
/// above every number, -0.0 equal to 0.0), written with IEEE comparisons
/// per operator so each loop stays branch-free and vectorizes.
fn compare_doubles(op: CmpOp, a: Side<'_, f64>, b: Side<'_, f64>, rows: usize) -> Vec<bool> {
    match op {
        CmpOp::Eq => map2(a, b, rows, |x, y| x == y || (x.is_nan() && y.is_nan())),
        CmpOp::NotEq => map2(a, b, rows, |x, y| !(x == y || (x.is_nan() && y.is_nan()))),
        CmpOp::Lt => map2(a, b, rows, |x, y| x < y || (y.is_nan() && !x.is_nan())),
        CmpOp::LtEq => map2(a, b, rows, |x, y| x <= y || y.is_nan()),
        CmpOp::Gt => map2(a, b, rows, |x, y| x > y || (x.is_nan() && !y.is_nan())),
        CmpOp::GtEq => map2(a, b, rows, |x, y| x >= y || x.is_nan()),
    }
}

fn ordering_matches(op: CmpOp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        CmpOp::Eq => ordering == Equal,
        CmpOp::NotEq => ordering != Equal,
        CmpOp::Lt => ordering == Less,
        CmpOp::LtEq => ordering != Greater,
        CmpOp::Gt => ordering == Greater,
        CmpOp::GtEq => ordering != Less,
    }
}

fn compare<'a>(op: CmpOp, l: Datum<'a>, r: Datum<'a>, ty: Ty, rows: usize) -> Datum<'a> {
    if is_null_scalar(&l) || is_null_scalar(&r) {
        return all_null(Ty::Bool, rows);
    }
    let rows = if both_scalars(&l, &r) { 1 } else { rows };
    let valid = both_valid(validity(&l), validity(&r));
    let values: Vec<bool> = match ty {
        Ty::Float64 => compare_doubles(op, f64_side(&l), f64_side(&r), rows),
        Ty::Int64 | Ty::Timestamp => map2(i64_side(&l), i64_side(&r), rows, |x, y| {
            ordering_matches(op, x.cmp(&y))
        }),
        Ty::Bool => map2(bool_side(&l), bool_side(&r), rows, |x, y| {
            ordering_matches(op, x.cmp(&y))
        }),
        Ty::Utf8 | Ty::Null => {
            let text = |d: &'_ Datum<'a>, i: usize| -> Vec<u8> {
                match d {
                    Datum::Array(Array {
                        values: Values::Utf8(s),
                        ..
                    }) => s.bytes(i).to_vec(),
                    Datum::Scalar(Scalar::Utf8(s)) => s.as_bytes().to_vec(),
                    _ => Vec::new(),
                }
            };
            match (&l, &r) {
                (
                    Datum::Array(Array {
                        values: Values::Utf8(a),
                        ..
                    }),
                    Datum::Scalar(Scalar::Utf8(b)),
                ) => (0..rows)
                    .map(|i| ordering_matches(op, a.bytes(i).cmp(b.as_bytes())))
                    .collect(),
                (
                    Datum::Array(Array {
                        values: Values::Utf8(a),
                        ..
                    }),
                    Datum::Array(Array {
                        values: Values::Utf8(b),
                        ..
                    }),
                ) => (0..rows)
                    .map(|i| ordering_matches(op, a.bytes(i).cmp(b.bytes(i))))
                    .collect(),
                _ => (0..rows)
                    .map(|i| ordering_matches(op, text(&l, i).cmp(&text(&r, i))))
                    .collect(),
            }
        }
    };
    if let (Datum::Scalar(_), Datum::Scalar(_)) = (&l, &r) {
        return Datum::Scalar(Scalar::Bool(values.first().copied().unwrap_or(false)));
    }
    Datum::Array(Array {
        values: Values::Bool(Cow::Owned(values)),
        validity: valid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::floats::compare_f64;

    #[test]
    fn double_comparisons_agree_with_the_one_ordering() {
        let values = [
            f64::NAN,
            -f64::NAN,
            f64::NEG_INFINITY,
            -1.0,
            -0.0,
            0.0,
            1.0,
            f64::INFINITY,
        ];
        for op in [
            CmpOp::Eq,
            CmpOp::NotEq,
            CmpOp::Lt,
            CmpOp::LtEq,
            CmpOp::Gt,
            CmpOp::GtEq,
        ] {
            for &x in &values {
                for &y in &values {
                    let got = compare_doubles(op, Side::Const(x), Side::Const(y), 1)[0];
                    let want = ordering_matches(op, compare_f64(x, y));
                    assert_eq!(got, want, "{x} {op:?} {y}");
                }
            }
        }
    }
}
