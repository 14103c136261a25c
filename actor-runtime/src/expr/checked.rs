//! Checked integer arithmetic, column at a time. The values are computed
//! in one loop (wrapping, so the loop vectorizes where the operation can)
//! and overflow is detected in a second, an OR over the rows: the common
//! case, nothing overflows, costs about what unchecked arithmetic did.
//! Only when a row may have failed does the caller look for it, row by
//! row, to name it (a null row's placeholder values do not count).

use super::check::ArithOp;
use super::eval::{map2, Side};

/// ORs `f(x, y, r)` over every row (`r` the computed value) and says
/// whether the result's sign bit is set: `f` sets it for a row that
/// failed.
fn any_negative(
    a: Side<'_, i64>,
    b: Side<'_, i64>,
    out: &[i64],
    f: impl Fn(i64, i64, i64) -> i64,
) -> bool {
    let acc = match (a, b) {
        (Side::Slice(a), Side::Slice(b)) => a
            .iter()
            .zip(b)
            .zip(out)
            .fold(0, |acc, ((&x, &y), &r)| acc | f(x, y, r)),
        (Side::Slice(a), Side::Const(y)) => {
            a.iter().zip(out).fold(0, |acc, (&x, &r)| acc | f(x, y, r))
        }
        (Side::Const(x), Side::Slice(b)) => {
            b.iter().zip(out).fold(0, |acc, (&y, &r)| acc | f(x, y, r))
        }
        (Side::Const(x), Side::Const(y)) => out.iter().fold(0, |acc, &r| acc | f(x, y, r)),
    };
    acc < 0
}

/// `a op b` over `rows` rows: the values (a placeholder where a row has
/// none) and whether some row may have overflowed or divided by zero.
pub(super) fn int_op(
    op: ArithOp,
    a: Side<'_, i64>,
    b: Side<'_, i64>,
    rows: usize,
) -> (Vec<i64>, bool) {
    const FAILED: i64 = -1;
    match op {
        ArithOp::Add => {
            let out = map2(a, b, rows, i64::wrapping_add);
            // Overflow: both operands' signs differ from the result's.
            let bad = any_negative(a, b, &out, |x, y, r| (x ^ r) & (y ^ r));
            (out, bad)
        }
        ArithOp::Sub => {
            let out = map2(a, b, rows, i64::wrapping_sub);
            // Overflow: the operands' signs differ and the result's is y's.
            let bad = any_negative(a, b, &out, |x, y, r| (x ^ y) & (x ^ r));
            (out, bad)
        }
        ArithOp::Mul => {
            let out = map2(a, b, rows, i64::wrapping_mul);
            let bad = any_negative(a, b, &out, |x, y, _| {
                if x.checked_mul(y).is_some() {
                    0
                } else {
                    FAILED
                }
            });
            (out, bad)
        }
        ArithOp::Div => {
            // Integer division has no vector form; the zero test is free.
            let out = map2(
                a,
                b,
                rows,
                |x, y| if y == 0 { 0 } else { x.wrapping_div(y) },
            );
            let bad = any_negative(a, b, &out, |x, y, _| {
                if y == 0 || (x == i64::MIN && y == -1) {
                    FAILED
                } else {
                    0
                }
            });
            (out, bad)
        }
        ArithOp::Mod => {
            // i64::MIN % -1 is 0 (computing it with `%` traps).
            let out = map2(
                a,
                b,
                rows,
                |x, y| if y == 0 { 0 } else { x.wrapping_rem(y) },
            );
            let bad = any_negative(a, b, &out, |_, y, _| if y == 0 { FAILED } else { 0 });
            (out, bad)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: ArithOp, a: &[i64], b: &[i64]) -> (Vec<i64>, bool) {
        int_op(op, Side::Slice(a), Side::Slice(b), a.len())
    }

    #[test]
    fn overflow_is_flagged_exactly_when_a_row_overflows() {
        let max = i64::MAX;
        let min = i64::MIN;
        assert_eq!(run(ArithOp::Add, &[1, 2], &[3, 4]), (vec![4, 6], false));
        assert!(run(ArithOp::Add, &[1, max], &[3, 1]).1);
        assert!(run(ArithOp::Add, &[min], &[-1]).1);
        assert!(!run(ArithOp::Add, &[max, min], &[min, max]).1);
        assert!(run(ArithOp::Sub, &[min], &[1]).1);
        assert!(run(ArithOp::Sub, &[0], &[min]).1);
        assert!(!run(ArithOp::Sub, &[-1], &[min]).1);
        assert!(run(ArithOp::Mul, &[max / 2 + 1], &[2]).1);
        assert!(!run(ArithOp::Mul, &[max / 2], &[2]).1);
        assert!(run(ArithOp::Mul, &[min], &[-1]).1);
        assert!(run(ArithOp::Div, &[min, 4], &[-1, 2]).1);
        assert!(run(ArithOp::Div, &[1], &[0]).1);
        assert_eq!(run(ArithOp::Div, &[-7, 7], &[2, -2]), (vec![-3, -3], false));
        assert_eq!(
            run(ArithOp::Mod, &[min, -7], &[-1, 2]),
            (vec![0, -1], false)
        );
        assert!(run(ArithOp::Mod, &[1], &[0]).1);
    }

    #[test]
    fn constants_on_either_side_are_checked_alike() {
        let (out, bad) = int_op(ArithOp::Add, Side::Slice(&[1, i64::MAX]), Side::Const(1), 2);
        assert_eq!((out[0], bad), (2, true));
        let (_, bad) = int_op(ArithOp::Sub, Side::Const(0), Side::Slice(&[5, 6]), 2);
        assert!(!bad);
        let (out, bad) = int_op(ArithOp::Mul, Side::Const(3), Side::Const(4), 1);
        assert_eq!((out, bad), (vec![12], false));
    }
}
