//! One task's part of a checkpoint: the state of its source (slot 0) and
//! of each chained operator (slot *i + 1*), in the checked blob layout
//! keyed snapshots use (magic `FTS1`, CRC-32C over all), so a truncated
//! or corrupted file is an error naming what is wrong, never a wrong
//! restore. An unaligned checkpoint's file also holds the in-flight
//! messages the barrier overtook: magic `FTS2`, one slot more, the last.
//! A file with any slot stored in parts (an incremental checkpoint:
//! [`super::increments`]) is `FTS3`: the in-flight slot is always
//! counted, and every blob starts with a tag, 0 for bytes as they are and
//! 1 for a part manifest.

use std::collections::BTreeMap;

use super::increments::{decode_manifest, encode_manifest, Manifest};
use crate::state::snapshot::{decode_blobs, encode_blobs};

const MAGIC: &[u8; 4] = b"FTS1";
const WITH_IN_FLIGHT: &[u8; 4] = b"FTS2";
const WITH_PARTS: &[u8; 4] = b"FTS3";
const BYTES: u8 = 0;
const PARTS: u8 = 1;
const WHAT: &str = "task checkpoint file";

/// The state of one task's chain at a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskState {
    /// Slots in the chain: the source's and one per operator.
    pub slots: u32,
    /// The state of each slot that keeps any and is stored whole.
    pub blobs: BTreeMap<u32, Vec<u8>>,
    /// Where the parts of each slot stored in parts are.
    pub manifests: BTreeMap<u32, Manifest>,
    /// An unaligned checkpoint's in-flight messages, encoded.
    pub in_flight: Option<Vec<u8>>,
}

impl TaskState {
    /// The file's bytes.
    pub fn encode(&self) -> Vec<u8> {
        if !self.manifests.is_empty() {
            return self.encode_tagged();
        }
        match &self.in_flight {
            None => encode_blobs(MAGIC, self.slots, &self.blobs),
            Some(in_flight) => {
                let mut blobs = self.blobs.clone();
                blobs.insert(self.slots, in_flight.clone());
                encode_blobs(WITH_IN_FLIGHT, self.slots + 1, &blobs)
            }
        }
    }

    fn encode_tagged(&self) -> Vec<u8> {
        let tagged = |tag: u8, bytes: &[u8]| {
            let mut blob = Vec::with_capacity(bytes.len() + 1);
            blob.push(tag);
            blob.extend_from_slice(bytes);
            blob
        };
        let mut blobs = BTreeMap::new();
        for (&slot, bytes) in &self.blobs {
            blobs.insert(slot, tagged(BYTES, bytes));
        }
        for (&slot, manifest) in &self.manifests {
            blobs.insert(slot, tagged(PARTS, &encode_manifest(manifest)));
        }
        if let Some(in_flight) = &self.in_flight {
            blobs.insert(self.slots, tagged(BYTES, in_flight));
        }
        encode_blobs(WITH_PARTS, self.slots + 1, &blobs)
    }

    fn decode_tagged(bytes: &[u8]) -> Result<Self, String> {
        let (bound, blobs) = decode_blobs(WITH_PARTS, WHAT, bytes)?;
        let slots = bound
            .checked_sub(1)
            .ok_or("an incremental checkpoint file with no slots")?;
        let mut state = Self {
            slots,
            ..Self::default()
        };
        for (slot, blob) in blobs {
            match (blob.split_first(), slot == slots) {
                (Some((&BYTES, rest)), true) => state.in_flight = Some(rest.to_vec()),
                (Some((&BYTES, rest)), false) => {
                    state.blobs.insert(slot, rest.to_vec());
                }
                (Some((&PARTS, rest)), false) => {
                    let manifest =
                        decode_manifest(rest).map_err(|e| format!("slot {slot}: {e}"))?;
                    state.manifests.insert(slot, manifest);
                }
                _ => return Err(format!("slot {slot}: an unknown kind of blob")),
            }
        }
        Ok(state)
    }

    /// Reads a file back, checking every field and the checksum.
    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        if bytes.starts_with(WITH_PARTS) {
            return Self::decode_tagged(bytes);
        }
        if bytes.starts_with(WITH_IN_FLIGHT) {
            let (bound, mut blobs) = decode_blobs(WITH_IN_FLIGHT, WHAT, bytes)?;
            let slots = bound
                .checked_sub(1)
                .ok_or("an unaligned checkpoint file with no slots")?;
            let in_flight = blobs
                .remove(&slots)
                .ok_or("an unaligned checkpoint file without its in-flight messages")?;
            return Ok(Self {
                slots,
                blobs,
                manifests: BTreeMap::new(),
                in_flight: Some(in_flight),
            });
        }
        let (slots, blobs) = decode_blobs(MAGIC, WHAT, bytes)?;
        Ok(Self {
            slots,
            blobs,
            manifests: BTreeMap::new(),
            in_flight: None,
        })
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

    #[test]
    fn in_flight_messages_ride_in_a_slot_of_their_own() {
        let mut state = TaskState {
            slots: 2,
            ..TaskState::default()
        };
        state.blobs.insert(1, b"window".to_vec());
        state.in_flight = Some(b"messages".to_vec());
        let bytes = state.encode();
        assert_eq!(&bytes[..4], b"FTS2");
        assert_eq!(TaskState::decode(&bytes).unwrap(), state);
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(TaskState::decode(&bad).is_err(), "flip at {at}");
        }
    }

    #[test]
    fn slots_in_parts_carry_their_manifests_beside_whole_ones() {
        use super::super::increments::PartRef;
        let mut state = TaskState {
            slots: 3,
            ..TaskState::default()
        };
        state.blobs.insert(0, b"position".to_vec());
        let at = PartRef {
            checkpoint: 4,
            offset: 10,
            len: 20,
            crc: 5,
        };
        state
            .manifests
            .insert(2, vec![(0, vec![at]), (9, vec![at, at])]);
        state.in_flight = Some(b"messages".to_vec());
        let bytes = state.encode();
        assert_eq!(&bytes[..4], b"FTS3");
        assert_eq!(TaskState::decode(&bytes).unwrap(), state);
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 1;
            assert!(TaskState::decode(&bad).is_err(), "flip at {at}");
        }
        state.in_flight = None;
        assert_eq!(TaskState::decode(&state.encode()).unwrap(), state);
    }
}
