//! `project`: new columns computed from each row, its params and its
//! catalogue definition, and the named expressions ([`NamedExpr`]) it
//! shares with `generate`: their params, compiling and output schema.

use serde::{Deserialize, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, Schema};
use crate::expr::{EvalContext, Expr};
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::spec::limits;
use crate::spec::SpecError;

/// Compiles `columns` against `input` into expressions and the output
/// schema (validation already proved they compile).
pub fn compile_columns(
    columns: &[NamedExpr],
    input: &Schema,
) -> Result<(Vec<Expr>, Schema), OperatorError> {
    let exprs = columns
        .iter()
        .map(|c| Expr::compile(&c.expr, input))
        .collect::<Result<Vec<_>, _>>()?;
    let fields = columns
        .iter()
        .zip(&exprs)
        .map(|(c, e)| e.field(&c.name))
        .collect();
    Ok((exprs, Schema::new(fields)))
}

/// A named output column computed by an expression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedExpr {
    /// Output column name.
    pub name: String,
    /// SQL expression text.
    pub expr: String,
}

/// `project`: computes new columns from each row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectParams {
    /// The output columns.
    pub columns: Vec<NamedExpr>,
}

/// The schema of `columns` computed over `input` rows, checked at
/// `context`'s vertex.
pub fn columns_schema(
    context: &SchemaContext<'_>,
    columns: &[NamedExpr],
    input: &Schema,
) -> Result<Schema, SpecError> {
    let fields = columns
        .iter()
        .map(|c| context.compile(&c.expr, input).map(|e| e.field(&c.name)))
        .collect::<Result<Vec<_>, _>>()?;
    context.unique(Schema::new(fields))
}

/// `project`: new columns from expressions.
pub struct Project {
    exprs: Vec<Expr>,
    schema: Schema,
}

impl Project {
    /// A projection of `input` rows to `columns`.
    pub fn new(columns: &[NamedExpr], input: &Schema) -> Result<Self, OperatorError> {
        let (exprs, schema) = compile_columns(columns, input)?;
        Ok(Self { exprs, schema })
    }
}

impl Operator for Project {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let input = rows.input(EvalContext::default());
        let columns = self
            .exprs
            .iter()
            .map(|e| e.eval_column(&input))
            .collect::<Result<Vec<_>, _>>()?;
        let kinds = rows.kinds.map(|kinds| kinds.bytes().to_vec());
        out.emit(Batch::new(self.schema.clone(), rows.rows, columns)?.with_kind_bytes(kinds)?)
    }
}

/// The catalogue's `project`.
pub struct ProjectDefinition;

impl OperatorDefinition for ProjectDefinition {
    type Params = ProjectParams;

    /// Each row on its own.
    fn divisible_input(&self, _: &ProjectParams, _: usize) -> bool {
        true
    }

    /// Stateless: each batch on its own.
    fn checkpointable(&self, _: &ProjectParams) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "project"
    }

    /// Each row is kept (or computed) with its kind.
    fn changelog(&self, _: &ProjectParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        crate::catalogue::pass_changelog(context)
    }

    fn output_schema(
        &self,
        params: &ProjectParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        limits::check_columns(context.vertex(), params.columns.len())?;
        let input = inputs.first().cloned().unwrap_or_default();
        columns_schema(context, &params.columns, &input)
    }

    fn build(
        &self,
        params: &ProjectParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        Ok(Built::Operator(Box::new(Project::new(
            &params.columns,
            &context.input(0),
        )?)))
    }
}
