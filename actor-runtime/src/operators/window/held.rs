//! Where session windows keep their rows: shared batches (one per input
//! batch, or per compaction) that many sessions point into, each batch
//! freed once none of its rows is in an open session. Taking rows out
//! relabels them with their session's current bounds, which may have
//! grown by merges since they were held.

use std::collections::{BTreeMap, HashMap};

use super::assign::Window;
use crate::data::{Batch, Column, ColumnData, Schema};
use crate::kernels::take::take_batch;
use crate::kernels::views;
use crate::operator::OperatorError;

/// A held row: its batch and its position there.
pub type HeldRow = (u64, u32);

/// Rows to take out, per held batch: positions, and for each its
/// session's start and end.
pub type Taking = BTreeMap<u64, (Vec<u32>, Vec<i64>, Vec<i64>)>;

/// Adds `rows`, all of session `window`, to what `taking` takes.
pub fn schedule(taking: &mut Taking, rows: Vec<HeldRow>, window: Window) {
    for (batch, row) in rows {
        let (rows, starts, ends) = taking.entry(batch).or_default();
        rows.push(row);
        starts.push(window.start);
        ends.push(window.end);
    }
}

/// Held batches of one schema, whose columns `start` and `start + 1` are
/// the session bounds.
pub struct HeldRows {
    schema: Schema,
    start: usize,
    /// Each batch and how many of its rows are still held.
    batches: HashMap<u64, (Batch, usize)>,
    next: u64,
    bytes: u64,
    rows: usize,
}

impl HeldRows {
    /// An empty store of `schema` rows, bounds at `start`.
    pub fn new(schema: Schema, start: usize) -> Self {
        Self {
            schema,
            start,
            batches: HashMap::new(),
            next: 0,
            bytes: 0,
            rows: 0,
        }
    }

    /// Bytes of the batches held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Rows in the batches held, including those already taken.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The schema of held rows.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Keeps `batch`; its rows are `(id, 0..rows)`.
    pub fn push(&mut self, batch: Batch) -> u64 {
        let id = self.next;
        self.next += 1;
        self.bytes += batch.buffer_bytes() as u64;
        self.rows += batch.num_rows();
        let rows = batch.num_rows();
        self.batches.insert(id, (batch, rows));
        id
    }

    /// Takes rows out, relabelled with the bounds `taking` gives them,
    /// and frees the batches left with none held.
    pub fn take(&mut self, taking: Taking) -> Result<Vec<Batch>, OperatorError> {
        let mut out = Vec::with_capacity(taking.len());
        for (id, (rows, starts, ends)) in taking {
            let Some((batch, live)) = self.batches.get_mut(&id) else {
                return Err(OperatorError::BadInput(format!("held batch {id} is gone")));
            };
            let taken = take_batch(&self.schema, &views(batch), &rows)?;
            *live = live.saturating_sub(rows.len());
            if *live == 0 {
                self.bytes = self.bytes.saturating_sub(batch.buffer_bytes() as u64);
                self.rows = self.rows.saturating_sub(batch.num_rows());
                self.batches.remove(&id);
            }
            let mut columns = taken.columns().to_vec();
            for (at, values) in [(self.start, starts), (self.start + 1, ends)] {
                columns[at] = Column {
                    validity: None,
                    data: ColumnData::Timestamp(values),
                };
            }
            out.push(Batch::new(self.schema.clone(), rows.len(), columns)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchBuilder, DataType, Field, Value};

    #[test]
    fn taken_rows_carry_their_sessions_bounds_and_empty_batches_are_freed() {
        let schema = Schema::new(vec![
            Field::new("v", DataType::Int64),
            Field::new("s", DataType::Timestamp),
            Field::new("e", DataType::Timestamp),
        ]);
        let batch = |values: &[i64]| {
            let mut b = BatchBuilder::new(schema.clone(), values.len());
            for &v in values {
                let row = [Value::Int64(v), Value::Timestamp(0), Value::Timestamp(1)];
                b.push_row(&row).unwrap();
            }
            b.finish().unwrap()
        };
        let mut held = HeldRows::new(schema.clone(), 1);
        let a = held.push(batch(&[10, 11, 12]));
        let b = held.push(batch(&[20]));
        assert_eq!(held.rows(), 4);
        let both = held.bytes();
        let mut taking = Taking::new();
        taking.insert(a, (vec![2, 0], vec![5, 7], vec![9, 8]));
        taking.insert(b, (vec![0], vec![1], vec![2]));
        let taken = held.take(taking).unwrap();
        let values: Vec<Vec<Value>> = taken
            .iter()
            .flat_map(|t| {
                let columns = crate::kernels::views(t);
                (0..t.num_rows())
                    .map(|r| columns.iter().map(|c| c.value(r)).collect::<Vec<_>>())
                    .collect::<Vec<_>>()
            })
            .collect();
        let row = |v, s, e| vec![Value::Int64(v), Value::Timestamp(s), Value::Timestamp(e)];
        assert_eq!(values, [row(12, 5, 9), row(10, 7, 8), row(20, 1, 2)]);
        assert_eq!(held.rows(), 3, "batch b is freed");
        assert!(held.bytes() < both && held.bytes() > 0);
        let mut last = Taking::new();
        last.insert(a, (vec![1], vec![0], vec![1]));
        held.take(last).unwrap();
        assert_eq!((held.rows(), held.bytes()), (0, 0));
        let mut gone = Taking::new();
        gone.insert(a, (vec![0], vec![0], vec![1]));
        assert!(held.take(gone).is_err(), "a freed batch is not read");
    }
}
