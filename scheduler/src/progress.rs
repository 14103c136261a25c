//! What the driver reports as a job runs — attempts deployed, finished
//! and failed, re-runs, regions done with their rows — so the scheduler
//! can keep the job's record (and a restarted scheduler can resume it)
//! without the driver knowing about storage.

use faro_runtime::data::Batch;
use faro_runtime::task::TaskReport;

use crate::failover::RerunCause;

/// One step of a job, as it happens.
#[derive(Debug)]
pub enum Progress {
    /// An attempt was deployed.
    Started {
        /// The chain.
        chain: usize,
        /// The subtask.
        subtask: u32,
        /// The attempt.
        attempt: u32,
        /// The worker it runs on.
        worker: String,
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
