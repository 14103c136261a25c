//! Instantiates a chain's operators from its plan steps, each built by
//! its operator's catalogue definition.

use crate::catalogue::{BuildContext, Built};
use crate::operator::{Operator, OperatorError, Source};
use crate::operators::basic::Collected;
use crate::plan::Step;

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
        if i > 0 && step.operator.is_source() {
            return Err(OperatorError::BadInput(format!(
                "vertex {}: a source in the middle of a chain is not built yet in this runtime",
                step.vertex
            )));
        }
        let context = BuildContext {
            step,
            collected: collect,
        };
        match step.operator.build(&context)? {
            Built::Source(head) => source = Some(head),
            Built::Operator(operator) => operators.push(operator),
        }
    }
    Ok(ChainOperators { source, operators })
}
