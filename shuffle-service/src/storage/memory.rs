//! The memory tier: frames a shuffle under [`Durability::Memory`] keeps
//! in the node's memory instead of writing them, within a budget shared
//! by every shuffle on the node, as Celeborn's memory storage and Flink's
//! hybrid shuffle memory tier keep them. A push the budget cannot take
//! goes to the partition's file, as under the other durabilities, so the
//! tier never refuses data: when memory runs short, data goes to disk.
//!
//! A held frame is the pushed payload, 16-byte aligned (as a mapped
//! file's frames are) — a pusher's own aligned frame in this process as
//! it is, anything else copied — with its key and checksum, served to
//! readers as the same `Bytes` (no copy). What a shuffle holds is
//! given back to the budget when the shuffle is dropped (deleted, or its
//! job expired), and what a map's other attempts held as soon as one of
//! them commits: those frames can never be read.
//!
//! [`Durability::Memory`]: super::Durability::Memory

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::record::RecordKey;

/// How many bytes of frames a node may hold in memory, and how many it
/// holds: shared by its shuffles.
#[derive(Debug)]
pub struct MemoryBudget {
    limit: u64,
    used: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// Takes `bytes` from the budget if they fit.
    pub fn try_take(&self, bytes: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|&total| total <= self.limit)
            })
            .is_ok()
    }

    /// Gives `bytes` back.
    pub fn give_back(&self, bytes: u64) {
        let _ = (self.used).fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
            Some(used.saturating_sub(bytes))
        });
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }

    /// The most it may hold.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

/// One frame held in memory.
#[derive(Debug, Clone)]
pub struct HeldFrame {
    /// Who pushed it.
    pub key: RecordKey,
    /// Its payload.
    pub payload: Bytes,
    /// The payload's CRC-32C, checked when it was pushed.
    pub crc: u32,
}

/// The frames one shuffle holds in memory, per partition, and the share
/// of the budget they take (given back on drop).
#[derive(Debug)]
pub struct HeldFrames {
    budget: Arc<MemoryBudget>,
    partitions: Vec<Vec<HeldFrame>>,
    bytes: u64,
}

impl HeldFrames {
    /// Nothing held yet for `partitions` partitions, within `budget`.
    pub fn new(budget: Arc<MemoryBudget>, partitions: u32) -> Self {
        Self {
            budget,
            partitions: (0..partitions).map(|_| Vec::new()).collect(),
            bytes: 0,
        }
    }

    /// Holds `payload` for `partition` if the budget takes it; `false`
    /// (nothing held) if it does not. `owned`, the same bytes the store
    /// may keep, is held as it is when 16-byte aligned instead of copied.
    pub fn try_hold(
        &mut self,
        partition: u32,
        key: RecordKey,
        (payload, owned): (&[u8], Option<&Bytes>),
        crc: u32,
    ) -> bool {
        let Some(frames) = self.partitions.get_mut(partition as usize) else {
            return false;
        };
        let len = payload.len() as u64;
        if !self.budget.try_take(len) {
            return false;
        }
        self.bytes += len;
        let payload = match owned {
            Some(bytes) if (bytes.as_ptr() as usize).is_multiple_of(16) => bytes.clone(),
            _ => aligned_copy(payload),
        };
        frames.push(HeldFrame { key, payload, crc });
        true
    }

    /// The frames held for `partition`, in the order pushed.
    pub fn of(&self, partition: u32) -> &[HeldFrame] {
        self.partitions
            .get(partition as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// Bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Drops the frames of every attempt of `map` but `winner` (the one
    /// that committed), giving their bytes back to the budget.
    pub fn drop_losers(&mut self, map: u32, winner: u32) {
        let mut dropped = 0u64;
        for frames in &mut self.partitions {
            frames.retain(|frame| {
                let lost = frame.key.map_id == map && frame.key.attempt != winner;
                if lost {
                    dropped += frame.payload.len() as u64;
                }
                !lost
            });
        }
        self.bytes -= dropped;
        self.budget.give_back(dropped);
    }
}

/// `payload` copied to a 16-byte aligned buffer, as a mapped frame's
/// payload is (archived batches are read in place, and need it).
fn aligned_copy(payload: &[u8]) -> Bytes {
    let mut words = vec![0u128; payload.len().div_ceil(16)].into_boxed_slice();
    bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..payload.len()].copy_from_slice(payload);
    Bytes::from_owner(Aligned {
        words,
        len: payload.len(),
    })
}

/// A 16-byte aligned buffer holding `len` bytes.
struct Aligned {
    words: Box<[u128]>,
    len: usize,
}

impl AsRef<[u8]> for Aligned {
    fn as_ref(&self) -> &[u8] {
        &bytemuck::cast_slice::<u128, u8>(&self.words)[..self.len]
    }
}

impl Drop for HeldFrames {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(seq: u32) -> RecordKey {
        RecordKey {
            map_id: 0,
            attempt: 0,
            seq,
        }
    }

    #[test]
    fn frames_are_held_while_the_budget_lasts_and_given_back_on_drop() {
        let budget = MemoryBudget::new(10);
        let mut held = HeldFrames::new(budget.clone(), 2);
        assert!(held.try_hold(0, key(0), (&b"abcdef"[..], None), 1));
        assert!(
            !held.try_hold(1, key(0), (&b"ghijk"[..], None), 2),
            "11 bytes > 10"
        );
        assert!(held.try_hold(1, key(1), (&b"ghij"[..], None), 3));
        assert!(
            !held.try_hold(2, key(2), (&b""[..], None), 4),
            "no partition 2"
        );
        assert_eq!((budget.used(), held.bytes()), (10, 10));
        assert_eq!(held.of(1)[0].payload, Bytes::from_static(b"ghij"));
        assert!(
            (held.of(0)[0].payload.as_ptr() as usize).is_multiple_of(16),
            "aligned"
        );
        let mut other = HeldFrames::new(budget.clone(), 1);
        assert!(
            !other.try_hold(0, key(0), (&b"x"[..], None), 5),
            "the budget is the node's"
        );
        drop(held);
        assert_eq!(budget.used(), 0);
        assert!(other.try_hold(0, key(0), (&b"x"[..], None), 5));
    }

    #[test]
    fn an_owned_aligned_frame_is_held_as_it_is_and_any_other_copied_aligned() {
        let budget = MemoryBudget::new(1 << 20);
        let mut held = HeldFrames::new(budget, 1);
        let aligned = aligned_copy(&[7u8; 100]);
        assert!(held.try_hold(0, key(0), (&aligned, Some(&aligned)), 1));
        assert_eq!(held.of(0)[0].payload.as_ptr(), aligned.as_ptr(), "no copy");
        let unaligned = aligned.slice(1..);
        assert!(held.try_hold(0, key(1), (&unaligned, Some(&unaligned)), 2));
        let copy = &held.of(0)[1].payload;
        assert_ne!(copy.as_ptr(), unaligned.as_ptr());
        assert!((copy.as_ptr() as usize).is_multiple_of(16));
        assert_eq!(copy, &unaligned);
    }
}
