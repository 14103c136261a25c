//! A keyed state snapshot: one opaque blob per key group, in a checked
//! byte format a checkpoint store can keep as one object.
//!
//! Layout, little-endian: magic `FKS1`, the job's key group count (u32),
//! the number of groups present (u32); then per group: its id (u32), the
//! blob's length (u64), the blob; last, the CRC-32C of everything before
//! it. Groups are in increasing order and each appears once. Decoding
//! checks all of it, so a truncated or corrupted snapshot is an error
//! naming what is wrong, never a wrong state.
//!
//! Restoring at another parallelism reads the snapshots of every old
//! subtask and keeps the groups the new subtask owns
//! ([`KeyedSnapshot::restrict`]).

use std::collections::BTreeMap;

use super::key_group::KeyGroupRange;
use super::StateError;

const MAGIC: &[u8; 4] = b"FKS1";

/// Per-key-group blobs of one keyed state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyedSnapshot {
    /// The job's key group count.
    pub key_groups: u32,
    /// The groups holding state, with their blobs.
    pub groups: BTreeMap<u32, Vec<u8>>,
}

impl KeyedSnapshot {
    /// An empty snapshot for a job of `key_groups` groups.
    pub fn new(key_groups: u32) -> Self {
        Self {
            key_groups,
            groups: BTreeMap::new(),
        }
    }

    /// The snapshot's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode_blobs(MAGIC, self.key_groups, &self.groups)
    }

    /// Reads a snapshot back, checking every field and checksum.
    pub fn decode(bytes: &[u8]) -> Result<Self, StateError> {
        let (key_groups, groups) =
            decode_blobs(MAGIC, "keyed state snapshot", bytes).map_err(StateError::Corrupt)?;
        Ok(Self { key_groups, groups })
    }

    /// Keeps the groups of `range` from several snapshots (one per old
    /// subtask): what a subtask restores after a change of parallelism.
    pub fn restrict<'a>(
        snapshots: impl IntoIterator<Item = &'a KeyedSnapshot>,
        key_groups: u32,
        range: KeyGroupRange,
    ) -> Result<Self, StateError> {
        let mut out = Self::new(key_groups);
        for snapshot in snapshots {
            if snapshot.key_groups != key_groups {
                return Err(StateError::Corrupt(format!(
                    "a snapshot of {} key groups cannot restore a job of {key_groups}",
                    snapshot.key_groups
                )));
            }
            for (group, blob) in snapshot.groups.range(range.start..range.end) {
                if out.groups.insert(*group, blob.clone()).is_some() {
                    return Err(StateError::Corrupt(format!(
                        "group {group} is in two snapshots"
                    )));
                }
            }
        }
        Ok(out)
    }
}

/// Encodes numbered blobs (ids below `bound`) in the checked layout the
/// module header describes, behind `magic`: keyed snapshots (one blob
/// per key group) and a task's checkpoint (one per operator) share it.
pub(crate) fn encode_blobs(magic: &[u8; 4], bound: u32, blobs: &BTreeMap<u32, Vec<u8>>) -> Vec<u8> {
    let body: usize = blobs.values().map(|b| b.len() + 12).sum();
    let mut out = Vec::with_capacity(16 + body);
    out.extend_from_slice(magic);
    out.extend_from_slice(&bound.to_le_bytes());
    out.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for (id, blob) in blobs {
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
        out.extend_from_slice(blob);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads what [`encode_blobs`] wrote behind `magic` (`what` names it in
/// errors): the bound and the blobs, every field and the checksum checked.
pub(crate) fn decode_blobs(
    magic: &[u8; 4],
    what: &str,
    bytes: &[u8],
) -> Result<(u32, BTreeMap<u32, Vec<u8>>), String> {
    let Some(body_len) = bytes.len().checked_sub(4) else {
        return Err("truncated: no checksum".into());
    };
    let (bytes, trailer) = bytes.split_at(body_len);
    let mut stored = [0u8; 4];
    stored.copy_from_slice(trailer);
    if crc32c::crc32c(bytes) != u32::from_le_bytes(stored) {
        return Err("checksum mismatch: truncated or corrupted".into());
    }
    let mut reader = Reader { bytes, at: 0 };
    if reader.take(4, "the magic")? != magic {
        return Err(format!("not a {what}"));
    }
    let bound = reader.u32("the id bound")?;
    let count = reader.u32("the blob count")?;
    if count > bound {
        return Err(format!("{count} blobs where at most {bound} may be"));
    }
    let mut blobs = BTreeMap::new();
    let mut previous = None;
    for _ in 0..count {
        let id = reader.u32("an id")?;
        if id >= bound || previous.is_some_and(|p| id <= p) {
            return Err(format!("blob {id} out of order or out of 0..{bound}"));
        }
        previous = Some(id);
        let len = reader.u64("a blob length")?;
        let len = usize::try_from(len).map_err(|_| format!("blob {id}: length {len}"))?;
        let blob = reader.take(len, "a blob")?;
        blobs.insert(id, blob.to_vec());
    }
    if reader.at != bytes.len() {
        return Err(format!(
            "{} bytes after the last blob",
            bytes.len() - reader.at
        ));
    }
    Ok((bound, blobs))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &str) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at byte {} reading {what}", self.at));
        };
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self, what: &str) -> Result<u32, String> {
        let mut word = [0u8; 4];
        word.copy_from_slice(self.take(4, what)?);
        Ok(u32::from_le_bytes(word))
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8, what)?);
        Ok(u64::from_le_bytes(word))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> KeyedSnapshot {
        let mut snapshot = KeyedSnapshot::new(8);
        snapshot.groups.insert(1, b"one".to_vec());
        snapshot.groups.insert(5, vec![]);
        snapshot.groups.insert(7, vec![7; 300]);
        snapshot
    }

    #[test]
    fn a_snapshot_round_trips() {
        let snapshot = sample();
        assert_eq!(KeyedSnapshot::decode(&snapshot.encode()).unwrap(), snapshot);
        let empty = KeyedSnapshot::new(128);
        assert_eq!(KeyedSnapshot::decode(&empty.encode()).unwrap(), empty);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error() {
        let bytes = sample().encode();
        for len in 0..bytes.len() {
            assert!(
                KeyedSnapshot::decode(&bytes[..len]).is_err(),
                "cut at {len}"
            );
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x40;
            assert!(KeyedSnapshot::decode(&bad).is_err(), "flip at {at}");
        }
        let mut longer = bytes;
        longer.push(0);
        assert!(KeyedSnapshot::decode(&longer).is_err());
    }

    #[test]
    fn restricting_takes_a_new_subtasks_groups_from_every_old_one() {
        let mut first = KeyedSnapshot::new(8);
        first.groups.insert(0, b"a".to_vec());
        first.groups.insert(3, b"b".to_vec());
        let mut second = KeyedSnapshot::new(8);
        second.groups.insert(4, b"c".to_vec());
        second.groups.insert(6, b"d".to_vec());
        let range = KeyGroupRange { start: 3, end: 6 };
        let restored = KeyedSnapshot::restrict([&first, &second], 8, range).unwrap();
        assert_eq!(restored.groups.keys().copied().collect::<Vec<_>>(), [3, 4]);
        let wrong = KeyedSnapshot::restrict([&KeyedSnapshot::new(16)], 8, range).unwrap_err();
        assert!(wrong.to_string().contains("16 key groups"), "{wrong}");
        let twice = KeyedSnapshot::restrict([&first, &first], 8, range).unwrap_err();
        assert!(twice.to_string().contains("group 3 is in two"), "{twice}");
    }
}
