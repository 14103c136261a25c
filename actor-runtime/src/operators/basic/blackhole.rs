//! `blackhole`: a sink that counts its rows and discards them.

use crate::operator::{Emit, Operator, OperatorError, Rows};

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
}
