//! `generate`, the source that needs no input files: rows computed from
//! their index, split over the subtasks; its params and its catalogue
//! definition.

use serde::{Deserialize, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{Batch, Column, ColumnData, DataType, Field, Schema};
use crate::expr::{EvalContext, Expr};
use crate::operator::{OperatorContext, OperatorError, Rows, Source};
use crate::spec::limits;
use crate::spec::SpecError;

use super::project::{columns_schema, compile_columns, NamedExpr};

/// `generate`: `rows` rows whose columns are expressions over the row
/// index `i` (and seeded `random()` / `random_int(lo, hi)`), split over
/// the subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateParams {
    /// Rows in all, over all subtasks.
    pub rows: u64,
    /// The columns.
    pub columns: Vec<NamedExpr>,
    /// Seed of the random functions.
    #[serde(default)]
    pub seed: u64,
    /// Rows per produced batch.
    #[serde(default = "crate::spec::limits::default_batch_rows")]
    pub batch_rows: usize,
}

/// The schema `generate`'s expressions see: the row index.
pub fn generate_input_schema() -> Schema {
    Schema::new(vec![Field::new("i", DataType::Int64)])
}

/// `generate`: the subtask's share of `rows` rows.
pub struct Generate {
    params: GenerateParams,
    exprs: Vec<Expr>,
    schema: Schema,
    next: u64,
    end: u64,
}

impl Generate {
    /// A generator of `params`.
    pub fn new(params: GenerateParams) -> Result<Self, OperatorError> {
        let (exprs, schema) = compile_columns(&params.columns, &generate_input_schema())?;
        Ok(Self {
            params,
            exprs,
            schema,
            next: 0,
            end: 0,
        })
    }
}

impl Source for Generate {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        let rows = u128::from(self.params.rows);
        let (s, p) = (
            u128::from(context.subtask),
            u128::from(context.parallelism.max(1)),
        );
        self.next = (rows * s / p) as u64;
        self.end = (rows * (s + 1) / p) as u64;
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        if self.next >= self.end {
            return Ok(None);
        }
        let count = (self.end - self.next).min(self.params.batch_rows.max(1) as u64);
        let first = self.next;
        self.next += count;
        let index = Batch::new(
            generate_input_schema(),
            count as usize,
            vec![Column {
                validity: None,
                data: ColumnData::Int64((first as i64..(first + count) as i64).collect()),
            }],
        )?;
        let rows = Rows::of_batch(&index);
        let context = EvalContext {
            seed: self.params.seed,
            first_row: first,
        };
        let columns = self
            .exprs
            .iter()
            .map(|e| e.eval_column(&rows.input(context)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Batch::new(
            self.schema.clone(),
            count as usize,
            columns,
        )?))
    }
}

/// The catalogue's `generate`.
pub struct GenerateDefinition;

impl OperatorDefinition for GenerateDefinition {
    type Params = GenerateParams;

    fn name(&self) -> &'static str {
        "generate"
    }

    fn is_source(&self) -> bool {
        true
    }

    fn output_schema(
        &self,
        params: &GenerateParams,
        context: &SchemaContext<'_>,
        _: &[Schema],
    ) -> Result<Schema, SpecError> {
        limits::check_batch_rows(context.vertex(), params.batch_rows)?;
        limits::check_columns(context.vertex(), params.columns.len())?;
        columns_schema(context, &params.columns, &generate_input_schema())
    }

    fn build(&self, params: &GenerateParams, _: &BuildContext<'_>) -> Result<Built, OperatorError> {
        Ok(Built::Source(Box::new(Generate::new(params.clone())?)))
    }
}
