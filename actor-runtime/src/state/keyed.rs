//! A keyed state map: key bytes (a key's encoded columns, as
//! [`crate::kernels::rows::encode_key`] writes them) to a value, kept per
//! key group so a snapshot is one blob per group and a restore takes whole
//! groups.
//!
//! Memory is counted as it changes — each entry's key and value bytes
//! plus a fixed overhead per entry for the hash table's slot — against the
//! budget the state was given. An update that would pass it fails with
//! [`StateError::OverBudget`] and leaves the state as it was.

use std::collections::HashMap;

use super::key_group::{key_group_of, KeyGroupRange};
use super::snapshot::KeyedSnapshot;
use super::StateError;

/// Bytes counted per entry beyond its key and value: the table slot, the
/// key's box and the value's inline size, roughly.
pub const ENTRY_OVERHEAD: usize = 48;

/// A value keyed state can hold: encodable into a snapshot blob and
/// decodable from one, with the heap bytes it holds for the budget.
pub trait StateValue: Sized {
    /// Appends the value's bytes.
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads a value from the front of `bytes`, advancing it.
    fn decode(bytes: &mut &[u8]) -> Result<Self, StateError>;
    /// Bytes the value holds beyond its inline size.
    fn heap_bytes(&self) -> usize {
        0
    }
}

fn take<'a>(bytes: &mut &'a [u8], len: usize) -> Result<&'a [u8], StateError> {
    if bytes.len() < len {
        return Err(StateError::Corrupt(format!(
            "a value needs {len} bytes, {} remain",
            bytes.len()
        )));
    }
    let (head, rest) = bytes.split_at(len);
    *bytes = rest;
    Ok(head)
}

fn word(bytes: &mut &[u8]) -> Result<[u8; 8], StateError> {
    let mut word = [0u8; 8];
    word.copy_from_slice(take(bytes, 8)?);
    Ok(word)
}

impl StateValue for i64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self, StateError> {
        Ok(i64::from_le_bytes(word(bytes)?))
    }
}

impl StateValue for u64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self, StateError> {
        Ok(u64::from_le_bytes(word(bytes)?))
    }
}

impl StateValue for f64 {
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bits().to_le_bytes());
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self, StateError> {
        Ok(f64::from_bits(u64::from_le_bytes(word(bytes)?)))
    }
}

impl StateValue for Vec<u8> {
    fn encode(&self, out: &mut Vec<u8>) {
        (self.len() as u64).encode(out);
        out.extend_from_slice(self);
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self, StateError> {
        let len = u64::decode(bytes)?;
        let len = usize::try_from(len)
            .map_err(|_| StateError::Corrupt(format!("a value of {len} bytes")))?;
        Ok(take(bytes, len)?.to_vec())
    }
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl<A: StateValue, B: StateValue> StateValue for (A, B) {
    fn encode(&self, out: &mut Vec<u8>) {
        self.0.encode(out);
        self.1.encode(out);
    }
    fn decode(bytes: &mut &[u8]) -> Result<Self, StateError> {
        Ok((A::decode(bytes)?, B::decode(bytes)?))
    }
    fn heap_bytes(&self) -> usize {
        self.0.heap_bytes() + self.1.heap_bytes()
    }
}

/// Keyed state of one operator subtask: the key groups it owns, each a
/// map from key bytes to a value.
#[derive(Debug)]
pub struct KeyedState<V> {
    name: String,
    key_groups: u32,
    range: KeyGroupRange,
    groups: Vec<HashMap<Box<[u8]>, V>>,
    keys: usize,
    bytes: usize,
    budget: usize,
}

impl<V: StateValue> KeyedState<V> {
    /// Empty state named `name` (its operator, for errors) over `range`
    /// of a job's `key_groups`, holding at most `budget` bytes.
    pub fn new(name: &str, key_groups: u32, range: KeyGroupRange, budget: usize) -> Self {
        Self {
            name: name.to_string(),
            key_groups,
            range,
            groups: (0..range.len()).map(|_| HashMap::new()).collect(),
            keys: 0,
            bytes: 0,
            budget,
        }
    }

    fn slot(&self, hash: u64) -> Option<usize> {
        let group = key_group_of(hash, self.key_groups);
        self.range
            .contains(group)
            .then(|| (group - self.range.start) as usize)
    }

    fn entry_bytes(key: &[u8], value: &V) -> usize {
        key.len() + value.heap_bytes() + ENTRY_OVERHEAD
    }

    /// The value of `key` (whose row hash is `hash`), if any.
    pub fn get(&self, key: &[u8], hash: u64) -> Option<&V> {
        self.groups.get(self.slot(hash)?)?.get(key)
    }

    /// Sets, changes or removes `key`'s value: `change` gets the current
    /// value (or `None`) and returns the new one (or `None` to remove).
    /// Fails, changing nothing, if the result would pass the budget or the
    /// key's group is not this subtask's (a routing bug).
    pub fn update(
        &mut self,
        key: &[u8],
        hash: u64,
        change: impl FnOnce(Option<&V>) -> Option<V>,
    ) -> Result<(), StateError> {
        let slot = self.slot(hash).ok_or_else(|| {
            StateError::Corrupt(format!(
                "state {}: a key of group {} reached the subtask owning groups {}..{}",
                self.name,
                key_group_of(hash, self.key_groups),
                self.range.start,
                self.range.end
            ))
        })?;
        let map = &mut self.groups[slot];
        let old = map.get(key);
        let old_bytes = old.map_or(0, |v| Self::entry_bytes(key, v));
        let new = change(old);
        let new_bytes = new.as_ref().map_or(0, |v| Self::entry_bytes(key, v));
        let bytes = self.bytes - old_bytes + new_bytes;
        if new_bytes > old_bytes && bytes > self.budget {
            return Err(StateError::OverBudget {
                state: self.name.clone(),
                budget: self.budget,
                keys: self.keys,
            });
        }
        self.bytes = bytes;
        match new {
            Some(value) => {
                if map.insert(key.into(), value).is_none() {
                    self.keys += 1;
                }
            }
            None => {
                if map.remove(key).is_some() {
                    self.keys -= 1;
                }
            }
        }
        Ok(())
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        self.keys
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    /// Bytes held, as counted against the budget.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Every (key, value), group by group.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &V)> {
        self.groups
            .iter()
            .flat_map(|map| map.iter().map(|(k, v)| (&**k, v)))
    }

    /// A snapshot: one blob per group that holds keys (entries as key
    /// length, key, value, in the map's order).
    pub fn snapshot(&self) -> KeyedSnapshot {
        let mut snapshot = KeyedSnapshot::new(self.key_groups);
        for (slot, map) in self.groups.iter().enumerate() {
            if map.is_empty() {
                continue;
            }
            let mut blob = Vec::new();
            for (key, value) in map {
                (key.len() as u64).encode(&mut blob);
                blob.extend_from_slice(key);
                value.encode(&mut blob);
            }
            snapshot.groups.insert(self.range.start + slot as u32, blob);
        }
        snapshot
    }

    /// Adds the groups of `snapshot` this subtask owns (others are left
    /// to their owners), within the budget.
    pub fn restore(&mut self, snapshot: &KeyedSnapshot) -> Result<(), StateError> {
        if snapshot.key_groups != self.key_groups {
            return Err(StateError::Corrupt(format!(
                "a snapshot of {} key groups cannot restore state of {}",
                snapshot.key_groups, self.key_groups
            )));
        }
        for (&group, blob) in snapshot.groups.range(self.range.start..self.range.end) {
            let slot = (group - self.range.start) as usize;
            let mut bytes = blob.as_slice();
            while !bytes.is_empty() {
                let key = Vec::<u8>::decode(&mut bytes)?;
                let value = V::decode(&mut bytes)?;
                let added = Self::entry_bytes(&key, &value);
                if self.bytes + added > self.budget {
                    return Err(StateError::OverBudget {
                        state: self.name.clone(),
                        budget: self.budget,
                        keys: self.keys,
                    });
                }
                if self.groups[slot].insert(key.into(), value).is_none() {
                    self.keys += 1;
                    self.bytes += added;
                }
            }
        }
        Ok(())
    }
}
