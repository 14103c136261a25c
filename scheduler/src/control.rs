//! What the scheduler and worker processes say to each other over the
//! control RPC ([`faro_transport::rpc`]), as JSON.
//!
//! A worker opens one connection to the scheduler and keeps it: it
//! registers and heartbeats on it, and the scheduler calls the worker back
//! on the same connection (QUIC lets either end open streams), so a worker
//! behind a NAT or in a pod needs no inbound control port. A `Run` call is
//! answered when the attempt ends, with the bytes of
//! [`faro_runtime::attempt::encode_outcome`].

use faro_runtime::attempt::AttemptKey;
use faro_runtime::checkpoint::CheckpointAck;
use faro_runtime::deploy::TaskDeployment;
use faro_runtime::metrics::ProgressSnapshot;
use serde::{Deserialize, Serialize};

/// Worker → scheduler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToScheduler {
    /// A worker joins (or joins again after losing the scheduler).
    Register {
        /// Its id: the data address other workers reach it at.
        worker: String,
        /// Its slots.
        slots: usize,
    },
    /// The worker is alive; where its running attempts have got to.
    Heartbeat {
        /// Its id.
        worker: String,
        /// Each running attempt's rows, bytes, backpressure and watermark.
        #[serde(default)]
        progress: Vec<AttemptProgress>,
    },
    /// A range edge producer's sample; answered with every producer's
    /// once all arrived.
    Samples {
        /// The job.
        job: String,
        /// The exchange.
        exchange: usize,
        /// The producer sending.
        producer: u32,
        /// Producers of the exchange.
        producers: u32,
        /// The sample, an archived batch.
        sample: Vec<u8>,
    },
    /// Rows a streaming job's `collect` sink took, as they come; answered
    /// once the scheduler has taken them (so a slow reader holds the
    /// sink), or refused when nobody waits for that attempt's rows.
    Rows {
        /// The worker sending.
        worker: String,
        /// The job.
        job: String,
        /// The chain.
        chain: usize,
        /// The subtask.
        subtask: u32,
        /// The attempt.
        attempt: u32,
        /// An archived batch.
        batch: Vec<u8>,
    },
    /// A task's part of a checkpoint is stored (or why not); answered
    /// `Taken`.
    CheckpointAck(CheckpointAck),
    /// Rows a restarted neighbour may have lost (approximate failover);
    /// answered `Taken`.
    RecordsLost(faro_runtime::rewire::RecordsLost),
}

/// Where one running attempt has got to, as a heartbeat reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptProgress {
    /// The job.
    pub job: String,
    /// The chain.
    pub chain: usize,
    /// The subtask.
    pub subtask: u32,
    /// The attempt.
    pub attempt: u32,
    /// Its rows, bytes, backpressure and watermark.
    pub progress: ProgressSnapshot,
}

impl AttemptProgress {
    /// The report of `key`'s progress.
    pub fn new(key: AttemptKey, progress: ProgressSnapshot) -> Self {
        Self {
            job: key.job,
            chain: key.chain,
            subtask: key.subtask,
            attempt: key.attempt,
            progress,
        }
    }

    /// The attempt and its progress.
    pub fn into_parts(self) -> (AttemptKey, ProgressSnapshot) {
        let key = AttemptKey {
            job: self.job,
            chain: self.chain,
            subtask: self.subtask,
            attempt: self.attempt,
        };
        (key, self.progress)
    }
}

/// The scheduler's answers to [`ToScheduler`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromScheduler {
    /// Registered; heartbeat at least this often.
    Registered {
        /// The heartbeat interval, in milliseconds.
        heartbeat_ms: u64,
    },
    /// Heartbeat taken.
    Alive,
    /// The scheduler does not know this worker (it expired it, or the
    /// scheduler restarted): register again.
    Unknown,
    /// Rows taken.
    Taken,
    /// Every producer's sample, by producer.
    Samples {
        /// Archived batches.
        samples: Vec<Vec<u8>>,
    },
    /// The request was refused.
    Refused {
        /// Why.
        message: String,
    },
}

/// Scheduler → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToWorker {
    /// Run one attempt; answered when it ends.
    Run(Box<TaskDeployment>),
    /// Stop one attempt.
    Cancel {
        /// The job.
        job: String,
        /// The chain.
        chain: usize,
        /// The subtask.
        subtask: u32,
        /// The attempt.
        attempt: u32,
    },
    /// Start a checkpoint at one source attempt (it injects the barrier).
    Checkpoint {
        /// The job.
        job: String,
        /// The chain.
        chain: usize,
        /// The subtask.
        subtask: u32,
        /// The attempt.
        attempt: u32,
        /// The checkpoint.
        checkpoint: u64,
        /// Unaligned: the barrier overtakes queued data.
        #[serde(default)]
        unaligned: bool,
    },
    /// A checkpoint of a job is complete: its sinks commit.
    CheckpointComplete {
        /// The job.
        job: String,
        /// The checkpoint.
        checkpoint: u64,
        /// A savepoint to stop at: the tasks then take no more input and
        /// acknowledge.
        #[serde(default)]
        stop: bool,
    },
    /// A subtask restarted alone (approximate failover): wire the
    /// worker's tasks that exchange data with it to its new attempt.
    PeerRestarted(faro_runtime::rewire::PeerRestart),
    /// Are you alive? Sent when the failure detector suspects the worker;
    /// answered at once.
    Probe,
    /// Stop every attempt of a job and forget it (it ended or was
    /// cancelled).
    FinishJob {
        /// The job.
        job: String,
    },
}

/// The answer to `Cancel`, `Probe` and `FinishJob`.
pub const DONE: &[u8] = b"{}";
