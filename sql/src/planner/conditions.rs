//! Join conditions taken apart: an `AND` chain into its conditions, an
//! equality into the left's and the right's operand, `USING` into
//! equalities, a key into the column it names.

use sqlparser::ast::{self as sql, Spanned};

use crate::error::{ErrorKind, SqlError};
use crate::expression::Resolver;
use crate::graph::Relation;
use crate::scope::Scope;

/// The conjuncts of an `AND` chain.
pub(super) fn conjuncts(expr: &sql::Expr) -> Vec<sql::Expr> {
    let mut out = Vec::new();
    let mut pending = vec![expr];
    while let Some(e) = pending.pop() {
        match e {
            sql::Expr::BinaryOp {
                left,
                op: sql::BinaryOperator::And,
                right,
            } => {
                pending.push(right);
                pending.push(left);
            }
            sql::Expr::Nested(inner) => pending.push(inner),
            other => out.push(other.clone()),
        }
    }
    out
}

/// `USING (a, b)` as `left.a = right.a AND …`.
pub(super) fn using(
    names: &[sql::ObjectName],
    left: &Relation,
    right: &Relation,
) -> Result<Vec<sql::Expr>, SqlError> {
    names
        .iter()
        .map(|name| {
            let column = crate::table::object_name(name)?;
            let side = |relation: &Relation| {
                let ident = sql::Ident::with_span(name.span(), column.clone());
                let found = relation.scope.resolve(std::slice::from_ref(&ident))?;
                let named = sql::Ident::with_span(name.span(), found.name.clone());
                Ok::<_, SqlError>(match &found.qualifier {
                    Some(q) => sql::Expr::CompoundIdentifier(vec![sql::Ident::new(q), named]),
                    None => sql::Expr::Identifier(named),
                })
            };
            Ok(sql::Expr::BinaryOp {
                left: Box::new(side(left)?),
                op: sql::BinaryOperator::Eq,
                right: Box::new(side(right)?),
            })
        })
        .collect::<Result<_, SqlError>>()
        .map_err(|e: SqlError| SqlError {
            kind: ErrorKind::UnknownName,
            ..e
        })
}

/// For `l = r` with `l` over the left side only and `r` over the right
/// only (or the other way round): the left's and the right's operand.
pub(super) fn equality_sides(
    expr: &sql::Expr,
    left: &Scope,
    right: &Scope,
) -> Option<(sql::Expr, sql::Expr)> {
    let sql::Expr::BinaryOp {
        left: a,
        op: sql::BinaryOperator::Eq,
        right: b,
    } = expr
    else {
        return None;
    };
    let over = |e: &sql::Expr, scope: &Scope| Resolver::plain(scope, "ON").render(e).is_ok();
    if over(a, left) && over(b, right) && !over(a, right) && !over(b, left) {
        Some(((**a).clone(), (**b).clone()))
    } else if over(b, left) && over(a, right) && !over(b, right) && !over(a, left) {
        Some(((**b).clone(), (**a).clone()))
    } else {
        None
    }
}

/// The internal name of `expr` if it is a plain column of `scope`.
pub(super) fn key_column(expr: &sql::Expr, scope: &Scope) -> Option<String> {
    let parts = match expr {
        sql::Expr::Identifier(ident) => vec![ident.clone()],
        sql::Expr::CompoundIdentifier(parts) => parts.clone(),
        _ => return None,
    };
    scope.resolve(&parts).ok().map(|c| c.internal.clone())
}
