//! `sort`'s and `top_n`'s params and catalogue definitions: both pass
//! their input's schema through (`top_n` adds its rank column when asked
//! for one), checking their key columns, and both hold input rows. In a
//! streaming job `top_n` is continuous: its output is a changelog and it
//! takes one.

use serde::{Deserialize, Serialize};

use super::{ContinuousTopN, RankingSpec, Sort, TopN};
use crate::catalogue::{BuildContext, Built, OperatorDefinition, OperatorState, SchemaContext};
use crate::data::Schema;
use crate::operator::OperatorError;
use crate::spec::SpecError;

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortKey {
    /// The column.
    pub column: String,
    /// Largest first.
    #[serde(default)]
    pub descending: bool,
}

/// `sort`: orders all rows of each subtask (external merge sort).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SortParams {
    /// Keys, most significant first.
    pub keys: Vec<SortKey>,
    /// Bytes of rows before spilling sorted runs to disk.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// `top_n`: the first `limit` rows in key order, of each partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopNParams {
    /// Keys, most significant first.
    pub keys: Vec<SortKey>,
    /// Rows kept (per partition).
    pub limit: usize,
    /// Columns whose values make a partition, ranked apart (SQL's
    /// `PARTITION BY`); none: one ranking of every row.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// A column to append with each row's 1-based number in its
    /// partition (SQL's `ROW_NUMBER()`); none: no number.
    #[serde(default)]
    pub rank: Option<String>,
    /// Bytes of rows it may hold (a batch job holds its best rows, a
    /// streaming one every row); over it the job fails `OverBudget`.
    #[serde(default)]
    pub memory_bytes: Option<u64>,
}

/// `inputs[0]`, once every key names one of its columns.
fn keyed_input(
    context: &SchemaContext<'_>,
    keys: &[SortKey],
    inputs: &[Schema],
) -> Result<Schema, SpecError> {
    let input = inputs.first().cloned().unwrap_or_default();
    for key in keys {
        context.column(&input, &key.column)?;
    }
    Ok(input)
}

/// What both keep: their input rows.
fn buffered_rows(inputs: &[Schema]) -> Option<OperatorState> {
    Some(OperatorState::Rows {
        schema: inputs.first().cloned().unwrap_or_default(),
    })
}

/// The catalogue's `sort`.
pub struct SortDefinition;

impl OperatorDefinition for SortDefinition {
    type Params = SortParams;

    fn name(&self) -> &'static str {
        "sort"
    }

    fn output_schema(
        &self,
        params: &SortParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        keyed_input(context, &params.keys, inputs)
    }

    fn state(&self, _: &SortParams, inputs: &[Schema]) -> Option<OperatorState> {
        buffered_rows(inputs)
    }

    fn build(
        &self,
        params: &SortParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let budget = context.budget(params.memory_bytes);
        let sort = Sort::new(&params.keys, &context.input(0), Some(budget))?;
        Ok(Built::Operator(Box::new(sort)))
    }
}

/// The catalogue's `top_n`.
pub struct TopNDefinition;

impl OperatorDefinition for TopNDefinition {
    type Params = TopNParams;

    fn name(&self) -> &'static str {
        "top_n"
    }

    fn output_schema(
        &self,
        params: &TopNParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = keyed_input(context, &params.keys, inputs)?;
        for column in &params.partition_by {
            context.column(&input, column)?;
        }
        if let Some(rank) = &params.rank {
            if input.index_of(rank).is_some() {
                return Err(context.bad_params(format!(
                    "its rank column {rank:?} is already a column of its input"
                )));
            }
        }
        Ok(ContinuousTopN::output_schema(
            &input,
            params.rank.as_deref(),
        ))
    }

    /// Its state is saved whole (every row it holds) and, partitioned,
    /// split by key when rescaled.
    fn checkpointable(&self, _: &TopNParams) -> bool {
        true
    }

    /// In a streaming job it is continuous ([`ContinuousTopN`]): its
    /// output is a changelog of the changes to its best rows, whether its
    /// input is one (retractions remove rows) or only grows.
    fn changelog(&self, _: &TopNParams, context: &SchemaContext<'_>) -> Result<bool, String> {
        Ok(context.streaming())
    }

    fn state(&self, _: &TopNParams, inputs: &[Schema]) -> Option<OperatorState> {
        buffered_rows(inputs)
    }

    fn build(
        &self,
        params: &TopNParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let budget = context.budget(params.memory_bytes);
        let (keys, input, limit) = (&params.keys, &context.input(0), params.limit);
        let continuous = context.changelog();
        if !continuous && params.partition_by.is_empty() && params.rank.is_none() {
            let top_n = TopN::new(keys, input, limit, budget)?;
            return Ok(Built::Operator(Box::new(top_n)));
        }
        let spec = RankingSpec {
            keys,
            partition_by: &params.partition_by,
            limit,
            rank: params.rank.as_deref(),
            budget,
            continuous,
            retracting: context.input_changelog(0),
        };
        Ok(Built::Operator(Box::new(ContinuousTopN::new(
            &spec, input,
        )?)))
    }
}
