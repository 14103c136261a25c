//! `x IN (constants…)` as one hash lookup per row. Written as an OR of
//! equalities, an `IN` of thousands of values would cost one pass over
//! the column per value; as a set it costs one pass in all. Doubles are
//! keyed by [`key_bits`], so `NaN IN (NaN)` and `-0.0 IN (0.0)` hold, as
//! they do for `=`.

use std::borrow::Cow;
use std::collections::HashSet;

use super::array::{Array, Datum, Values};
use super::cast::cast_scalar;
use super::error::ExprError;
use super::types::{Scalar, Ty};
use crate::kernels::floats::key_bits;

/// The constants of an `IN` list, brought to the operand's type.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueSet {
    members: Members,
    has_null: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Members {
    Integers(HashSet<i64>),
    Doubles(HashSet<u64>),
    Texts(HashSet<String>),
    /// Whether `false` and `true` are members.
    Bools([bool; 2]),
}

impl ValueSet {
    /// The set of `constants`, each cast to `ty`.
    pub fn new(ty: Ty, constants: &[Scalar]) -> Result<Self, ExprError> {
        let mut members = match ty {
            Ty::Int64 | Ty::Timestamp => Members::Integers(HashSet::new()),
            Ty::Float64 => Members::Doubles(HashSet::new()),
            Ty::Bool => Members::Bools([false; 2]),
            Ty::Utf8 | Ty::Null => Members::Texts(HashSet::new()),
        };
        let mut has_null = false;
        for constant in constants {
            let constant =
                cast_scalar(constant, ty).map_err(|problem| ExprError::bad_value(problem, None))?;
            match (constant, &mut members) {
                (Scalar::Null, _) => has_null = true,
                (Scalar::Int64(v) | Scalar::Timestamp(v), Members::Integers(set)) => {
                    set.insert(v);
                }
                (Scalar::Float64(v), Members::Doubles(set)) => {
                    set.insert(key_bits(v));
                }
                (Scalar::Utf8(v), Members::Texts(set)) => {
                    set.insert(v);
                }
                (Scalar::Bool(v), Members::Bools(seen)) => seen[usize::from(v)] = true,
                (other, _) => {
                    return Err(ExprError::TypeMismatch {
                        message: format!("IN value {other:?} is not of type {ty}"),
                    })
                }
            }
        }
        Ok(Self { members, has_null })
    }

    /// Whether the list holds a `NULL` (then a value not in it is null,
    /// not false).
    pub fn has_null(&self) -> bool {
        self.has_null
    }

    /// Whether row `i` of `values` is a member.
    fn contains(&self, values: &Values<'_>, i: usize) -> bool {
        match (&self.members, values) {
            (Members::Integers(set), Values::Int64(v) | Values::Timestamp(v)) => {
                set.contains(&v[i])
            }
            (Members::Doubles(set), Values::Float64(v)) => set.contains(&key_bits(v[i])),
            (Members::Texts(set), Values::Utf8(v)) => set.contains(v.get(i)),
            (Members::Bools(seen), Values::Bool(v)) => seen[usize::from(v[i])],
            _ => false,
        }
    }

    /// `value [NOT] IN (this set)` for each of `rows` rows: null where the
    /// value is null, or where it is not a member and the list holds null.
    pub fn test<'a>(&self, value: Datum<'_>, ty: Ty, negated: bool, rows: usize) -> Datum<'a> {
        let scalar = matches!(value, Datum::Scalar(_));
        let array = value.into_array(ty, if scalar { 1 } else { rows });
        let n = array.len();
        let mut hits = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        for i in 0..n {
            let member = array.is_valid(i) && self.contains(&array.values, i);
            hits.push(member != negated);
            valid.push(array.is_valid(i) && (member || !self.has_null));
        }
        let result = Array {
            values: Values::Bool(Cow::Owned(hits)),
            validity: valid.iter().any(|v| !v).then_some(valid),
        };
        if scalar {
            Datum::Scalar(result.scalar(0))
        } else {
            Datum::Array(result)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(values: &[Option<i64>]) -> Datum<'static> {
        Datum::Array(Array {
            values: Values::Int64(Cow::Owned(values.iter().map(|v| v.unwrap_or(0)).collect())),
            validity: Some(values.iter().map(Option::is_some).collect()),
        })
    }

    fn bools(datum: Datum<'_>) -> Vec<Option<bool>> {
        let Datum::Array(array) = datum else {
            panic!("an array")
        };
        (0..array.len())
            .map(|i| match array.scalar(i) {
                Scalar::Bool(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn three_valued_membership() {
        let plain = ValueSet::new(Ty::Int64, &[Scalar::Int64(1), Scalar::Int64(3)]).unwrap();
        let input = || ints(&[Some(1), Some(2), None]);
        assert_eq!(
            bools(plain.test(input(), Ty::Int64, false, 3)),
            [Some(true), Some(false), None]
        );
        assert_eq!(
            bools(plain.test(input(), Ty::Int64, true, 3)),
            [Some(false), Some(true), None]
        );
        // `2 IN (1, NULL)` is unknown, not false.
        let with_null = ValueSet::new(Ty::Int64, &[Scalar::Int64(1), Scalar::Null]).unwrap();
        assert_eq!(
            bools(with_null.test(input(), Ty::Int64, false, 3)),
            [Some(true), None, None]
        );
    }

    #[test]
    fn doubles_match_as_equality_does() {
        let set =
            ValueSet::new(Ty::Float64, &[Scalar::Float64(f64::NAN), Scalar::Int64(0)]).unwrap();
        let values = Datum::Array(Array {
            values: Values::Float64(Cow::Owned(vec![f64::NAN, -0.0, 1.0])),
            validity: None,
        });
        assert_eq!(
            bools(set.test(values, Ty::Float64, false, 3)),
            [Some(true), Some(true), Some(false)]
        );
    }
}
