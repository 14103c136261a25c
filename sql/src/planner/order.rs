//! `ORDER BY` and `LIMIT` (onto `top_n` in two phases, or one `sort`),
//! `UNION` (one `union`, its inputs projected to the first one's names
//! and types), `DISTINCT` (an aggregate on every column) and fitting a
//! query's columns to the table an `INSERT` writes.

use faro_runtime::data::DataType;
use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use super::connector::cast_name;
use super::from::forward_or_rebalance;
use super::Planner;
use crate::error::{ErrorKind, SqlError};
use crate::expression::quote;
use crate::graph::{Input, Relation};
use crate::table::TableDef;

impl Planner<'_> {
    /// `relation` ordered and limited as the query says.
    pub(super) fn order_and_limit(
        &mut self,
        relation: Relation,
        order_by: Option<&sql::OrderBy>,
        limit: Option<&sql::LimitClause>,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let keys = match order_by {
            None => Vec::new(),
            Some(order) => match &order.kind {
                sql::OrderByKind::Expressions(items) => items
                    .iter()
                    .map(|item| sort_key(item, &relation))
                    .collect::<Result<Vec<_>, _>>()?,
                sql::OrderByKind::All(_) => {
                    return Err(SqlError::unsupported(span, "ORDER BY ALL"))
                }
            },
        };
        let limit = match limit {
            None => None,
            Some(sql::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if offset.is_some() || !limit_by.is_empty() {
                    return Err(SqlError::unsupported(span, "OFFSET and LIMIT BY"));
                }
                limit.as_ref().map(count).transpose()?
            }
            Some(other) => return Err(SqlError::unsupported(span, format!("LIMIT {other}"))),
        };
        match (keys.is_empty(), limit) {
            (true, None) => Ok(relation),
            (false, None) => {
                let params = json!({"keys": keys});
                self.single("sort", "sort", params, relation, span)
            }
            (_, Some(limit)) => {
                let params = json!({"keys": keys, "limit": limit});
                // Each subtask keeps its best `limit`, then one subtask
                // keeps the best of those.
                let local = if relation.parallelism > 1 && !self.graph.streaming() {
                    let forward = Input {
                        from: &relation,
                        partitioning: Partitioning::Forward,
                    };
                    let (vertex, _, changelog) = self.graph.add(
                        "local_top_n",
                        "top_n",
                        params.clone(),
                        relation.parallelism,
                        &[forward],
                        span,
                    )?;
                    Relation {
                        vertex,
                        changelog,
                        ..relation
                    }
                } else {
                    relation
                };
                self.single("top_n", "top_n", params, local, span)
            }
        }
    }

    /// An operator at one subtask over all of `relation`.
    fn single(
        &mut self,
        name: &str,
        operator: &str,
        params: serde_json::Value,
        relation: Relation,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let input = Input {
            from: &relation,
            partitioning: forward_or_rebalance(&relation, 1),
        };
        let (vertex, _, changelog) = self.graph.add(name, operator, params, 1, &[input], span)?;
        Ok(Relation {
            vertex,
            parallelism: 1,
            changelog,
            ..relation
        })
    }

    /// `left UNION ALL right`.
    pub(super) fn union(
        &mut self,
        left: Relation,
        right: Relation,
        span: Span,
    ) -> Result<Relation, SqlError> {
        if left.scope.columns.len() != right.scope.columns.len() {
            return Err(SqlError::invalid(
                span,
                format!(
                    "UNION of {} columns and {} columns",
                    left.scope.columns.len(),
                    right.scope.columns.len()
                ),
            ));
        }
        let mut types = Vec::new();
        for (l, r) in left.scope.columns.iter().zip(&right.scope.columns) {
            let ty = match (&l.data_type, &r.data_type) {
                (a, b) if a == b => *a,
                (DataType::Int64, DataType::Float64) | (DataType::Float64, DataType::Int64) => {
                    DataType::Float64
                }
                (a, b) => {
                    return Err(SqlError::new(
                        ErrorKind::Type,
                        span,
                        format!(
                            "UNION column {:?} is {a:?} on the left and {b:?} on the right",
                            l.name
                        ),
                    ))
                }
            };
            types.push(ty);
        }
        let names: Vec<String> = {
            let mut names: Vec<String> = Vec::new();
            for c in &left.scope.columns {
                names.push(crate::scope::fresh_name(
                    &c.name,
                    names.iter().map(String::as_str),
                ));
            }
            names
        };
        let conform = |planner: &mut Self, side: &Relation| -> Result<Relation, SqlError> {
            let columns: Vec<(String, String)> = side
                .scope
                .columns
                .iter()
                .zip(&names)
                .zip(&types)
                .map(|((c, name), ty)| {
                    let expr = if &c.data_type == ty {
                        quote(&c.internal)
                    } else {
                        format!("CAST({} AS {})", quote(&c.internal), cast_name(ty))
                    };
                    (name.clone(), expr)
                })
                .collect();
            planner.project(side, &columns, span)
        };
        let left = conform(self, &left)?;
        let right = conform(self, &right)?;
        let parallelism = left.parallelism.max(right.parallelism);
        let inputs = [
            Input {
                from: &left,
                partitioning: forward_or_rebalance(&left, parallelism),
            },
            Input {
                from: &right,
                partitioning: forward_or_rebalance(&right, parallelism),
            },
        ];
        let (vertex, _, changelog) =
            self.graph
                .add("union", "union", json!(null), parallelism, &inputs, span)?;
        Ok(Relation {
            vertex,
            parallelism,
            changelog,
            time: None,
            proctime: None,
            rows: left.rows.zip(right.rows).map(|(a, b)| a + b),
            scope: left.scope,
        })
    }

    /// `relation`'s distinct rows.
    pub(super) fn distinct(
        &mut self,
        relation: Relation,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let keys: Vec<String> = relation
            .scope
            .internal_names()
            .map(str::to_string)
            .collect();
        let params = json!({"group_by": keys, "aggregates": []});
        let input = Input {
            from: &relation,
            partitioning: Partitioning::Hash(keys.clone()),
        };
        let parallelism = self.settings.parallelism;
        let (vertex, _, changelog) =
            self.graph
                .add("distinct", "aggregate", params, parallelism, &[input], span)?;
        Ok(Relation {
            vertex,
            parallelism,
            changelog,
            time: None,
            proctime: None,
            rows: None,
            ..relation
        })
    }

    /// `relation`'s columns as `table` declares them: as many, in order,
    /// each cast where a number must widen.
    pub(super) fn conform(
        &mut self,
        relation: Relation,
        table: &TableDef,
        span: Span,
    ) -> Result<Relation, SqlError> {
        if relation.scope.columns.len() != table.columns.len() {
            return Err(SqlError::invalid(
                span,
                format!(
                    "the query has {} columns and table {:?} has {}",
                    relation.scope.columns.len(),
                    table.name,
                    table.columns.len()
                ),
            ));
        }
        let mut columns = Vec::new();
        for (c, field) in relation.scope.columns.iter().zip(&table.columns) {
            let expr = match (&c.data_type, &field.data_type) {
                (a, b) if a == b => quote(&c.internal),
                (DataType::Int64, DataType::Float64) => {
                    format!("CAST({} AS DOUBLE)", quote(&c.internal))
                }
                (a, b) => {
                    return Err(SqlError::new(
                        ErrorKind::Type,
                        span,
                        format!(
                            "column {:?} of {:?} is {b:?}; the query gives {a:?} ({})",
                            field.name, table.name, c.name
                        ),
                    ))
                }
            };
            columns.push((field.name.clone(), expr));
        }
        self.project(&relation, &columns, span)
    }
}

/// One `ORDER BY` item as a sort key over an output column.
fn sort_key(item: &sql::OrderByExpr, relation: &Relation) -> Result<serde_json::Value, SqlError> {
    let span = item.expr.span();
    let descending = matches!(item.options.sort, Some(sql::OrderBySort::Desc));
    if let Some(sql::OrderBySort::Using(_)) = item.options.sort {
        return Err(SqlError::unsupported(span, "ORDER BY … USING"));
    }
    // Nulls sort first ascending and last descending (as SQLite and
    // PostgreSQL's reverse do); asking for the other is refused.
    if let Some(first) = item.options.nulls_first {
        if first == descending {
            return Err(SqlError::unsupported(
                span,
                "this NULLS FIRST/LAST (nulls come first ascending, last descending)",
            ));
        }
    }
    let column = match &item.expr {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::Number(n, _) => {
                let position: usize = n.parse().unwrap_or(0);
                relation
                    .scope
                    .columns
                    .get(position.wrapping_sub(1))
                    .ok_or_else(|| {
                        SqlError::invalid(
                            span,
                            format!(
                                "ORDER BY {n}: the query has {} columns",
                                relation.scope.columns.len()
                            ),
                        )
                    })?
            }
            _ => return Err(SqlError::invalid(span, format!("ORDER BY {}", item.expr))),
        },
        sql::Expr::Identifier(ident) => relation.scope.resolve(std::slice::from_ref(ident))?,
        sql::Expr::CompoundIdentifier(parts) => relation.scope.resolve(parts)?,
        other => {
            return Err(SqlError::unsupported(
                span,
                format!(
                    "ORDER BY the expression {other} (select it with an alias and order by that)"
                ),
            ))
        }
    };
    Ok(json!({"column": column.internal, "descending": descending}))
}

/// A `LIMIT` count.
fn count(expr: &sql::Expr) -> Result<usize, SqlError> {
    match expr {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::Number(n, _) => n.parse().map_err(|_| {
                SqlError::invalid(expr.span(), format!("LIMIT {n} is not a row count"))
            }),
            _ => Err(SqlError::invalid(
                expr.span(),
                format!("LIMIT {expr} is not a row count"),
            )),
        },
        _ => Err(SqlError::invalid(
            expr.span(),
            format!("LIMIT {expr} is not a row count"),
        )),
    }
}
