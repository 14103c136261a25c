//! What an operator's output schema rule works with: the vertex it is
//! checking, and the checks every rule shares — compiling an expression,
//! finding a column, requiring distinct output names — each failing with
//! an error that names the vertex, so a user can find it in a spec of
//! many.

use std::collections::HashSet;

use crate::data::Schema;
use crate::expr::{Expr, ExprError};
use crate::spec::{limits, SpecError};

/// The vertex whose output schema is being worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaContext<'a> {
    vertex: &'a str,
    place: String,
    /// Whether the job streams.
    streaming: bool,
    /// Per input (in input order): whether it is a changelog.
    changelogs: Vec<bool>,
}

impl<'a> SchemaContext<'a> {
    /// Checks for vertex `vertex`.
    pub fn new(vertex: &'a str) -> Self {
        Self {
            vertex,
            place: format!("vertex {vertex:?}"),
            streaming: false,
            changelogs: Vec::new(),
        }
    }

    /// The same checks in a streaming job (`streaming`) whose inputs are
    /// changelogs where `changelogs` says so (see [`crate::data::RowKind`]).
    pub fn with_changelogs(mut self, streaming: bool, changelogs: &[bool]) -> Self {
        self.streaming = streaming;
        self.changelogs = changelogs.to_vec();
        self
    }

    /// Whether the job streams.
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// Whether input `index` is a changelog (its rows carry row kinds).
    pub fn changelog_input(&self, index: usize) -> bool {
        self.changelogs.get(index).copied().unwrap_or(false)
    }

    /// Whether any input is a changelog.
    pub fn any_changelog_input(&self) -> bool {
        self.changelogs.iter().any(|&c| c)
    }

    /// The vertex id.
    pub fn vertex(&self) -> &'a str {
        self.vertex
    }

    /// How errors name the vertex: `vertex "id"`.
    pub fn place(&self) -> &str {
        &self.place
    }

    /// `text` compiled against `schema`.
    pub fn compile(&self, text: &str, schema: &Schema) -> Result<Expr, SpecError> {
        Expr::compile(text, schema).map_err(|error| self.expr_error(error))
    }

    /// The position of column `name` in `schema`.
    pub fn column(&self, schema: &Schema, name: &str) -> Result<usize, SpecError> {
        column_index(&self.place, schema, name)
    }

    /// The position of `name`, which must be a timestamp column of
    /// `schema`; `role` names what the params call it, `why` says what
    /// needs a timestamp.
    pub fn timestamp_column(
        &self,
        schema: &Schema,
        name: &str,
        role: &str,
        why: &str,
    ) -> Result<usize, SpecError> {
        let index = schema
            .index_of(name)
            .ok_or_else(|| self.bad_params(format!("no {role} column {name:?} in its columns")))?;
        match schema.fields[index].data_type {
            crate::data::DataType::Timestamp => Ok(index),
            other => Err(self.bad_params(format!("{role} column {name:?} is {other}; {why}"))),
        }
    }

    /// `schema`, if its column names are distinct and not too many.
    pub fn unique(&self, schema: Schema) -> Result<Schema, SpecError> {
        unique_names(&self.place, schema)
    }

    /// An expression problem at this vertex.
    pub fn expr_error(&self, error: ExprError) -> SpecError {
        SpecError::Expr {
            place: self.place.clone(),
            error,
        }
    }

    /// Schemas or columns that do not fit, at this vertex.
    pub fn schema_error(&self, message: impl Into<String>) -> SpecError {
        SpecError::Schema {
            place: self.place.clone(),
            message: message.into(),
        }
    }

    /// Params that do not fit the operator, at this vertex.
    pub fn bad_params(&self, message: impl Into<String>) -> SpecError {
        SpecError::BadParams {
            vertex: self.vertex.to_string(),
            message: message.into(),
        }
    }
}

/// The position of column `name` in `schema`; `place` names the vertex or
/// edge asking.
pub fn column_index(place: &str, schema: &Schema, name: &str) -> Result<usize, SpecError> {
    schema.index_of(name).ok_or_else(|| SpecError::Expr {
        place: place.to_string(),
        error: ExprError::unknown_column(name, schema),
    })
}

fn unique_names(place: &str, schema: Schema) -> Result<Schema, SpecError> {
    limits::check_columns(place, schema.fields.len())?;
    let mut seen = HashSet::new();
    for field in &schema.fields {
        if !seen.insert(field.name.as_str()) {
            return Err(SpecError::Schema {
                place: place.to_string(),
                message: format!("column {:?} appears twice in the output", field.name),
            });
        }
    }
    Ok(schema)
}
