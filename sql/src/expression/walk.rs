//! Walking sqlparser's expressions without recursion (a chain may be as
//! long as a statement allows), and the text that identifies an
//! expression however its function names are capitalized.

use sqlparser::ast as sql;

/// `expr` as text that is the same for the same expression however its
/// function names are capitalized (`COUNT(*)` and `count(*)`), so a
/// select list and a `HAVING` find the same aggregate.
pub fn canonical(expr: &sql::Expr) -> String {
    match expr {
        sql::Expr::Function(function) => {
            let mut lowered = function.clone();
            for part in &mut lowered.name.0 {
                if let sql::ObjectNamePart::Identifier(ident) = part {
                    ident.value = ident.value.to_lowercase();
                }
            }
            lowered.to_string()
        }
        other => other.to_string(),
    }
}

/// Calls `visit` on every expression under `roots`, parents first,
/// descending into one only when `visit` says so. A loop, not recursion:
/// chains as long as a statement may hold cost no stack.
pub fn visit<'e>(
    roots: impl IntoIterator<Item = &'e sql::Expr>,
    mut visit: impl FnMut(&'e sql::Expr) -> bool,
) {
    use sql::Expr as E;
    let mut pending: Vec<&sql::Expr> = roots.into_iter().collect();
    pending.reverse();
    while let Some(expr) = pending.pop() {
        if !visit(expr) {
            continue;
        }
        let mut children: Vec<&sql::Expr> = Vec::new();
        match expr {
            E::Function(f) => {
                if let sql::FunctionArguments::List(list) = &f.args {
                    for arg in &list.args {
                        if let sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e)) = arg {
                            children.push(e);
                        }
                    }
                }
                children.extend(f.filter.as_deref());
            }
            E::BinaryOp { left, right, .. } => children.extend([&**left, &**right]),
            E::UnaryOp { expr, .. }
            | E::Nested(expr)
            | E::IsNull(expr)
            | E::IsNotNull(expr)
            | E::IsTrue(expr)
            | E::IsFalse(expr)
            | E::IsNotTrue(expr)
            | E::IsNotFalse(expr)
            | E::Cast { expr, .. }
            | E::Ceil { expr, .. }
            | E::Floor { expr, .. }
            | E::Trim { expr, .. }
            | E::Extract { expr, .. } => children.push(expr),
            E::Position { expr, r#in } => children.extend([&**expr, &**r#in]),
            E::Case {
                operand,
                conditions,
                else_result,
                ..
            } => {
                children.extend(operand.as_deref());
                for when in conditions {
                    children.extend([&when.condition, &when.result]);
                }
                children.extend(else_result.as_deref());
            }
            E::Between {
                expr, low, high, ..
            } => children.extend([&**expr, &**low, &**high]),
            E::InList { expr, list, .. } => {
                children.push(expr);
                children.extend(list);
            }
            E::Like { expr, pattern, .. } | E::ILike { expr, pattern, .. } => {
                children.extend([&**expr, &**pattern])
            }
            E::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                children.push(expr);
                children.extend(substring_from.as_deref());
                children.extend(substring_for.as_deref());
            }
            _ => {}
        }
        pending.extend(children.into_iter().rev());
    }
}
