//! Conversions between expression types, explicit (`CAST`) and implicit
//! (integer to double, `NULL` to anything). A value that does not fit its
//! target is an error naming the value, never a silent null or a wrapped
//! number: text that does not parse, and a double that is NaN, infinite
//! or outside BIGINT's range cast to BIGINT. Doubles become BIGINTs by
//! truncation toward zero (`CAST(-2.7 AS BIGINT)` is -2), as in Spark and
//! Flink; text `'NaN'`, `'Infinity'` and `'-Infinity'` become doubles.

use std::borrow::Cow;

use super::array::{Array, Datum, StringsBuilder, Values};
use super::branch::text_at;
use super::error::ExprError;
use super::types::{Scalar, Ty};
use crate::data::format_f64;

/// `f` truncated toward zero, if that is a BIGINT.
fn f64_to_i64(f: f64) -> Option<i64> {
    // 2^63 is exact as a double; every double below it and at or above
    // -2^63 truncates to a BIGINT. NaN fails both comparisons.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (-LIMIT..LIMIT).contains(&f).then_some(f as i64)
}

/// Converts one value, or says why it cannot be.
pub fn cast_scalar(value: &Scalar, to: Ty) -> Result<Scalar, String> {
    let bad = |text: String| format!("cannot cast {text} to {}", to.data_type());
    Ok(match (value, to) {
        (Scalar::Null, _) => Scalar::Null,
        (v, Ty::Utf8) => Scalar::Utf8(match v {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int64(i) | Scalar::Timestamp(i) => i.to_string(),
            Scalar::Float64(f) => format_f64(*f),
            Scalar::Utf8(s) => s.clone(),
            Scalar::Null => String::new(),
        }),
        (Scalar::Bool(b), Ty::Bool) => Scalar::Bool(*b),
        (Scalar::Int64(i), Ty::Bool) => Scalar::Bool(*i != 0),
        (Scalar::Utf8(s), Ty::Bool) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => Scalar::Bool(true),
            "false" | "f" | "0" => Scalar::Bool(false),
            _ => return Err(bad(format!("{s:?}"))),
        },
        (Scalar::Bool(b), Ty::Int64) => Scalar::Int64(i64::from(*b)),
        (Scalar::Int64(i) | Scalar::Timestamp(i), Ty::Int64) => Scalar::Int64(*i),
        (Scalar::Float64(f), Ty::Int64) => {
            Scalar::Int64(f64_to_i64(*f).ok_or_else(|| bad(format_f64(*f)))?)
        }
        (Scalar::Utf8(s), Ty::Int64) => {
            Scalar::Int64(s.trim().parse().map_err(|_| bad(format!("{s:?}")))?)
        }
        (Scalar::Int64(i) | Scalar::Timestamp(i), Ty::Float64) => Scalar::Float64(*i as f64),
        (Scalar::Float64(f), Ty::Float64) => Scalar::Float64(*f),
        (Scalar::Bool(b), Ty::Float64) => Scalar::Float64(f64::from(u8::from(*b))),
        (Scalar::Utf8(s), Ty::Float64) => {
            Scalar::Float64(s.trim().parse().map_err(|_| bad(format!("{s:?}")))?)
        }
        (Scalar::Int64(i) | Scalar::Timestamp(i), Ty::Timestamp) => Scalar::Timestamp(*i),
        (Scalar::Utf8(s), Ty::Timestamp) => {
            Scalar::Timestamp(s.trim().parse().map_err(|_| bad(format!("{s:?}")))?)
        }
        (v, to) => return Err(bad(format!("{v:?} (to {to})"))),
    })
}

/// Converts a datum of type `from` to `to`.
pub fn cast<'a>(value: Datum<'a>, from: Ty, to: Ty, rows: usize) -> Result<Datum<'a>, ExprError> {
    if from == to {
        return Ok(value);
    }
    let array = match value {
        Datum::Scalar(s) => {
            return cast_scalar(&s, to)
                .map(Datum::Scalar)
                .map_err(|problem| ExprError::bad_value(problem, Some(0)))
        }
        Datum::Array(array) => array,
    };
    let validity = array.validity.clone();
    // The common cases get a tight loop; the rest go row by row.
    let values = match (&array.values, to) {
        (Values::Int64(v) | Values::Timestamp(v), Ty::Float64) => {
            Values::Float64(Cow::Owned(v.iter().map(|&i| i as f64).collect()))
        }
        (Values::Float64(v), Ty::Int64) => {
            let mut out = Vec::with_capacity(v.len());
            for (row, &f) in v.iter().enumerate() {
                match f64_to_i64(f) {
                    Some(i) => out.push(i),
                    None if !array.is_valid(row) => out.push(0),
                    None => {
                        return Err(ExprError::bad_value(
                            format!("cannot cast {} to {}", format_f64(f), to.data_type()),
                            Some(row),
                        ))
                    }
                }
            }
            Values::Int64(Cow::Owned(out))
        }
        (Values::Int64(v), Ty::Timestamp) => Values::Timestamp(v.clone()),
        (Values::Timestamp(v), Ty::Int64) => Values::Int64(v.clone()),
        (Values::Utf8(_), Ty::Utf8) => array.values.clone(),
        (_, Ty::Utf8) => {
            let mut builder = StringsBuilder::with_capacity(rows, rows * 8);
            for i in 0..rows {
                match cast_scalar(&array.scalar(i), Ty::Utf8)
                    .map_err(|problem| ExprError::bad_value(problem, Some(i)))?
                {
                    Scalar::Utf8(s) => builder.push(&s),
                    _ => builder.push(""),
                }
            }
            Values::Utf8(builder.finish())
        }
        _ => {
            let datum = Datum::Array(array.clone());
            let mut scalars = Vec::with_capacity(rows);
            for i in 0..rows {
                let value = if array.is_valid(i) {
                    match &array.values {
                        Values::Utf8(_) => Scalar::Utf8(text_at(&datum, i).to_string()),
                        _ => array.scalar(i),
                    }
                } else {
                    Scalar::Null
                };
                scalars.push(
                    cast_scalar(&value, to)
                        .map_err(|problem| ExprError::bad_value(problem, Some(i)))?,
                );
            }
            return Ok(Datum::Array(from_scalars(&scalars, to)));
        }
    };
    Ok(Datum::Array(Array { values, validity }))
}

/// An array of `scalars`, all of type `ty` or null.
pub fn from_scalars(scalars: &[Scalar], ty: Ty) -> Array<'static> {
    let validity: Vec<bool> = scalars.iter().map(|s| !s.is_null()).collect();
    let values = match ty {
        Ty::Bool => Values::Bool(Cow::Owned(
            scalars
                .iter()
                .map(|s| matches!(s, Scalar::Bool(true)))
                .collect(),
        )),
        Ty::Int64 | Ty::Timestamp => {
            let v: Vec<i64> = scalars
                .iter()
                .map(|s| match s {
                    Scalar::Int64(i) | Scalar::Timestamp(i) => *i,
                    _ => 0,
                })
                .collect();
            if ty == Ty::Int64 {
                Values::Int64(Cow::Owned(v))
            } else {
                Values::Timestamp(Cow::Owned(v))
            }
        }
        Ty::Float64 => Values::Float64(Cow::Owned(
            scalars
                .iter()
                .map(|s| match s {
                    Scalar::Float64(f) => *f,
                    _ => 0.0,
                })
                .collect(),
        )),
        Ty::Utf8 | Ty::Null => {
            let mut builder = StringsBuilder::with_capacity(scalars.len(), scalars.len() * 8);
            for s in scalars {
                builder.push(match s {
                    Scalar::Utf8(s) => s,
                    _ => "",
                });
            }
            Values::Utf8(builder.finish())
        }
    };
    Array {
        values,
        validity: validity.iter().any(|v| !v).then_some(validity),
    }
}
