//! Flink's interval join: an inner join of two streams whose condition
//! bounds one side's event time by the other's (`r.t BETWEEN l.t -
//! INTERVAL '1' HOUR AND l.t`, or the same with `>=`/`<=`/`<`/`>`), onto
//! `interval_join`, which holds each row only until the watermark passes
//! its last possible partner, where a regular join would hold every row
//! forever. The bounds are read here as `lower <= r.t - l.t <= upper`.

use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use super::Planner;
use crate::error::SqlError;
use crate::expression::interval_ms;
use crate::graph::{Input, Relation};
use crate::scope::Scope;

impl Planner<'_> {
    /// An `interval_join` of `left` and `right` on their keys and event
    /// times.
    pub(super) fn interval_join(
        &mut self,
        left: &Relation,
        right: &Relation,
        left_keys: &[String],
        right_keys: &[String],
        bounds: &TimeBounds,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let params = json!({
            "left": left.vertex, "right": right.vertex,
            "left_keys": left_keys, "right_keys": right_keys,
            "left_time": left.time, "right_time": right.time,
            "lower_ms": bounds.lower_ms, "upper_ms": bounds.upper_ms,
        });
        let parallelism = self.settings.parallelism;
        let inputs = [
            Input {
                from: left,
                partitioning: Partitioning::Hash(left_keys.to_vec()),
            },
            Input {
                from: right,
                partitioning: Partitioning::Hash(right_keys.to_vec()),
            },
        ];
        let (vertex, schema, changelog) = self.graph.add(
            "interval_join",
            "interval_join",
            params,
            parallelism,
            &inputs,
            span,
        )?;
        Ok(Relation {
            vertex,
            scope: Scope::joined(Vec::new(), &left.scope, &right.scope, &schema),
            parallelism,
            changelog,
            // A joined row may be older than the watermark: no event time
            // downstream.
            time: None,
            proctime: None,
            rows: None,
        })
    }
}

/// Which side of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
}

/// `lower_ms <= right.time - left.time <= upper_ms`, and the conditions
/// that said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBounds {
    /// The earliest right time, relative to the left's.
    pub lower_ms: i64,
    /// The latest right time, relative to the left's.
    pub upper_ms: i64,
    /// Positions, among the conditions given, of those the bounds came
    /// from (the others still apply, as a filter).
    pub used: Vec<usize>,
}

/// The bounds `conditions` put on the two sides' event times, if they
/// bound the difference from both ends and name each side's event-time
/// column.
pub fn time_bounds(
    conditions: &[&sql::Expr],
    left: &Relation,
    right: &Relation,
) -> Option<TimeBounds> {
    let (left_time, right_time) = (left.time.as_deref()?, right.time.as_deref()?);
    let mut lower: Option<i64> = None;
    let mut upper: Option<i64> = None;
    let mut used = Vec::new();
    for (i, condition) in conditions.iter().enumerate() {
        let found = comparisons(condition)
            .into_iter()
            .map(|(a, op, b)| bound(a, op, b, left, right, left_time, right_time))
            .collect::<Option<Vec<_>>>();
        let Some(found) = found.filter(|f| !f.is_empty()) else {
            continue;
        };
        for (is_lower, ms) in found {
            if is_lower {
                lower = Some(lower.map_or(ms, |l| l.max(ms)));
            } else {
                upper = Some(upper.map_or(ms, |u| u.min(ms)));
            }
        }
        used.push(i);
    }
    Some(TimeBounds {
        lower_ms: lower?,
        upper_ms: upper?,
        used,
    })
}

/// A condition as comparisons `a op b`: itself, or a `BETWEEN`'s two.
fn comparisons(expr: &sql::Expr) -> Vec<(&sql::Expr, sql::BinaryOperator, &sql::Expr)> {
    use sql::BinaryOperator as B;
    match expr {
        sql::Expr::Nested(inner) => comparisons(inner),
        sql::Expr::Between {
            expr,
            negated: false,
            low,
            high,
        } => vec![(&**expr, B::GtEq, &**low), (&**expr, B::LtEq, &**high)],
        sql::Expr::BinaryOp { left, op, right }
            if matches!(op, B::Lt | B::LtEq | B::Gt | B::GtEq) =>
        {
            vec![(&**left, op.clone(), &**right)]
        }
        _ => Vec::new(),
    }
}

/// `a op b` as a bound on `r.t - l.t`: whether it is the lower one, and
/// its milliseconds.
fn bound(
    a: &sql::Expr,
    op: sql::BinaryOperator,
    b: &sql::Expr,
    left: &Relation,
    right: &Relation,
    left_time: &str,
    right_time: &str,
) -> Option<(bool, i64)> {
    use sql::BinaryOperator as B;
    let (side_a, offset_a) = term(a, left, right, left_time, right_time)?;
    let (side_b, offset_b) = term(b, left, right, left_time, right_time)?;
    // r + x op l + y  ⟺  r - l op y - x;  l + x op r + y  ⟺  r - l op' x - y.
    let (op, ms) = match (side_a, side_b) {
        (Side::Right, Side::Left) => (op, offset_b.checked_sub(offset_a)?),
        (Side::Left, Side::Right) => {
            let flipped = match op {
                B::Lt => B::Gt,
                B::LtEq => B::GtEq,
                B::Gt => B::Lt,
                B::GtEq => B::LtEq,
                other => other,
            };
            (flipped, offset_a.checked_sub(offset_b)?)
        }
        _ => return None,
    };
    match op {
        B::GtEq => Some((true, ms)),
        B::Gt => Some((true, ms.checked_add(1)?)),
        B::LtEq => Some((false, ms)),
        B::Lt => Some((false, ms.checked_sub(1)?)),
        _ => None,
    }
}

/// `t`, `t + INTERVAL …` or `t - INTERVAL …` for one side's event time
/// `t`: the side and the offset in milliseconds.
fn term(
    expr: &sql::Expr,
    left: &Relation,
    right: &Relation,
    left_time: &str,
    right_time: &str,
) -> Option<(Side, i64)> {
    match expr {
        sql::Expr::Nested(inner) => term(inner, left, right, left_time, right_time),
        sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_) => {
            let parts = match expr {
                sql::Expr::Identifier(i) => vec![i.clone()],
                sql::Expr::CompoundIdentifier(p) => p.clone(),
                _ => return None,
            };
            let on_left = left
                .scope
                .resolve(&parts)
                .ok()
                .filter(|c| c.internal == left_time);
            let on_right = right
                .scope
                .resolve(&parts)
                .ok()
                .filter(|c| c.internal == right_time);
            match (on_left, on_right) {
                (Some(_), None) => Some((Side::Left, 0)),
                (None, Some(_)) => Some((Side::Right, 0)),
                _ => None,
            }
        }
        sql::Expr::BinaryOp {
            left: base,
            op,
            right: offset,
        } => {
            let sql::Expr::Interval(interval) = offset.as_ref() else {
                return None;
            };
            let ms = interval_ms(interval, offset.span()).ok()?;
            let (side, at) = term(base, left, right, left_time, right_time)?;
            match op {
                sql::BinaryOperator::Plus => Some((side, at.checked_add(ms)?)),
                sql::BinaryOperator::Minus => Some((side, at.checked_sub(ms)?)),
                _ => None,
            }
        }
        _ => None,
    }
}
