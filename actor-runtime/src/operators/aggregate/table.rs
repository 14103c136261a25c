//! The group table: key bytes to group number, the groups' key values in
//! arrival order, and one accumulator per aggregate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::accumulator::Accumulator;
use crate::data::{Batch, ColumnBuilder, ColumnView, Field, Schema};
use crate::kernels::rows::{append_value, encode_key};
use crate::kernels::take::take_batch;
use crate::kernels::views;
use crate::operator::OperatorError;

/// A fast, non-cryptographic hasher for encoded keys (Fx-style: keys come
/// from the job's own data, and the table is per task).
#[derive(Default)]
pub struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }
}

type KeyIndex = HashMap<Box<[u8]>, u32, BuildHasherDefault<KeyHasher>>;

/// Groups and their aggregate state.
pub struct GroupTable {
    index: KeyIndex,
    key_fields: Vec<Field>,
    keys: Vec<ColumnBuilder>,
    key_bytes: usize,
    /// One per aggregate.
    pub accumulators: Vec<Accumulator>,
    groups: usize,
    buffer: Vec<u8>,
}

impl GroupTable {
    /// An empty table.
    pub fn new(key_fields: &[Field], accumulators: &[Accumulator]) -> Self {
        Self {
            index: KeyIndex::default(),
            key_fields: key_fields.to_vec(),
            keys: key_fields
                .iter()
                .map(|f| ColumnBuilder::new(f.clone(), 0))
                .collect(),
            key_bytes: 0,
            accumulators: accumulators.iter().map(Accumulator::fresh_like).collect(),
            groups: 0,
            buffer: Vec::new(),
        }
    }

    /// A placeholder while the real table is borrowed elsewhere.
    pub fn empty() -> Self {
        Self::new(&[], &[])
    }

    /// Groups held.
    pub fn len(&self) -> usize {
        self.groups
    }

    /// Approximate bytes held.
    pub fn bytes(&self) -> usize {
        let per_group: usize = 48
            + self
                .accumulators
                .iter()
                .map(Accumulator::bytes_per_group)
                .sum::<usize>();
        self.key_bytes * 2 + self.groups * per_group
    }

    /// The group of each of `rows` rows, creating groups for new keys.
    pub fn groups_of(
        &mut self,
        key_columns: &[&ColumnView<'_>],
        rows: usize,
    ) -> Result<Vec<u32>, OperatorError> {
        let mut groups = Vec::with_capacity(rows);
        for row in 0..rows {
            self.buffer.clear();
            encode_key(key_columns, row, &mut self.buffer);
            let group = match self.index.get(self.buffer.as_slice()) {
                Some(&g) => g,
                None => {
                    let g = self.groups as u32;
                    self.index.insert(self.buffer.clone().into_boxed_slice(), g);
                    self.key_bytes += self.buffer.len();
                    for (builder, column) in self.keys.iter_mut().zip(key_columns) {
                        append_value(builder, column, row)?;
                    }
                    self.groups += 1;
                    for acc in &mut self.accumulators {
                        acc.grow(self.groups);
                    }
                    g
                }
            };
            groups.push(group);
        }
        Ok(groups)
    }

    /// Empties the table into batches of at most `chunk` rows of `schema`:
    /// keys, then each aggregate's state (`state`) or final value.
    pub fn drain(
        self,
        schema: &Schema,
        state: bool,
        chunk: usize,
    ) -> Result<Vec<Batch>, OperatorError> {
        let key_schema = Schema::new(self.key_fields.clone());
        let key_columns = self.keys.into_iter().map(ColumnBuilder::finish).collect();
        let keys = Batch::new(key_schema.clone(), self.groups, key_columns)?;
        let key_views = views(&keys);
        let mut batches = Vec::new();
        let value_fields = &schema.fields[self.key_fields.len()..];
        for start in (0..self.groups).step_by(chunk.max(1)) {
            let end = (start + chunk).min(self.groups);
            let indices: Vec<u32> = (start as u32..end as u32).collect();
            let mut columns: Vec<_> = take_batch(&key_schema, &key_views, &indices)?
                .columns()
                .to_vec();
            let mut builders: Vec<ColumnBuilder> = value_fields
                .iter()
                .map(|f| ColumnBuilder::new(f.clone(), end - start))
                .collect();
            let mut at = 0;
            for acc in &self.accumulators {
                let width = if state { acc.state_fields("").len() } else { 1 };
                for g in start..end {
                    if state {
                        acc.push_state(g, &mut builders[at..at + width])?;
                    } else {
                        acc.push_final(g, &mut builders[at])?;
                    }
                }
                at += width;
            }
            columns.extend(builders.into_iter().map(ColumnBuilder::finish));
            batches.push(Batch::new(schema.clone(), end - start, columns)?);
        }
        Ok(batches)
    }
}
