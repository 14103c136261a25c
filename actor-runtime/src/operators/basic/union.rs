//! `union`: every batch of every input (all with the same column names
//! and types), unchanged but for the schema it carries, and its catalogue
//! definition (it takes no params).

use crate::catalogue::{BuildContext, Built, NoParams, OperatorDefinition, SchemaContext};
use crate::data::Schema;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::spec::SpecError;

/// `union` (and any pass-through): every input batch, unchanged.
pub struct Union {
    schema: Schema,
}

impl Union {
    /// A union of inputs of `schema`.
    pub fn new(schema: &Schema) -> Self {
        Self {
            schema: schema.clone(),
        }
    }
}

impl Operator for Union {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        out.emit(rows.to_batch(&self.schema)?)
    }
}

/// `name TYPE, …` of `schema`, as a union's error shows it.
fn columns_of(schema: &Schema) -> String {
    schema
        .fields
        .iter()
        .map(|f| format!("{} {:?}", f.name, f.data_type))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The catalogue's `union`.
pub struct UnionDefinition;

impl OperatorDefinition for UnionDefinition {
    type Params = NoParams;

    /// Stateless: each batch on its own.
    fn checkpointable(&self, _: &NoParams) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "union"
    }

    fn inputs(&self) -> (usize, usize) {
        (1, usize::MAX)
    }

    /// Each row is kept (or computed) with its kind.
    fn changelog(&self, _: &NoParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        crate::catalogue::pass_changelog(context)
    }

    fn output_schema(
        &self,
        _: &NoParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let mut output = inputs.first().cloned().unwrap_or_default();
        for (i, other) in inputs.iter().enumerate().skip(1) {
            let same_columns = other.fields.len() == output.fields.len()
                && other
                    .fields
                    .iter()
                    .zip(&output.fields)
                    .all(|(a, b)| a.name == b.name && a.data_type == b.data_type);
            if !same_columns {
                return Err(context.schema_error(format!(
                    "union input {i} has other columns than input 0 ({} vs {})",
                    columns_of(other),
                    columns_of(&output)
                )));
            }
            // A column that may be null in any input may be null in the
            // union; its batches are stamped with that schema.
            for (field, other) in output.fields.iter_mut().zip(&other.fields) {
                field.nullable |= other.nullable;
            }
        }
        Ok(output)
    }

    fn build(&self, _: &NoParams, context: &BuildContext<'_>) -> Result<Built, OperatorError> {
        Ok(Built::Operator(Box::new(Union::new(&context.step.output))))
    }
}
