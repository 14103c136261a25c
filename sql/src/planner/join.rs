//! Joins onto `hash_join`: equalities between the two sides become its
//! keys (an expression key is computed first, chained into that side's
//! task), other conditions of an inner join a filter after it. A right
//! join is a left join with the sides swapped and its columns put back
//! in order; a full join is `hash_join`'s own (its build side never
//! broadcast). A column that both sides name is renamed on the right,
//! so `a.id` and `b.id` both survive. Columns the query never names are
//! dropped from each side first, so the join neither moves nor holds them.

use faro_runtime::spec::Partitioning;
use serde_json::json;
use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use super::conditions::{conjuncts, equality_sides, key_column, using};
use super::interval_join::time_bounds;
use super::Planner;
use crate::error::SqlError;
use crate::expression::{quote, Resolver};
use crate::graph::{Input, Relation};
use crate::scope::{fresh_name, Scope};

/// Which rows a join keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Inner,
    Left,
    Right,
    Full,
}

impl Planner<'_> {
    /// `input` without the columns its `SELECT` never names (see
    /// `Planner::referenced`): a streaming join holds every column of
    /// every row it keeps, so a column nothing reads would only cost
    /// memory (and network on the way there). No vertex when every
    /// column is named.
    fn pruned(&mut self, input: Relation, span: Span) -> Result<Relation, SqlError> {
        let Some(words) = &self.referenced else {
            return Ok(input);
        };
        let kept: Vec<_> = input
            .scope
            .columns
            .iter()
            .filter(|c| words.contains(&c.name.to_lowercase()))
            .cloned()
            .collect();
        if kept.len() == input.scope.columns.len() || kept.is_empty() {
            return Ok(input);
        }
        self.project_keeping(&input, &kept, Vec::new(), span)
    }

    /// `left JOIN right` under `operator`.
    pub(super) fn join(
        &mut self,
        left: Relation,
        right: Relation,
        operator: &sql::JoinOperator,
        span: Span,
    ) -> Result<Relation, SqlError> {
        use sql::JoinOperator as J;
        let (kind, constraint) = match operator {
            J::Join(c) | J::Inner(c) => (Kind::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (Kind::Left, c),
            J::Right(c) | J::RightOuter(c) => (Kind::Right, c),
            J::FullOuter(c) => (Kind::Full, c),
            J::CrossJoin(_) => {
                return Err(SqlError::unsupported(
                    span,
                    "CROSS JOIN (join on an equality)",
                ))
            }
            _ => return Err(SqlError::unsupported(span, "this kind of join")),
        };
        let left = self.pruned(left, span)?;
        let right = self.pruned(right, span)?;
        let right = self.renamed_apart(&left, right, span)?;
        let both = Scope {
            columns: left
                .scope
                .columns
                .iter()
                .chain(&right.scope.columns)
                .cloned()
                .collect(),
        };
        let conjuncts: Vec<sql::Expr> = match constraint {
            sql::JoinConstraint::On(expr) => conjuncts(expr),
            sql::JoinConstraint::Using(names) => using(names, &left, &right)?,
            sql::JoinConstraint::Natural => {
                return Err(SqlError::unsupported(span, "NATURAL JOIN"))
            }
            sql::JoinConstraint::None => {
                return Err(SqlError::invalid(span, "a join needs ON or USING"))
            }
        };
        let mut left_keys = Vec::new();
        let mut right_keys = Vec::new();
        let mut residual = Vec::new();
        let (mut left, mut right) = (left, right);
        for conjunct in &conjuncts {
            // Unknown or ambiguous names are reported against both sides.
            self.compile(&Resolver::plain(&both, "ON"), conjunct)?;
            if let Some((l, r)) = equality_sides(conjunct, &left.scope, &right.scope) {
                left_keys.push(l);
                right_keys.push(r);
                continue;
            }
            // A condition on one side alone filters that side before the
            // join (pushed down), where the join lets it: any side of an
            // inner join, the side an outer join does not keep whole.
            let over = |scope: &Scope| Resolver::plain(scope, "ON").render(conjunct).is_ok();
            if over(&left.scope) && matches!(kind, Kind::Inner | Kind::Right) {
                left = self.condition(left, conjunct, "ON")?;
            } else if over(&right.scope) && matches!(kind, Kind::Inner | Kind::Left) {
                right = self.condition(right, conjunct, "ON")?;
            } else {
                residual.push(conjunct);
            }
        }
        if left_keys.is_empty() {
            return Err(SqlError::unsupported(
                span,
                "a join without an equality between its two sides",
            ));
        }
        if kind != Kind::Inner && !residual.is_empty() {
            return Err(SqlError::unsupported(
                residual[0].span(),
                "an outer join condition on both sides other than equalities, or on the side it keeps (filter in WHERE or a subquery)",
            ));
        }
        let (left, left_names) = self.with_keys(left, &left_keys, span)?;
        let (right, right_names) = self.with_keys(right, &right_keys, span)?;
        // Streams whose times bound each other: an interval join, which
        // forgets rows as the watermark passes them.
        if self.graph.streaming() && kind == Kind::Inner {
            if let Some(bounds) = time_bounds(&residual, &left, &right) {
                let mut relation =
                    self.interval_join(&left, &right, &left_names, &right_names, &bounds, span)?;
                for (i, conjunct) in residual.iter().enumerate() {
                    if !bounds.used.contains(&i) {
                        relation = self.condition(relation, conjunct, "ON")?;
                    }
                }
                return Ok(relation);
            }
        }
        let joined = match kind {
            Kind::Inner | Kind::Left | Kind::Full => {
                let kind = match kind {
                    Kind::Inner => "inner",
                    Kind::Left => "left",
                    _ => "full",
                };
                self.hash_join(&left, &right, &left_names, &right_names, kind, span)?
            }
            Kind::Right => {
                let swapped =
                    self.hash_join(&right, &left, &right_names, &left_names, "left", span)?;
                // Back in SQL's order: the left's columns first.
                let n = right.scope.columns.len();
                let order: Vec<usize> = (n..swapped.scope.columns.len()).chain(0..n).collect();
                self.reorder(&swapped, &order, span)?
            }
        };
        let mut relation = joined;
        for conjunct in residual {
            relation = self.condition(relation, conjunct, "ON")?;
        }
        Ok(relation)
    }

    /// `right` with every internal name the left also has renamed.
    pub(super) fn renamed_apart(
        &mut self,
        left: &Relation,
        right: Relation,
        span: Span,
    ) -> Result<Relation, SqlError> {
        let clash = |name: &str| left.scope.internal_names().any(|n| n == name);
        if !right.scope.internal_names().any(clash) {
            return Ok(right);
        }
        let mut taken: Vec<String> = left.scope.internal_names().map(str::to_string).collect();
        let mut columns = Vec::new();
        for column in &right.scope.columns {
            let base = match &column.qualifier {
                Some(q) if clash(&column.internal) => format!("{q}.{}", column.name),
                _ => column.internal.clone(),
            };
            let name = fresh_name(&base, taken.iter().map(String::as_str));
            taken.push(name.clone());
            columns.push(super::Projected {
                name: name.clone(),
                qualifier: column.qualifier.clone(),
                expr: quote(&column.internal),
            });
        }
        let mut renamed = self.project_columns(&right, &columns, span)?;
        // The SQL names stay; only the internal ones moved.
        for (column, original) in renamed.scope.columns.iter_mut().zip(&right.scope.columns) {
            column.name = original.name.clone();
        }
        Ok(renamed)
    }

    /// `relation` with each of `keys` as a column: plain columns as they
    /// are, expressions computed by a projection.
    pub(super) fn with_keys(
        &mut self,
        relation: Relation,
        keys: &[sql::Expr],
        span: Span,
    ) -> Result<(Relation, Vec<String>), SqlError> {
        let mut plain = Vec::new();
        for key in keys {
            match key_column(key, &relation.scope) {
                Some(name) => plain.push(Some(name)),
                None => plain.push(None),
            }
        }
        if plain.iter().all(Option::is_some) {
            return Ok((relation, plain.into_iter().flatten().collect()));
        }
        let mut computed: Vec<super::Projected> = Vec::new();
        let mut names = Vec::new();
        for (key, plain) in keys.iter().zip(plain) {
            match plain {
                Some(name) => names.push(name),
                None => {
                    let (text, _) = self.compile(&Resolver::plain(&relation.scope, "ON"), key)?;
                    let taken = relation
                        .scope
                        .internal_names()
                        .chain(computed.iter().map(|c| c.name.as_str()));
                    let name = fresh_name("join_key", taken.collect::<Vec<_>>().into_iter());
                    computed.push(super::Projected {
                        name: name.clone(),
                        qualifier: None,
                        expr: text,
                    });
                    names.push(name);
                }
            }
        }
        let projected = self.project_keeping(&relation, &relation.scope.columns, computed, span)?;
        Ok((projected, names))
    }

    /// A `hash_join` of `probe` (left) with `build` (right).
    fn hash_join(
        &mut self,
        probe: &Relation,
        build: &Relation,
        probe_keys: &[String],
        build_keys: &[String],
        kind: &str,
        span: Span,
    ) -> Result<Relation, SqlError> {
        // A small bounded build side is sent whole to every probe subtask,
        // and the probe side is not shuffled at all — unless the join keeps
        // unmatched build rows, which every copy would then emit.
        let broadcast = !self.graph.streaming()
            && kind != "full"
            && build
                .rows
                .is_some_and(|rows| rows <= self.settings.broadcast_rows);
        let (parallelism, probe_edge, build_edge) = if broadcast {
            (
                probe.parallelism,
                Partitioning::Forward,
                Partitioning::Broadcast,
            )
        } else {
            (
                self.settings.parallelism,
                Partitioning::Hash(probe_keys.to_vec()),
                Partitioning::Hash(build_keys.to_vec()),
            )
        };
        let params = json!({
            "left": probe.vertex, "right": build.vertex,
            "left_keys": probe_keys, "right_keys": build_keys,
            "kind": kind,
        });
        let inputs = [
            Input {
                from: probe,
                partitioning: probe_edge,
            },
            Input {
                from: build,
                partitioning: build_edge,
            },
        ];
        let (vertex, schema, changelog) =
            self.graph
                .add("join", "hash_join", params, parallelism, &inputs, span)?;
        Ok(Relation {
            vertex,
            scope: Scope::joined(Vec::new(), &probe.scope, &build.scope, &schema),
            parallelism,
            changelog,
            time: None,
            proctime: None,
            rows: None,
        })
    }

    /// `relation`'s columns in `order`.
    fn reorder(
        &mut self,
        relation: &Relation,
        order: &[usize],
        span: Span,
    ) -> Result<Relation, SqlError> {
        let kept: Vec<_> = order
            .iter()
            .filter_map(|&i| relation.scope.columns.get(i))
            .cloned()
            .collect();
        self.project_keeping(relation, &kept, Vec::new(), span)
    }
}
