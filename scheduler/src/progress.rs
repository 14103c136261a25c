//! What the driver reports as a job runs — attempts deployed, finished
//! and failed, re-runs, regions done with their rows — so the scheduler
//! can keep the job's record (and a restarted scheduler can resume it)
//! without the driver knowing about storage.
//!
//! An attempt is deployed only once whoever keeps the record has taken
//! its [`Progress::Started`] (the message carries a [`Recorded`] signal,
//! given when the message is dropped): a scheduler that dies right after
//! deploying has still recorded the attempt's number, so the one that
//! resumes never deploys the same number again.

use faro_runtime::data::Batch;
use faro_runtime::task::TaskReport;
use tokio::sync::oneshot;

use crate::failover::RerunCause;

/// Given when its message has been handled (dropped): the driver waits for
/// it before deploying the attempt the message announces.
#[derive(Debug)]
pub struct Recorded(Option<oneshot::Sender<()>>);

impl Recorded {
    /// A signal, and the wait for it.
    pub fn new() -> (Self, oneshot::Receiver<()>) {
        let (tx, rx) = oneshot::channel();
        (Self(Some(tx)), rx)
    }
}

impl Drop for Recorded {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// One step of a job, as it happens.
#[derive(Debug)]
pub enum Progress {
    /// An attempt is about to be deployed.
    Started {
        /// The chain.
        chain: usize,
        /// The subtask.
        subtask: u32,
        /// The attempt.
        attempt: u32,
        /// The worker it runs on.
        worker: String,
        /// Given once this message is handled.
        recorded: Recorded,
    },
    /// An attempt finished.
    Finished {
        /// The chain.
        chain: usize,
        /// The subtask.
        subtask: u32,
        /// The attempt.
        attempt: u32,
        /// Its counters.
        report: TaskReport,
    },
    /// An attempt failed, or was stopped because its region restarted.
    Failed {
        /// The chain.
        chain: usize,
        /// The subtask.
        subtask: u32,
        /// The attempt.
        attempt: u32,
        /// Why.
        error: String,
    },
    /// Work runs again.
    Rerun(RerunCause),
    /// An epoch of a training job ended.
    Epoch {
        /// The training vertex.
        vertex: String,
        /// The epoch.
        epoch: u64,
        /// Its loss, if it measured one.
        loss: Option<f64>,
        /// How long it took.
        duration_ms: u64,
        /// The vertex's params for the next epoch (`None`: none follows).
        next: Option<serde_json::Value>,
        /// Its rows for the job's result.
        summary: Vec<Batch>,
    },
    /// A checkpoint completed.
    Checkpoint(crate::coordinator::CheckpointRecord),
    /// A savepoint was taken.
    Savepoint(crate::checkpoints::SavepointRecord),
    /// A checkpoint was started and abandoned.
    CheckpointAbandoned(u64),
    /// A checkpoint was found unreadable on restore.
    CheckpointUnusable(u64),
    /// A skewed partition is read in pieces (see [`crate::skew`]).
    Divided(crate::jobs::DividedPartition),
    /// A region was deployed to restore this checkpoint.
    Restored(u64),
    /// Rows a task restarted alone may have lost (approximate failover).
    RecordsLost(u64),
    /// A region finished; `collected` are its `collect` rows.
    RegionDone {
        /// The region (index in run order).
        region: usize,
        /// Its chains.
        chains: Vec<usize>,
        /// Rows of its `collect` sinks.
        collected: Vec<Batch>,
        /// Whether a sink dropped rows beyond what the scheduler keeps.
        truncated: bool,
    },
}
