//! The group table: key bytes to group number, the groups' key values in
//! arrival order, and one accumulator per aggregate.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::accumulator::Accumulator;
use crate::data::{Batch, BinaryValues, ColumnBuilder, ColumnView, Field, Schema, ValuesView};
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
        // The last 1–7 bytes as one zero-padded word, not a round per
        // byte: most text keys (words, codes, names) are shorter than a
        // word. (Their lengths are hashed too, so "a" and "a\0" differ.)
        let tail = chunks.remainder();
        if !tail.is_empty() {
            self.0 = (self.0.rotate_left(5) ^ padded_word(tail)).wrapping_mul(K);
        }
    }
}

/// `tail` (1–7 bytes) as a little-endian word padded with zeros, built
/// from loads that overlap (each byte lands in its own place, the
/// overlapping ones twice, alike) instead of a copy of variable length,
/// which is a call.
fn padded_word(tail: &[u8]) -> u64 {
    let n = tail.len();
    let half = |at: usize| {
        tail.get(at..at + 4)
            .and_then(|bytes| bytes.try_into().ok())
            .map_or(0, |bytes| u64::from(u32::from_le_bytes(bytes)))
    };
    let byte = |at: usize| tail.get(at).map_or(0, |&b| u64::from(b)) << (8 * at);
    match n {
        0 => 0,
        1..4 => byte(0) | byte(n / 2) | byte(n - 1),
        _ => half(0) | half(n - 4) << (8 * (n - 4)),
    }
}

type KeyIndex = HashMap<Box<[u8]>, u32, BuildHasherDefault<KeyHasher>>;

/// The common case of one integer key column: an open-addressing table
/// of `(key, group)` pairs with linear probing and Fibonacci hashing — no
/// key encoding, no allocation per group, one cache line per probe.
#[derive(Default)]
struct IntIndex {
    slots: Vec<(i64, u32)>,
    len: usize,
    null: Option<u32>,
}

const EMPTY: u32 = u32::MAX;

impl IntIndex {
    fn slot_of(key: i64, bits: u32) -> usize {
        ((key as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
    }

    fn grow(&mut self) {
        let capacity = (self.slots.len() * 2).max(1024);
        let bits = capacity.trailing_zeros();
        let old = std::mem::replace(&mut self.slots, vec![(0, EMPTY); capacity]);
        for (key, group) in old.into_iter().filter(|(_, g)| *g != EMPTY) {
            let mut i = Self::slot_of(key, bits);
            while self.slots[i].1 != EMPTY {
                i = (i + 1) & (capacity - 1);
            }
            self.slots[i] = (key, group);
        }
    }

    /// Makes room for `more` keys without growing mid-batch.
    fn reserve(&mut self, more: usize) {
        while (self.len + more) * 2 > self.slots.len() {
            self.grow();
        }
    }

    /// Asks the CPU to fetch `key`'s slot ahead of its probe: the table is
    /// far bigger than the caches, so each probe is otherwise a miss.
    fn prefetch(&self, key: i64) {
        if self.slots.is_empty() {
            return;
        }
        crate::kernels::prefetch::prefetch(
            &self.slots[Self::slot_of(key, self.slots.len().trailing_zeros())],
        );
    }

    /// The group of `key`, or `next` (newly assigned) and `true`.
    fn find_or_insert(&mut self, key: i64, next: u32) -> (u32, bool) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::slot_of(key, self.slots.len().trailing_zeros());
        loop {
            let (k, g) = self.slots[i];
            if g == EMPTY {
                self.slots[i] = (key, next);
                self.len += 1;
                return (next, true);
            }
            if k == key {
                return (g, false);
            }
            i = (i + 1) & mask;
        }
    }
}

/// The common case of one text key column: the text's own bytes are the
/// key (one column cannot be confused with another), looked up where
/// they lie, with no encoding copied out per row, by hashes computed for
/// the whole batch first (rows' hashes do not wait on each other, so the
/// CPU overlaps them; computed one per lookup, each waits on the last).
#[derive(Default)]
struct TextIndex {
    groups: hashbrown::HashTable<(Box<[u8]>, u32)>,
    null: Option<u32>,
}

/// The group of the null key, `next` (and `true`) if it has none yet.
fn null_group(null: &mut Option<u32>, next: u32) -> (u32, bool) {
    match *null {
        Some(group) => (group, false),
        None => {
            *null = Some(next);
            (next, true)
        }
    }
}

fn text_hash(key: &[u8]) -> u64 {
    let mut hasher = KeyHasher(key.len() as u64);
    hasher.write(key);
    // The table takes its bucket from the low bits, which a multiply
    // leaves depending on the low input bits only: fold the high in.
    let hash = hasher.finish();
    hash ^ (hash >> 29)
}

/// Whether two keys are the same bytes. Keys of up to 16 bytes (words,
/// codes, most text keys) are compared as two overlapping machine words
/// each, in a few instructions, where a general comparison is a call per
/// probe.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |bytes: &[u8], at: usize| bytes[at..at + 8].try_into().ok().map(u64::from_ne_bytes);
    let half = |bytes: &[u8], at: usize| bytes[at..at + 4].try_into().ok().map(u32::from_ne_bytes);
    match n {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// Groups and their aggregate state.
pub struct GroupTable {
    index: KeyIndex,
    ints: Option<IntIndex>,
    texts: Option<TextIndex>,
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
        let single_int = matches!(
            key_fields,
            [field] if matches!(field.data_type, crate::data::DataType::Int64 | crate::data::DataType::Timestamp)
        );
        let single_text =
            matches!(key_fields, [field] if field.data_type == crate::data::DataType::Utf8);
        Self {
            index: KeyIndex::default(),
            ints: single_int.then(IntIndex::default),
            texts: single_text.then(TextIndex::default),
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
        let held: usize = self.accumulators.iter().map(Accumulator::held_bytes).sum();
        self.key_bytes * 2 + self.groups * per_group + held
    }

    /// The group of each of `rows` rows, creating groups for new keys.
    pub fn groups_of(
        &mut self,
        key_columns: &[&ColumnView<'_>],
        rows: usize,
    ) -> Result<Vec<u32>, OperatorError> {
        if let (Some(_), [column]) = (&self.ints, key_columns) {
            if let ValuesView::Int64(values) | ValuesView::Timestamp(values) = column.values {
                return self.int_groups_of(column, values, rows);
            }
        }
        if let (Some(_), [column]) = (&self.texts, key_columns) {
            if let ValuesView::Utf8(text) = column.values {
                return self.text_groups_of(column, text.raw(), rows);
            }
        }
        let mut groups = Vec::with_capacity(rows);
        for row in 0..rows {
            self.buffer.clear();
            encode_key(key_columns, row, &mut self.buffer);
            let group = match self.index.get(self.buffer.as_slice()) {
                Some(&g) => g,
                None => {
                    self.index
                        .insert(self.buffer.clone().into_boxed_slice(), self.groups as u32);
                    self.key_bytes += self.buffer.len();
                    self.new_group(key_columns, row)?
                }
            };
            groups.push(group);
        }
        Ok(groups)
    }

    fn text_groups_of(
        &mut self,
        column: &ColumnView<'_>,
        text: BinaryValues<'_>,
        rows: usize,
    ) -> Result<Vec<u32>, OperatorError> {
        let hashes: Vec<u64> = (0..rows).map(|row| text_hash(text.value(row))).collect();
        let mut groups = Vec::with_capacity(rows);
        for (row, &hash) in hashes.iter().enumerate() {
            let next = self.groups as u32;
            let texts = self.texts.get_or_insert_with(TextIndex::default);
            let (group, created) = if column.is_null(row) {
                null_group(&mut texts.null, next)
            } else {
                let key = text.value(row);
                match texts.groups.find(hash, |(k, _)| same_key(k, key)) {
                    Some(&(_, g)) => (g, false),
                    None => {
                        let entry = (key.into(), next);
                        texts
                            .groups
                            .insert_unique(hash, entry, |(k, _)| text_hash(k));
                        self.key_bytes += key.len();
                        (next, true)
                    }
                }
            };
            if created {
                self.new_group(&[column], row)?;
            }
            groups.push(group);
        }
        Ok(groups)
    }

    fn int_groups_of(
        &mut self,
        column: &ColumnView<'_>,
        values: &[i64],
        rows: usize,
    ) -> Result<Vec<u32>, OperatorError> {
        const AHEAD: usize = 16;
        let mut groups = Vec::with_capacity(rows);
        self.ints
            .get_or_insert_with(IntIndex::default)
            .reserve(rows);
        for (row, &value) in values.iter().enumerate().take(rows) {
            let next = self.groups as u32;
            let ints = self.ints.get_or_insert_with(IntIndex::default);
            if let Some(&ahead) = values.get(row + AHEAD) {
                ints.prefetch(ahead);
            }
            let (group, created) = if column.is_null(row) {
                null_group(&mut ints.null, next)
            } else {
                ints.find_or_insert(value, next)
            };
            if created {
                self.key_bytes += 8;
                self.new_group(&[column], row)?;
            }
            groups.push(group);
        }
        Ok(groups)
    }

    /// Records a new group whose key is row `row` of `key_columns`.
    fn new_group(
        &mut self,
        key_columns: &[&ColumnView<'_>],
        row: usize,
    ) -> Result<u32, OperatorError> {
        let g = self.groups as u32;
        for (builder, column) in self.keys.iter_mut().zip(key_columns) {
            append_value(builder, column, row)?;
        }
        self.groups += 1;
        for acc in &mut self.accumulators {
            acc.grow(self.groups);
        }
        Ok(g)
    }

    /// The state rows of `groups` (keys, then each aggregate's state, as
    /// `schema` says), the table left as it is: a checkpoint's copy of
    /// some of its groups.
    pub fn state_rows(&self, schema: &Schema, groups: &[u32]) -> Result<Batch, OperatorError> {
        let mut builders: Vec<ColumnBuilder> = schema
            .fields
            .iter()
            .map(|f| ColumnBuilder::new(f.clone(), groups.len()))
            .collect();
        let (keys, values) = builders.split_at_mut(self.key_fields.len());
        for (to, from) in keys.iter_mut().zip(&self.keys) {
            for &g in groups {
                to.push_from(from, g as usize)?;
            }
        }
        let mut at = 0;
        for acc in &self.accumulators {
            let width = acc.state_fields("").len();
            for &g in groups {
                acc.push_state(g as usize, &mut values[at..at + width])?;
            }
            at += width;
        }
        let columns = builders.into_iter().map(ColumnBuilder::finish).collect();
        Ok(Batch::new(schema.clone(), groups.len(), columns)?)
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

#[cfg(test)]
mod tests {
    use super::{padded_word, same_key};

    #[test]
    fn a_short_tail_is_read_as_its_zero_padded_word() {
        for n in 1..8usize {
            let tail: Vec<u8> = (0..n as u8).map(|i| 0xa0 | i).collect();
            let mut padded = [0u8; 8];
            padded[..n].copy_from_slice(&tail);
            assert_eq!(padded_word(&tail), u64::from_le_bytes(padded), "{n} bytes");
        }
    }

    #[test]
    fn same_key_agrees_with_byte_equality_at_every_length_and_position() {
        for n in 0..=24usize {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i).collect();
            assert!(same_key(&a, &a.clone()));
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_key(&a, &b), "length {n}, differing at {at}");
            }
            let longer = [a.as_slice(), b"x"].concat();
            assert!(!same_key(&a, &longer));
        }
    }
}
