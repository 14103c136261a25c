//! `union`: every batch of every input, unchanged.

use crate::data::Schema;
use crate::operator::{Emit, Operator, OperatorError, Rows};

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
