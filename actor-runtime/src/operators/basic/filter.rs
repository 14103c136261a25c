//! `filter`: keeps the rows where a predicate is true; its params and its
//! catalogue definition.

use serde::{Deserialize, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::Schema;
use crate::expr::{excerpt, EvalContext, Expr, ExprError, Ty};
use crate::kernels::take::selected;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::spec::SpecError;

/// `filter`: keeps rows where the predicate is true.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterParams {
    /// A boolean SQL expression.
    pub predicate: String,
}

/// `filter`: keeps rows where the predicate is true.
pub struct Filter {
    predicate: Expr,
    schema: Schema,
}

impl Filter {
    /// A filter of `input` rows by `predicate`.
    pub fn new(predicate: &str, input: &Schema) -> Result<Self, OperatorError> {
        Ok(Self {
            predicate: Expr::compile(predicate, input)?,
            schema: input.clone(),
        })
    }
}

impl Operator for Filter {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let keep = self
            .predicate
            .eval_selection(&rows.input(EvalContext::default()))?;
        let indices = selected(&keep);
        if indices.is_empty() {
            return Ok(());
        }
        // A changelog's rows keep their kinds: a retraction filtered out
        // is one whose insert was too (the predicate sees the same row).
        out.emit(rows.take(&self.schema, &indices)?)
    }
}

/// The catalogue's `filter`.
pub struct FilterDefinition;

impl OperatorDefinition for FilterDefinition {
    type Params = FilterParams;

    /// Each row on its own.
    fn divisible_input(&self, _: &FilterParams, _: usize) -> bool {
        true
    }

    /// Stateless: each batch on its own.
    fn checkpointable(&self, _: &FilterParams) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "filter"
    }

    /// Each row is kept (or computed) with its kind.
    fn changelog(&self, _: &FilterParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        crate::catalogue::pass_changelog(context)
    }

    fn output_schema(
        &self,
        params: &FilterParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        let predicate = context.compile(&params.predicate, &input)?;
        if predicate.ty() != Ty::Bool {
            return Err(context.expr_error(ExprError::TypeMismatch {
                message: format!(
                    "the predicate {:?} is {}, not bool",
                    excerpt(&params.predicate),
                    predicate.ty()
                ),
            }));
        }
        Ok(input)
    }

    fn build(
        &self,
        params: &FilterParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        Ok(Built::Operator(Box::new(Filter::new(
            &params.predicate,
            &context.input(0),
        )?)))
    }
}
