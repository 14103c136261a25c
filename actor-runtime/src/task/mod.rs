//! A task: one subtask of a chain, driven as a single async loop on its
//! slot. It opens its outputs and input feeders, then either pulls its
//! source or reads its inputs' channels (honouring the head operator's
//! input preference, and the [`frontier`] of watermarks and barrier
//! alignment), pushes each batch and signal through the chained operators
//! by function call ([`running`]), and ships the chain's output through
//! its exchanges, waiting for credit. At the end it cascades end of data
//! through the chain, finishes every output (committing blocking ones)
//! and closes its operators — also on failure.

pub mod actor;
pub mod build;
pub mod checkpointing;
pub mod frontier;
mod inputs;
mod io;
mod rewire;
mod running;
mod unaligned;

pub use io::{FeederSpec, InputSpec, OutputSpec, SinkSpec};

use crate::exchange::InputQueue;
use crate::metrics::TaskMetrics;
use crate::operator::{OperatorContext, OperatorError};
use build::ChainOperators;
use running::Running;

/// Why a task failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// An operator failed.
    #[error("task {task}: {source}")]
    Operator {
        /// The task (`chain[subtask]`).
        task: String,
        /// The failure.
        source: OperatorError,
    },
    /// An exchange failed.
    #[error("task {task}: {source}")]
    Exchange {
        /// The task.
        task: String,
        /// The failure.
        source: crate::exchange::ExchangeError,
    },
    /// The checkpoint to restore could not be read back.
    #[error("task {task}: cannot restore checkpoint {checkpoint}: {message}")]
    Restore {
        /// The task.
        task: String,
        /// The checkpoint.
        checkpoint: u64,
        /// What is missing or damaged.
        message: String,
    },
}

impl TaskError {
    /// Whether running the task again can get past this error: an
    /// operator says so itself; an exchange fails for reasons outside the
    /// task (a peer, the network, the shuffle service) — a consumer that
    /// stopped taking rows being a neighbour's failure echoed.
    pub fn cause(&self) -> crate::failure::FailureCause {
        match self {
            Self::Operator { source, .. } => source.cause(),
            Self::Exchange {
                source: crate::exchange::ExchangeError::ConsumerGone { .. },
                ..
            } => crate::failure::FailureCause::PeerFailed,
            Self::Exchange { .. } => crate::failure::FailureCause::Transient,
            Self::Restore { .. } => crate::failure::FailureCause::CheckpointUnreadable,
        }
    }
}

impl From<TaskError> for crate::failure::TaskFailure {
    fn from(error: TaskError) -> Self {
        Self {
            cause: error.cause(),
            message: error.to_string(),
        }
    }
}

/// What a finished task did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskReport {
    /// The task (`chain[subtask]`).
    pub task: String,
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
    /// Rows its chain's sink took (see
    /// [`crate::operator::Operator::rows_sunk`]).
    #[serde(default)]
    pub rows_sunk: u64,
    /// Whether its `collect` sink dropped rows beyond what the job's
    /// runner keeps.
    #[serde(default)]
    pub collect_truncated: bool,
    /// The last checkpoint it took its part in (0: none): one it ended
    /// before has it as finished.
    #[serde(default)]
    pub snapshotted: u64,
    /// What it pushed to each partition of each shuffle it wrote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pushed: Vec<crate::exchange::sink::PartitionBytes>,
}

/// Everything one task needs to run.
pub struct TaskRun {
    /// `chain[subtask]`, for errors and logs.
    pub name: String,
    /// Where it runs.
    pub context: OperatorContext,
    /// Its operators.
    pub operators: ChainOperators,
    /// Its inputs, in the head's input order.
    pub inputs: Vec<InputSpec>,
    /// Its outputs.
    pub outputs: Vec<OutputSpec>,
    /// Its counters in the worker's metrics.
    pub metrics: TaskMetrics,
    /// The span its logs go under (job, vertex, subtask, attempt).
    pub span: tracing::Span,
    /// Its `collect` sink's buffer when rows pass on as they come.
    pub live: Option<crate::operators::basic::Collected>,
    /// Its link to the checkpoint coordinator, in a checkpointed job.
    pub checkpoints: Option<checkpointing::TaskCheckpoints>,
    /// Whether the job fails over approximately: a neighbour that goes
    /// away is waited for (its rows dropped), not a failure.
    pub approximate: bool,
}

impl TaskRun {
    /// Runs the task to its end, its logs under its span.
    pub async fn run(self) -> Result<TaskReport, TaskError> {
        use tracing::Instrument;
        let span = self.span.clone();
        let progress = self.metrics.progress();
        let result = self.run_in_span().instrument(span.clone()).await;
        span.in_scope(|| match &result {
            Ok(report) => tracing::info!(
                rows_in = report.rows_in,
                rows_out = report.rows_out,
                "task finished"
            ),
            // A neighbour stopped first: this is the job's stop.
            Err(error) if progress.stopping() => tracing::debug!(%error, "task stopped"),
            Err(error) => tracing::warn!(%error, "task failed"),
        });
        result
    }

    async fn run_in_span(self) -> Result<TaskReport, TaskError> {
        tracing::info!("task started");
        let name = self.name.clone();
        let exchange_error = |source| TaskError::Exchange {
            task: name.clone(),
            source,
        };
        let mut outputs = Vec::with_capacity(self.outputs.len());
        for output in self.outputs {
            outputs.push(
                output
                    .open(self.metrics.clone())
                    .await
                    .map_err(exchange_error)?,
            );
        }
        let schemas = self.inputs.iter().map(|i| i.schema.clone()).collect();
        let exchanges = self.inputs.iter().map(|i| i.exchange).collect();
        let queues: Vec<InputQueue> = self
            .inputs
            .into_iter()
            .map(|input| input.start(&self.metrics))
            .collect();
        let ChainOperators { source, operators } = self.operators;
        let mut running = Running {
            name: self.name.clone(),
            source,
            operators,
            outputs,
            report: TaskReport {
                task: self.name.clone(),
                ..TaskReport::default()
            },
            metrics: self.metrics,
            live: self.live,
            late_reported: 0,
            idle: false,
            sent_watermark: crate::message::Watermark::MIN,
            checkpoints: self.checkpoints,
            recording: None,
            replay: Vec::new(),
            approximate: self.approximate,
            snapshotted: 0,
        };
        let result = match running.restore().await {
            // Finished at the checkpoint restored: its consumers hold all
            // it sent, so it sends only its end.
            Ok(()) if running.finished_at_restore() => {
                tracing::info!("finished at the checkpoint restored; ending at once");
                let Running {
                    outputs,
                    mut report,
                    ..
                } = running;
                for output in outputs {
                    let pushed = output.finish().await.map_err(exchange_error)?;
                    report.pushed.extend(pushed);
                }
                return Ok(report);
            }
            Ok(()) => running.open_all(&self.context),
            Err(e) => Err(e),
        };
        let result = match result {
            Ok(()) if running.source.is_some() => running.drive_source().await,
            Ok(()) => running.drive_inputs(queues, schemas, exchanges).await,
            Err(e) => Err(e),
        };
        let closed = running.close_all();
        if let Err(error) = result.and(closed) {
            for output in running.outputs {
                output.abort(&error.to_string()).await;
            }
            return Err(error);
        }
        let Running {
            outputs,
            mut report,
            snapshotted,
            ..
        } = running;
        report.snapshotted = snapshotted;
        for output in outputs {
            let pushed = output.finish().await.map_err(exchange_error)?;
            report.pushed.extend(pushed);
        }
        Ok(report)
    }
}
