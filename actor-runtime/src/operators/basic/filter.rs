//! `filter`: keeps the rows where a predicate is true.

use crate::data::Schema;
use crate::expr::{EvalContext, Expr};
use crate::kernels::take::{selected, take_batch};
use crate::operator::{Emit, Operator, OperatorError, Rows};

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
        out.emit(take_batch(&self.schema, &rows.columns, &indices)?)
    }
}
