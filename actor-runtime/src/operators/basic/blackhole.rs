//! `blackhole`: a sink that counts its rows and discards them, and its
//! catalogue definition (it takes no params).

use crate::catalogue::{BuildContext, Built, NoParams, OperatorDefinition, SchemaContext};
use crate::data::Schema;
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::spec::SpecError;

/// `blackhole`: counts and discards.
#[derive(Debug, Default)]
pub struct Blackhole {
    /// Rows discarded.
    pub rows: u64,
}

impl Operator for Blackhole {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        self.rows += rows.rows as u64;
        Ok(())
    }

    fn rows_sunk(&self) -> u64 {
        self.rows
    }
}

/// The catalogue's `blackhole`.
pub struct BlackholeDefinition;

impl OperatorDefinition for BlackholeDefinition {
    type Params = NoParams;

    /// Each row on its own.
    fn divisible_input(&self, _: &NoParams, _: usize) -> bool {
        true
    }

    /// Stateless: each batch on its own.
    fn checkpointable(&self, _: &NoParams) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "blackhole"
    }

    fn is_sink(&self) -> bool {
        true
    }

    /// Rows go nowhere, whatever their kind.
    fn changelog(&self, _: &NoParams, _: &SchemaContext<'_>) -> Result<bool, String> {
        Ok(false)
    }

    fn output_schema(
        &self,
        _: &NoParams,
        _: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        Ok(inputs.first().cloned().unwrap_or_default())
    }

    fn build(&self, _: &NoParams, _: &BuildContext<'_>) -> Result<Built, OperatorError> {
        Ok(Built::Operator(Box::<Blackhole>::default()))
    }
}
