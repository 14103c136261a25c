//! Flink's window top-N: a subquery numbering rows with `ROW_NUMBER()
//! OVER (PARTITION BY window_start, window_end, … ORDER BY …) AS rn`,
//! filtered on `rn <= n` outside, onto the `window_top_n` operator (which
//! keeps the best `n` rows of each window and partition, and emits them
//! when the window is complete).

use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use super::ranking::Ranking;
use super::{Planner, Projected};
use crate::error::SqlError;
use crate::expression::quote;
use crate::graph::{Input, Relation};
use crate::scope::{fresh_name, ColumnRef};

impl Planner<'_> {
    /// The ranked subquery, its rows cut to the best `n` per window and
    /// partition, numbered.
    pub(super) fn ranked(&mut self, ranking: &Ranking<'_>) -> Result<Relation, SqlError> {
        let span = ranking.span;
        let inner = ranking.inner;
        let (mut relation, window) = self.from(&inner.from, inner.span())?;
        if window.is_some()
            || !super::aggregate::calls(inner).is_empty()
            || !matches!(&inner.group_by, sql::GroupByExpr::Expressions(e, _) if e.is_empty())
        {
            return Err(SqlError::unsupported(
                span,
                "ROW_NUMBER() in a grouped query (rank the rows of a subquery that groups)",
            ));
        }
        if let Some(predicate) = &inner.selection {
            relation = self.condition(relation, predicate, "WHERE")?;
        }
        let mut items = inner.projection.clone();
        items.remove(ranking.item);
        let mut columns = self.select_list(&relation, &items, &[])?;
        let visible = columns.len();
        // Columns the ranking reads but the select list leaves out ride
        // along, hidden, and go after the ranking.
        let over = ranking
            .window
            .partition_by
            .iter()
            .chain(ranking.window.order_by.iter().map(|o| &o.expr));
        for expr in over {
            let parts = match expr {
                sql::Expr::Identifier(i) => vec![i.clone()],
                sql::Expr::CompoundIdentifier(p) => p.clone(),
                _ => continue,
            };
            let Some(name) = parts.last() else { continue };
            let selected = columns[..visible]
                .iter()
                .any(|c| c.name.eq_ignore_ascii_case(&name.value));
            if selected {
                continue;
            }
            let column = relation.scope.resolve(&parts)?;
            if !columns
                .iter()
                .any(|c| c.expr == quote(&column.internal) && c.name == column.name)
            {
                columns.push(Projected {
                    name: column.name.clone(),
                    qualifier: column.qualifier.clone(),
                    expr: quote(&column.internal),
                });
            }
        }
        let hidden = columns.len() - visible;
        let projected = self.project_columns(&relation, &columns, inner.span())?;
        // The operator finds each row's window by these two names.
        let mut partition = Vec::new();
        let mut bounds = [None, None];
        for expr in &ranking.window.partition_by {
            let column = plain(expr, &projected)?;
            match column.name.to_lowercase().as_str() {
                "window_start" => bounds[0] = Some(column.internal.clone()),
                "window_end" => bounds[1] = Some(column.internal.clone()),
                _ => partition.push(column.internal.clone()),
            }
        }
        let (renamed, global) = match bounds {
            [Some(start), Some(end)] => (self.bounds_named(&projected, &start, &end, span)?, false),
            [None, None] if !self.graph.streaming() => (self.one_window(&projected, span)?, true),
            _ => return Err(SqlError::unsupported(
                span,
                "ROW_NUMBER() in a streaming query not partitioned by window_start and window_end \
                     (a top-N per key would need a changelog; per window it is planned)",
            )),
        };
        let order: Vec<serde_json::Value> = ranking
            .window
            .order_by
            .iter()
            .map(|item| {
                let column = plain(&item.expr, &renamed)?;
                let descending = matches!(item.options.sort, Some(sql::OrderBySort::Desc));
                Ok(json!({"column": column.internal, "descending": descending}))
            })
            .collect::<Result<_, SqlError>>()?;
        if order.is_empty() {
            return Err(SqlError::invalid(
                span,
                "ROW_NUMBER() needs ORDER BY in its OVER clause",
            ));
        }
        let taken: Vec<&str> = renamed.scope.internal_names().collect();
        let rank = fresh_name(&ranking.name, taken.into_iter());
        let params =
            json!({"partition_by": partition, "order_by": order, "n": ranking.n, "rank": rank});
        let keys: Vec<String> = ["window_start".to_string(), "window_end".to_string()]
            .into_iter()
            .chain(partition.clone())
            .collect();
        let parallelism = self.settings.parallelism;
        let input = Input {
            from: &renamed,
            partitioning: Partitioning::Hash(keys),
        };
        let (vertex, schema, changelog) = self.graph.add(
            "top_n_per_window",
            "window_top_n",
            params,
            parallelism,
            &[input],
            span,
        )?;
        let mut scope = renamed.scope.clone();
        scope.columns.push(ColumnRef {
            qualifier: None,
            name: ranking.name.clone(),
            internal: rank,
            data_type: faro_runtime::data::DataType::Int64,
            nullable: schema.fields.last().is_some_and(|f| f.nullable),
        });
        if let Some(alias) = ranking.alias {
            scope = scope.requalified(&alias.name.value);
        }
        let mut ranked = Relation {
            vertex,
            scope,
            parallelism,
            changelog,
            time: None,
            rows: None,
        };
        if global || hidden > 0 {
            // The select list's columns come first (the one window made up
            // for a top-N per key, and hidden columns, after them) and the
            // rank last: those two stay.
            let rank_at = ranked.scope.columns.len() - 1;
            let kept: Vec<ColumnRef> = ranked.scope.columns[..visible]
                .iter()
                .chain(&ranked.scope.columns[rank_at..])
                .cloned()
                .collect();
            ranked = self.project_keeping(&ranked, &kept, Vec::new(), span)?;
        }
        Ok(ranked)
    }

    /// `relation` in one window spanning all time: constant
    /// `window_start` and `window_end` columns after its own. A batch job's top-N per key
    /// is a window top-N over it (every window is complete at the end of
    /// the input).
    fn one_window(&mut self, relation: &Relation, span: Span) -> Result<Relation, SqlError> {
        if relation
            .scope
            .internal_names()
            .any(|n| n == "window_start" || n == "window_end")
        {
            return Err(SqlError::unsupported(
                span,
                "ROW_NUMBER() over columns named window_start or window_end without partitioning by them",
            ));
        }
        let bound = |name: &str, at: i64| Projected {
            name: name.into(),
            qualifier: None,
            expr: format!("CAST({at} AS TIMESTAMP)"),
        };
        let bounds = vec![bound("window_start", 0), bound("window_end", 1)];
        self.project_keeping(relation, &relation.scope.columns, bounds, span)
    }

    /// `relation` with its window bounds' internal names `window_start`
    /// and `window_end`, as `window_top_n` finds them.
    fn bounds_named(
        &mut self,
        relation: &Relation,
        start: &str,
        end: &str,
        span: Span,
    ) -> Result<Relation, SqlError> {
        if start == "window_start" && end == "window_end" {
            return Ok(relation.clone());
        }
        let mut columns: Vec<Projected> = Vec::new();
        for c in &relation.scope.columns {
            let internal = if c.internal == start {
                "window_start".to_string()
            } else if c.internal == end {
                "window_end".to_string()
            } else if c.internal == "window_start" || c.internal == "window_end" {
                format!("{}_", c.internal)
            } else {
                c.internal.clone()
            };
            columns.push(Projected {
                name: internal,
                qualifier: c.qualifier.clone(),
                expr: quote(&c.internal),
            });
        }
        let mut renamed = self.project_columns(relation, &columns, span)?;
        for (column, original) in renamed
            .scope
            .columns
            .iter_mut()
            .zip(&relation.scope.columns)
        {
            column.name = original.name.clone();
        }
        Ok(renamed)
    }
}

/// The column `expr` names in `relation`, which it must be.
fn plain<'r>(expr: &sql::Expr, relation: &'r Relation) -> Result<&'r ColumnRef, SqlError> {
    match expr {
        sql::Expr::Identifier(i) => relation.scope.resolve(std::slice::from_ref(i)),
        sql::Expr::CompoundIdentifier(parts) => relation.scope.resolve(parts),
        other => Err(SqlError::unsupported(
            other.span(),
            format!("ranking by the expression {other} (select it as a column)"),
        )),
    }
}
