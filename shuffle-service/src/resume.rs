//! Resuming a fetch on another replica exactly where the first one
//! stopped, as Celeborn's reader moves to a partition's peer: pure rules,
//! no I/O.
//!
//! Every replica of a partition serves its committed frames in one
//! canonical order (by map, then sequence number; see
//! [`ShuffleStore::read_maps`](crate::storage::ShuffleStore::read_maps)),
//! so a consumer that has taken `n` frames from one replica wants the
//! other's frames from `n` on. What makes that safe is [`FrameChain`]: the
//! consumer keeps a digest of the CRC-32Cs of the frames it took, in
//! order, and the replica asked to resume recomputes it over its own
//! first `n` frames ([`Skipping`]). Where the two differ — the replicas
//! committed different attempts of a map, or a copy is in another order
//! (an object-store copy keeps its file's order) — the resume is refused
//! and the consumer fails as it would have without one; it never mixes
//! two different prefixes.
//!
//! [`Failover`] decides which replica a fetch moves to, after an error
//! or a stall, and how long a stall must last before it moves again.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How many frames a fetch has taken and a digest of their checksums,
/// in order (FNV-1a over the CRC-32Cs: a checksum of checksums).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameChain {
    /// Frames taken.
    pub frames: u64,
    /// The digest of their CRC-32Cs.
    pub digest: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

impl Default for FrameChain {
    fn default() -> Self {
        Self {
            frames: 0,
            digest: FNV_OFFSET,
        }
    }
}

impl FrameChain {
    /// Takes one more frame, of payload checksum `crc`.
    pub fn push(&mut self, crc: u32) {
        self.frames += 1;
        for byte in crc.to_le_bytes() {
            self.digest = (self.digest ^ u64::from(byte)).wrapping_mul(FNV_PRIME);
        }
    }
}

/// A replica's frames differ from those a resumed fetch already took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResumeMismatch {
    /// Its first frames have other checksums.
    #[error(
        "this replica's first {frames} frames differ from the ones already read \
         (another committed attempt, or another order)"
    )]
    Differ {
        /// Frames compared.
        frames: u64,
    },
    /// It has fewer frames than were already read.
    #[error("this replica has {has} frames, fewer than the {taken} already read")]
    Fewer {
        /// Its frames.
        has: u64,
        /// Frames the consumer took.
        taken: u64,
    },
}

/// A replica serving a resumed fetch: skips the frames the consumer
/// took, checking they are the ones it took.
#[derive(Debug, Clone)]
pub struct Skipping {
    taken: FrameChain,
    seen: FrameChain,
}

impl Skipping {
    /// Skips the frames of `taken` (none for a fetch from the start).
    pub fn new(taken: FrameChain) -> Self {
        Self {
            taken,
            seen: FrameChain::default(),
        }
    }

    /// Whether the next frame, of checksum `crc`, is sent (`Ok(true)`) or
    /// was taken already (`Ok(false)`); an error once the frames skipped
    /// prove to be other ones.
    pub fn admit(&mut self, crc: u32) -> Result<bool, ResumeMismatch> {
        if self.seen.frames >= self.taken.frames {
            return Ok(true);
        }
        self.seen.push(crc);
        if self.seen.frames == self.taken.frames && self.seen.digest != self.taken.digest {
            return Err(ResumeMismatch::Differ {
                frames: self.taken.frames,
            });
        }
        Ok(false)
    }

    /// At the replica's last frame: an error if it had fewer than were
    /// taken.
    pub fn finish(&self) -> Result<(), ResumeMismatch> {
        match self.seen.frames < self.taken.frames {
            true => Err(ResumeMismatch::Fewer {
                has: self.seen.frames,
                taken: self.taken.frames,
            }),
            false => Ok(()),
        }
    }
}

/// Which replica a fetch reads, and where it goes next.
#[derive(Debug, Clone)]
pub struct Failover {
    /// The replicas that were up when the fetch began, in placement order.
    nodes: Vec<usize>,
    /// Which of them failed this fetch.
    failed: Vec<bool>,
    current: usize,
    stall: Duration,
}

impl Failover {
    /// A fetch over `nodes` (in the order to try them; at least one),
    /// moving on after a stall of `stall`.
    pub fn new(nodes: Vec<usize>, stall: Duration) -> Self {
        let failed = vec![false; nodes.len()];
        Self {
            nodes,
            failed,
            current: 0,
            stall,
        }
    }

    /// The node read now.
    pub fn node(&self) -> Option<usize> {
        self.nodes.get(self.current).copied()
    }

    /// How long silence with credit outstanding must last to count as a
    /// stall.
    pub fn stall(&self) -> Duration {
        self.stall
    }

    /// The next node that has not failed, after the current one; `None`
    /// if there is no other.
    fn next(&self) -> Option<usize> {
        let n = self.nodes.len();
        (1..n)
            .map(|step| (self.current + step) % n)
            .find(|&i| !self.failed[i])
    }

    /// The node read failed: the next to read, or `None` when every
    /// replica has failed.
    pub fn on_error(&mut self) -> Option<usize> {
        if let Some(failed) = self.failed.get_mut(self.current) {
            *failed = true;
        }
        self.current = self.next()?;
        self.node()
    }

    /// The node read stalled: the next to read (the stall that moves it
    /// again doubles, so two slow replicas are not flipped between
    /// forever), or `None` when there is no other: the fetch waits on,
    /// until the transport's idle timeout decides.
    pub fn on_stall(&mut self) -> Option<usize> {
        self.current = self.next()?;
        self.stall = self.stall.saturating_mul(2);
        self.node()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(crcs: &[u32]) -> FrameChain {
        let mut chain = FrameChain::default();
        crcs.iter().for_each(|&crc| chain.push(crc));
        chain
    }

    #[test]
    fn a_resume_skips_what_was_taken_and_sends_the_rest() {
        let mut skipping = Skipping::new(chain(&[7, 8]));
        let sent: Vec<bool> = [7, 8, 9, 10]
            .into_iter()
            .map(|crc| skipping.admit(crc).unwrap())
            .collect();
        assert_eq!(sent, [false, false, true, true]);
        assert_eq!(skipping.finish(), Ok(()));
        let mut from_start = Skipping::new(FrameChain::default());
        assert!(from_start.admit(1).unwrap());
    }

    #[test]
    fn other_frames_or_fewer_refuse_the_resume() {
        let mut skipping = Skipping::new(chain(&[7, 8]));
        assert_eq!(skipping.admit(7), Ok(false));
        assert_eq!(skipping.admit(9), Err(ResumeMismatch::Differ { frames: 2 }));
        let mut reordered = Skipping::new(chain(&[7, 8]));
        assert_eq!(reordered.admit(8), Ok(false));
        assert!(
            reordered.admit(7).is_err(),
            "the order is part of the chain"
        );
        let mut short = Skipping::new(chain(&[7, 8]));
        assert_eq!(short.admit(7), Ok(false));
        assert_eq!(
            short.finish(),
            Err(ResumeMismatch::Fewer { has: 1, taken: 2 })
        );
    }

    #[test]
    fn errors_move_on_until_every_replica_failed() {
        let mut failover = Failover::new(vec![4, 1, 2], Duration::from_secs(2));
        assert_eq!(failover.node(), Some(4));
        assert_eq!(failover.on_error(), Some(1));
        assert_eq!(failover.on_error(), Some(2));
        assert_eq!(failover.on_error(), None);
    }

    #[test]
    fn stalls_move_on_between_live_replicas_waiting_longer_each_time() {
        let mut failover = Failover::new(vec![0, 1], Duration::from_secs(2));
        assert_eq!(failover.on_stall(), Some(1));
        assert_eq!(failover.stall(), Duration::from_secs(4));
        assert_eq!(failover.on_stall(), Some(0), "back to the first");
        assert_eq!(failover.on_error(), Some(1));
        assert_eq!(failover.on_stall(), None, "no other live replica");
        assert_eq!(failover.node(), Some(1));
        let mut alone = Failover::new(vec![3], Duration::from_secs(2));
        assert_eq!(alone.on_stall(), None);
        assert_eq!(alone.stall(), Duration::from_secs(2));
    }
}
