//! `aggregate`'s params and catalogue definition: its output schema and
//! state come from [`AggregateShape`], the one place that works them out,
//! and it can combine before a shuffle on (a subset of) its group keys.

use serde::{Deserialize, Serialize};

use super::ContinuousAggregate;
use super::{retractable, Aggregate, AggregateMode, AggregateShape};
use crate::catalogue::{BuildContext, Built, OperatorDefinition, OperatorState, SchemaContext};
use crate::data::Schema;
use crate::operator::OperatorError;
use crate::plan::Phase;
use crate::spec::SpecError;

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateFunction {
    /// Rows (or non-null values of the expression).
    Count,
    /// Sum.
    Sum,
    /// Smallest value.
    Min,
    /// Largest value.
    Max,
    /// Mean, as a double.
    Avg,
    /// Distinct non-null values.
    CountDistinct,
}

/// One aggregate output column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateSpec {
    /// Output column name.
    pub name: String,
    /// The function.
    pub function: AggregateFunction,
    /// Its argument; `count` without one counts rows.
    #[serde(default)]
    pub expr: Option<String>,
}

/// `aggregate`: groups rows by key columns and computes aggregates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateParams {
    /// Key columns (none: one global group).
    #[serde(default)]
    pub group_by: Vec<String>,
    /// Output aggregates.
    pub aggregates: Vec<AggregateSpec>,
    /// Bytes of state before spilling to disk.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// The catalogue's `aggregate`.
pub struct AggregateDefinition;

impl OperatorDefinition for AggregateDefinition {
    type Params = AggregateParams;

    fn name(&self) -> &'static str {
        "aggregate"
    }

    fn output_schema(
        &self,
        params: &AggregateParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        let shape = AggregateShape::new(context.place(), params, &input)?;
        context.unique(shape.output_schema().clone())
    }

    /// In a streaming job it is continuous: its output is a changelog of
    /// updates per batch ([`ContinuousAggregate`]). It takes a changelog
    /// if all its functions can retract (count, sum, avg).
    fn changelog(
        &self,
        params: &AggregateParams,
        context: &SchemaContext<'_>,
    ) -> Result<bool, String> {
        if context.any_changelog_input() {
            if let Some(a) = params.aggregates.iter().find(|a| !retractable(a.function)) {
                let function = serde_json::to_value(a.function)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                return Err(format!(
                    "aggregate {:?} is {function}, which cannot take retractions (it would \
                     need every value seen); over a changelog only count, sum and avg can",
                    a.name
                ));
            }
        }
        Ok(context.streaming())
    }

    fn state(&self, params: &AggregateParams, inputs: &[Schema]) -> Option<OperatorState> {
        let shape = AggregateShape::new("aggregate", params, inputs.first()?).ok()?;
        Some(OperatorState::Groups {
            schema: shape.state_schema(),
            keys: params.group_by.len(),
        })
    }

    /// In a streaming job it is checkpointed in key groups, incrementally.
    fn checkpointable(&self, _: &AggregateParams) -> bool {
        true
    }

    fn combine(
        &self,
        params: &AggregateParams,
        input: &Schema,
        hash_keys: &[String],
    ) -> Option<Schema> {
        // Rows of one group must all reach one final aggregate: the
        // exchange may hash on fewer columns than the group, not others.
        let keyed = !hash_keys.is_empty() && hash_keys.iter().all(|k| params.group_by.contains(k));
        // A `count_distinct`'s partial state is its set of values, which
        // a map stage rarely shrinks (each distinct value once per map)
        // and the final merge hashes again: not combined.
        let distinct = params
            .aggregates
            .iter()
            .any(|a| a.function == AggregateFunction::CountDistinct);
        if !keyed || distinct {
            return None;
        }
        let shape = AggregateShape::new("aggregate", params, input).ok()?;
        Some(shape.state_schema())
    }

    fn build(
        &self,
        params: &AggregateParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let params = AggregateParams {
            memory_bytes: Some(context.budget(params.memory_bytes)),
            ..params.clone()
        };
        if context.changelog() {
            let aggregate = ContinuousAggregate::new(&params, &context.input(0))?;
            return Ok(Built::Operator(Box::new(aggregate)));
        }
        let mode = match context.phase() {
            Phase::Complete => AggregateMode::Complete,
            Phase::Partial => AggregateMode::Partial,
            Phase::Final => AggregateMode::Final,
        };
        let aggregate = Aggregate::new(&params, &context.input(0), mode)?;
        Ok(Built::Operator(Box::new(aggregate)))
    }
}
