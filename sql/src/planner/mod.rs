//! Queries onto job graphs. A query is planned bottom-up into
//! [`Relation`]s, each a vertex of the graph with a scope naming its
//! columns: sources for tables, `filter` for `WHERE` and `HAVING`,
//! `project` for `SELECT` lists, `aggregate` or `window` for grouping,
//! `hash_join` for joins, `union`, and `top_n` / `sort` for `ORDER BY`.
//!
//! The decisions a query planner owns are made here and say why:
//! - **Push-down.** A filter sits right after its source on a forward
//!   edge, so it runs in the source's task (chained): rows it drops never
//!   leave the task. Only the declared columns of a table are read
//!   (Parquet reads no others).
//! - **Partial/final aggregation.** An aggregate is fed by a hash edge on
//!   its keys; the runtime's plan then splits it, combining rows in the
//!   producer's task before the shuffle (`faro_runtime::plan`).
//! - **Edges.** Hash edges into aggregates and joins; a join's input of
//!   known small size (a bounded generator under the broadcast
//!   threshold) is broadcast instead, so the other side is not shuffled.
//!   In a batch job shuffles are blocking (through the shuffle service,
//!   so a failed consumer re-runs alone); in a streaming job pipelined.
//! - **Top-N in two phases.** `ORDER BY … LIMIT n` keeps n rows per
//!   subtask first, then n of those at one subtask.

mod aggregate;
mod conditions;
mod connector;
mod from;
mod interval_join;
mod join;
mod kafka;
mod lateral;
mod order;
mod over;
mod rank;
mod ranking;
mod select;
mod window_join;
mod window_tvf;

use std::collections::BTreeMap;

use faro_runtime::expr::Expr;
use faro_runtime::spec::{JobSpec, Partitioning};
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::{ErrorKind, SqlError};
use crate::expression::Resolver;
use crate::graph::{Graph, Input, Relation};
use crate::scope::{fresh_name, ColumnRef, Scope};
use crate::settings::Settings;
use crate::table::TableDef;

/// What statements have defined so far.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Tables, by name.
    pub tables: BTreeMap<String, TableDef>,
    /// Views, by name: their query, planned where they are used.
    pub views: BTreeMap<String, sql::Query>,
}

/// Views inside views inside … at most this deep (a view cannot name
/// itself, but `CREATE OR REPLACE` could make a cycle).
const MAX_VIEW_DEPTH: usize = 32;

/// One column of a projection: its SQL name and its expression text.
#[derive(Debug, Clone)]
pub struct Projected {
    /// The name SQL knows it by.
    pub name: String,
    /// The table or alias qualifying it, if it keeps one.
    pub qualifier: Option<String>,
    /// Expression text over the input's internal names.
    pub expr: String,
}

/// Plans one job.
pub struct Planner<'a> {
    catalog: &'a Catalog,
    settings: &'a Settings,
    graph: Graph,
    /// `WITH` queries in reach, innermost last.
    ctes: Vec<(String, sql::Query)>,
    views_open: usize,
    /// The names the `SELECT` being planned uses outside its `FROM`
    /// (`None`: all, for `*`), so `FROM` may drop a column nothing uses.
    used: Option<Vec<String>>,
    /// Every word of the `SELECT` being planned, lower-cased (`None`:
    /// it selects `*`): a join's input column whose name is not among
    /// them is used nowhere, so is not carried into the join.
    referenced: Option<std::collections::HashSet<String>>,
}

impl<'a> Planner<'a> {
    /// A planner over `catalog` with `settings`.
    pub fn new(catalog: &'a Catalog, settings: &'a Settings) -> Self {
        Self {
            catalog,
            settings,
            graph: Graph::new(settings.mode),
            ctes: Vec::new(),
            views_open: 0,
            used: None,
            referenced: None,
        }
    }

    /// A job running `query` whose rows are collected for the caller.
    pub fn select_job(mut self, query: &sql::Query) -> Result<JobSpec, SqlError> {
        let relation = self.query(query)?;
        let partitioning = if relation.parallelism == 1 {
            Partitioning::Forward
        } else {
            Partitioning::Rebalance
        };
        let input = Input {
            from: &relation,
            partitioning,
        };
        self.graph
            .add("collect", "collect", json!({}), 1, &[input], query.span())?;
        Ok(self.finish())
    }

    /// A job writing `query`'s rows into `table`.
    pub fn insert_job(
        mut self,
        table: &TableDef,
        query: &sql::Query,
        overwrite: bool,
    ) -> Result<JobSpec, SqlError> {
        let span = query.span();
        let relation = self.query(query)?;
        let relation = self.conform(relation, table, span)?;
        self.sink(table, &relation, overwrite, span)?;
        Ok(self.finish())
    }

    fn finish(self) -> JobSpec {
        let name = self
            .settings
            .name
            .clone()
            .unwrap_or_else(|| "sql".to_string());
        let mut spec = self.graph.into_spec(name, self.settings.mode);
        spec.checkpoints = self.settings.checkpoints;
        spec
    }

    /// Plans a query: its `WITH` queries, its body, its order and limit.
    fn query(&mut self, query: &sql::Query) -> Result<Relation, SqlError> {
        let span = query.span();
        if query.fetch.is_some() || !query.locks.is_empty() || query.for_clause.is_some() {
            return Err(SqlError::unsupported(
                span,
                "FETCH, FOR and locking clauses",
            ));
        }
        let outer = self.ctes.len();
        if let Some(with) = &query.with {
            if with.recursive {
                return Err(SqlError::unsupported(span, "WITH RECURSIVE"));
            }
            for cte in &with.cte_tables {
                if !cte.alias.columns.is_empty() {
                    return Err(SqlError::unsupported(
                        cte.alias.name.span,
                        "column lists on WITH queries",
                    ));
                }
                self.ctes
                    .push((cte.alias.name.value.clone(), (*cte.query).clone()));
            }
        }
        let planned = self.set_expr(&query.body).and_then(|relation| {
            self.order_and_limit(
                relation,
                query.order_by.as_ref(),
                query.limit_clause.as_ref(),
                span,
            )
        });
        self.ctes.truncate(outer);
        planned
    }

    fn set_expr(&mut self, body: &sql::SetExpr) -> Result<Relation, SqlError> {
        match body {
            sql::SetExpr::Select(select) => self.select(select),
            sql::SetExpr::Query(query) => self.query(query),
            sql::SetExpr::SetOperation {
                op: sql::SetOperator::Union,
                set_quantifier,
                left,
                right,
            } => {
                let span = body.span();
                let left = self.set_expr(left)?;
                let right = self.set_expr(right)?;
                let all = match set_quantifier {
                    sql::SetQuantifier::All => true,
                    sql::SetQuantifier::None | sql::SetQuantifier::Distinct => false,
                    other => return Err(SqlError::unsupported(span, format!("UNION {other}"))),
                };
                let union = self.union(left, right, span)?;
                if all {
                    Ok(union)
                } else {
                    self.distinct(union, span)
                }
            }
            sql::SetExpr::SetOperation { op, .. } => Err(SqlError::unsupported(body.span(), op)),
            sql::SetExpr::Values(_) => Err(SqlError::unsupported(body.span(), "VALUES")),
            other => Err(SqlError::unsupported(
                body.span(),
                format!("the query {other}"),
            )),
        }
    }

    /// `expr` rendered against `resolver` and type-checked against the
    /// schema it will run on.
    fn compile(
        &self,
        resolver: &Resolver<'_>,
        expr: &sql::Expr,
    ) -> Result<(String, Expr), SqlError> {
        let text = resolver.render(expr)?;
        let compiled = Expr::compile(&text, &resolver.scope.schema()).map_err(|e| {
            let sql = faro_runtime::expr::excerpt(&expr.to_string());
            SqlError::new(ErrorKind::Type, expr.span(), format!("{e} (in {sql})"))
        })?;
        Ok((text, compiled))
    }

    /// A `project` vertex computing `columns` over `input` (forward:
    /// chained into the input's task).
    fn project(
        &mut self,
        input: &Relation,
        columns: &[(String, String)],
        span: Span,
    ) -> Result<Relation, SqlError> {
        let projected: Vec<Projected> = columns
            .iter()
            .map(|(name, expr)| Projected {
                name: name.clone(),
                qualifier: None,
                expr: expr.clone(),
            })
            .collect();
        self.project_columns(input, &projected, span)
    }

    /// A `project` vertex computing `columns`, each with its qualifier.
    fn project_columns(
        &mut self,
        input: &Relation,
        columns: &[Projected],
        span: Span,
    ) -> Result<Relation, SqlError> {
        let mut internals: Vec<String> = Vec::with_capacity(columns.len());
        for column in columns {
            let internal = fresh_name(&column.name, internals.iter().map(String::as_str));
            internals.push(internal);
        }
        // Every column kept as it is, under its own internal name: no
        // vertex, only the SQL names and qualifiers change.
        let identity = columns.len() == input.scope.columns.len()
            && columns
                .iter()
                .zip(&internals)
                .zip(&input.scope.columns)
                .all(|((c, internal), from)| {
                    *internal == from.internal && c.expr == crate::expression::quote(&from.internal)
                });
        if identity {
            let mut renamed = input.clone();
            for (column, c) in renamed.scope.columns.iter_mut().zip(columns) {
                column.name = c.name.clone();
                column.qualifier = c.qualifier.clone();
            }
            return Ok(renamed);
        }
        let params = json!({"columns": columns.iter().zip(&internals)
            .map(|(c, name)| json!({"name": name, "expr": c.expr}))
            .collect::<Vec<_>>()});
        let forward = Input {
            from: input,
            partitioning: Partitioning::Forward,
        };
        let (vertex, schema, changelog) = self.graph.add(
            "project",
            "project",
            params,
            input.parallelism,
            &[forward],
            span,
        )?;
        // The column a time attribute reaches unchanged (or, for
        // processing time, the one `PROCTIME()` computes here).
        let reaching = |attribute: Option<&String>, computed: Option<&str>| {
            let reference = attribute.map(|t| crate::expression::quote(t));
            columns
                .iter()
                .zip(&internals)
                .find(|(c, _)| {
                    Some(&c.expr) == reference.as_ref()
                        || computed.is_some_and(|f| c.expr.eq_ignore_ascii_case(f))
                })
                .map(|(_, internal)| internal.clone())
        };
        let time = reaching(input.time.as_ref(), None);
        let proctime = reaching(input.proctime.as_ref(), Some("proctime()"));
        let scope = Scope {
            columns: columns
                .iter()
                .zip(&schema.fields)
                .map(|(c, field)| ColumnRef {
                    qualifier: c.qualifier.clone(),
                    name: c.name.clone(),
                    internal: field.name.clone(),
                    data_type: field.data_type,
                    nullable: field.nullable,
                })
                .collect(),
        };
        Ok(Relation {
            vertex,
            scope,
            parallelism: input.parallelism,
            changelog,
            time,
            proctime,
            rows: input.rows,
        })
    }

    /// A `project` vertex keeping `kept` columns of `input` as they are
    /// (internal and SQL names, qualifiers), then computing `computed`
    /// (whose names must differ from the kept ones' internal names).
    fn project_keeping(
        &mut self,
        input: &Relation,
        kept: &[ColumnRef],
        computed: Vec<Projected>,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let mut columns: Vec<Projected> = kept
            .iter()
            .map(|c| Projected {
                name: c.internal.clone(),
                qualifier: c.qualifier.clone(),
                expr: crate::expression::quote(&c.internal),
            })
            .collect();
        columns.extend(computed);
        let mut projected = self.project_columns(input, &columns, span)?;
        for (column, original) in projected.scope.columns.iter_mut().zip(kept) {
            column.name = original.name.clone();
        }
        Ok(projected)
    }

    /// A `filter` vertex keeping rows where `predicate` holds.
    fn filter(
        &mut self,
        input: Relation,
        predicate: &str,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let forward = Input {
            from: &input,
            partitioning: Partitioning::Forward,
        };
        let (vertex, _, changelog) = self.graph.add(
            "filter",
            "filter",
            json!({"predicate": predicate}),
            input.parallelism,
            &[forward],
            span,
        )?;
        Ok(Relation {
            vertex,
            changelog,
            ..input
        })
    }

    /// A `WHERE`-like condition over `input`.
    fn condition(
        &mut self,
        input: Relation,
        expr: &sql::Expr,
        clause: &'static str,
    ) -> Result<Relation, SqlError> {
        let (text, compiled) = self.compile(&Resolver::plain(&input.scope, clause), expr)?;
        if compiled.data_type() != faro_runtime::data::DataType::Bool {
            return Err(SqlError::new(
                ErrorKind::Type,
                expr.span(),
                format!(
                    "{clause} needs a condition, and {expr} is {:?}",
                    compiled.data_type()
                ),
            ));
        }
        self.filter(input, &text, expr.span())
    }
}
