//! Built-in scalar functions: their names, type rules and evaluation.
//!
//! | function | type |
//! |---|---|
//! | `lower(s)`, `upper(s)`, `trim(s)` | text → text |
//! | `length(s)` | text → i64 (characters) |
//! | `substr(s, start[, len])` | 1-based, like SQL |
//! | `concat(a, b, …)` | anything → text; nulls count as empty |
//! | `abs(x)` | numeric → same (`abs` of the smallest BIGINT is an overflow error) |
//! | `round(x)`, `floor(x)`, `ceil(x)` | numeric → same (NaN and ±infinity unchanged) |
//! | `sqrt(x)`, `exp(x)`, `ln(x)`, `power(x, y)` | numeric → f64, as IEEE 754 computes it (`sqrt(-1)` is NaN, `ln(0)` is -infinity) |
//! | `coalesce(a, b, …)` | first non-null |
//! | `hash(a, …)` | anything → non-negative i64, the same in every process |
//! | `random()` | f64 in [0, 1), seeded, by row position |
//! | `random_int(lo, hi)` | i64 in [lo, hi), seeded, by row position |
//! | `proctime()` | the wall clock (UTC) as a timestamp, once per batch: SQL's processing-time attribute |
//! | `replace ltrim rtrim lpad rpad strpos left right reverse initcap split_index regexp_extract regexp_replace` | see [`super::text`] |
//! | `year quarter month day hour minute second millisecond dayofweek dayofyear`, `date_format(ts, pattern)`, `add_millis(ts, n)` | see [`super::temporal`] |

use std::borrow::Cow;

use super::array::{Array, Datum, Values};
use super::branch::{ascii_case, is_trimmed, map_text, text_at};
use super::cast::from_scalars;
use super::check::{common_type, Kind, Typed};
use super::error::ExprError;
use super::eval::Input;
use super::temporal::TimeFunction;
use super::text::TextFunction;
use super::types::{Scalar, Ty};

/// A built-in function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// `lower(s)`
    Lower,
    /// `upper(s)`
    Upper,
    /// `trim(s)`
    Trim,
    /// `length(s)`
    Length,
    /// `substr(s, start[, len])`
    Substr,
    /// `concat(…)`
    Concat,
    /// `abs(x)`
    Abs,
    /// `round(x)`
    Round,
    /// `floor(x)`
    Floor,
    /// `ceil(x)`
    Ceil,
    /// `sqrt(x)`
    Sqrt,
    /// `exp(x)`
    Exp,
    /// `ln(x)`
    Ln,
    /// `power(x, y)`
    Power,
    /// `coalesce(…)`
    Coalesce,
    /// `hash(…)`
    Hash,
    /// `random()`
    Random,
    /// `random_int(lo, hi)`
    RandomInt,
    /// `proctime()`
    Proctime,
    /// A string function of [`super::text`].
    Text(TextFunction),
    /// A timestamp function of [`super::temporal`].
    Time(TimeFunction),
}

fn mismatch(name: &str, message: &str) -> ExprError {
    ExprError::TypeMismatch {
        message: format!("{name}() {message}"),
    }
}

impl Function {
    /// Resolves a call and types it.
    pub fn check(name: &str, args: Vec<Typed>) -> Result<Typed, ExprError> {
        use Function as F;
        let arity = args.len();
        let unknown = || ExprError::UnknownFunction {
            name: name.to_string(),
            arity,
        };
        let function = match (name, arity) {
            ("lower", 1) => F::Lower,
            ("upper", 1) => F::Upper,
            ("trim", 1) => F::Trim,
            ("length" | "char_length", 1) => F::Length,
            ("substr" | "substring", 2 | 3) => F::Substr,
            ("concat", n) if n > 0 => F::Concat,
            ("abs", 1) => F::Abs,
            ("round", 1) => F::Round,
            ("floor", 1) => F::Floor,
            ("ceil" | "ceiling", 1) => F::Ceil,
            ("sqrt", 1) => F::Sqrt,
            ("exp", 1) => F::Exp,
            ("ln", 1) => F::Ln,
            ("power" | "pow", 2) => F::Power,
            ("coalesce", n) if n > 0 => F::Coalesce,
            ("hash", n) if n > 0 => F::Hash,
            ("random" | "rand", 0) => F::Random,
            ("random_int", 2) => F::RandomInt,
            ("proctime", 0) => F::Proctime,
            (name, arity) => match (
                TextFunction::named(name, arity),
                TimeFunction::named(name, arity),
            ) {
                (Some(text), _) => F::Text(text),
                (_, Some(time)) => F::Time(time),
                _ => return Err(unknown()),
            },
        };
        let any_nullable = args.iter().any(|a| a.nullable);
        let text = |args: Vec<Typed>| -> Result<Vec<Typed>, ExprError> {
            match args[0].ty {
                Ty::Utf8 | Ty::Null => Ok(args),
                other => Err(mismatch(name, &format!("needs text, got {other}"))),
            }
        };
        let numeric = |arg: &Typed| -> Result<Ty, ExprError> {
            match arg.ty {
                Ty::Int64 | Ty::Float64 => Ok(arg.ty),
                Ty::Null => Ok(Ty::Float64),
                other => Err(mismatch(name, &format!("needs a number, got {other}"))),
            }
        };
        let (ty, nullable, args) = match function {
            F::Lower | F::Upper | F::Trim => (Ty::Utf8, any_nullable, text(args)?),
            F::Length => (Ty::Int64, any_nullable, text(args)?),
            F::Substr => {
                let mut args = text(args)?.into_iter();
                let s = args.next().ok_or_else(unknown)?;
                let rest = args
                    .map(|a| match a.ty {
                        Ty::Int64 | Ty::Null => Ok(a.cast_to(Ty::Int64)),
                        other => Err(mismatch(
                            name,
                            &format!("positions must be i64, got {other}"),
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (
                    Ty::Utf8,
                    any_nullable,
                    std::iter::once(s).chain(rest).collect(),
                )
            }
            F::Concat => {
                let args = args.into_iter().map(|a| a.cast_to(Ty::Utf8)).collect();
                (Ty::Utf8, false, args)
            }
            F::Abs | F::Round | F::Floor | F::Ceil => {
                let ty = numeric(&args[0])?;
                let args = args.into_iter().map(|a| a.cast_to(ty)).collect();
                (ty, any_nullable, args)
            }
            F::Sqrt | F::Exp | F::Ln | F::Power => {
                for arg in &args {
                    numeric(arg)?;
                }
                let args = args.into_iter().map(|a| a.cast_to(Ty::Float64)).collect();
                (Ty::Float64, any_nullable, args)
            }
            F::Coalesce => {
                let mut ty = Ty::Null;
                for arg in &args {
                    ty = common_type(ty, arg.ty).ok_or_else(|| {
                        mismatch(
                            name,
                            &format!("arguments of types {ty} and {} differ", arg.ty),
                        )
                    })?;
                }
                let nullable = args.iter().all(|a| a.nullable);
                (
                    ty,
                    nullable,
                    args.into_iter().map(|a| a.cast_to(ty)).collect(),
                )
            }
            F::Text(f) => typed_by(name, f.signature(), args, any_nullable)?,
            F::Time(f) => typed_by(name, f.signature(), args, any_nullable)?,
            F::Hash => (Ty::Int64, false, args),
            F::Random => (Ty::Float64, false, args),
            F::Proctime => (Ty::Timestamp, false, args),
            F::RandomInt => {
                for arg in &args {
                    if arg.ty != Ty::Int64 {
                        return Err(mismatch(
                            name,
                            &format!("bounds must be i64, got {}", arg.ty),
                        ));
                    }
                }
                (Ty::Int64, any_nullable, args)
            }
        };
        Ok(Typed {
            kind: Kind::Call(function, args),
            ty,
            nullable,
        })
    }

    /// Evaluates the call over `args` (each with its type).
    pub fn eval<'a>(
        self,
        args: Vec<(Datum<'a>, Ty)>,
        ty: Ty,
        input: &Input<'_, 'a>,
    ) -> Result<Datum<'a>, ExprError> {
        use Function as F;
        let rows = input.rows;
        // Text that is already trimmed (words, most often) stays as it is:
        // a column read from the input is not even copied.
        if matches!(self, F::Trim) && args.first().is_some_and(|(d, _)| is_trimmed(d)) {
            if let Some((datum, _)) = args.into_iter().next() {
                return Ok(datum);
            }
            return Ok(Datum::Scalar(Scalar::Null));
        }
        let first = args.first().map(|(d, _)| d);
        Ok(match (self, first) {
            // All-ASCII text changes case in one pass over its bytes; other
            // ASCII text row by row in place, without the String per row
            // that full Unicode case mapping allocates.
            (F::Lower | F::Upper, Some(s)) => {
                let upper = matches!(self, F::Upper);
                match ascii_case(s, upper) {
                    Some(changed) => changed,
                    None => map_text(s, rows, |t, out| match (t.is_ascii(), upper) {
                        (true, _) => {
                            let start = out.len();
                            out.push_str(t);
                            match upper {
                                true => out[start..].make_ascii_uppercase(),
                                false => out[start..].make_ascii_lowercase(),
                            }
                        }
                        (false, true) => out.push_str(&t.to_uppercase()),
                        (false, false) => out.push_str(&t.to_lowercase()),
                    }),
                }
            }
            (F::Trim, Some(s)) => map_text(s, rows, |t, out| out.push_str(t.trim())),
            (F::Random, _) => {
                let values = (0..rows as u64)
                    .map(|i| unit(random_bits(input.context.seed, input.context.first_row + i)))
                    .collect();
                array(Values::Float64(Cow::Owned(values)), None)
            }
            // One reading per batch: the rows of a batch arrived together.
            (F::Proctime, _) => Datum::Scalar(Scalar::Timestamp(wall_clock_ms())),
            (F::Hash, _) => {
                let mut hashes = vec![FNV_OFFSET; rows];
                for (datum, _) in &args {
                    for (i, hash) in hashes.iter_mut().enumerate() {
                        *hash = hash_scalar(*hash, &scalar_at(datum, i));
                    }
                }
                let values = hashes.into_iter().map(|h| (mix(h) >> 1) as i64).collect();
                array(Values::Int64(Cow::Owned(values)), None)
            }
            _ => self.row_wise(&args, ty, input)?,
        })
    }

    /// The general path: one row at a time through scalars.
    fn row_wise<'a>(
        self,
        args: &[(Datum<'a>, Ty)],
        ty: Ty,
        input: &Input<'_, 'a>,
    ) -> Result<Datum<'a>, ExprError> {
        let rows = input.rows;
        let mut out = Vec::with_capacity(rows);
        let mut row = Vec::with_capacity(args.len());
        for i in 0..rows {
            row.clear();
            row.extend(args.iter().map(|(d, _)| scalar_at(d, i)));
            let value = self
                .apply(&row, input.context.seed, input.context.first_row + i as u64)
                .map_err(|problem| ExprError::bad_value(problem, Some(i)))?;
            out.push(value);
        }
        Ok(Datum::Array(from_scalars(&out, ty)))
    }

    /// The function of one row's arguments, or why it has no value.
    fn apply(self, args: &[Scalar], seed: u64, row: u64) -> Result<Scalar, String> {
        use Function as F;
        use Scalar as S;
        // Rounding an integer changes nothing; a double's NaN and
        // infinities round to themselves.
        let float = |f: fn(f64) -> f64| match args.first() {
            Some(S::Float64(x)) => S::Float64(f(*x)),
            Some(S::Int64(x)) => S::Int64(*x),
            _ => S::Null,
        };
        Ok(match self {
            F::Length => match args.first() {
                Some(S::Utf8(s)) => S::Int64(s.chars().count() as i64),
                _ => S::Null,
            },
            F::Substr => match args {
                [S::Utf8(s), S::Int64(start), rest @ ..] => {
                    let skip = usize::try_from(start.saturating_sub(1).max(0)).unwrap_or(0);
                    let take = match rest.first() {
                        Some(S::Int64(len)) => usize::try_from((*len).max(0)).unwrap_or(0),
                        Some(_) => return Ok(S::Null),
                        None => usize::MAX,
                    };
                    S::Utf8(s.chars().skip(skip).take(take).collect())
                }
                _ => S::Null,
            },
            F::Concat => {
                let total = args
                    .iter()
                    .map(|a| match a {
                        S::Utf8(s) => s.len(),
                        _ => 0,
                    })
                    .fold(0usize, usize::saturating_add);
                if total > super::branch::MAX_TEXT_BYTES {
                    return Err(format!("concat would build {total} bytes of text"));
                }
                let mut joined = String::with_capacity(total);
                for arg in args {
                    if let S::Utf8(s) = arg {
                        joined.push_str(s);
                    }
                }
                S::Utf8(joined)
            }
            F::Abs => match args.first() {
                Some(S::Int64(x)) => S::Int64(
                    x.checked_abs()
                        .ok_or_else(|| format!("BIGINT overflow: abs({x})"))?,
                ),
                Some(S::Float64(x)) => S::Float64(x.abs()),
                _ => S::Null,
            },
            F::Round => float(f64::round),
            F::Floor => float(f64::floor),
            F::Ceil => float(f64::ceil),
            F::Sqrt => float(f64::sqrt),
            F::Exp => float(f64::exp),
            F::Ln => float(f64::ln),
            F::Power => match args {
                [S::Float64(x), S::Float64(y)] => S::Float64(x.powf(*y)),
                _ => S::Null,
            },
            F::Coalesce => args
                .iter()
                .find(|a| !a.is_null())
                .cloned()
                .unwrap_or(S::Null),
            F::RandomInt => match args {
                [S::Int64(lo), S::Int64(hi)] if hi > lo => {
                    let span = hi.wrapping_sub(*lo) as u64;
                    S::Int64(lo.wrapping_add((random_bits(seed, row) % span) as i64))
                }
                [S::Int64(lo), S::Int64(_)] => S::Int64(*lo),
                _ => S::Null,
            },
            F::Text(f) => f.apply(args)?,
            F::Time(f) => f.apply(args)?,
            F::Lower | F::Upper | F::Trim | F::Hash | F::Random | F::Proctime => S::Null,
        })
    }
}

/// A call's result type, nullability and arguments (each cast to its
/// parameter's type) for a function of fixed `signature`: parameter
/// types, result type, whether it may be null whatever its arguments.
fn typed_by(
    name: &str,
    (params, result, maybe_null): (&[Ty], Ty, bool),
    args: Vec<Typed>,
    any_nullable: bool,
) -> Result<(Ty, bool, Vec<Typed>), ExprError> {
    let args = args
        .into_iter()
        .zip(params)
        .map(|(arg, &param)| match arg.ty {
            Ty::Null => Ok(arg.cast_to(param)),
            ty if ty == param => Ok(arg),
            other => Err(mismatch(name, &format!("needs {param}, got {other}"))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((result, any_nullable || maybe_null, args))
}

fn array<'a>(values: Values<'a>, validity: Option<Vec<bool>>) -> Datum<'a> {
    Datum::Array(Array { values, validity })
}

fn scalar_at(datum: &Datum<'_>, i: usize) -> Scalar {
    match datum {
        Datum::Scalar(s) => s.clone(),
        Datum::Array(a) => match &a.values {
            Values::Utf8(_) if a.is_valid(i) => Scalar::Utf8(text_at(datum, i).to_string()),
            _ => a.scalar(i),
        },
    }
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// Folds one value into a running hash: stable across processes and
/// builds, and the same for an integer whatever column it comes from.
pub fn hash_scalar(hash: u64, value: &Scalar) -> u64 {
    match value {
        Scalar::Null => fnv(hash, &[0xff]),
        Scalar::Bool(b) => fnv(hash, &[u8::from(*b)]),
        Scalar::Int64(v) | Scalar::Timestamp(v) => fnv(hash, &v.to_le_bytes()),
        Scalar::Float64(v) => fnv(hash, &v.to_bits().to_le_bytes()),
        Scalar::Utf8(s) => fnv(fnv(hash, s.as_bytes()), &[0]),
    }
}

/// splitmix64's finalizer: spreads FNV's weak low bits.
pub fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// 64 random bits for row `row` under `seed`.
pub fn random_bits(seed: u64, row: u64) -> u64 {
    mix(seed ^ mix(row.wrapping_add(0x9e37_79b9_7f4a_7c15)))
}

fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Milliseconds since the epoch by this machine's clock.
fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
