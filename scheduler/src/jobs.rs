//! What the scheduler knows about a job, as plain serializable data, and
//! the rules for how a job's state may change.

use serde::{Deserialize, Serialize};

use faro_runtime::spec::JobSpec;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Accepted, not started.
    Queued,
    /// Its tasks are running.
    Running,
    /// Every task finished.
    Finished,
    /// A task failed; the job stopped.
    Failed,
    /// Stopped on request.
    Cancelled,
}

impl JobState {
    /// Whether the job is over.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Failed | Self::Cancelled)
    }

    /// Whether a job may move from `self` to `next`: forward only, and
    /// never out of a terminal state.
    pub fn may_become(self, next: JobState) -> bool {
        use JobState::*;
        matches!(
            (self, next),
            (Queued, Running | Failed | Cancelled) | (Running, Finished | Failed | Cancelled)
        )
    }
}

/// One task's counters, as reported when it finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskSummary {
    /// `chain[subtask]`.
    pub task: String,
    /// Rows it consumed or produced at its head.
    pub rows_in: u64,
    /// Rows it shipped downstream.
    pub rows_out: u64,
}

/// The rows of a job's `collect` sinks, bounded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, as JSON values in column order.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Whether rows beyond the scheduler's limit were dropped.
    pub truncated: bool,
}

/// Everything kept about one job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The job's id.
    pub id: String,
    /// Its name from the spec.
    pub name: String,
    /// Its state.
    pub state: JobState,
    /// When it was submitted (ms since the epoch).
    pub submitted_ms: u64,
    /// When it started running.
    pub started_ms: Option<u64>,
    /// When it ended.
    pub finished_ms: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// Its spec.
    pub spec: JobSpec,
    /// Vertices and their parallelism, for status displays.
    pub vertices: Vec<(String, u32)>,
    /// Finished tasks' counters.
    pub tasks: Vec<TaskSummary>,
    /// Times the job (or its tasks) were run again after a failure.
    pub reruns: u32,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::JobState::*;

    #[test]
    fn states_only_move_forward() {
        assert!(Queued.may_become(Running));
        assert!(Running.may_become(Finished));
        assert!(Running.may_become(Cancelled));
        assert!(!Finished.may_become(Running));
        assert!(!Cancelled.may_become(Finished));
        assert!(!Failed.may_become(Cancelled));
        assert!(!Running.may_become(Queued));
    }
}
