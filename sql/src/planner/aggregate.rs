//! Grouping: `GROUP BY` keys and the aggregate calls of a select list and
//! its `HAVING` onto one `aggregate` vertex (or, grouped by a window
//! table function's `window_start, window_end`, one `window` vertex).
//! After it, each aggregate call and computed key is a column, and the
//! select list and `HAVING` are resolved against those.
//!
//! `FILTER (WHERE c)` becomes the aggregate of `CASE WHEN c THEN x END`
//! (aggregates skip nulls); `COUNT(DISTINCT x)` is `count_distinct`.

use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};

use super::from::forward_or_rebalance;
use super::window_tvf::WindowTvf;
use super::{Planner, Projected};
use crate::error::{ErrorKind, SqlError};
use crate::expression::{canonical, function_name, is_aggregate, plain_arguments, Resolver};
use crate::graph::{Input, Relation};
use crate::scope::{fresh_name, ColumnRef, Scope};

/// The aggregate calls of `select`'s list and `HAVING`, each once.
pub fn calls(select: &sql::Select) -> Vec<sql::Function> {
    let roots = select_list_exprs(select).chain(select.having.as_ref());
    distinct_calls(roots, is_aggregate)
}

/// The calls under `roots` that `wanted` picks (not looking inside
/// them), each once, in the order first met.
pub fn distinct_calls<'e>(
    roots: impl Iterator<Item = &'e sql::Expr>,
    wanted: impl Fn(&sql::Function) -> bool,
) -> Vec<sql::Function> {
    let mut found: Vec<sql::Function> = Vec::new();
    crate::expression::visit(roots, |expr| match expr {
        sql::Expr::Function(f) if wanted(f) => {
            let key = canonical(expr);
            if !found
                .iter()
                .any(|g| canonical(&sql::Expr::Function(g.clone())) == key)
            {
                found.push(f.clone());
            }
            false
        }
        _ => true,
    });
    found
}

/// The expressions of `select`'s list.
pub fn select_list_exprs(select: &sql::Select) -> impl Iterator<Item = &sql::Expr> {
    select.projection.iter().filter_map(|item| match item {
        sql::SelectItem::UnnamedExpr(e) | sql::SelectItem::ExprWithAlias { expr: e, .. } => Some(e),
        _ => None,
    })
}

impl Planner<'_> {
    /// Groups `input` as `select` says; returns the grouped relation and
    /// what each computed key and aggregate call became.
    pub(super) fn aggregation(
        &mut self,
        input: Relation,
        window: Option<WindowTvf>,
        select: &sql::Select,
        calls: &[sql::Function],
    ) -> Result<(Relation, Vec<(String, String)>), SqlError> {
        let span = select.span();
        let mut group: Vec<&sql::Expr> = match &select.group_by {
            sql::GroupByExpr::Expressions(exprs, _) => exprs.iter().collect(),
            sql::GroupByExpr::All(_) => Vec::new(),
        };
        if let Some(tvf) = &window {
            let is_bound = |e: &&sql::Expr, bound: &str| match e {
                sql::Expr::Identifier(i) => i.value.eq_ignore_ascii_case(bound),
                sql::Expr::CompoundIdentifier(p) => p
                    .last()
                    .is_some_and(|i| i.value.eq_ignore_ascii_case(bound)),
                _ => false,
            };
            let has = |bound: &str| group.iter().any(|e| is_bound(e, bound));
            if !has("window_start") || !has("window_end") {
                return Err(SqlError::unsupported(
                    tvf.span,
                    "a window table function not grouped by window_start and window_end",
                ));
            }
            group.retain(|e| !is_bound(e, "window_start") && !is_bound(e, "window_end"));
        }
        // Keys: plain columns as they are, expressions computed first.
        let mut keys: Vec<ColumnRef> = Vec::new();
        let mut computed: Vec<(String, String, &sql::Expr)> = Vec::new();
        for expr in &group {
            let resolver = Resolver::plain(&input.scope, "GROUP BY");
            let (text, _) = self.compile(&resolver, expr)?;
            match plain_column(expr, &input.scope) {
                Some(column) => keys.push(column),
                None => {
                    let taken: Vec<&str> = input
                        .scope
                        .internal_names()
                        .chain(computed.iter().map(|c| c.0.as_str()))
                        .collect();
                    let name = fresh_name(&format!("EXPR${}", computed.len()), taken.into_iter());
                    computed.push((name, text, expr));
                }
            }
        }
        // The aggregates, over the input's own column names (a projection
        // computing keys keeps them).
        let mut specs = Vec::new();
        let mut reads: Vec<String> = keys.iter().map(|k| k.internal.clone()).collect();
        let mut aggregate_names = Vec::new();
        for (i, call) in calls.iter().enumerate() {
            let taken: Vec<&str> = keys
                .iter()
                .map(|k| k.internal.as_str())
                .chain(computed.iter().map(|c| c.0.as_str()))
                .chain(aggregate_names.iter().map(String::as_str))
                .collect();
            let name = fresh_name(&format!("agg${i}"), taken.into_iter());
            let (spec, read) = self.aggregate_spec(call, &name, &input.scope)?;
            specs.push(spec);
            reads.extend(read);
            aggregate_names.push(name);
        }
        let mut input = input;
        if !computed.is_empty() {
            // Only what the aggregation reads goes on: a row's other
            // columns (a whole line a word came from) are not copied.
            if let Some(time) = &input.time {
                reads.push(time.clone());
            }
            if let Some(tvf) = &window {
                reads.push(
                    input
                        .scope
                        .resolve(std::slice::from_ref(&tvf.time))?
                        .internal
                        .clone(),
                );
            }
            let kept: Vec<ColumnRef> = input
                .scope
                .columns
                .iter()
                .filter(|c| reads.contains(&c.internal))
                .cloned()
                .collect();
            let keys_computed = computed
                .iter()
                .map(|(name, text, _)| Projected {
                    name: name.clone(),
                    qualifier: None,
                    expr: text.clone(),
                })
                .collect();
            let (time, proctime) = (input.time.clone(), input.proctime.clone());
            input = self.project_keeping(&input, &kept, keys_computed, span)?;
            input.time = time;
            input.proctime = proctime;
            let n = input.scope.columns.len() - computed.len();
            keys.extend(input.scope.columns[n..].iter().cloned());
        }
        let mut replaced: Vec<(String, String)> = computed
            .iter()
            .zip(&keys[keys.len() - computed.len()..])
            .map(|((_, _, expr), key)| (canonical(expr), key.internal.clone()))
            .collect();
        for (call, name) in calls.iter().zip(aggregate_names) {
            replaced.push((canonical(&sql::Expr::Function(call.clone())), name));
        }
        let key_names: Vec<String> = keys.iter().map(|k| k.internal.clone()).collect();
        let (parallelism, partitioning) = if key_names.is_empty() {
            (1, forward_or_rebalance(&input, 1))
        } else {
            (
                self.settings.parallelism,
                Partitioning::Hash(key_names.clone()),
            )
        };
        let (name, operator, params, leading) = match &window {
            Some(tvf) => {
                let time = input
                    .scope
                    .resolve(std::slice::from_ref(&tvf.time))?
                    .internal
                    .clone();
                let wall_clock = input.proctime.as_deref() == Some(time.as_str());
                if self.graph.streaming()
                    && !wall_clock
                    && input.time.as_deref() != Some(time.as_str())
                {
                    return Err(SqlError::new(
                        ErrorKind::Invalid,
                        tvf.time.span,
                        format!(
                            "a streaming window needs a watermark on {:?}: declare WATERMARK FOR {} AS {} - INTERVAL '…' SECOND in its CREATE TABLE",
                            tvf.time.value, tvf.time.value, tvf.time.value
                        ),
                    ));
                }
                let clock = if wall_clock {
                    json!({"processing_time": true})
                } else {
                    json!({"time": time})
                };
                let mut params =
                    json!({"window": tvf.kind, "group_by": key_names, "aggregates": specs});
                if let (Some(params), Some(clock)) = (params.as_object_mut(), clock.as_object()) {
                    params.extend(clock.clone());
                }
                let qualifier = tvf.alias.as_ref().map(|a| a.name.value.clone());
                ("window", "window", params, window_bounds(qualifier))
            }
            None => {
                let params = json!({"group_by": key_names, "aggregates": specs});
                ("aggregate", "aggregate", params, Vec::new())
            }
        };
        let edge = Input {
            from: &input,
            partitioning,
        };
        let (vertex, schema, changelog) = self
            .graph
            .add(name, operator, params, parallelism, &[edge], span)
            .map_err(|e| named_calls(e, &replaced))?;
        let names = leading
            .into_iter()
            .chain(keys)
            .chain(
                replaced[computed.len()..]
                    .iter()
                    .map(|(_, internal)| ColumnRef {
                        qualifier: None,
                        name: internal.clone(),
                        internal: internal.clone(),
                        data_type: faro_runtime::data::DataType::Int64,
                        nullable: true,
                    }),
            );
        let columns = names
            .zip(&schema.fields)
            .map(|(column, field)| ColumnRef {
                internal: field.name.clone(),
                data_type: field.data_type,
                nullable: field.nullable,
                ..column
            })
            .collect();
        let relation = Relation {
            vertex,
            scope: Scope { columns },
            parallelism,
            changelog,
            time: None,
            proctime: None,
            rows: None,
        };
        Ok((relation, replaced))
    }

    /// One aggregate call as the operator's aggregate spec.
    fn aggregate_spec(
        &self,
        call: &sql::Function,
        name: &str,
        scope: &Scope,
    ) -> Result<(serde_json::Value, Vec<String>), SqlError> {
        let expr = sql::Expr::Function(call.clone());
        let span = expr.span();
        let function = function_name(call);
        let distinct = matches!(
            &call.args,
            sql::FunctionArguments::List(list) if matches!(list.duplicate_treatment, Some(sql::DuplicateTreatment::Distinct))
        );
        let star = matches!(
            &call.args,
            sql::FunctionArguments::List(list) if matches!(list.args.as_slice(), [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard)])
        );
        let argument: Option<sql::Expr> = if star {
            if function != "count" {
                return Err(SqlError::invalid(
                    span,
                    format!("{expr}: only COUNT takes *"),
                ));
            }
            None
        } else {
            let mut bare = call.clone();
            if let sql::FunctionArguments::List(list) = &mut bare.args {
                list.duplicate_treatment = None;
            }
            match plain_arguments(&bare, span)?.as_slice() {
                [one] => Some((*one).clone()),
                _ => {
                    return Err(SqlError::invalid(
                        span,
                        format!("{expr} takes one argument"),
                    ))
                }
            }
        };
        // FILTER (WHERE c): only rows where c holds reach the aggregate.
        let argument = match (&call.filter, argument) {
            (None, argument) => argument,
            (Some(condition), argument) => Some(sql::Expr::Case {
                case_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                end_token: sqlparser::ast::helpers::attached_token::AttachedToken::empty(),
                operand: None,
                conditions: vec![sql::CaseWhen {
                    condition: (**condition).clone(),
                    result: argument
                        .unwrap_or(sql::Expr::value(sql::Value::Number("1".into(), false))),
                }],
                else_result: None,
            }),
        };
        let kind = match (function.as_str(), distinct) {
            ("count", true) => "count_distinct",
            (f, false) => f,
            (_, true) => {
                return Err(SqlError::unsupported(
                    span,
                    format!("DISTINCT in {expr} (only COUNT(DISTINCT …))"),
                ))
            }
        };
        let mut reads = Vec::new();
        let text = match &argument {
            Some(argument) => {
                let resolver = Resolver::plain(scope, "an aggregate's argument");
                let (text, compiled) = self
                    .compile(&resolver, argument)
                    .map_err(|e| e.or_at(span))?;
                let numeric = matches!(
                    compiled.data_type(),
                    faro_runtime::data::DataType::Int64 | faro_runtime::data::DataType::Float64
                );
                if matches!(kind, "sum" | "avg") && !numeric {
                    return Err(SqlError::new(
                        ErrorKind::Type,
                        span,
                        format!(
                            "{expr} needs a number, and its argument is {:?}",
                            compiled.data_type()
                        ),
                    ));
                }
                reads.extend(
                    compiled
                        .columns_read()
                        .iter()
                        .filter_map(|&i| scope.columns.get(i))
                        .map(|c| c.internal.clone()),
                );
                Some(text)
            }
            None => None,
        };
        Ok((json!({"name": name, "function": kind, "expr": text}), reads))
    }
}

/// An error about the grouping vertex with its internal column names
/// replaced by the SQL they stand for.
fn named_calls(mut error: SqlError, replaced: &[(String, String)]) -> SqlError {
    for (sql, internal) in replaced {
        error.message = error.message.replace(&format!("{internal:?}"), sql);
    }
    error
}

/// `window_start` and `window_end`, as a window aggregation emits them.
fn window_bounds(qualifier: Option<String>) -> Vec<ColumnRef> {
    ["window_start", "window_end"]
        .into_iter()
        .map(|name| ColumnRef {
            qualifier: qualifier.clone(),
            name: name.to_string(),
            internal: name.to_string(),
            data_type: faro_runtime::data::DataType::Timestamp,
            nullable: false,
        })
        .collect()
}

/// The column `expr` names, if it is a plain column of `scope`.
fn plain_column(expr: &sql::Expr, scope: &Scope) -> Option<ColumnRef> {
    let parts = match expr {
        sql::Expr::Identifier(ident) => vec![ident.clone()],
        sql::Expr::CompoundIdentifier(parts) => parts.clone(),
        _ => return None,
    };
    scope.resolve(&parts).ok().cloned()
}
