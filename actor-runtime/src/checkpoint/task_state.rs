//! One task's part of a checkpoint: the state of its source (slot 0) and
//! of each chained operator (slot *i + 1*), in the checked blob layout
//! keyed snapshots use (magic `FTS1`, CRC-32C over all), so a truncated
//! or corrupted file is an error naming what is wrong, never a wrong
//! restore.

use std::collections::BTreeMap;

use crate::state::snapshot::{decode_blobs, encode_blobs};

const MAGIC: &[u8; 4] = b"FTS1";

/// The state of one task's chain at a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskState {
    /// Slots in the chain: the source's and one per operator.
    pub slots: u32,
    /// The state of each slot that keeps any.
    pub blobs: BTreeMap<u32, Vec<u8>>,
}

impl TaskState {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        encode_blobs(MAGIC, self.slots, &self.blobs)
    }

    /// Reads a file back, checking every field and the checksum.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let (slots, blobs) = decode_blobs(MAGIC, "task checkpoint file", bytes)?;
        Ok(Self { slots, blobs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_state_round_trips_and_every_damage_is_caught() {
        let mut state = TaskState {
            slots: 3,
            ..TaskState::default()
        };
        state.blobs.insert(0, b"position".to_vec());
        state.blobs.insert(2, vec![9; 100]);
        let bytes = state.encode();
        assert_eq!(TaskState::decode(&bytes).unwrap(), state);
        for len in 0..bytes.len() {
            assert!(TaskState::decode(&bytes[..len]).is_err(), "cut at {len}");
        }
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(TaskState::decode(&bad).is_err(), "flip at {at}");
        }
        let keyed = crate::state::KeyedSnapshot::new(4).encode();
        let error = TaskState::decode(&keyed).unwrap_err();
        assert!(error.contains("not a task checkpoint file"), "{error}");
    }
}
