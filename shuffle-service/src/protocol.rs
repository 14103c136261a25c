//! The shuffle protocol: what clients ask of a shuffle node, over Faro's
//! transport.
//!
//! Every request opens one channel and travels in its `Open` payload as
//! JSON, with the job's token:
//!
//! - `push`: the client opens a *sending* channel; each data frame is one
//!   frame of the map attempt for that partition, numbered from
//!   `first_seq`. The node refuses the channel (with a message) if it
//!   cannot store a frame.
//! - `fetch`: the client opens a *receiving* channel; the node streams the
//!   partition's committed frames, under the client's credit.
//! - `register`, `commit`, `delete_job`, `list`, `stats`: the client opens
//!   a receiving channel and gets one JSON [`Response`] frame.
//!
//! Control messages are rare and small, so JSON (debuggable) is fine; data
//! frames are opaque bytes and never pass through it.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::resume::FrameChain;

/// One request to a shuffle node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Create a shuffle (idempotent for the same shape).
    Register {
        /// Map tasks writing it: once all committed, the shuffle is
        /// complete (and copied to the object-store tier, if configured).
        maps: u32,
        /// Reduce partitions.
        partitions: u32,
    },
    /// Push frames of a map attempt to a partition.
    Push {
        /// Reduce partition.
        partition: u32,
        /// Map task.
        map: u32,
        /// Attempt of the map task.
        attempt: u32,
        /// Sequence number of the first frame on this channel.
        first_seq: u32,
    },
    /// Commit a map attempt: its frames become visible, if it is first.
    Commit {
        /// Map task.
        map: u32,
        /// Attempt of the map task.
        attempt: u32,
    },
    /// Stream a partition's committed frames.
    Fetch {
        /// Reduce partition.
        partition: u32,
        /// Only frames of these map ids (all when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        maps: Option<Range<u32>>,
        /// Resume after the frames another replica served (see
        /// [`crate::resume`]); from the first frame when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<FrameChain>,
    },
    /// Delete all of the job's shuffles.
    DeleteJob,
    /// The job's shuffles on this node.
    List,
    /// The node's counters.
    Stats,
    /// The job's owner is alive (every request counts as one too).
    Heartbeat,
}

/// A request with the job and shuffle it concerns and the job's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Job id: letters, digits, `-` and `_`, at most 64.
    pub job: String,
    /// Shuffle within the job.
    pub shuffle: u32,
    /// The job's token.
    pub token: String,
    /// What is asked.
    pub request: Request,
}

/// A node's answer to register, commit and delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Response {
    /// Done.
    Ok,
    /// The commit made the attempt visible.
    Committed,
    /// This attempt had already committed.
    AlreadyCommitted,
    /// Another attempt of the map committed first.
    Lost {
        /// The attempt that won.
        winner: u32,
    },
    /// The node's counters.
    Stats(NodeStats),
    /// The job's shuffles on this node, by shuffle id.
    Shuffles {
        /// One entry per shuffle.
        shuffles: Vec<ShuffleSummary>,
    },
}

/// One shuffle as [`Request::List`] reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShuffleSummary {
    /// Shuffle id within the job.
    pub shuffle: u32,
    /// Map tasks.
    pub maps: u32,
    /// Reduce partitions.
    pub partitions: u32,
    /// Maps with a committed attempt.
    pub committed_maps: u32,
    /// Which maps those are, in order (what a consumer of a hybrid edge
    /// reads as they come).
    #[serde(default)]
    pub committed: Vec<u32>,
    /// Bytes of records on this node's disk.
    pub stored_bytes: u64,
}

/// What a node holds and does, for operators and leak checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStats {
    /// Shuffles held.
    pub shuffles: usize,
    /// Partition files open for appending.
    pub open_partition_files: usize,
    /// Bytes of whole records on disk.
    pub stored_bytes: u64,
    /// Bytes of frames held in the memory tier.
    #[serde(default)]
    pub memory_bytes: u64,
    /// The most the memory tier may hold (0: none).
    #[serde(default)]
    pub memory_budget_bytes: u64,
    /// Channels being served right now.
    pub active_channels: usize,
    /// Frames stored since start.
    pub frames_pushed: u64,
    /// Payload bytes stored since start.
    pub bytes_pushed: u64,
    /// Payload bytes served since start.
    pub bytes_fetched: u64,
    /// Frames served from the object-store tier because the local copy
    /// was gone, since start.
    pub tier_reads: u64,
    /// Complete shuffles copied to the object-store tier since start.
    pub tier_uploads: u64,
    /// Copies to the object-store tier that failed since start.
    pub tier_upload_failures: u64,
    /// Requests refused since start (bad token, full disk, unknown
    /// shuffle, …).
    #[serde(default)]
    pub refused: u64,
    /// QUIC connections open right now.
    pub connections: usize,
    /// Receive buffers holding frames right now.
    pub receive_buffers_in_use: usize,
    /// File descriptors the process has open (Linux).
    pub open_fds: usize,
    /// CPU time the process has used, user and system, in milliseconds.
    pub cpu_millis: u64,
    /// Peak resident memory of the process (Linux `VmHWM`), in bytes.
    pub peak_rss_bytes: u64,
}

/// Whether `job` is a safe, well-formed job id (it names a directory).
pub fn valid_job_id(job: &str) -> bool {
    !job.is_empty()
        && job.len() <= 64
        && job
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
