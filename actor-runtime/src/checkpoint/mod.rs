//! Checkpoints on the worker's side: what the scheduler's coordinator
//! tells a running task ([`CheckpointCommand`]), what the task answers
//! ([`CheckpointAck`]), where its state goes ([`storage`]) and in which
//! checked format ([`task_state`]).
//!
//! The protocol is Flink's aligned checkpoint. The coordinator triggers
//! checkpoint *n* at every source task; a source snapshots its position
//! and sends barrier *n* in band after the rows before it. A task with
//! several input channels aligns (holds each channel that delivered the
//! barrier until all have: [`crate::task::frontier`]), runs the barrier
//! through its chain — each operator's `on_barrier` and then
//! `snapshot_state` — and forwards it. The chain's state is encoded on
//! the task's loop (the synchronous part), then written to storage off
//! the loop (the asynchronous part) while rows flow on; once written the
//! task acknowledges. When every task of the job has acknowledged *n*
//! the coordinator records it complete and tells every task, and sinks
//! commit what they pre-committed at the barrier (two-phase commit). A
//! restored task reads its state back before it opens its operators.
//!
//!
//! A restore follows a [`RestorePlan`] the scheduler draws: for each
//! slot of the task's chain, which saved chain and slot hold its state.
//! Restoring the same job, that is the task's own file; resuming a
//! savepoint at another parallelism, an operator is handed every old
//! subtask's state and keeps its share ([`rescale`]).
//!
//! Unaligned (per checkpoint, as the trigger says), the barrier overtakes
//! the data queued on each channel ([`crate::message::Overtaking`]); a
//! task snapshots at the first one, forwards it at once, and stores with
//! its state the data messages it overtook — those before the barrier on
//! every channel — which a restored task replays before reading on.
//!
//! Incremental: an operator that hands its state in parts (the
//! continuous aggregate, aligned windows: a part per key group, or per
//! window and key group) has only what changed since the task's last
//! complete checkpoint written — new parts, or rows appended to stored
//! ones; the others point at where earlier checkpoints stored them
//! ([`increments`], read back whole by [`reading`]).
//!
//! Known limits: other operators and sources write their state whole
//! each time, the data an unaligned barrier waits behind in a producer's transport queue
//! is not overtaken (a bounded few frames), and the store is a directory
//! every worker reaches or an S3 bucket ([`location`]), no other opendal
//! service yet.

pub mod increments;
pub mod location;
pub mod reading;
pub mod rescale;
pub mod routing;
pub mod storage;
pub mod task_state;

use serde::{Deserialize, Serialize};

use crate::attempt::AttemptKey;

pub use rescale::{saved_rows, KeyRouting, Rescaled};
pub use storage::{CheckpointStorage, StorageError};
pub use task_state::TaskState;

/// What the scheduler's coordinator tells one running task.
#[derive(Debug)]
pub enum CheckpointCommand {
    /// Start checkpoint `n`: a source task snapshots its position and
    /// sends barrier `n` downstream (other tasks wait for the barrier).
    Trigger(u64),
    /// Start checkpoint `n` unaligned: the barrier overtakes the data
    /// queued downstream, and each task stores what it overtook.
    TriggerUnaligned(u64),
    /// Checkpoint `n` is complete: sinks commit.
    Complete(u64),
    /// Checkpoint `n`, a savepoint to stop at, is complete: sinks
    /// commit, then the task stops taking input and answers with a
    /// [`CheckpointAck`] for `n` so the job can be cancelled with
    /// nothing after the savepoint visible.
    Stop(u64),
    /// A neighbour restarted alone from the last complete checkpoint
    /// (approximate failover): swap in the channels to and from its new
    /// attempt.
    PeerRestarted(Box<crate::rewire::Rewire>),
}

/// What one task's part of a checkpoint cost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCheckpointStats {
    /// Bytes of state written.
    pub bytes: u64,
    /// Milliseconds from the first barrier on an input to the last (0 for
    /// a source or a task with one input channel).
    pub alignment_ms: u64,
    /// Milliseconds the task's loop spent snapshotting and encoding.
    pub sync_ms: u64,
    /// Milliseconds writing the state to storage, off the loop.
    pub async_ms: u64,
    /// Bytes of in-flight data stored with the state (an unaligned
    /// checkpoint's overtaken messages).
    #[serde(default)]
    pub in_flight_bytes: u64,
    /// The oldest earlier checkpoint whose files this state points into
    /// (an incremental checkpoint's unchanged parts): it must be kept.
    #[serde(default)]
    pub shared_from: Option<u64>,
}

/// A task's answer to a checkpoint: its state is stored, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointAck {
    /// The job.
    pub job: String,
    /// The chain.
    pub chain: usize,
    /// The subtask.
    pub subtask: u32,
    /// The attempt that took it.
    pub attempt: u32,
    /// The checkpoint.
    pub checkpoint: u64,
    /// What it cost, or why the task could not take its part (the
    /// checkpoint is then abandoned; the job goes on).
    pub outcome: Result<TaskCheckpointStats, String>,
}

impl CheckpointAck {
    /// The attempt that sent it.
    pub fn attempt_key(&self) -> AttemptKey {
        AttemptKey {
            job: self.job.clone(),
            chain: self.chain,
            subtask: self.subtask,
            attempt: self.attempt,
        }
    }
}

/// Where a worker's tasks send their acknowledgements: the scheduler in
/// this process, or over the control connection.
pub trait CheckpointAcks: Send + Sync {
    /// Delivers one acknowledgement (never blocks the task's loop).
    fn ack(&self, ack: CheckpointAck);

    /// Reports rows a restarted neighbour may have lost (approximate
    /// failover; never blocks the task's loop).
    fn records_lost(&self, lost: crate::rewire::RecordsLost);
}

/// A deployment's checkpoint settings: where the job's checkpoints are
/// stored, and which one (if any) the attempt restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointTarget {
    /// The directory holding every job's checkpoints.
    pub root: String,
    /// What to restore, or `None` to start afresh.
    pub restore: Option<RestorePlan>,
}

/// What one task restores: a complete checkpoint (or savepoint) and,
/// per slot of its chain, where that slot's state was saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePlan {
    /// The checkpoint's number (a savepoint's is the checkpoint it was).
    pub checkpoint: u64,
    /// The directory holding its task files.
    pub dir: String,
    /// Subtasks of the task's chain now.
    pub parallelism: u32,
    /// Where each slot that had state saved finds it.
    pub slots: Vec<SlotRestore>,
    /// Subtasks of the chain that had finished (their input had ended)
    /// when the checkpoint was taken: restored, they end at once, since
    /// everything they sent is in their consumers' state already.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finished: Vec<u32>,
}

/// Where one slot of a restored chain finds its saved state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRestore {
    /// The slot in the task's chain (0: its source; *i + 1*: operator *i*).
    pub slot: u32,
    /// The chain that saved it.
    pub from_chain: usize,
    /// Its slot in that chain.
    pub from_slot: u32,
    /// That chain's subtasks when it saved.
    pub from_parallelism: u32,
    /// How keys reach the slot, when a hash edge feeds the chain (used
    /// only when the parallelism changed).
    pub keys: Option<KeyRouting>,
}
