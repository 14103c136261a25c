//! Incremental checkpoints on the task's side, without I/O: which stored
//! parts a snapshot reuses, where its new parts go, when to start over
//! with a full one, and which checkpoints its files still point into.
//!
//! A slot whose operator hands its state in parts
//! ([`crate::state::parts`]) is stored as a manifest: per part, a chain
//! of pieces — where it was last written whole, then what was appended
//! since — each named by the checkpoint whose *parts file*
//! (`CHAIN-SUBTASK.parts`, beside the task's state file) holds it, where,
//! and its CRC-32C. A snapshot writes the new pieces into its own parts
//! file and takes the chains of the others from the *base*: the newest
//! checkpoint this task knows complete. Only a complete checkpoint is a base — its files are
//! kept while a retained checkpoint points into them (the coordinator is
//! told the oldest one each acknowledgement points into) — and the first
//! snapshot of an attempt is full, so a part is only ever read from the
//! task's own files of the same job.
//!
//! Left alone, old parts files would hold ever more replaced parts; once
//! the files the base points into hold more than twice the bytes still
//! pointed at, the next snapshot is full again, which bounds the store at
//! about twice the live state (plus the retained checkpoints' changes).

use std::collections::{BTreeMap, BTreeSet};

use crate::state::parts::{Part, StateSnapshot};
use crate::state::StateValue;

/// Where one stored part is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRef {
    /// The checkpoint whose parts file holds it.
    pub checkpoint: u64,
    /// Its first byte in that file.
    pub offset: u64,
    /// Its length.
    pub len: u64,
    /// CRC-32C of its bytes.
    pub crc: u32,
}

/// A slot's state stored in parts: (part id, its pieces in order), ids
/// ascending.
pub type Manifest = Vec<(u32, Vec<PartRef>)>;

/// A manifest's bytes (inside the task's checksummed file).
pub fn encode_manifest(manifest: &Manifest) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + manifest.len() * 48);
    (manifest.len() as u64).encode(&mut out);
    for (id, chain) in manifest {
        u64::from(*id).encode(&mut out);
        (chain.len() as u64).encode(&mut out);
        for at in chain {
            at.checkpoint.encode(&mut out);
            at.offset.encode(&mut out);
            at.len.encode(&mut out);
            u64::from(at.crc).encode(&mut out);
        }
    }
    out
}

/// Reads a manifest back, checking its shape.
pub fn decode_manifest(mut bytes: &[u8]) -> Result<Manifest, String> {
    let bytes = &mut bytes;
    let word = |bytes: &mut &[u8]| u64::decode(bytes).map_err(|e| format!("part manifest: {e}"));
    let count = word(bytes)?;
    let mut manifest = Vec::new();
    let mut previous: Option<u32> = None;
    for _ in 0..count {
        let id = u32::try_from(word(bytes)?).map_err(|_| "part manifest: an id past u32")?;
        if previous.is_some_and(|p| id <= p) {
            return Err(format!("part manifest: part {id} out of order"));
        }
        previous = Some(id);
        let pieces = word(bytes)?;
        // Each piece takes 32 bytes: a count past what is left is damage.
        if pieces > bytes.len() as u64 / 32 {
            return Err(format!("part manifest: part {id} of {pieces} pieces"));
        }
        let mut chain = Vec::with_capacity(pieces as usize);
        for _ in 0..pieces {
            let (checkpoint, offset, len) = (word(bytes)?, word(bytes)?, word(bytes)?);
            let crc = u32::try_from(word(bytes)?).map_err(|_| "part manifest: a CRC past u32")?;
            chain.push(PartRef {
                checkpoint,
                offset,
                len,
                crc,
            });
        }
        manifest.push((id, chain));
    }
    if !bytes.is_empty() {
        return Err(format!(
            "part manifest: {} bytes after the last part",
            bytes.len()
        ));
    }
    Ok(manifest)
}

/// One snapshot laid out for storage.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LaidOut {
    /// Slots stored whole.
    pub whole: BTreeMap<u32, Vec<u8>>,
    /// Slots stored in parts.
    pub manifests: BTreeMap<u32, Manifest>,
    /// The parts file's bytes: the parts that changed.
    pub parts_file: Vec<u8>,
    /// The oldest earlier checkpoint its manifests point into.
    pub shared_from: Option<u64>,
}

/// A task's stored manifests as of one checkpoint.
#[derive(Debug, Clone)]
struct Stored {
    checkpoint: u64,
    manifests: BTreeMap<u32, Manifest>,
}

/// One task's incremental bookkeeping (see the module header).
#[derive(Debug, Default)]
pub struct Increments {
    base: Option<Stored>,
    /// Snapshots written or being written, not yet known complete.
    pending: BTreeMap<u64, Stored>,
    /// The size of each parts file this task wrote.
    files: BTreeMap<u64, u64>,
}

impl Increments {
    /// The checkpoint the next snapshot may reuse parts of: the base,
    /// unless its files have grown past twice what it points at (then
    /// `None`: the next snapshot is full).
    pub fn since(&self) -> Option<u64> {
        let base = self.base.as_ref()?;
        let refs = base
            .manifests
            .values()
            .flatten()
            .flat_map(|(_, chain)| chain);
        let live: u64 = refs.clone().map(|at| at.len).sum();
        let files: BTreeSet<u64> = refs.map(|at| at.checkpoint).collect();
        let held: u64 = files.iter().filter_map(|c| self.files.get(c)).sum();
        (held <= live.saturating_mul(2)).then_some(base.checkpoint)
    }

    /// Lays out the snapshot of `checkpoint`, taken relative to `since`
    /// (what [`Increments::since`] said): new parts into the parts file,
    /// unchanged ones pointing where the base stored them.
    pub fn lay_out(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
        slots: Vec<(u32, StateSnapshot)>,
    ) -> Result<LaidOut, String> {
        let mut out = LaidOut::default();
        for (slot, snapshot) in slots {
            let parts = match snapshot {
                StateSnapshot::Whole(bytes) => {
                    out.whole.insert(slot, bytes);
                    continue;
                }
                StateSnapshot::Parts(parts) => parts,
            };
            let mut manifest = Manifest::with_capacity(parts.len());
            for (id, part) in parts {
                let mut write = |bytes: Vec<u8>| {
                    let at = PartRef {
                        checkpoint,
                        offset: out.parts_file.len() as u64,
                        len: bytes.len() as u64,
                        crc: crc32c::crc32c(&bytes),
                    };
                    out.parts_file.extend_from_slice(&bytes);
                    at
                };
                let chain = match part {
                    Part::Changed(bytes) => vec![write(bytes)],
                    Part::Unchanged => self.reused(since, slot, id)?,
                    Part::Appended(bytes) => {
                        let mut chain = self.reused(since, slot, id)?;
                        chain.push(write(bytes));
                        chain
                    }
                };
                let oldest = chain
                    .iter()
                    .map(|at| at.checkpoint)
                    .filter(|&c| c < checkpoint)
                    .min();
                if let Some(oldest) = oldest {
                    out.shared_from = Some(out.shared_from.map_or(oldest, |s| s.min(oldest)));
                }
                manifest.push((id, chain));
            }
            out.manifests.insert(slot, manifest);
        }
        self.files.insert(checkpoint, out.parts_file.len() as u64);
        self.pending.insert(
            checkpoint,
            Stored {
                checkpoint,
                manifests: out.manifests.clone(),
            },
        );
        Ok(out)
    }

    fn reused(&self, since: Option<u64>, slot: u32, id: u32) -> Result<Vec<PartRef>, String> {
        let base = self
            .base
            .as_ref()
            .filter(|b| Some(b.checkpoint) == since)
            .ok_or_else(|| {
                format!(
                    "slot {slot}: part {id} called unchanged with no stored checkpoint to reuse"
                )
            })?;
        let manifest = base.manifests.get(&slot);
        let found = manifest.and_then(|m| m.iter().find(|(i, _)| *i == id));
        found.map(|(_, chain)| chain.clone()).ok_or_else(|| {
            format!(
                "slot {slot}: part {id} called unchanged since checkpoint {}, which did not store it",
                base.checkpoint
            )
        })
    }

    /// Checkpoint `checkpoint` is complete: its snapshot (if this task
    /// took one) becomes the base, and files nothing points into any
    /// more are forgotten.
    pub fn completed(&mut self, checkpoint: u64) {
        if let Some(stored) = self.pending.remove(&checkpoint) {
            self.base = Some(stored);
        }
        self.pending.retain(|&c, _| c > checkpoint);
        let pointed: BTreeSet<u64> = self
            .base
            .iter()
            .chain(self.pending.values())
            .flat_map(|s| s.manifests.values().flatten())
            .flat_map(|(_, chain)| chain.iter().map(|at| at.checkpoint))
            .chain(self.pending.keys().copied())
            .collect();
        self.files.retain(|c, _| pointed.contains(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(list: &[(u32, Option<&str>)]) -> StateSnapshot {
        parts_with(list.iter().map(|&(id, bytes)| (id, bytes, false)))
    }

    /// Parts: unchanged (`None`), or bytes replacing or appended.
    fn parts_with<'a>(list: impl Iterator<Item = (u32, Option<&'a str>, bool)>) -> StateSnapshot {
        StateSnapshot::Parts(
            list.map(|(id, bytes, appended)| {
                let part = match (bytes, appended) {
                    (Some(b), false) => Part::Changed(b.as_bytes().to_vec()),
                    (Some(b), true) => Part::Appended(b.as_bytes().to_vec()),
                    (None, _) => Part::Unchanged,
                };
                (id, part)
            })
            .collect(),
        )
    }

    #[test]
    fn unchanged_parts_point_into_the_base_and_changed_ones_into_the_new_file() {
        let mut inc = Increments::default();
        assert_eq!(inc.since(), None, "the first snapshot is full");
        let first = inc
            .lay_out(
                1,
                None,
                vec![(1, parts(&[(0, Some("aaaa")), (3, Some("bb"))]))],
            )
            .unwrap();
        assert_eq!(first.parts_file, b"aaaabb");
        assert_eq!(first.shared_from, None);
        // Not complete yet: nothing to reuse.
        assert_eq!(inc.since(), None);
        inc.completed(1);
        assert_eq!(inc.since(), Some(1));
        let second = inc
            .lay_out(
                2,
                Some(1),
                vec![(1, parts(&[(0, None), (3, Some("cc")), (5, Some("d"))]))],
            )
            .unwrap();
        assert_eq!(second.parts_file, b"ccd");
        assert_eq!(second.shared_from, Some(1));
        let manifest = &second.manifests[&1];
        assert_eq!(manifest[0].1, first.manifests[&1][0].1, "part 0 reused");
        assert_eq!(
            (manifest[1].1[0].checkpoint, manifest[1].1[0].offset),
            (2, 0)
        );
        assert_eq!(
            (manifest[2].1[0].checkpoint, manifest[2].1[0].offset),
            (2, 2)
        );
        assert_eq!(manifest[2].1[0].crc, crc32c::crc32c(b"d"));
    }

    #[test]
    fn an_appended_part_is_its_stored_pieces_then_the_new_one() {
        let mut inc = Increments::default();
        inc.lay_out(1, None, vec![(1, parts(&[(0, Some("base"))]))])
            .unwrap();
        inc.completed(1);
        let appended = |n| parts_with([(0, Some("+d"), true)].into_iter().take(n));
        let second = inc.lay_out(2, Some(1), vec![(1, appended(1))]).unwrap();
        assert_eq!(second.parts_file, b"+d");
        inc.completed(2);
        let third = inc.lay_out(3, Some(2), vec![(1, appended(1))]).unwrap();
        let chain: Vec<(u64, u64)> = third.manifests[&1][0]
            .1
            .iter()
            .map(|at| (at.checkpoint, at.len))
            .collect();
        assert_eq!(chain, [(1, 4), (2, 2), (3, 2)]);
        assert_eq!(third.shared_from, Some(1));
    }

    #[test]
    fn a_part_called_unchanged_that_the_base_lacks_is_an_error() {
        let mut inc = Increments::default();
        inc.lay_out(1, None, vec![(2, parts(&[(0, Some("x"))]))])
            .unwrap();
        let error = inc
            .lay_out(2, None, vec![(2, parts(&[(0, None)]))])
            .unwrap_err();
        assert!(error.contains("no stored checkpoint"), "{error}");
        inc.completed(1);
        let error = inc
            .lay_out(3, Some(1), vec![(2, parts(&[(7, None)]))])
            .unwrap_err();
        assert!(
            error.contains("part 7") && error.contains("checkpoint 1"),
            "{error}"
        );
    }

    #[test]
    fn once_the_files_pointed_into_hold_twice_the_live_bytes_the_next_snapshot_is_full() {
        let big = "x".repeat(100);
        // Ten parts of 100 bytes; checkpoint n changes parts n-1.. only.
        let snapshot = |first_changed: u32| {
            let list: Vec<(u32, Option<&str>)> = (0..10)
                .map(|id| (id, (id >= first_changed).then_some(big.as_str())))
                .collect();
            parts(&list)
        };
        let mut inc = Increments::default();
        inc.lay_out(1, None, vec![(1, snapshot(0))]).unwrap();
        inc.completed(1);
        inc.lay_out(2, Some(1), vec![(1, snapshot(1))]).unwrap();
        inc.completed(2);
        // Files 1 (1000 bytes) and 2 (900) for 1000 live: within twice.
        assert_eq!(inc.since(), Some(2));
        inc.lay_out(3, Some(2), vec![(1, snapshot(2))]).unwrap();
        inc.completed(3);
        // Files 1, 2 and 3 hold 2700 bytes for 1000 live: start over.
        assert_eq!(inc.since(), None);
        let full = inc.lay_out(4, None, vec![(1, snapshot(0))]).unwrap();
        assert_eq!((full.shared_from, full.parts_file.len()), (None, 1000));
        inc.completed(4);
        assert_eq!(inc.since(), Some(4));
        let files: Vec<u64> = inc.files.keys().copied().collect();
        assert_eq!(files, [4], "files nothing points into are forgotten");
    }

    #[test]
    fn a_manifest_round_trips_and_damage_is_caught() {
        let at = |checkpoint, offset, len, crc| PartRef {
            checkpoint,
            offset,
            len,
            crc,
        };
        let manifest: Manifest = vec![
            (0, vec![at(3, 0, 9, 7)]),
            (5, vec![at(2, 9, 1, u32::MAX), at(4, 0, 5, 1)]),
        ];
        let bytes = encode_manifest(&manifest);
        assert_eq!(decode_manifest(&bytes).unwrap(), manifest);
        for len in 0..bytes.len() {
            assert!(decode_manifest(&bytes[..len]).is_err(), "cut at {len}");
        }
        let swapped: Manifest = vec![manifest[1].clone(), manifest[0].clone()];
        assert!(decode_manifest(&encode_manifest(&swapped)).is_err());
    }
}
