//! The frames a read of one partition serves: views into the partition
//! file's mapping and frames held in memory, in the canonical order, each
//! with its checked CRC-32C, handed out as `Bytes` that keep the mapping
//! (or the held buffer) alive without copying.

use std::ops::Range;

use bytes::Bytes;

use super::partition::PartitionReader;

/// The visible frames of one partition: in its file's mapping, or held in
/// memory.
pub struct PartitionFrames {
    pub(super) reader: Option<PartitionReader>,
    /// Each frame, in the mapping or held in memory, and its verified
    /// CRC-32C.
    pub(super) frames: Vec<(FrameRef, u32)>,
}

/// Where one frame of a read is.
pub(super) enum FrameRef {
    /// These bytes of the mapped file.
    Mapped(Range<usize>),
    /// Held in memory.
    Held(Bytes),
}

impl PartitionFrames {
    pub(super) fn empty() -> Self {
        Self {
            reader: None,
            frames: Vec::new(),
        }
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Payload of frame `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        match &self.frames.get(index)?.0 {
            FrameRef::Mapped(range) => self.reader.as_ref()?.bytes().get(range.clone()),
            FrameRef::Held(payload) => Some(payload),
        }
    }

    /// The CRC-32C of frame `index`'s payload, verified when it was read.
    pub fn checksum(&self, index: usize) -> Option<u32> {
        self.frames.get(index).map(|(_, crc)| *crc)
    }

    /// The frames' payloads, in order; each starts 16-byte aligned.
    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.len()).map(|index| self.get(index).unwrap_or(&[]))
    }
}

impl PartitionFrames {
    /// Each frame as `Bytes` sharing the mapping (no copy), with its
    /// verified CRC-32C; the mapping lives as long as any of them.
    pub fn into_shared(self) -> Vec<(Bytes, u32)> {
        let frames = std::sync::Arc::new(self);
        (0..frames.len())
            .map(|index| {
                let crc = frames.checksum(index).unwrap_or(0);
                if let Some((FrameRef::Held(payload), _)) = frames.frames.get(index) {
                    return (payload.clone(), crc);
                }
                let frame = MappedFrame {
                    frames: frames.clone(),
                    index,
                };
                (Bytes::from_owner(frame), crc)
            })
            .collect()
    }
}

/// One frame of a mapped partition, owning a share of the mapping.
struct MappedFrame {
    frames: std::sync::Arc<PartitionFrames>,
    index: usize,
}

impl AsRef<[u8]> for MappedFrame {
    fn as_ref(&self) -> &[u8] {
        self.frames.get(self.index).unwrap_or(&[])
    }
}
