//! Flink's top-N: a subquery numbering rows with `ROW_NUMBER() OVER
//! (PARTITION BY … ORDER BY …) AS rn`, filtered on `rn <= n` outside.
//!
//! - Partitioned by `window_start, window_end` (a window top-N), onto the
//!   `window_top_n` operator: it keeps the best `n` rows of each window
//!   and partition and emits them once the window is complete.
//! - Otherwise (a top-N per key, deduplication with `n` = 1), onto
//!   `top_n` with `partition_by`, hashed on the partition's columns: in
//!   batch mode it emits each key's best rows at the end, in streaming
//!   mode a changelog of them after every batch. The number is computed
//!   only if the outer query reads it.

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
        let renamed = match bounds {
            [Some(start), Some(end)] => self.bounds_named(&projected, &start, &end, span)?,
            [None, None] => return self.top_n_per_key(ranking, &projected, partition, visible),
            _ => {
                return Err(SqlError::unsupported(
                    span,
                    "ROW_NUMBER() partitioned by only one of window_start and window_end",
                ))
            }
        };
        let order = order_keys(ranking, &renamed)?;
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
        if hidden > 0 {
            ranked = self.visible_and_rank(&ranked, visible, true, span)?;
        }
        Ok(ranked)
    }

    /// The best `n` rows of each partition of `projected` (its first
    /// `visible` columns selected, the rest read only by the ranking), on
    /// `top_n`.
    fn top_n_per_key(
        &mut self,
        ranking: &Ranking<'_>,
        projected: &Relation,
        partition: Vec<String>,
        visible: usize,
    ) -> Result<Relation, SqlError> {
        let span = ranking.span;
        let keys = order_keys(ranking, projected)?;
        let rank = ranking.numbered.then(|| {
            let taken: Vec<&str> = projected.scope.internal_names().collect();
            fresh_name(&ranking.name, taken.into_iter())
        });
        let params = json!({"keys": keys, "limit": ranking.n, "partition_by": partition,
                            "rank": rank});
        // One ranking of every row runs in one subtask.
        let (parallelism, partitioning) = if partition.is_empty() {
            (1, Partitioning::Rebalance)
        } else {
            (self.settings.parallelism, Partitioning::Hash(partition))
        };
        let input = Input {
            from: projected,
            partitioning,
        };
        let (vertex, schema, changelog) = self.graph.add(
            "top_n_per_key",
            "top_n",
            params,
            parallelism,
            &[input],
            span,
        )?;
        let mut scope = projected.scope.clone();
        if let Some(rank) = rank {
            scope.columns.push(ColumnRef {
                qualifier: None,
                name: ranking.name.clone(),
                internal: rank,
                data_type: faro_runtime::data::DataType::Int64,
                nullable: schema.fields.last().is_some_and(|f| f.nullable),
            });
        }
        if let Some(alias) = ranking.alias {
            scope = scope.requalified(&alias.name.value);
        }
        let ranked = Relation {
            vertex,
            scope,
            parallelism,
            changelog,
            time: None,
            rows: None,
        };
        if ranked.scope.columns.len() - usize::from(ranking.numbered) == visible {
            return Ok(ranked);
        }
        self.visible_and_rank(&ranked, visible, ranking.numbered, span)
    }

    /// `ranked` cut to the select list's columns (its first `visible`)
    /// and its rank (the last column, when `numbered`).
    fn visible_and_rank(
        &mut self,
        ranked: &Relation,
        visible: usize,
        numbered: bool,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let columns = &ranked.scope.columns;
        let rank_at = if numbered {
            columns.len() - 1
        } else {
            columns.len()
        };
        let kept: Vec<ColumnRef> = columns[..visible]
            .iter()
            .chain(&columns[rank_at..])
            .cloned()
            .collect();
        self.project_keeping(ranked, &kept, Vec::new(), span)
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

/// The ranking's `ORDER BY` as sort keys over `relation`'s columns.
fn order_keys(
    ranking: &Ranking<'_>,
    relation: &Relation,
) -> Result<Vec<serde_json::Value>, SqlError> {
    let keys: Vec<serde_json::Value> = ranking
        .window
        .order_by
        .iter()
        .map(|item| {
            let column = plain(&item.expr, relation)?;
            let descending = matches!(item.options.sort, Some(sql::OrderBySort::Desc));
            Ok(json!({"column": column.internal, "descending": descending}))
        })
        .collect::<Result<_, SqlError>>()?;
    if keys.is_empty() {
        return Err(SqlError::invalid(
            ranking.span,
            "ROW_NUMBER() needs ORDER BY in its OVER clause",
        ));
    }
    Ok(keys)
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
