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
        // Where each column the ranking reads is among the projected
        // columns (resolved in the ranked rows, as SQL's OVER clause reads
        // them): selected, or riding along hidden after the select list.
        let mut positions = Vec::new();
        let over = ranking
            .window
            .partition_by
            .iter()
            .chain(ranking.window.order_by.iter().map(|o| &o.expr));
        for expr in over {
            let parts = match expr {
                sql::Expr::Identifier(i) => vec![i.clone()],
                sql::Expr::CompoundIdentifier(p) => p.clone(),
                other => {
                    return Err(SqlError::unsupported(
                        other.span(),
                        format!("ranking by the expression {other} (select it as a column)"),
                    ))
                }
            };
            let reference = quote(&relation.scope.resolve(&parts)?.internal);
            let position = match columns.iter().position(|c| c.expr == reference) {
                Some(position) => position,
                None => {
                    let column = relation.scope.resolve(&parts)?;
                    columns.push(Projected {
                        name: column.name.clone(),
                        qualifier: column.qualifier.clone(),
                        expr: reference,
                    });
                    columns.len() - 1
                }
            };
            positions.push(position);
        }
        let (partition_at, order_at) = positions.split_at(ranking.window.partition_by.len());
        let hidden = columns.len() - visible;
        let projected = self.project_columns(&relation, &columns, inner.span())?;
        // The operator finds each row's window by these two names.
        let mut partition = Vec::new();
        let mut bounds = [None, None];
        for &at in partition_at {
            let column = &projected.scope.columns[at];
            match column.name.to_lowercase().as_str() {
                "window_start" => bounds[0] = Some(column.internal.clone()),
                "window_end" => bounds[1] = Some(column.internal.clone()),
                _ => partition.push(column.internal.clone()),
            }
        }
        let renamed = match bounds {
            [Some(start), Some(end)] => self.bounds_named(&projected, &start, &end, span)?,
            [None, None] => {
                return self.top_n_per_key(ranking, &projected, partition, order_at, visible)
            }
            _ => {
                return Err(SqlError::unsupported(
                    span,
                    "ROW_NUMBER() partitioned by only one of window_start and window_end",
                ))
            }
        };
        let order = order_keys(ranking, &renamed, order_at)?;
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
        let added = (vertex, schema, changelog, parallelism);
        let mut ranked = ranked_relation(ranking, &renamed, Some(rank), added);
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
        order_at: &[usize],
        visible: usize,
    ) -> Result<Relation, SqlError> {
        let span = ranking.span;
        let keys = order_keys(ranking, projected, order_at)?;
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
        let added = (vertex, schema, changelog, parallelism);
        let ranked = ranked_relation(ranking, projected, rank, added);
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

/// The rows a ranking vertex (`added`: its name, output schema, whether
/// it emits a changelog, its parallelism) makes of `from`: its columns,
/// then the number as `ranking.name` when it has one (`rank`), under the
/// subquery's alias.
fn ranked_relation(
    ranking: &Ranking<'_>,
    from: &Relation,
    rank: Option<String>,
    added: (String, faro_runtime::data::Schema, bool, u32),
) -> Relation {
    let (vertex, schema, changelog, parallelism) = added;
    let mut scope = from.scope.clone();
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
    Relation {
        vertex,
        scope,
        parallelism,
        changelog,
        time: None,
        proctime: None,
        rows: None,
    }
}

/// The ranking's `ORDER BY` as sort keys over `relation`'s columns, the
/// `i`-th key being the column at `at[i]`.
fn order_keys(
    ranking: &Ranking<'_>,
    relation: &Relation,
    at: &[usize],
) -> Result<Vec<serde_json::Value>, SqlError> {
    if at.is_empty() {
        return Err(SqlError::invalid(
            ranking.span,
            "ROW_NUMBER() needs ORDER BY in its OVER clause",
        ));
    }
    Ok(ranking
        .window
        .order_by
        .iter()
        .zip(at)
        .map(|(item, &at)| {
            let descending = matches!(item.options.sort, Some(sql::OrderBySort::Desc));
            json!({"column": relation.scope.columns[at].internal, "descending": descending})
        })
        .collect())
}
