//! Flink's window join: two sides that are each `SELECT * FROM
//! TABLE(TUMBLE(…))` (or `HOP`, `CUMULATE`; a `WHERE` allowed), joined on
//! `window_start`, `window_end` and keys, onto `window_join`: rows meet
//! only within one window, and a window's rows are forgotten once the
//! watermark passes it. Inner, left, right and full joins, as the
//! operator runs them; `window_start` and `window_end` are the output's
//! own columns, answering to either side's qualifier.

use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use super::conditions::{conjuncts, equality_sides};
use super::window_tvf::WindowTvf;
use super::Planner;
use crate::error::{ErrorKind, SqlError};
use crate::graph::{Input, Relation};
use crate::scope::{ColumnRef, Scope};

/// One side of a window join: a subquery windowing a table.
pub struct WindowedSide<'q> {
    select: &'q sql::Select,
    function: &'q sql::TableFactor,
    alias: Option<&'q sql::TableAlias>,
}

impl<'q> WindowedSide<'q> {
    /// `(SELECT * FROM TABLE(TUMBLE(…)) [WHERE …]) [AS] alias`, if
    /// `factor` is that.
    pub fn read(factor: &'q sql::TableFactor) -> Option<Self> {
        let sql::TableFactor::Derived {
            lateral: false,
            subquery,
            alias,
            ..
        } = factor
        else {
            return None;
        };
        if subquery.with.is_some() || subquery.order_by.is_some() || subquery.limit_clause.is_some()
        {
            return None;
        }
        let sql::SetExpr::Select(select) = subquery.body.as_ref() else {
            return None;
        };
        let [sql::TableWithJoins {
            relation: function @ sql::TableFactor::TableFunction { .. },
            joins,
        }] = select.from.as_slice()
        else {
            return None;
        };
        let star = matches!(select.projection.as_slice(), [sql::SelectItem::Wildcard(_)]);
        let grouped =
            !matches!(&select.group_by, sql::GroupByExpr::Expressions(e, _) if e.is_empty());
        (joins.is_empty() && star && !grouped && select.having.is_none()).then_some(Self {
            select,
            function,
            alias: alias.as_ref(),
        })
    }
}

impl Planner<'_> {
    /// A side's table, filtered, and its windows.
    fn windowed_side(
        &mut self,
        side: &WindowedSide<'_>,
    ) -> Result<(Relation, WindowTvf), SqlError> {
        let (mut relation, tvf) = self.windowed_factor(side.function)?;
        let tvf =
            tvf.ok_or_else(|| SqlError::unsupported(side.function.span(), "this table function"))?;
        if let Some(predicate) = &side.select.selection {
            relation = self.condition(relation, predicate, "WHERE")?;
        }
        if let Some(alias) = side.alias {
            relation.scope = relation.scope.requalified(&alias.name.value);
        }
        Ok((relation, tvf))
    }

    /// `left JOIN right` of two windowed sides.
    pub(super) fn window_join(
        &mut self,
        left: &WindowedSide<'_>,
        right: &WindowedSide<'_>,
        operator: &sql::JoinOperator,
        span: Span,
    ) -> Result<Relation, SqlError> {
        use sql::JoinOperator as J;
        let (kind, constraint) = match operator {
            J::Join(c) | J::Inner(c) => ("inner", c),
            J::Left(c) | J::LeftOuter(c) => ("left", c),
            J::Right(c) | J::RightOuter(c) => ("right", c),
            J::FullOuter(c) => ("full", c),
            _ => return Err(SqlError::unsupported(span, "this kind of window join")),
        };
        let sql::JoinConstraint::On(on) = constraint else {
            return Err(SqlError::invalid(
                span,
                "a window join needs ON (window_start, window_end and keys)",
            ));
        };
        let (left, left_window) = self.windowed_side(left)?;
        let (right, right_window) = self.windowed_side(right)?;
        if left_window.kind != right_window.kind {
            return Err(SqlError::invalid(
                span,
                "the two sides of a window join need the same windows",
            ));
        }
        let right = self.renamed_apart(&left, right, span)?;
        let left_time = self.window_time(&left, &left_window)?;
        let right_time = self.window_time(&right, &right_window)?;
        let mut bounds = [false, false];
        let (mut left_keys, mut right_keys, mut residual) = (Vec::new(), Vec::new(), Vec::new());
        for conjunct in conjuncts(on) {
            if let Some(which) = bound_equality(&conjunct) {
                bounds[which] = true;
            } else if let Some((l, r)) = equality_sides(&conjunct, &left.scope, &right.scope) {
                left_keys.push(l);
                right_keys.push(r);
            } else {
                residual.push(conjunct);
            }
        }
        if bounds != [true, true] {
            return Err(SqlError::unsupported(
                on.span(),
                "a join of windowed tables not on both window_start and window_end",
            ));
        }
        if left_keys.is_empty() {
            return Err(SqlError::unsupported(
                on.span(),
                "a window join without an equality between its sides",
            ));
        }
        if kind != "inner" && !residual.is_empty() {
            return Err(SqlError::unsupported(
                residual[0].span(),
                "an outer window join condition other than equalities",
            ));
        }
        let (left, left_names) = self.with_keys(left, &left_keys, span)?;
        let (right, right_names) = self.with_keys(right, &right_keys, span)?;
        let params = json!({
            "left": left.vertex, "right": right.vertex,
            "left_keys": left_names, "right_keys": right_names,
            "left_time": left_time, "right_time": right_time,
            "window": left_window.kind, "kind": kind,
        });
        let parallelism = self.settings.parallelism;
        let inputs = [
            Input {
                from: &left,
                partitioning: Partitioning::Hash(left_names.clone()),
            },
            Input {
                from: &right,
                partitioning: Partitioning::Hash(right_names.clone()),
            },
        ];
        let (vertex, schema, changelog) = self.graph.add(
            "window_join",
            "window_join",
            params,
            parallelism,
            &inputs,
            span,
        )?;
        let bound = |name: &str| ColumnRef {
            qualifier: None,
            name: name.to_string(),
            internal: name.to_string(),
            data_type: faro_runtime::data::DataType::Timestamp,
            nullable: false,
        };
        let bounds = vec![bound("window_start"), bound("window_end")];
        let scope = Scope::joined(bounds, &left.scope, &right.scope, &schema);
        let mut relation = Relation {
            vertex,
            scope,
            parallelism,
            changelog,
            time: None,
            proctime: None,
            rows: None,
        };
        for conjunct in &residual {
            relation = self.condition(relation, conjunct, "ON")?;
        }
        Ok(relation)
    }

    /// The internal name of a windowed side's time column, which in a
    /// streaming job must carry the side's watermark.
    fn window_time(&self, relation: &Relation, window: &WindowTvf) -> Result<String, SqlError> {
        let time = relation
            .scope
            .resolve(std::slice::from_ref(&window.time))?
            .internal
            .clone();
        if self.graph.streaming() && relation.time.as_deref() != Some(time.as_str()) {
            return Err(SqlError::new(
                ErrorKind::Invalid,
                window.time.span,
                format!(
                    "a streaming window join needs a watermark on {:?}: declare WATERMARK FOR {} in its CREATE TABLE",
                    window.time.value, window.time.value
                ),
            ));
        }
        Ok(time)
    }
}

/// 0 for `x.window_start = y.window_start`, 1 for the ends.
fn bound_equality(expr: &sql::Expr) -> Option<usize> {
    let sql::Expr::BinaryOp {
        left,
        op: sql::BinaryOperator::Eq,
        right,
    } = expr
    else {
        return None;
    };
    let name = |e: &sql::Expr| match e {
        sql::Expr::Identifier(i) => Some(i.value.to_lowercase()),
        sql::Expr::CompoundIdentifier(parts) => parts.last().map(|i| i.value.to_lowercase()),
        _ => None,
    };
    match (name(left)?.as_str(), name(right)?.as_str()) {
        ("window_start", "window_start") => Some(0),
        ("window_end", "window_end") => Some(1),
        _ => None,
    }
}
