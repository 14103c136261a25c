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
//! Known limits: barriers are aligned only (no unaligned checkpoints
//! yet), state is written whole each time (not incremental), and the
//! storage is a directory every worker reaches (a local or shared file
//! system through opendal's `fs`).

pub mod routing;
pub mod storage;
pub mod task_state;

use serde::{Deserialize, Serialize};

use crate::attempt::AttemptKey;

pub use storage::{CheckpointStorage, StorageError};
pub use task_state::TaskState;

/// What the scheduler's coordinator tells one running task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckpointCommand {
    /// Start checkpoint `n`: a source task snapshots its position and
    /// sends barrier `n` downstream (other tasks wait for the barrier).
    Trigger(u64),
    /// Checkpoint `n` is complete: sinks commit.
    Complete(u64),
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
}

/// A deployment's checkpoint settings: where the job's checkpoints are
/// stored, and which one (if any) the attempt restores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointTarget {
    /// The directory holding every job's checkpoints.
    pub root: String,
    /// The complete checkpoint to restore, or `None` to start afresh.
    pub restore: Option<u64>,
}
