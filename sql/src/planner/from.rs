//! `FROM`: tables, views, `WITH` queries, subqueries, window table
//! functions and the joins between them.

use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};

use super::lateral::WordsCall;
use super::window_join::WindowedSide;
use super::window_tvf::WindowTvf;
use super::{Planner, MAX_VIEW_DEPTH};
use crate::error::{ErrorKind, SqlError};
use crate::graph::Relation;
use crate::scope::Scope;

impl Planner<'_> {
    /// The relation `FROM` makes, and the window table function it
    /// applies, if it is one.
    pub(super) fn from(
        &mut self,
        from: &[sql::TableWithJoins],
        span: sqlparser::tokenizer::Span,
    ) -> Result<(Relation, Option<WindowTvf>), SqlError> {
        match from {
            [] => Ok((self.one_row(span)?, None)),
            [only] if only.joins.is_empty() => self.windowed_factor(&only.relation),
            [only] => {
                // Two windowed tables joined on their windows: a window join.
                let windowed = only.joins.first().and_then(|first| {
                    Some((
                        WindowedSide::read(&only.relation)?,
                        WindowedSide::read(&first.relation)?,
                        first,
                    ))
                });
                let (mut relation, rest) = match windowed {
                    Some((left, right, first)) => (
                        self.window_join(
                            &left,
                            &right,
                            &first.join_operator,
                            first.relation.span(),
                        )?,
                        &only.joins[1..],
                    ),
                    None => (self.factor(&only.relation)?, &only.joins[..]),
                };
                for join in rest {
                    relation = self.joined(relation, join)?;
                }
                Ok((relation, None))
            }
            // `FROM t, LATERAL TABLE(words(…))`: Flink's comma form.
            [first, second]
                if second.joins.is_empty() && WordsCall::read(&second.relation)?.is_some() =>
            {
                let (relation, _) = self.from(std::slice::from_ref(first), span)?;
                match WordsCall::read(&second.relation)? {
                    Some(call) => Ok((self.words(relation, &call)?, None)),
                    None => Ok((relation, None)),
                }
            }
            [_, second, ..] => Err(SqlError::unsupported(
                second.relation.span(),
                "a comma join (write JOIN … ON)",
            )),
        }
    }

    /// `relation` joined as `join` says: with a table, or with the words
    /// of its own rows (a lateral table function).
    fn joined(&mut self, relation: Relation, join: &sql::Join) -> Result<Relation, SqlError> {
        let span = join.relation.span();
        let Some(call) = WordsCall::read(&join.relation)? else {
            let right = self.factor(&join.relation)?;
            return self.join(relation, right, &join.join_operator, span);
        };
        let on_true = |c: &sql::JoinConstraint| match c {
            sql::JoinConstraint::None => true,
            sql::JoinConstraint::On(sql::Expr::Value(v)) => v.value == sql::Value::Boolean(true),
            _ => false,
        };
        match &join.join_operator {
            sql::JoinOperator::CrossJoin(c) | sql::JoinOperator::Join(c) | sql::JoinOperator::Inner(c)
                if on_true(c) =>
            {
                self.words(relation, &call)
            }
            _ => Err(SqlError::unsupported(
                span,
                "this join with a table function (write CROSS JOIN LATERAL TABLE(words(…)) AS t(word))",
            )),
        }
    }

    /// A factor that may be a window table function.
    pub(super) fn windowed_factor(
        &mut self,
        factor: &sql::TableFactor,
    ) -> Result<(Relation, Option<WindowTvf>), SqlError> {
        if let sql::TableFactor::TableFunction { expr, alias } = factor {
            let tvf = WindowTvf::read(expr, alias.as_ref())?;
            let relation = self.named(&tvf.data, tvf.alias.as_ref())?;
            return Ok((relation, Some(tvf)));
        }
        Ok((self.factor(factor)?, None))
    }

    /// A table, view, `WITH` query or subquery.
    fn factor(&mut self, factor: &sql::TableFactor) -> Result<Relation, SqlError> {
        let span = factor.span();
        match factor {
            sql::TableFactor::Table {
                name,
                alias,
                args: None,
                with_hints,
                version: None,
                with_ordinality: false,
                partitions,
                sample: None,
                ..
            } if with_hints.is_empty() && partitions.is_empty() => self.named(name, alias.as_ref()),
            sql::TableFactor::Derived {
                lateral: false,
                subquery,
                alias,
                ..
            } => {
                let mut relation = self.query(subquery)?;
                if let Some(alias) = alias {
                    if !alias.columns.is_empty() {
                        return Err(SqlError::unsupported(span, "column aliases on a subquery"));
                    }
                    relation.scope = relation.scope.requalified(&alias.name.value);
                }
                Ok(relation)
            }
            sql::TableFactor::NestedJoin {
                table_with_joins,
                alias: None,
            } => Ok(self.from(std::slice::from_ref(table_with_joins), span)?.0),
            sql::TableFactor::TableFunction { .. } => Err(SqlError::unsupported(
                span,
                "a window table function in a join (window joins are not planned from SQL yet)",
            )),
            other => Err(SqlError::unsupported(span, format!("the table {other}"))),
        }
    }

    /// The view, `WITH` query or table called `name`.
    fn named(
        &mut self,
        name: &sql::ObjectName,
        alias: Option<&sql::TableAlias>,
    ) -> Result<Relation, SqlError> {
        let span = name.span();
        let table_name = crate::table::object_name(name)?;
        let qualifier = alias.map_or(table_name.clone(), |a| a.name.value.clone());
        if let Some(alias) = alias {
            if !alias.columns.is_empty() {
                return Err(SqlError::unsupported(span, "column aliases on a table"));
            }
        }
        let cte = self
            .ctes
            .iter()
            .rev()
            .find(|(n, _)| *n == table_name)
            .map(|(_, q)| q.clone());
        let view = self.catalog.views.get(&table_name).cloned();
        if let Some(query) = cte.or(view) {
            if self.views_open >= MAX_VIEW_DEPTH {
                return Err(SqlError::invalid(
                    span,
                    format!(
                        "views nest more than {MAX_VIEW_DEPTH} deep at {table_name:?} (a cycle?)"
                    ),
                ));
            }
            self.views_open += 1;
            let planned = self.query(&query);
            self.views_open -= 1;
            let mut relation = planned.map_err(|e| e.or_at(span))?;
            relation.scope = relation.scope.requalified(&qualifier);
            return Ok(relation);
        }
        let Some(table) = self.catalog.tables.get(&table_name) else {
            let known = self
                .catalog
                .tables
                .keys()
                .chain(self.catalog.views.keys())
                .map(String::as_str)
                .chain(self.ctes.iter().map(|(n, _)| n.as_str()));
            return Err(SqlError::new(
                ErrorKind::UnknownName,
                span,
                format!(
                    "unknown table {table_name:?}{}",
                    crate::error::did_you_mean(&table_name, known)
                ),
            ));
        };
        let table = table.clone();
        self.scan(&table, &qualifier, span)
    }

    /// `SELECT` without `FROM`: one row with no columns of interest.
    fn one_row(&mut self, span: sqlparser::tokenizer::Span) -> Result<Relation, SqlError> {
        let params = json!({"rows": 1, "columns": [{"name": "row", "expr": "i"}]});
        let (vertex, schema, changelog) =
            self.graph.add("values", "generate", params, 1, &[], span)?;
        Ok(Relation {
            vertex,
            scope: Scope::of(&schema, None),
            parallelism: 1,
            changelog,
            time: None,
            proctime: None,
            rows: Some(1),
        })
    }
}

/// Whether an edge into a vertex of `parallelism` from `from` can be
/// forward (same parallelism), else rebalanced.
pub(super) fn forward_or_rebalance(from: &Relation, parallelism: u32) -> Partitioning {
    if from.parallelism == parallelism {
        Partitioning::Forward
    } else {
        Partitioning::Rebalance
    }
}
