//! An aggregate's columns resolved against its raw input: its output
//! schema and the schema of its per-group state. Validation, the planner's
//! split and the operator all take them from here, so what a vertex is
//! validated to produce is what its operator produces.

use super::accumulator::Accumulator;
use super::{AggregateFunction, AggregateParams};
use crate::catalogue::column_index;
use crate::data::{DataType, Field, Schema};
use crate::expr::{Expr, Ty};
use crate::spec::SpecError;

/// What a table needs to know about one aggregate it computes.
#[derive(Debug, Clone)]
pub(super) struct AggregateColumn {
    pub(super) name: String,
    pub(super) function: AggregateFunction,
    /// The type of its state: sum, min and max keep the argument's.
    pub(super) data_type: DataType,
}

/// An aggregate's keys and columns resolved against its raw input.
pub struct AggregateShape {
    /// Positions of the key columns in the raw input.
    pub(super) keys: Vec<usize>,
    pub(super) key_fields: Vec<Field>,
    /// Each aggregate's compiled argument.
    pub(super) args: Vec<Option<Expr>>,
    pub(super) columns: Vec<AggregateColumn>,
    output: Schema,
}

impl AggregateShape {
    /// `params` resolved against rows of `input`; errors name `place`.
    pub fn new(place: &str, params: &AggregateParams, input: &Schema) -> Result<Self, SpecError> {
        let mut keys = Vec::new();
        let mut key_fields = Vec::new();
        for name in &params.group_by {
            let index = column_index(place, input, name)?;
            keys.push(index);
            key_fields.push(input.fields[index].clone());
        }
        let mut args = Vec::new();
        let mut columns = Vec::new();
        let mut fields = key_fields.clone();
        for aggregate in &params.aggregates {
            let arg = aggregate
                .expr
                .as_deref()
                .map(|e| Expr::compile(e, input))
                .transpose()
                .map_err(|error| SpecError::Expr {
                    place: place.to_string(),
                    error,
                })?;
            let field = aggregate_field(place, &aggregate.name, aggregate.function, arg.as_ref())?;
            columns.push(AggregateColumn {
                name: aggregate.name.clone(),
                function: aggregate.function,
                data_type: match aggregate.function {
                    AggregateFunction::Count
                    | AggregateFunction::CountDistinct
                    | AggregateFunction::Avg => field.data_type,
                    _ => arg.as_ref().map_or(field.data_type, Expr::data_type),
                },
            });
            fields.push(field);
            args.push(arg);
        }
        Ok(Self {
            keys,
            key_fields,
            args,
            columns,
            output: Schema::new(fields),
        })
    }

    /// The schema of final output: the keys, then each aggregate's value.
    pub fn output_schema(&self) -> &Schema {
        &self.output
    }

    /// The schema of state batches: the keys, then each aggregate's state.
    pub fn state_schema(&self) -> Schema {
        let mut fields = self.key_fields.clone();
        for (column, acc) in self.columns.iter().zip(accumulators(&self.columns)) {
            fields.extend(acc.state_fields(&column.name));
        }
        Schema::new(fields)
    }
}

/// Fresh accumulators for `columns`.
pub(super) fn accumulators(columns: &[AggregateColumn]) -> Vec<Accumulator> {
    columns
        .iter()
        .map(|c| Accumulator::new(c.function, c.data_type))
        .collect()
}

/// The output field of aggregate `name`, `function` of `arg`.
fn aggregate_field(
    place: &str,
    name: &str,
    function: AggregateFunction,
    arg: Option<&Expr>,
) -> Result<Field, SpecError> {
    use AggregateFunction as A;
    let ty = arg.map(Expr::ty);
    let bad = |message: String| SpecError::Schema {
        place: place.to_string(),
        message,
    };
    Ok(match (function, ty) {
        (A::Count | A::CountDistinct, _) => Field::new(name, DataType::Int64),
        (_, None) => return Err(bad(format!("{name}: {function:?} needs an expression"))),
        (A::Sum, Some(Ty::Int64)) => Field::nullable(name, DataType::Int64),
        (A::Sum | A::Avg, Some(Ty::Float64)) | (A::Avg, Some(Ty::Int64)) => {
            Field::nullable(name, DataType::Float64)
        }
        (A::Min | A::Max, Some(ty)) if ty != Ty::Null => Field::nullable(name, ty.data_type()),
        (function, Some(ty)) => {
            return Err(bad(format!(
                "{name}: cannot take {function:?} of {ty} values"
            )))
        }
    })
}
