//! Aggregates over a frame of rows in a select list,
//! `AVG(x) OVER (PARTITION BY p ORDER BY t ROWS BETWEEN n PRECEDING AND
//! CURRENT ROW)`, onto one `over_aggregate` vertex hashed on the
//! partition's columns. After it each such call is a column, and the
//! select list is resolved against those.
//!
//! The calls of one `SELECT` share one window (Flink's rule too); only
//! `ROWS` frames ending at the current row, over plain columns.

use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use super::aggregate::{distinct_calls, select_list_exprs};
use super::from::forward_or_rebalance;
use super::Planner;
use crate::error::SqlError;
use crate::expression::{canonical, function_name};
use crate::graph::{Input, Relation};
use crate::scope::{fresh_name, ColumnRef, Scope};

/// The aggregates an `over_aggregate` computes.
const OVER_AGGREGATES: &[&str] = &["count", "sum", "avg", "min", "max"];

/// The aggregate calls with an `OVER` window in `select`'s list, each
/// once.
pub fn calls(select: &sql::Select) -> Vec<sql::Function> {
    distinct_calls(select_list_exprs(select), |f| {
        f.over.is_some() && OVER_AGGREGATES.contains(&function_name(f).as_str())
    })
}

/// The column a plain name in an `OVER` clause or argument means.
fn column<'s>(scope: &'s Scope, expr: &sql::Expr, what: &str) -> Result<&'s ColumnRef, SqlError> {
    let parts = match expr {
        sql::Expr::Identifier(i) => vec![i.clone()],
        sql::Expr::CompoundIdentifier(p) => p.clone(),
        other => {
            return Err(SqlError::unsupported(
                other.span(),
                format!("{what} the expression {other} (select it as a column in a subquery)"),
            ))
        }
    };
    scope.resolve(&parts)
}

/// Rows before the current one in `frame`: `ROWS BETWEEN n PRECEDING AND
/// CURRENT ROW` (or `ROWS n PRECEDING`).
fn preceding(frame: Option<&sql::WindowFrame>, span: Span) -> Result<usize, SqlError> {
    let unsupported = || {
        SqlError::unsupported(
            span,
            "an OVER frame other than ROWS BETWEEN n PRECEDING AND CURRENT ROW",
        )
    };
    let frame = frame.ok_or_else(unsupported)?;
    let ends_here = matches!(
        frame.end_bound,
        None | Some(sql::WindowFrameBound::CurrentRow)
    );
    if frame.units != sql::WindowFrameUnits::Rows || !ends_here {
        return Err(unsupported());
    }
    match &frame.start_bound {
        sql::WindowFrameBound::CurrentRow => Ok(0),
        sql::WindowFrameBound::Preceding(Some(n)) => match n.as_ref() {
            sql::Expr::Value(v) => match &v.value {
                sql::Value::Number(n, _) => n.parse().map_err(|_| unsupported()),
                _ => Err(unsupported()),
            },
            _ => Err(unsupported()),
        },
        _ => Err(unsupported()),
    }
}

impl Planner<'_> {
    /// `input` with a column for each of `calls` (aggregates over one
    /// window of rows), and what each call became.
    pub(super) fn over_aggregation(
        &mut self,
        input: Relation,
        calls: &[sql::Function],
        span: Span,
    ) -> Result<(Relation, Vec<(String, String)>), SqlError> {
        let window = |f: &sql::Function| match &f.over {
            Some(sql::WindowType::WindowSpec(spec)) => Ok(spec.clone()),
            _ => Err(SqlError::unsupported(f.span(), "named windows")),
        };
        let spec = window(&calls[0])?;
        for call in &calls[1..] {
            if window(call)?.to_string() != spec.to_string() {
                return Err(SqlError::unsupported(
                    call.span(),
                    "OVER aggregates over different windows in one SELECT",
                ));
            }
        }
        let partition_by: Vec<String> = spec
            .partition_by
            .iter()
            .map(|e| Ok(column(&input.scope, e, "partitioning by")?.internal.clone()))
            .collect::<Result<_, SqlError>>()?;
        let order_by: Vec<serde_json::Value> = spec
            .order_by
            .iter()
            .map(|o| {
                let name = &column(&input.scope, &o.expr, "ordering by")?.internal;
                let descending = matches!(o.options.sort, Some(sql::OrderBySort::Desc));
                Ok(json!({"column": name, "descending": descending}))
            })
            .collect::<Result<_, SqlError>>()?;
        if order_by.is_empty() {
            return Err(SqlError::invalid(
                calls[0].span(),
                "an OVER frame of rows needs ORDER BY",
            ));
        }
        let preceding = preceding(spec.window_frame.as_ref(), calls[0].span())?;
        let mut aggregates = Vec::new();
        let mut replaced = Vec::new();
        let mut added = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            let span = call.span();
            if call.filter.is_some() {
                return Err(SqlError::unsupported(span, "FILTER in an OVER aggregate"));
            }
            let sql::FunctionArguments::List(list) = &call.args else {
                return Err(SqlError::invalid(
                    span,
                    format!("{call} takes one argument"),
                ));
            };
            if list.duplicate_treatment.is_some() {
                return Err(SqlError::unsupported(span, "DISTINCT in an OVER aggregate"));
            }
            let argument = match list.args.as_slice() {
                [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard)] => None,
                [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e))] => {
                    Some(column(&input.scope, e, "aggregating")?.internal.clone())
                }
                _ => {
                    return Err(SqlError::invalid(
                        span,
                        format!("{call} takes one argument"),
                    ))
                }
            };
            let taken: Vec<&str> = input
                .scope
                .internal_names()
                .chain(added.iter().map(|c: &ColumnRef| c.internal.as_str()))
                .collect();
            let name = fresh_name(&format!("over${i}"), taken.into_iter());
            aggregates.push(json!({"function": function_name(call), "column": argument,
                "as": name}));
            replaced.push((canonical(&sql::Expr::Function(call.clone())), name.clone()));
            added.push(ColumnRef {
                qualifier: None,
                name: name.clone(),
                internal: name,
                data_type: faro_runtime::data::DataType::Int64,
                nullable: true,
            });
        }
        let (parallelism, partitioning) = if partition_by.is_empty() {
            (1, forward_or_rebalance(&input, 1))
        } else {
            (
                self.settings.parallelism,
                Partitioning::Hash(partition_by.clone()),
            )
        };
        let params = json!({"partition_by": partition_by, "order_by": order_by,
            "preceding": preceding, "aggregates": aggregates});
        let edge = Input {
            from: &input,
            partitioning,
        };
        let (vertex, schema, changelog) =
            self.graph
                .add("over", "over_aggregate", params, parallelism, &[edge], span)?;
        let mut scope = input.scope.clone();
        for (mut column, field) in added
            .into_iter()
            .zip(&schema.fields[input.scope.columns.len()..])
        {
            column.data_type = field.data_type;
            column.nullable = field.nullable;
            scope.columns.push(column);
        }
        let relation = Relation {
            vertex,
            scope,
            parallelism,
            changelog,
            time: None,
            proctime: None,
            rows: None,
        };
        Ok((relation, replaced))
    }
}
