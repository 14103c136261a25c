//! One `SELECT`: `FROM`, then `WHERE` (a filter chained to its input),
//! grouping and `HAVING`, the select list, `DISTINCT`.

use sqlparser::ast::{self as sql, Spanned};

use super::ranking::Ranking;
use super::{Planner, Projected};
use crate::error::SqlError;
use crate::expression::{quote, Resolver};
use crate::graph::Relation;

impl Planner<'_> {
    /// Plans `select`.
    pub(super) fn select(&mut self, select: &sql::Select) -> Result<Relation, SqlError> {
        let span = select.span();
        refuse_extras(select)?;
        let ranking = Ranking::find(select)?;
        let outer = std::mem::replace(&mut self.used, names_used(select));
        let outer_words = std::mem::replace(&mut self.referenced, words_referenced(select));
        let planned = match &ranking {
            Some(ranking) => self.ranked(ranking).map(|r| (r, None)),
            None => self.from(&select.from, span),
        };
        self.used = outer;
        self.referenced = outer_words;
        let (mut relation, window) = planned?;
        let ungrouped = relation.scope.clone();
        let conditions = match &ranking {
            Some(ranking) => ranking.rest.clone(),
            None => select.selection.iter().cloned().collect(),
        };
        for predicate in &conditions {
            relation = self.condition(relation, predicate, "WHERE")?;
        }
        let grouped = match &select.group_by {
            sql::GroupByExpr::Expressions(exprs, modifiers) => {
                if !modifiers.is_empty() {
                    return Err(SqlError::unsupported(
                        span,
                        "ROLLUP, CUBE and GROUPING SETS",
                    ));
                }
                !exprs.is_empty()
            }
            sql::GroupByExpr::All(_) => return Err(SqlError::unsupported(span, "GROUP BY ALL")),
        };
        let aggregates = super::aggregate::calls(select);
        let mut replaced = Vec::new();
        let aggregated = grouped || !aggregates.is_empty() || window.is_some();
        let over = super::over::calls(select);
        if !over.is_empty() {
            if aggregated {
                return Err(SqlError::unsupported(
                    over[0].span(),
                    "an OVER aggregate in a grouped SELECT (group in a subquery)",
                ));
            }
            let (windowed, substitutions) = self.over_aggregation(relation, &over, span)?;
            relation = windowed;
            replaced = substitutions;
        }
        if aggregated {
            let (aggregated, substitutions) =
                self.aggregation(relation, window, select, &aggregates)?;
            relation = aggregated;
            replaced = substitutions;
        } else if select.having.is_some() {
            return Err(SqlError::invalid(
                span,
                "HAVING needs GROUP BY or an aggregate",
            ));
        }
        if let Some(having) = &select.having {
            let resolver = Resolver {
                scope: &relation.scope,
                replaced: &replaced,
                clause: "HAVING",
            };
            let (text, compiled) = self
                .compile(&resolver, having)
                .map_err(|e| not_grouped(e, &ungrouped, aggregated))?;
            if compiled.data_type() != faro_runtime::data::DataType::Bool {
                return Err(SqlError::invalid(
                    having.span(),
                    format!("HAVING needs a condition, not {having}"),
                ));
            }
            relation = self.filter(relation, &text, having.span())?;
        }
        let columns = self
            .select_list(&relation, &select.projection, &replaced)
            .map_err(|e| not_grouped(e, &ungrouped, aggregated))?;
        let mut projected = self.project_columns(&relation, &columns, span)?;
        if aggregated {
            // After grouping no column is the source's event time.
            projected.time = None;
        }
        match &select.distinct {
            None | Some(sql::Distinct::All) => Ok(projected),
            Some(sql::Distinct::Distinct) => self.distinct(projected, span),
            Some(other) => Err(SqlError::unsupported(span, format!("{other}"))),
        }
    }

    /// The select list's columns over `relation`.
    pub(super) fn select_list(
        &self,
        relation: &Relation,
        items: &[sql::SelectItem],
        replaced: &[(String, String)],
    ) -> Result<Vec<Projected>, SqlError> {
        let resolver = Resolver {
            scope: &relation.scope,
            replaced,
            clause: "the select list",
        };
        let mut columns = Vec::new();
        for (position, item) in items.iter().enumerate() {
            match item {
                sql::SelectItem::UnnamedExpr(expr) => {
                    let (text, _) = self.compile(&resolver, expr)?;
                    let (name, qualifier) = match expr {
                        sql::Expr::Identifier(_) | sql::Expr::CompoundIdentifier(_) => {
                            let parts = match expr {
                                sql::Expr::Identifier(i) => vec![i.clone()],
                                sql::Expr::CompoundIdentifier(p) => p.clone(),
                                _ => Vec::new(),
                            };
                            let column = relation.scope.resolve(&parts)?;
                            (column.name.clone(), column.qualifier.clone())
                        }
                        _ => (format!("EXPR${position}"), None),
                    };
                    columns.push(Projected {
                        name,
                        qualifier,
                        expr: text,
                    });
                }
                sql::SelectItem::ExprWithAlias { expr, alias } => {
                    let (text, _) = self.compile(&resolver, expr)?;
                    columns.push(Projected {
                        name: alias.value.clone(),
                        qualifier: None,
                        expr: text,
                    });
                }
                sql::SelectItem::Wildcard(options) => {
                    refuse_wildcard_options(options, item)?;
                    if !replaced.is_empty() {
                        return Err(SqlError::invalid(
                            item.span(),
                            "SELECT * of a grouped query (name the keys and aggregates)",
                        ));
                    }
                    columns.extend(relation.scope.columns.iter().map(|c| Projected {
                        name: c.name.clone(),
                        qualifier: c.qualifier.clone(),
                        expr: quote(&c.internal),
                    }));
                }
                sql::SelectItem::QualifiedWildcard(kind, options) => {
                    refuse_wildcard_options(options, item)?;
                    let sql::SelectItemQualifiedWildcardKind::ObjectName(name) = kind else {
                        return Err(SqlError::unsupported(item.span(), item));
                    };
                    let qualifier = crate::table::object_name(name)?;
                    let matching: Vec<_> = relation
                        .scope
                        .columns
                        .iter()
                        .filter(|c| {
                            c.qualifier
                                .as_deref()
                                .is_some_and(|q| q.eq_ignore_ascii_case(&qualifier))
                        })
                        .collect();
                    if matching.is_empty() {
                        return Err(SqlError::new(
                            crate::error::ErrorKind::UnknownName,
                            item.span(),
                            format!("no table or alias {qualifier:?} in FROM"),
                        ));
                    }
                    columns.extend(matching.into_iter().map(|c| Projected {
                        name: c.name.clone(),
                        qualifier: c.qualifier.clone(),
                        expr: quote(&c.internal),
                    }));
                }
                other => {
                    return Err(SqlError::unsupported(
                        other.span(),
                        format!("the select item {other}"),
                    ))
                }
            }
        }
        Ok(columns)
    }
}

/// Whether `select`'s list has `*` or `t.*`.
fn selects_wildcard(select: &sql::Select) -> bool {
    select.projection.iter().any(|item| {
        matches!(
            item,
            sql::SelectItem::Wildcard(_) | sql::SelectItem::QualifiedWildcard(..)
        )
    })
}

/// The column names `select` uses outside its `FROM`; `None` when it
/// selects `*` (every column is used).
fn names_used(select: &sql::Select) -> Option<Vec<String>> {
    if selects_wildcard(select) {
        return None;
    }
    let group = match &select.group_by {
        sql::GroupByExpr::Expressions(exprs, _) => exprs.as_slice(),
        sql::GroupByExpr::All(_) => &[],
    };
    let roots = super::aggregate::select_list_exprs(select)
        .chain(select.selection.as_ref())
        .chain(group)
        .chain(select.having.as_ref());
    let mut names = Vec::new();
    crate::expression::visit(roots, |expr| {
        match expr {
            sql::Expr::Identifier(i) => names.push(i.value.to_lowercase()),
            sql::Expr::CompoundIdentifier(parts) => {
                names.extend(parts.last().map(|i| i.value.to_lowercase()))
            }
            _ => {}
        }
        true
    });
    Some(names)
}

/// Every word of `select`'s text, lower-cased (quoted names unquoted):
/// a superset of the column names it refers to, in any clause and any
/// subquery; `None` when it selects a wildcard, which refers to every
/// column without naming it.
fn words_referenced(select: &sql::Select) -> Option<std::collections::HashSet<String>> {
    use sqlparser::tokenizer::{Token, Tokenizer};
    if selects_wildcard(select) {
        return None;
    }
    let text = select.to_string();
    let tokens = Tokenizer::new(&sqlparser::dialect::GenericDialect {}, &text)
        .tokenize()
        .ok()?;
    Some(
        tokens
            .into_iter()
            .filter_map(|token| match token {
                Token::Word(word) => Some(word.value.to_lowercase()),
                _ => None,
            })
            .collect(),
    )
}

/// An unknown column after grouping that the grouped rows had: it is
/// neither a key nor inside an aggregate.
fn not_grouped(error: SqlError, ungrouped: &crate::scope::Scope, aggregated: bool) -> SqlError {
    let name = error
        .message
        .strip_prefix("unknown column \"")
        .and_then(|rest| rest.split('"').next());
    let was_there = name.is_some_and(|n| {
        ungrouped
            .columns
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(n))
    });
    match name {
        Some(name) if was_there && aggregated => SqlError {
            message: format!("column {name:?} is neither grouped by nor inside an aggregate"),
            ..error
        },
        _ => error,
    }
}

fn refuse_wildcard_options(
    options: &sql::WildcardAdditionalOptions,
    item: &sql::SelectItem,
) -> Result<(), SqlError> {
    let plain = options.opt_ilike.is_none()
        && options.opt_exclude.is_none()
        && options.opt_except.is_none()
        && options.opt_replace.is_none()
        && options.opt_rename.is_none();
    if plain {
        Ok(())
    } else {
        Err(SqlError::unsupported(
            item.span(),
            format!("the wildcard {item}"),
        ))
    }
}

/// Clauses of other dialects that Faro does not plan.
fn refuse_extras(select: &sql::Select) -> Result<(), SqlError> {
    let span = select.span();
    let extra = if select.top.is_some() {
        Some("TOP")
    } else if select.into.is_some() {
        Some("SELECT INTO")
    } else if !select.lateral_views.is_empty() {
        Some("LATERAL VIEW")
    } else if select.prewhere.is_some() {
        Some("PREWHERE")
    } else if !select.cluster_by.is_empty()
        || !select.distribute_by.is_empty()
        || !select.sort_by.is_empty()
    {
        Some("CLUSTER BY, DISTRIBUTE BY and SORT BY")
    } else if !select.named_window.is_empty() {
        Some("WINDOW clauses")
    } else if select.qualify.is_some() {
        Some("QUALIFY")
    } else if !select.connect_by.is_empty() {
        Some("CONNECT BY")
    } else {
        None
    };
    match extra {
        Some(what) => Err(SqlError::unsupported(span, what)),
        None => Ok(()),
    }
}
