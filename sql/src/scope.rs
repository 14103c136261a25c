//! Name resolution: which column a name in a query means.
//!
//! A planned relation is a vertex of the job graph and a [`Scope`]: for
//! each column of the vertex's output, the name SQL knows it by, the
//! table or alias that qualifies it, and the *internal* name it has in
//! the job (unique across the relation, so `a.id` and `b.id` both survive
//! a join, which refuses duplicate names).

use faro_runtime::data::{DataType, Field, Schema};
use sqlparser::ast::Ident;

use crate::error::{did_you_mean, ErrorKind, SqlError};

/// One column in reach of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    /// The table or alias it comes from, if any.
    pub qualifier: Option<String>,
    /// Its name in SQL.
    pub name: String,
    /// Its name in the job.
    pub internal: String,
    /// Its type.
    pub data_type: DataType,
    /// Whether it may be null.
    pub nullable: bool,
}

/// The columns of a relation, in the order of its vertex's output.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope {
    /// The columns.
    pub columns: Vec<ColumnRef>,
}

impl Scope {
    /// A scope of `schema`'s columns, known by their own names, qualified
    /// by `qualifier`.
    pub fn of(schema: &Schema, qualifier: Option<&str>) -> Self {
        Self {
            columns: schema
                .fields
                .iter()
                .map(|f| ColumnRef {
                    qualifier: qualifier.map(str::to_string),
                    name: f.name.clone(),
                    internal: f.name.clone(),
                    data_type: f.data_type,
                    nullable: f.nullable,
                })
                .collect(),
        }
    }

    /// The same columns, all qualified by `qualifier` (a table alias).
    pub fn requalified(mut self, qualifier: &str) -> Self {
        for column in &mut self.columns {
            column.qualifier = Some(qualifier.to_string());
        }
        self
    }

    /// The schema the job sees: internal names.
    pub fn schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field {
                    name: c.internal.clone(),
                    data_type: c.data_type,
                    nullable: c.nullable,
                })
                .collect(),
        )
    }

    /// The column `parts` (`name` or `qualifier.name`) names.
    pub fn resolve(&self, parts: &[Ident]) -> Result<&ColumnRef, SqlError> {
        let span = parts
            .first()
            .map(|p| p.span)
            .unwrap_or(sqlparser::tokenizer::Span::empty());
        let (qualifier, name) = match parts {
            [name] => (None, name),
            [qualifier, name] => (Some(qualifier.value.as_str()), name),
            _ => {
                let text = parts
                    .iter()
                    .map(|p| p.value.as_str())
                    .collect::<Vec<_>>()
                    .join(".");
                return Err(SqlError::unsupported(span, format!("the name {text}")));
            }
        };
        let fits_qualifier = |c: &&ColumnRef| match qualifier {
            None => true,
            Some(q) => c
                .qualifier
                .as_deref()
                .is_some_and(|cq| cq.eq_ignore_ascii_case(q)),
        };
        let exact: Vec<&ColumnRef> = self
            .columns
            .iter()
            .filter(fits_qualifier)
            .filter(|c| c.name == name.value)
            .collect();
        let mut found: Vec<&ColumnRef> = if exact.is_empty() {
            self.columns
                .iter()
                .filter(fits_qualifier)
                .filter(|c| c.name.eq_ignore_ascii_case(&name.value))
                .collect()
        } else {
            exact
        };
        // A window join's bounds are its own, and answer to either side's
        // qualifier (`L.window_start` as Flink writes it).
        let bound = ["window_start", "window_end"]
            .iter()
            .any(|b| name.value.eq_ignore_ascii_case(b));
        if found.is_empty() && qualifier.is_some() && bound {
            found = self
                .columns
                .iter()
                .filter(|c| c.qualifier.is_none() && c.name.eq_ignore_ascii_case(&name.value))
                .collect();
        }
        match found.as_slice() {
            [one] => Ok(one),
            [] => Err(self.unknown(qualifier, name)),
            many => Err(SqlError::new(
                ErrorKind::Invalid,
                name.span,
                format!(
                    "column {:?} is ambiguous: it may be {}",
                    name.value,
                    many.iter()
                        .map(|c| c.display())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )),
        }
    }

    fn unknown(&self, qualifier: Option<&str>, name: &Ident) -> SqlError {
        let span = name.span;
        if let Some(q) = qualifier {
            let known = self.columns.iter().any(|c| {
                c.qualifier
                    .as_deref()
                    .is_some_and(|cq| cq.eq_ignore_ascii_case(q))
            });
            if !known {
                let qualifiers: Vec<&str> = self
                    .columns
                    .iter()
                    .filter_map(|c| c.qualifier.as_deref())
                    .collect();
                return SqlError::new(
                    ErrorKind::UnknownName,
                    span,
                    format!(
                        "unknown table or alias {q:?}{}",
                        did_you_mean(q, qualifiers)
                    ),
                );
            }
        }
        let names: Vec<&str> = self.columns.iter().map(|c| c.name.as_str()).collect();
        let hint = if name.value.starts_with("window_") {
            " (window_start and window_end come from a window table function, grouped by both)"
                .to_string()
        } else {
            did_you_mean(&name.value, names.iter().copied())
        };
        SqlError::new(
            ErrorKind::UnknownName,
            span,
            format!(
                "unknown column {:?}{hint}; the columns are {}",
                name.value,
                names.join(", ")
            ),
        )
    }

    /// The scope of a join's output: `leading` columns (a window join's
    /// bounds), then `left`'s and `right`'s, each as the join's `output`
    /// schema has it (an outer join makes a side nullable).
    pub fn joined(leading: Vec<ColumnRef>, left: &Scope, right: &Scope, output: &Schema) -> Scope {
        let columns = leading
            .into_iter()
            .chain(left.columns.iter().cloned())
            .chain(right.columns.iter().cloned())
            .zip(&output.fields)
            .map(|(column, field)| ColumnRef {
                internal: field.name.clone(),
                nullable: field.nullable,
                ..column
            })
            .collect();
        Scope { columns }
    }

    /// Internal names taken.
    pub fn internal_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.internal.as_str())
    }
}

impl ColumnRef {
    /// `qualifier.name` or `name`.
    pub fn display(&self) -> String {
        match &self.qualifier {
            Some(q) => format!("{q}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

/// `base`, or `base_2`, `base_3`, … : the first not in `taken`.
pub fn fresh_name<'a>(base: &str, taken: impl Iterator<Item = &'a str> + Clone) -> String {
    let is_taken = |candidate: &str| taken.clone().any(|t| t == candidate);
    if !is_taken(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}_{n}"))
        .find(|c| !is_taken(c))
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use faro_runtime::data::Field;

    fn scope() -> Scope {
        let a = Scope::of(
            &Schema::new(vec![
                Field::new("id", DataType::Int64),
                Field::new("price", DataType::Int64),
            ]),
            Some("a"),
        );
        let mut b = Scope::of(
            &Schema::new(vec![Field::new("id", DataType::Int64)]),
            Some("b"),
        );
        b.columns[0].internal = "id_2".into();
        Scope {
            columns: a.columns.into_iter().chain(b.columns).collect(),
        }
    }

    fn ident(parts: &str) -> Vec<Ident> {
        parts.split('.').map(Ident::new).collect()
    }

    #[test]
    fn qualified_names_pick_their_table() {
        let scope = scope();
        assert_eq!(scope.resolve(&ident("b.id")).unwrap().internal, "id_2");
        assert_eq!(scope.resolve(&ident("a.id")).unwrap().internal, "id");
        assert_eq!(scope.resolve(&ident("PRICE")).unwrap().internal, "price");
        let error = scope.resolve(&ident("id")).unwrap_err();
        assert!(error.message.contains("a.id or b.id"), "{error}");
        let error = scope.resolve(&ident("prcie")).unwrap_err();
        assert!(error.message.contains("did you mean \"price\""), "{error}");
        let error = scope.resolve(&ident("c.id")).unwrap_err();
        assert!(
            error.message.contains("unknown table or alias \"c\""),
            "{error}"
        );
    }

    #[test]
    fn fresh_names_avoid_taken_ones() {
        let taken = ["id", "id_2"];
        assert_eq!(fresh_name("id", taken.iter().copied()), "id_3");
        assert_eq!(fresh_name("x", taken.iter().copied()), "x");
    }
}
