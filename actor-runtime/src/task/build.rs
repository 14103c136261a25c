//! Instantiates a chain's operators from its plan steps.

use crate::operator::{Operator, OperatorError, Source};
use crate::operators::aggregate::{Aggregate, AggregateMode};
use crate::operators::basic::{
    Blackhole, Collect, Collected, Explode, Filter, Generate, Project, Union,
};
use crate::operators::files::Files;
use crate::operators::join::HashJoin;
use crate::operators::read::Read;
use crate::operators::sort::{Sort, TopN};
use crate::plan::Step;
use crate::spec::operators::{AggregateParams, JoinParams};
use crate::spec::OperatorSpec;

/// Memory a stateful operator may hold when its spec gives no
/// `memory_bytes`: aggregate and sort spill beyond it, hash join fails;
/// top-n (which has no setting) fails beyond it.
pub const DEFAULT_MEMORY_BYTES: u64 = 1 << 30;

/// A chain's operators: an optional source head, then operators.
pub struct ChainOperators {
    /// The head, if the chain starts with a source.
    pub source: Option<Box<dyn Source>>,
    /// The operators, in chain order.
    pub operators: Vec<Box<dyn Operator>>,
}

/// Builds the operators of `steps`; `collect` receives `collect` sinks'
/// rows.
pub fn build(steps: &[Step], collect: &Collected) -> Result<ChainOperators, OperatorError> {
    let mut source: Option<Box<dyn Source>> = None;
    let mut operators: Vec<Box<dyn Operator>> = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let input = step.input_schemas.first().cloned().unwrap_or_default();
        let unsupported = |what: &str| {
            OperatorError::BadInput(format!(
                "vertex {}: {what} is not built yet in this runtime",
                step.vertex
            ))
        };
        let operator: Box<dyn Operator> = match &step.operator {
            OperatorSpec::Generate(params) if i == 0 => {
                source = Some(Box::new(Generate::new(params.clone())?));
                continue;
            }
            OperatorSpec::Generate(_) => {
                return Err(unsupported("a source in the middle of a chain"))
            }
            OperatorSpec::Read(params) if i == 0 => {
                source = Some(Box::new(Read::new(params.clone())));
                continue;
            }
            OperatorSpec::Read(_) => return Err(unsupported("a source in the middle of a chain")),
            OperatorSpec::Files(params) => Box::new(Files::new(params.clone(), &input)),
            OperatorSpec::Filter(params) => Box::new(Filter::new(&params.predicate, &input)?),
            OperatorSpec::Project(params) => Box::new(Project::new(&params.columns, &input)?),
            OperatorSpec::Explode(params) => {
                Box::new(Explode::new(&params.column, &input, &step.output)?)
            }
            OperatorSpec::Aggregate(params) => Box::new(Aggregate::new(
                &AggregateParams {
                    memory_bytes: params.memory_bytes.or(Some(DEFAULT_MEMORY_BYTES)),
                    ..params.clone()
                },
                &input,
                step.aggregate_mode.unwrap_or(AggregateMode::Complete),
            )?),
            OperatorSpec::Sort(params) => Box::new(Sort::new(
                &params.keys,
                &input,
                params.memory_bytes.or(Some(DEFAULT_MEMORY_BYTES)),
            )?),
            OperatorSpec::TopN(params) => Box::new(TopN::new(
                &params.keys,
                &input,
                params.limit,
                DEFAULT_MEMORY_BYTES,
            )?),
            OperatorSpec::HashJoin(params) => {
                let right = step.input_schemas.get(1).cloned().unwrap_or_default();
                let params = JoinParams {
                    memory_bytes: params.memory_bytes.or(Some(DEFAULT_MEMORY_BYTES)),
                    ..params.clone()
                };
                Box::new(HashJoin::new(&params, &input, &right, &step.output)?)
            }
            OperatorSpec::Union => Box::new(Union::new(&input)),
            OperatorSpec::Blackhole => Box::new(Blackhole::default()),
            OperatorSpec::Collect(params) => {
                Box::new(Collect::new(&input, params.limit, collect.clone()))
            }
        };
        operators.push(operator);
    }
    Ok(ChainOperators { source, operators })
}
