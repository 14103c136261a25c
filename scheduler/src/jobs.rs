//! What the scheduler knows about a job, as plain serializable data, and
//! the rules for how a job's state may change.

use serde::{Deserialize, Serialize};

use crate::failover::RerunCause;

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

/// Where one attempt of a subtask is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptState {
    /// Deployed and not ended.
    Running,
    /// Ended well.
    Finished,
    /// Failed, was lost with its worker, or was stopped for a restart.
    Failed,
    /// Stopped because its job was cancelled.
    Cancelled,
}

/// One attempt of a subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptStatus {
    /// The attempt number (0 first).
    pub attempt: u32,
    /// The worker it ran on.
    pub worker: String,
    /// Where it is.
    pub state: AttemptState,
    /// When it was deployed (ms since the epoch).
    pub started_ms: u64,
    /// When it ended.
    pub finished_ms: Option<u64>,
    /// Rows its head consumed or produced.
    pub rows_in: u64,
    /// Rows it shipped downstream.
    pub rows_out: u64,
    /// Bytes its head consumed or produced.
    #[serde(default)]
    pub bytes_in: u64,
    /// Bytes it shipped downstream.
    #[serde(default)]
    pub bytes_out: u64,
    /// Why it failed.
    pub error: Option<String>,
    /// Event time it has reached (ms since the epoch), while it runs in a
    /// streaming job: filled in when the status is asked for, not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watermark_ms: Option<i64>,
    /// Time it has waited for its consumers' credit (ms), while it runs:
    /// filled in when the status is asked for, not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backpressure_ms: Option<u64>,
    /// Rows it dropped as late so far, while it runs: filled in when the
    /// status is asked for, not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_records: Option<u64>,
}

impl AttemptStatus {
    /// Attempt `attempt`, deployed on `worker` at `started_ms` and running.
    pub fn running(attempt: u32, worker: String, started_ms: u64) -> Self {
        Self {
            attempt,
            worker,
            state: AttemptState::Running,
            started_ms,
            finished_ms: None,
            rows_in: 0,
            rows_out: 0,
            bytes_in: 0,
            bytes_out: 0,
            error: None,
            watermark_ms: None,
            backpressure_ms: None,
            late_records: None,
        }
    }

    /// Shows a running attempt's `progress` so far: its rows and bytes
    /// (stored only once it ends), backpressure and watermark.
    pub fn show_progress(&mut self, progress: &faro_runtime::metrics::ProgressSnapshot) {
        self.rows_in = self.rows_in.max(progress.rows_in);
        self.rows_out = self.rows_out.max(progress.rows_out);
        self.bytes_in = self.bytes_in.max(progress.bytes_in);
        self.bytes_out = self.bytes_out.max(progress.bytes_out);
        self.backpressure_ms = Some(progress.backpressure_ms);
        self.late_records = Some(progress.late_records);
        self.watermark_ms = progress.watermark_ms;
    }
}

/// One subtask and its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskStatus {
    /// The chain's name (its vertices joined by `->`).
    pub vertex: String,
    /// The chain's position in the plan.
    pub chain: usize,
    /// The subtask.
    pub subtask: u32,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptStatus>,
}

/// Work run again, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reruns {
    /// Attempts re-run because a task failed.
    pub task_failures: u32,
    /// Attempts re-run because their worker was lost.
    pub lost_workers: u32,
    /// Regions re-run because shuffle partitions they produced were lost.
    pub lost_partitions: u32,
    /// Rows the neighbours of tasks restarted alone (approximate
    /// failover) had sent them after the checkpoint they restored: rows
    /// that may be missing from the job's results.
    #[serde(default)]
    pub records_possibly_lost: u64,
}

impl Reruns {
    /// Counts one re-run.
    pub fn count(&mut self, cause: RerunCause) {
        match cause {
            RerunCause::TaskFailed => self.task_failures += 1,
            RerunCause::WorkerLost => self.lost_workers += 1,
            RerunCause::PartitionLost => self.lost_partitions += 1,
        }
    }

    /// All re-runs.
    pub fn total(&self) -> u32 {
        self.task_failures + self.lost_workers + self.lost_partitions
    }
}

/// The rows of a job's `collect` sinks, bounded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, as JSON values in column order.
    pub rows: Vec<Vec<serde_json::Value>>,
    /// Whether rows beyond the scheduler's limits were dropped.
    pub truncated: bool,
    /// Bytes of the rows kept, as JSON.
    #[serde(default)]
    pub bytes: u64,
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
    /// Vertices and their parallelism, for status displays.
    pub vertices: Vec<(String, u32)>,
    /// Every subtask that was deployed, with its attempts.
    pub tasks: Vec<TaskStatus>,
    /// Work run again after failures.
    pub reruns: Reruns,
    /// Regions (by index in run order) that finished: a restarted
    /// scheduler does not run them again while their output is committed.
    pub done_regions: Vec<usize>,
    /// Whether it runs in streaming mode: its result grows as it runs.
    #[serde(default)]
    pub streaming: bool,
    /// A training job's epochs so far, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub epochs: Vec<EpochStatus>,
    /// A training job's vertex and its params for the next epoch (the
    /// model fed back): a restarted scheduler resumes from them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iteration: Option<(String, serde_json::Value)>,
    /// A checkpointed job's checkpoints: complete ones, abandoned,
    /// unusable, restores.
    #[serde(default)]
    pub checkpoints: crate::checkpoints::CheckpointHistory,
    /// Skewed partitions that were read in pieces.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub divided: Vec<DividedPartition>,
}

/// A skewed partition of a blocking edge that its consumer read in
/// pieces, by map range, on several subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DividedPartition {
    /// The consuming vertex (its chain's head).
    pub vertex: String,
    /// The exchange (edge) whose partition it is.
    pub exchange: usize,
    /// The partition.
    pub partition: u32,
    /// Its bytes.
    pub bytes: u64,
    /// The pieces it was read in.
    pub pieces: u32,
}

/// One finished epoch of a training job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStatus {
    /// The epoch (0 first).
    pub epoch: u64,
    /// Its loss, if it measured one.
    pub loss: Option<f64>,
    /// How long it took.
    pub duration_ms: u64,
}

impl JobRecord {
    /// A job just submitted: queued, nothing run yet.
    pub fn queued(id: String, name: String, streaming: bool, submitted_ms: u64) -> Self {
        Self {
            id,
            name,
            state: JobState::Queued,
            submitted_ms,
            started_ms: None,
            finished_ms: None,
            error: None,
            vertices: Vec::new(),
            tasks: Vec::new(),
            reruns: Reruns::default(),
            done_regions: Vec::new(),
            streaming,
            epochs: Vec::new(),
            iteration: None,
            checkpoints: Default::default(),
            divided: Vec::new(),
        }
    }

    /// Keeps a step of one attempt — started, finished, failed — or a
    /// re-run, taken at `now_ms`; `names` are the chains' names, by chain.
    /// Other steps (epochs, checkpoints, rows) are the caller's to keep.
    pub fn apply(&mut self, progress: &crate::progress::Progress, names: &[String], now_ms: u64) {
        use crate::progress::Progress;
        let vertex = |chain: usize| names.get(chain).map_or("", String::as_str).to_string();
        match progress {
            Progress::Started {
                chain,
                subtask,
                attempt,
                worker,
                ..
            } => self
                .task_mut(*chain, *subtask, &vertex(*chain))
                .attempts
                .push(AttemptStatus::running(*attempt, worker.clone(), now_ms)),
            Progress::Finished {
                chain,
                subtask,
                attempt,
                report,
            } => {
                let task = self.task_mut(*chain, *subtask, &vertex(*chain));
                if let Some(a) = task.attempts.iter_mut().find(|a| a.attempt == *attempt) {
                    a.state = AttemptState::Finished;
                    a.finished_ms = Some(now_ms);
                    a.rows_in = report.rows_in;
                    a.rows_out = report.rows_out;
                    a.bytes_in = report.bytes_in;
                    a.bytes_out = report.bytes_out;
                }
            }
            Progress::Failed {
                chain,
                subtask,
                attempt,
                error,
            } => {
                let task = self.task_mut(*chain, *subtask, &vertex(*chain));
                if let Some(a) = task
                    .attempts
                    .iter_mut()
                    .find(|a| a.attempt == *attempt && a.state == AttemptState::Running)
                {
                    a.state = AttemptState::Failed;
                    a.finished_ms = Some(now_ms);
                    a.error = Some(error.clone());
                }
            }
            Progress::Rerun(cause) => self.reruns.count(*cause),
            _ => {}
        }
    }

    /// Shows where its running attempts have got to: `live` by `(chain,
    /// subtask, attempt)`, as [`crate::workers::Workers::progress`] gives it.
    pub fn show_progress(
        &mut self,
        live: &std::collections::HashMap<
            (usize, u32, u32),
            faro_runtime::metrics::ProgressSnapshot,
        >,
    ) {
        for task in &mut self.tasks {
            for attempt in &mut task.attempts {
                if let Some(progress) = live.get(&(task.chain, task.subtask, attempt.attempt)) {
                    attempt.show_progress(progress);
                }
            }
        }
    }

    /// The status of `(chain, subtask)`, created on first use.
    pub fn task_mut(&mut self, chain: usize, subtask: u32, vertex: &str) -> &mut TaskStatus {
        let at = match self
            .tasks
            .iter()
            .position(|t| t.chain == chain && t.subtask == subtask)
        {
            Some(at) => at,
            None => {
                self.tasks.push(TaskStatus {
                    vertex: vertex.to_string(),
                    chain,
                    subtask,
                    attempts: Vec::new(),
                });
                self.tasks.sort_by_key(|t| (t.chain, t.subtask));
                self.tasks
                    .iter()
                    .position(|t| t.chain == chain && t.subtask == subtask)
                    .unwrap_or(0)
            }
        };
        &mut self.tasks[at]
    }

    /// The attempt number after every attempt this record has seen, per
    /// subtask (where a restarted scheduler continues).
    pub fn next_attempts(&self) -> std::collections::HashMap<(usize, u32), u32> {
        self.tasks
            .iter()
            .filter_map(|t| {
                let last = t.attempts.iter().map(|a| a.attempt).max()?;
                Some(((t.chain, t.subtask), last + 1))
            })
            .collect()
    }
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
