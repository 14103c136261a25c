//! Finding Flink's ranking pattern in a `SELECT`: its `FROM` is a
//! subquery numbering rows with `ROW_NUMBER() OVER (…) AS rn`, and its
//! `WHERE` keeps `rn <= n` (or `rn < n + 1`, `rn = 1`).

use sqlparser::ast::{self as sql, Spanned};
use sqlparser::tokenizer::Span;

use crate::error::SqlError;
use crate::expression::function_name;

/// A ranked subquery and the filter on its rank, found in a `SELECT`.
pub struct Ranking<'q> {
    /// The subquery's `SELECT`.
    pub(super) inner: &'q sql::Select,
    /// The subquery's alias.
    pub(super) alias: Option<&'q sql::TableAlias>,
    /// Position of the `ROW_NUMBER()` item in the inner select list.
    pub(super) item: usize,
    /// Its alias.
    pub(super) name: String,
    /// Its `OVER (PARTITION BY … ORDER BY …)`.
    pub(super) window: &'q sql::WindowSpec,
    /// Rows kept per partition.
    pub(super) n: usize,
    /// Whether the outer query reads the number (a wildcard, or its name
    /// beyond the filter on it): unread, a per-key top-N leaves it out,
    /// so a row entering at the top does not renumber those below it.
    pub(super) numbered: bool,
    /// The outer `WHERE`'s other conditions.
    pub rest: Vec<sql::Expr>,
    /// Where the `ROW_NUMBER()` is.
    pub(super) span: Span,
}

impl<'q> Ranking<'q> {
    /// The ranking `select` applies, if its `FROM` is a ranked subquery.
    pub fn find(select: &'q sql::Select) -> Result<Option<Self>, SqlError> {
        let [sql::TableWithJoins {
            relation: sql::TableFactor::Derived {
                subquery, alias, ..
            },
            joins,
        }] = select.from.as_slice()
        else {
            return Ok(None);
        };
        let sql::SetExpr::Select(inner) = subquery.body.as_ref() else {
            return Ok(None);
        };
        let found = inner
            .projection
            .iter()
            .enumerate()
            .find_map(|(i, item)| match item {
                sql::SelectItem::ExprWithAlias {
                    expr: sql::Expr::Function(f),
                    alias,
                } if f.over.is_some() => Some((i, f, alias)),
                _ => None,
            });
        let Some((item, function, name)) = found else {
            return Ok(None);
        };
        let span = function.span();
        if function_name(function) != "row_number" {
            return Err(SqlError::unsupported(
                span,
                format!("the window function {}", function.name),
            ));
        }
        let Some(sql::WindowType::WindowSpec(window)) = &function.over else {
            return Err(SqlError::unsupported(span, "named windows"));
        };
        if !joins.is_empty()
            || subquery.order_by.is_some()
            || subquery.limit_clause.is_some()
            || subquery.with.is_some()
        {
            return Err(SqlError::unsupported(
                span,
                "ROW_NUMBER() in a subquery with joins, WITH, ORDER BY or LIMIT",
            ));
        }
        let name = name.value.clone();
        let mut n = None;
        let mut rest = Vec::new();
        for conjunct in select
            .selection
            .iter()
            .flat_map(super::conditions::conjuncts)
        {
            match rank_bound(&conjunct, &name) {
                Some(bound) if n.is_none() => n = Some(bound),
                _ => rest.push(conjunct),
            }
        }
        let n = n.ok_or_else(|| {
            SqlError::unsupported(
                span,
                format!("ROW_NUMBER() without a filter on it (add WHERE {name} <= n outside)"),
            )
        })?;
        let numbered = reads(select, &rest, &name);
        Ok(Some(Self {
            inner,
            alias: alias.as_ref(),
            item,
            name,
            window,
            n,
            numbered,
            rest,
            span,
        }))
    }
}

/// Whether `select` reads column `name` anywhere but in the rank filter
/// (`rest` being its other conditions).
fn reads(select: &sql::Select, rest: &[sql::Expr], name: &str) -> bool {
    let wildcard = select.projection.iter().any(|item| {
        matches!(
            item,
            sql::SelectItem::Wildcard(_) | sql::SelectItem::QualifiedWildcard(..)
        )
    });
    let group = match &select.group_by {
        sql::GroupByExpr::Expressions(exprs, _) => exprs.as_slice(),
        sql::GroupByExpr::All(_) => &[],
    };
    let roots = super::aggregate::select_list_exprs(select)
        .chain(rest)
        .chain(group)
        .chain(select.having.as_ref());
    let mut found = wildcard;
    crate::expression::visit(roots, |expr| {
        let named = match expr {
            sql::Expr::Identifier(i) => Some(i),
            sql::Expr::CompoundIdentifier(parts) => parts.last(),
            _ => None,
        };
        found |= named.is_some_and(|i| i.value.eq_ignore_ascii_case(name));
        !found
    });
    found
}

/// `n` from `rn <= n`, `rn < n + 1`, `rn = 1` (or the same turned round).
fn rank_bound(expr: &sql::Expr, rank: &str) -> Option<usize> {
    let sql::Expr::BinaryOp { left, op, right } = expr else {
        return None;
    };
    let is_rank =
        |e: &sql::Expr| matches!(e, sql::Expr::Identifier(i) if i.value.eq_ignore_ascii_case(rank));
    let number = |e: &sql::Expr| match e {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::Number(n, _) => n.parse::<usize>().ok(),
            _ => None,
        },
        _ => None,
    };
    use sql::BinaryOperator as B;
    let (op, n) = if is_rank(left) {
        (op.clone(), number(right)?)
    } else if is_rank(right) {
        let turned = match op {
            B::GtEq => B::LtEq,
            B::Gt => B::Lt,
            B::Eq => B::Eq,
            _ => return None,
        };
        (turned, number(left)?)
    } else {
        return None;
    };
    match op {
        B::LtEq if n >= 1 => Some(n),
        B::Lt if n >= 2 => Some(n - 1),
        B::Eq if n == 1 => Some(1),
        _ => None,
    }
}
