//! [`OperatorSpec`]: a vertex's operator once parsed — its definition
//! bound to its typed params. Each definition has a params type of its
//! own; this is the one place that hides which, so validation, the plan
//! and the task builder hold one type whatever the operator, while every
//! hook a definition writes still receives its own typed params.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use super::definition::{BuildContext, Built, EpochOutcome, OperatorDefinition, OperatorState};
use super::schema::SchemaContext;
use crate::data::Schema;
use crate::operator::OperatorError;
use crate::spec::SpecError;

/// A catalogue entry: a definition seen without its params type, as the
/// catalogue lists it. Every [`OperatorDefinition`] is one.
pub trait CatalogueEntry: Send + Sync {
    /// The operator's name, as specs write it.
    fn name(&self) -> &'static str;

    /// Whether it is a source.
    fn is_source(&self) -> bool;

    /// Whether it is a sink.
    fn is_sink(&self) -> bool;

    /// How many inputs it takes: `(min, max)`.
    fn inputs(&self) -> (usize, usize);

    /// Whether its input must be cached (see
    /// [`OperatorDefinition::cached_input`]).
    fn cached_input(&self) -> bool;

    /// Parses `vertex`'s params into a spec of this operator.
    fn bind(
        &'static self,
        vertex: &str,
        params: &serde_json::Value,
    ) -> Result<OperatorSpec, SpecError>;
}

impl<D: OperatorDefinition> CatalogueEntry for D {
    fn name(&self) -> &'static str {
        OperatorDefinition::name(self)
    }

    fn is_source(&self) -> bool {
        OperatorDefinition::is_source(self)
    }

    fn is_sink(&self) -> bool {
        OperatorDefinition::is_sink(self)
    }

    fn inputs(&self) -> (usize, usize) {
        OperatorDefinition::inputs(self)
    }

    fn cached_input(&self) -> bool {
        OperatorDefinition::cached_input(self)
    }

    fn bind(
        &'static self,
        vertex: &str,
        params: &serde_json::Value,
    ) -> Result<OperatorSpec, SpecError> {
        let params = self.parse(vertex, params)?;
        Ok(OperatorSpec(Arc::new(Bound {
            definition: self,
            params,
        })))
    }
}

/// A definition with its params: what [`OperatorSpec`] holds.
struct Bound<D: OperatorDefinition> {
    definition: &'static D,
    params: D::Params,
}

/// The hooks of [`OperatorDefinition`] with the params already bound.
trait BoundHooks: Send + Sync {
    fn entry(&self) -> &'static dyn CatalogueEntry;
    fn params(&self) -> &dyn Any;
    fn same(&self, other: &dyn BoundHooks) -> bool;
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn order_inputs(&self, vertex: &str, from: &[&str]) -> Result<Vec<usize>, SpecError>;
    fn is_unbounded(&self) -> bool;
    fn checkpointable(&self) -> bool;
    fn output_schema(
        &self,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError>;
    fn state(&self, inputs: &[Schema]) -> Option<OperatorState>;
    fn divisible_input(&self, input: usize) -> bool;
    fn changelog(&self, context: &SchemaContext<'_>) -> Result<bool, String>;
    fn combine(&self, input: &Schema, hash_keys: &[String]) -> Option<Schema>;
    fn build(&self, context: &BuildContext<'_>) -> Result<Built, OperatorError>;
    fn after_epoch(&self, collected: &[crate::data::Batch])
        -> Option<Result<EpochOutcome, String>>;
}

impl<D: OperatorDefinition> BoundHooks for Bound<D> {
    fn entry(&self) -> &'static dyn CatalogueEntry {
        self.definition
    }

    fn params(&self) -> &dyn Any {
        &self.params
    }

    fn same(&self, other: &dyn BoundHooks) -> bool {
        // Params of another type belong to another operator.
        other
            .params()
            .downcast_ref::<D::Params>()
            .is_some_and(|params| {
                other.entry().name() == OperatorDefinition::name(self.definition)
                    && *params == self.params
            })
    }

    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple(OperatorDefinition::name(self.definition))
            .field(&self.params)
            .finish()
    }

    fn order_inputs(&self, vertex: &str, from: &[&str]) -> Result<Vec<usize>, SpecError> {
        self.definition.order_inputs(vertex, &self.params, from)
    }

    fn is_unbounded(&self) -> bool {
        self.definition.is_unbounded(&self.params)
    }

    fn checkpointable(&self) -> bool {
        self.definition.checkpointable(&self.params)
    }

    fn output_schema(
        &self,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        self.definition.output_schema(&self.params, context, inputs)
    }

    fn state(&self, inputs: &[Schema]) -> Option<OperatorState> {
        self.definition.state(&self.params, inputs)
    }

    fn divisible_input(&self, input: usize) -> bool {
        self.definition.divisible_input(&self.params, input)
    }

    fn combine(&self, input: &Schema, hash_keys: &[String]) -> Option<Schema> {
        self.definition.combine(&self.params, input, hash_keys)
    }

    fn changelog(&self, context: &SchemaContext<'_>) -> Result<bool, String> {
        self.definition.changelog(&self.params, context)
    }

    fn build(&self, context: &BuildContext<'_>) -> Result<Built, OperatorError> {
        self.definition.build(&self.params, context)
    }

    fn after_epoch(
        &self,
        collected: &[crate::data::Batch],
    ) -> Option<Result<EpochOutcome, String>> {
        self.definition.after_epoch(&self.params, collected)
    }
}

/// A built-in operator with its parameters, parsed by its catalogue
/// definition. Cloning shares the params.
#[derive(Clone)]
pub struct OperatorSpec(Arc<dyn BoundHooks>);

impl OperatorSpec {
    /// The spec of the operator called `operator` with `params`, for
    /// vertex `vertex`.
    pub fn parse(
        vertex: &str,
        operator: &str,
        params: &serde_json::Value,
    ) -> Result<Self, SpecError> {
        super::lookup(operator)
            .ok_or_else(|| SpecError::UnknownOperator {
                vertex: vertex.to_string(),
                operator: operator.to_string(),
            })?
            .bind(vertex, params)
    }

    /// Its catalogue entry.
    pub fn definition(&self) -> &'static dyn CatalogueEntry {
        self.0.entry()
    }

    /// The operator's name.
    pub fn name(&self) -> &'static str {
        self.definition().name()
    }

    /// Its params, if they are of type `P`.
    pub fn params<P: 'static>(&self) -> Option<&P> {
        self.0.params().downcast_ref()
    }

    /// How many inputs it takes: `(min, max)`.
    pub fn inputs(&self) -> (usize, usize) {
        self.definition().inputs()
    }

    /// Whether it is a source.
    pub fn is_source(&self) -> bool {
        self.definition().is_source()
    }

    /// Whether its output goes nowhere (a sink).
    pub fn is_sink(&self) -> bool {
        self.definition().is_sink()
    }

    /// See [`OperatorDefinition::checkpointable`].
    pub fn checkpointable(&self) -> bool {
        self.0.checkpointable()
    }

    /// See [`OperatorDefinition::is_unbounded`].
    pub fn is_unbounded(&self) -> bool {
        self.0.is_unbounded()
    }

    /// See [`OperatorDefinition::order_inputs`].
    pub fn order_inputs(&self, vertex: &str, from: &[&str]) -> Result<Vec<usize>, SpecError> {
        self.0.order_inputs(vertex, from)
    }

    /// See [`OperatorDefinition::output_schema`].
    pub fn output_schema(
        &self,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        self.0.output_schema(context, inputs)
    }

    /// See [`OperatorDefinition::state`].
    pub fn state(&self, inputs: &[Schema]) -> Option<OperatorState> {
        self.0.state(inputs)
    }

    /// See [`OperatorDefinition::divisible_input`].
    pub fn divisible_input(&self, input: usize) -> bool {
        self.0.divisible_input(input)
    }

    /// See [`OperatorDefinition::changelog`].
    pub fn changelog(&self, context: &SchemaContext<'_>) -> Result<bool, String> {
        self.0.changelog(context)
    }

    /// See [`OperatorDefinition::combine`].
    pub fn combine(&self, input: &Schema, hash_keys: &[String]) -> Option<Schema> {
        self.0.combine(input, hash_keys)
    }

    /// See [`OperatorDefinition::build`].
    pub fn build(&self, context: &BuildContext<'_>) -> Result<Built, OperatorError> {
        self.0.build(context)
    }

    /// See [`OperatorDefinition::after_epoch`].
    pub fn after_epoch(
        &self,
        collected: &[crate::data::Batch],
    ) -> Option<Result<EpochOutcome, String>> {
        self.0.after_epoch(collected)
    }
}

impl PartialEq for OperatorSpec {
    fn eq(&self, other: &Self) -> bool {
        self.0.same(&*other.0)
    }
}

impl fmt::Debug for OperatorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(f)
    }
}
