//! The parts of evaluation that pick between values row by row rather
//! than compute them in one loop: three-valued `AND`/`OR`, `CASE`, and text
//! building (`||` and the text functions' helpers).

use std::borrow::Cow;

use super::array::{Array, Datum, StringsBuilder, Values};
use super::check::Typed;
use super::error::ExprError;
use super::eval::{all_null, both_valid, eval, is_null_scalar, validity, Input};
use super::types::{Scalar, Ty};

/// Three-valued AND (`and = true`) or OR.
pub(super) fn logic<'a>(and: bool, l: Datum<'a>, r: Datum<'a>, rows: usize) -> Datum<'a> {
    // Per row: (value, valid). Null AND false = false; null OR true = true.
    let get = |d: &Datum<'_>, i: usize| -> (bool, bool) {
        match d {
            Datum::Scalar(Scalar::Bool(b)) => (*b, true),
            Datum::Scalar(_) => (false, false),
            Datum::Array(a) => (matches!(&a.values, Values::Bool(v) if v[i]), a.is_valid(i)),
        }
    };
    if let (Datum::Scalar(_), Datum::Scalar(_)) = (&l, &r) {
        let ((a, va), (b, vb)) = (get(&l, 0), get(&r, 0));
        return Datum::Scalar(combine(and, a, va, b, vb).map_or(Scalar::Null, Scalar::Bool));
    }
    let mut values = Vec::with_capacity(rows);
    let mut valid = Vec::with_capacity(rows);
    for i in 0..rows {
        let ((a, va), (b, vb)) = (get(&l, i), get(&r, i));
        let result = combine(and, a, va, b, vb);
        values.push(result.unwrap_or(false));
        valid.push(result.is_some());
    }
    let validity = valid.iter().any(|v| !v).then_some(valid);
    Datum::Array(Array {
        values: Values::Bool(Cow::Owned(values)),
        validity,
    })
}

fn combine(and: bool, a: bool, va: bool, b: bool, vb: bool) -> Option<bool> {
    // The dominant value (false for AND, true for OR) wins even over null.
    let dominant = !and;
    if (va && a == dominant) || (vb && b == dominant) {
        return Some(dominant);
    }
    (va && vb).then_some(!dominant)
}

/// `a || b || …`: null where any operand is.
/// Most bytes of text one `||` may build in one batch: a batch's text
/// column is addressed with 32-bit offsets, and a chain of `||` over long
/// values could otherwise ask for more memory than the machine has.
pub const MAX_TEXT_BYTES: usize = u32::MAX as usize;

/// `a || b || …`: null where any operand is.
pub(super) fn concat<'a>(operands: &[Datum<'a>], rows: usize) -> Result<Datum<'a>, ExprError> {
    if operands.iter().any(is_null_scalar) {
        return Ok(all_null(Ty::Utf8, rows));
    }
    let total = operands
        .iter()
        .map(|operand| match operand {
            Datum::Array(Array {
                values: Values::Utf8(text),
                ..
            }) => text.total_bytes(),
            Datum::Scalar(Scalar::Utf8(text)) => text.len().saturating_mul(rows),
            _ => 0,
        })
        .fold(0usize, usize::saturating_add);
    if total > MAX_TEXT_BYTES {
        return Err(ExprError::bad_value(
            format!(
                "|| would build {total} bytes of text in one batch, more than {MAX_TEXT_BYTES}"
            ),
            None,
        ));
    }
    let mut valid: Option<Vec<bool>> = None;
    for operand in operands {
        valid = both_valid(valid.as_deref(), validity(operand));
    }
    let mut builder = StringsBuilder::with_capacity(rows, total);
    let mut joined = String::new();
    for i in 0..rows {
        joined.clear();
        for operand in operands {
            joined.push_str(text_at(operand, i));
        }
        builder.push(&joined);
    }
    Ok(Datum::Array(Array {
        values: Values::Utf8(builder.finish()),
        validity: valid,
    }))
}

pub(super) fn case<'a>(
    branches: &[(Typed, Typed)],
    otherwise: Option<&Typed>,
    ty: Ty,
    input: &Input<'_, 'a>,
) -> Result<Datum<'a>, ExprError> {
    let rows = input.rows;
    // For each row, the first branch whose condition is true (null counts
    // as false), or the default.
    let mut chosen: Vec<Option<usize>> = vec![None; rows];
    let mut open = rows;
    for (index, (condition, _)) in branches.iter().enumerate() {
        if open == 0 {
            break;
        }
        let condition = eval(condition, input)?.into_array(Ty::Bool, rows);
        let Values::Bool(hits) = &condition.values else {
            continue;
        };
        for (row, slot) in chosen.iter_mut().enumerate() {
            if slot.is_none() && hits[row] && condition.is_valid(row) {
                *slot = Some(index);
                open -= 1;
            }
        }
    }
    let mut results = Vec::with_capacity(branches.len());
    for (_, result) in branches {
        results.push(eval(result, input)?.into_array(ty, rows));
    }
    let otherwise = match otherwise {
        Some(o) => eval(o, input)?.into_array(ty, rows),
        None => Array::repeat(&Scalar::Null, ty, rows),
    };
    let pick = |row: usize| -> &Array<'a> { chosen[row].map_or(&otherwise, |b| &results[b]) };
    let validity: Vec<bool> = (0..rows).map(|row| pick(row).is_valid(row)).collect();
    let values = match ty {
        Ty::Bool => Values::Bool(Cow::Owned(gather(rows, |row| match &pick(row).values {
            Values::Bool(v) => v[row],
            _ => false,
        }))),
        Ty::Int64 | Ty::Timestamp => {
            let v = gather(rows, |row| match &pick(row).values {
                Values::Int64(v) | Values::Timestamp(v) => v[row],
                _ => 0,
            });
            if ty == Ty::Int64 {
                Values::Int64(Cow::Owned(v))
            } else {
                Values::Timestamp(Cow::Owned(v))
            }
        }
        Ty::Float64 => Values::Float64(Cow::Owned(gather(rows, |row| match &pick(row).values {
            Values::Float64(v) => v[row],
            _ => 0.0,
        }))),
        Ty::Utf8 | Ty::Null => {
            let mut builder = StringsBuilder::with_capacity(rows, rows * 8);
            for row in 0..rows {
                match &pick(row).values {
                    Values::Utf8(s) => builder.push(s.get(row)),
                    _ => builder.push(""),
                }
            }
            Values::Utf8(builder.finish())
        }
    };
    Ok(Datum::Array(Array {
        values,
        validity: validity.iter().any(|v| !v).then_some(validity),
    }))
}

fn gather<T>(rows: usize, f: impl Fn(usize) -> T) -> Vec<T> {
    (0..rows).map(f).collect()
}

/// The text of row `i` of a text datum.
pub(super) fn text_at<'d>(datum: &'d Datum<'_>, i: usize) -> &'d str {
    match datum {
        Datum::Array(Array {
            values: Values::Utf8(s),
            ..
        }) => s.get(i),
        Datum::Scalar(Scalar::Utf8(s)) => s,
        _ => "",
    }
}

/// `datum`'s text with ASCII letters' case changed in one pass over all
/// its bytes, when it is an array of ASCII text; `None` otherwise (for the
/// per-row path).
pub(super) fn ascii_case<'a>(datum: &Datum<'a>, upper: bool) -> Option<Datum<'a>> {
    let Datum::Array(Array {
        values: Values::Utf8(text),
        validity,
    }) = datum
    else {
        return None;
    };
    Some(Datum::Array(Array {
        values: Values::Utf8(text.ascii_case(upper)?),
        validity: validity.clone(),
    }))
}

/// Whether `datum` is an array of text each value of which is its own
/// trim, as its first and last bytes show ([`super::array::Strings::is_trimmed`]).
pub(super) fn is_trimmed(datum: &Datum<'_>) -> bool {
    matches!(datum, Datum::Array(Array { values: Values::Utf8(text), .. }) if text.is_trimmed())
}

/// Strings built from a per-row function over text, keeping validity:
/// `f` appends a row's text to the string holding the rows before it.
pub(super) fn map_text<'a>(
    datum: &Datum<'a>,
    rows: usize,
    f: impl Fn(&str, &mut String),
) -> Datum<'a> {
    let mut out = String::new();
    if let Datum::Scalar(s) = datum {
        return Datum::Scalar(match s {
            Scalar::Utf8(s) => {
                f(s, &mut out);
                Scalar::Utf8(out)
            }
            _ => Scalar::Null,
        });
    }
    let mut builder = StringsBuilder::with_capacity(rows, rows * 8);
    for i in 0..rows {
        builder.push_with(|out| f(text_at(datum, i), out));
    }
    Datum::Array(Array {
        values: Values::Utf8(builder.finish()),
        validity: validity(datum).map(<[bool]>::to_vec),
    })
}
