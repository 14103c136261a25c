//! A task: one subtask of a chain, driven as a single async loop on its
//! slot. It opens its outputs and input feeders, then either pulls its
//! source or waits on its inputs (honouring the head operator's input
//! preference), pushes each batch through the chained operators by
//! function call, and ships the chain's output through its exchanges,
//! waiting for credit. At the end it cascades end-of-input through the
//! chain, finishes every output (committing blocking ones) and closes its
//! operators — also on failure.

pub mod actor;
pub mod build;
mod io;

use std::future::poll_fn;
use std::task::Poll;

pub use io::{FeederSpec, InputSpec, OutputSpec, SinkSpec};

use crate::data::Batch;
use crate::exchange::{InputQueue, OutputWriter};
use crate::metrics::TaskMetrics;
use crate::operator::{Operator, OperatorContext, OperatorError, Rows, Source};
use build::ChainOperators;

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
}

impl TaskError {
    /// Whether running the task again can get past this error: an
    /// operator says so itself; an exchange fails for reasons outside the
    /// task (a peer, the network, the shuffle service).
    pub fn cause(&self) -> crate::failure::FailureCause {
        match self {
            Self::Operator { source, .. } => source.cause(),
            Self::Exchange { .. } => crate::failure::FailureCause::Transient,
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
    /// Whether its `collect` sink dropped rows beyond what the job's
    /// runner keeps.
    #[serde(default)]
    pub collect_truncated: bool,
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
}

struct Running {
    name: String,
    source: Option<Box<dyn Source>>,
    operators: Vec<Box<dyn Operator>>,
    outputs: Vec<OutputWriter>,
    report: TaskReport,
    metrics: TaskMetrics,
}

impl Running {
    fn op_error(&self, source: OperatorError) -> TaskError {
        TaskError::Operator {
            task: self.name.clone(),
            source,
        }
    }

    /// Feeds `batches` to chained operator `op`; returns what it emits.
    fn feed(&mut self, op: usize, batches: &[Batch]) -> Result<Vec<Batch>, TaskError> {
        let mut out: Vec<Batch> = Vec::new();
        for batch in batches {
            self.operators[op]
                .process(0, &Rows::of_batch(batch), &mut out)
                .map_err(|e| self.op_error(e))?;
        }
        Ok(out)
    }

    /// Pushes `batches` through operators `from..`, returning what the
    /// last one emits.
    fn push(&mut self, from: usize, mut carry: Vec<Batch>) -> Result<Vec<Batch>, TaskError> {
        for op in from..self.operators.len() {
            carry = self.feed(op, &carry)?;
        }
        Ok(carry)
    }

    /// Ends input of operators `from..` in turn, each flushing into the
    /// rest of the chain.
    fn cascade_end(&mut self, from: usize, mut carry: Vec<Batch>) -> Result<Vec<Batch>, TaskError> {
        for op in from..self.operators.len() {
            let mut out = self.feed(op, &carry)?;
            self.operators[op]
                .end_input(0, &mut out)
                .map_err(|e| self.op_error(e))?;
            carry = out;
        }
        Ok(carry)
    }

    fn count_in(&mut self, rows: usize, bytes: usize) {
        self.report.rows_in += rows as u64;
        self.report.bytes_in += bytes as u64;
        self.metrics.batch_in(rows, bytes);
    }

    async fn ship(&mut self, batches: Vec<Batch>) -> Result<(), TaskError> {
        if batches.is_empty() {
            return Ok(());
        }
        for batch in batches {
            let (rows, bytes) = (batch.num_rows(), batch.buffer_bytes());
            self.report.rows_out += rows as u64;
            self.report.bytes_out += bytes as u64;
            self.metrics.batch_out(rows, bytes);
            let mut batch = Some(batch);
            let last = self.outputs.len().saturating_sub(1);
            for (i, output) in self.outputs.iter_mut().enumerate() {
                // The last output takes the batch; the others a copy.
                let one = if i == last {
                    batch.take()
                } else {
                    batch.clone()
                };
                let Some(one) = one else { break };
                output
                    .send(one)
                    .await
                    .map_err(|source| TaskError::Exchange {
                        task: self.name.clone(),
                        source,
                    })?;
            }
        }
        let credits = self.outputs.iter().map(OutputWriter::credits).sum();
        self.metrics.set_credits(credits);
        Ok(())
    }

    async fn drive_source(&mut self) -> Result<(), TaskError> {
        while let Some(batch) = match self.source.as_mut() {
            Some(source) => source.next_batch().map_err(|e| self.op_error(e))?,
            None => None,
        } {
            self.count_in(batch.num_rows(), batch.buffer_bytes());
            let out = self.push(0, vec![batch])?;
            self.ship(out).await?;
            // Let the slot's other tasks (and the consumers) run.
            tokio::task::yield_now().await;
        }
        let out = self.cascade_end(0, Vec::new())?;
        self.ship(out).await
    }

    async fn drive_inputs(
        &mut self,
        mut queues: Vec<InputQueue>,
        schemas: Vec<crate::data::Schema>,
    ) -> Result<(), TaskError> {
        let mut open: Vec<bool> = vec![true; queues.len()];
        let mut start = 0usize;
        while open.iter().any(|o| *o) {
            let preferred = self
                .operators
                .first()
                .and_then(|op| op.input_preference())
                .filter(|&p| open.get(p).copied().unwrap_or(false));
            let (input, delivery) = poll_fn(|cx| {
                let n = queues.len();
                for k in 0..n {
                    let i = (start + k) % n;
                    if !open[i] || preferred.is_some_and(|p| p != i) {
                        continue;
                    }
                    if let Poll::Ready(item) = queues[i].poll_next(cx) {
                        return Poll::Ready((i, item));
                    }
                }
                Poll::Pending
            })
            .await;
            start = input + 1;
            match delivery {
                Some(Ok(incoming)) => {
                    let mut out: Vec<Batch> = Vec::new();
                    let bytes = incoming.bytes();
                    let mut seen = 0;
                    let head = &mut self.operators[0];
                    let processed = incoming
                        .with_rows(&schemas[input], |rows| {
                            seen = rows.rows;
                            head.process(input, rows, &mut out)
                        })
                        .map_err(|e| TaskError::Operator {
                            task: self.name.clone(),
                            source: e.into(),
                        })?;
                    self.count_in(seen, bytes);
                    processed.map_err(|e| self.op_error(e))?;
                    drop(incoming);
                    let out = self.push(1, out)?;
                    self.ship(out).await?;
                }
                Some(Err(source)) => {
                    return Err(TaskError::Exchange {
                        task: self.name.clone(),
                        source,
                    })
                }
                None => {
                    open[input] = false;
                    let mut out: Vec<Batch> = Vec::new();
                    self.operators[0]
                        .end_input(input, &mut out)
                        .map_err(|e| self.op_error(e))?;
                    let out = self.push(1, out)?;
                    self.ship(out).await?;
                }
            }
        }
        let out = self.cascade_end(1, Vec::new())?;
        self.ship(out).await
    }
}

impl TaskRun {
    /// Runs the task to its end, its logs under its span.
    pub async fn run(self) -> Result<TaskReport, TaskError> {
        use tracing::Instrument;
        let span = self.span.clone();
        let result = self.run_in_span().instrument(span.clone()).await;
        span.in_scope(|| match &result {
            Ok(report) => tracing::info!(
                rows_in = report.rows_in,
                rows_out = report.rows_out,
                "task finished"
            ),
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
        };
        let result = running.open_all(&self.context);
        let result = match result {
            Ok(()) if running.source.is_some() => running.drive_source().await,
            Ok(()) => running.drive_inputs(queues, schemas).await,
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
            outputs, report, ..
        } = running;
        for output in outputs {
            output.finish().await.map_err(exchange_error)?;
        }
        Ok(report)
    }
}

impl Running {
    fn open_all(&mut self, context: &OperatorContext) -> Result<(), TaskError> {
        if let Some(source) = &mut self.source {
            source.open(context).map_err(|e| TaskError::Operator {
                task: self.name.clone(),
                source: e,
            })?;
        }
        for i in 0..self.operators.len() {
            self.operators[i]
                .open(context)
                .map_err(|e| self.op_error(e))?;
        }
        Ok(())
    }

    fn close_all(&mut self) -> Result<(), TaskError> {
        let mut first = None;
        if let Some(source) = &mut self.source {
            if let Err(e) = source.close() {
                first.get_or_insert(e);
            }
        }
        for op in &mut self.operators {
            if let Err(e) = op.close() {
                first.get_or_insert(e);
            }
        }
        match first {
            Some(e) => Err(self.op_error(e)),
            None => Ok(()),
        }
    }
}
