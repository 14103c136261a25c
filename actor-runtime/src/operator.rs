//! The operator contract: what every computing step of a job implements.
//!
//! An [`Operator`] is driven by the task it runs in, one call at a time
//! (never concurrently), in the order its inputs delivered (see
//! [`crate::message`]): `open` once, then `process` for each input batch
//! as it arrives (from any of its inputs, unless it states a
//! [`Operator::input_preference`]), `on_watermark` each time event time
//! advances on every input, `on_barrier` when a checkpoint barrier has
//! arrived on every input, `end_input` (the end-of-data hook) once per
//! input when that input is exhausted, and `close` once at the end,
//! whether the task succeeded or not. Output goes to an [`Emit`] passed to
//! each call, so an operator never knows whether it feeds a chained
//! operator, a credit channel or the shuffle service. A [`Source`] has no
//! inputs and is pulled for batches instead, so the task can stop pulling
//! under backpressure.
//!
//! The hooks beyond `process` have defaults that suit a stateless
//! operator: watermarks pass through, barriers find nothing to snapshot,
//! end of input emits nothing, no timer, no late rows and no state to
//! report. A [`Source`] may pace itself to the
//! wall clock (`ready_at`) and report its event time (`watermark`).
//! At a checkpoint an operator's `snapshot_parts` (by default its
//! `snapshot_state`, whole) follows its
//! `on_barrier`, a restored task hands each operator its state with
//! `restore_state` before `open`, and `checkpoint_complete` tells sinks
//! to commit (see [`crate::checkpoint`]). Operators are `Send`
//! (a task may be placed on any slot) but need not be `Sync`.

use std::path::PathBuf;
use std::sync::Arc;

use crate::access::AccessPolicy;
use crate::checkpoint::Rescaled;
use crate::state::parts::StateSnapshot;

use crate::data::{Batch, BatchError, BatchView, ColumnView, KeptArchive, RowKind, RowKinds};
use crate::expr::{EvalContext, ExprError, Input};
use crate::failure::{io_cause, FailureCause};
use crate::kernels::views;
use crate::message::{Barrier, Watermark};

/// Where an operator instance runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorContext {
    /// The vertex it belongs to.
    pub vertex: String,
    /// Its subtask index.
    pub subtask: u32,
    /// The vertex's parallelism.
    pub parallelism: u32,
    /// The attempt of the subtask this is (0 first).
    pub attempt: u32,
    /// A private directory for spill files, removed after the task.
    pub spill_dir: PathBuf,
    /// The files its job may read and write on this worker.
    pub access: Arc<AccessPolicy>,
}

/// The columns of one input batch, owned or received.
#[derive(Debug, Clone)]
pub struct Rows<'a> {
    /// The columns, in schema order.
    pub columns: Vec<ColumnView<'a>>,
    /// Rows in the batch.
    pub rows: usize,
    /// Each row's kind, when the batch is part of a changelog; `None`:
    /// every row is an insert.
    pub kinds: Option<RowKinds<'a>>,
}

impl OperatorError {
    /// A retraction of a row the operator does not hold: `what` says
    /// whose changelog (`"top_n: the changelog"`), the rest names the
    /// row, its kind and its values.
    pub fn not_held(what: &str, rows: &Rows<'_>, row: usize) -> Self {
        let values: Vec<String> = rows
            .columns
            .iter()
            .map(|c| format!("{} = {}", c.name, c.value(row)))
            .collect();
        Self::BadInput(format!(
            "{what} retracts ({}) a row it does not hold (row {row} of the batch: {}); a \
             retraction must follow the row it retracts",
            rows.kind(row),
            values.join(", ")
        ))
    }
}

impl<'a> Rows<'a> {
    /// The rows of an owned batch.
    pub fn of_batch(batch: &'a Batch) -> Self {
        Self {
            columns: views(batch),
            rows: batch.num_rows(),
            kinds: batch.kinds(),
        }
    }

    /// The rows of a received (archived) batch, read in place.
    pub fn of_view(view: &BatchView<'a>) -> Self {
        Self {
            columns: view.columns().to_vec(),
            rows: view.num_rows(),
            kinds: view.kinds(),
        }
    }

    /// The kind of row `i`.
    pub fn kind(&self, i: usize) -> RowKind {
        self.kinds.map_or(RowKind::Insert, |kinds| kinds.get(i))
    }

    /// An owned batch of the rows at `indices` (in that order), with
    /// their kinds: what a filter or a partitioner passes on.
    pub fn take(&self, schema: &crate::data::Schema, indices: &[u32]) -> Result<Batch, BatchError> {
        crate::kernels::take::take_batch(schema, &self.columns, indices)?
            .with_kind_bytes(self.kinds.map(|kinds| kinds.take(indices)))
    }

    /// An owned copy of these rows, kinds included (for operators that
    /// keep their input beyond the call: sort buffers, join build sides,
    /// collect sinks).
    pub fn to_batch(&self, schema: &crate::data::Schema) -> Result<Batch, BatchError> {
        let columns = self
            .columns
            .iter()
            .map(crate::kernels::take::copy)
            .collect();
        Batch::new(schema.clone(), self.rows, columns)?
            .with_kind_bytes(self.kinds.map(|kinds| kinds.bytes().to_vec()))
    }

    /// As expression input.
    pub fn input(&self, context: EvalContext) -> Input<'_, 'a> {
        Input {
            columns: &self.columns,
            rows: self.rows,
            context,
        }
    }
}

/// Why an operator failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// An expression failed to evaluate (a bad cast of a value).
    #[error(transparent)]
    Expr(#[from] ExprError),
    /// A batch could not be built or read.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// State over the operator's memory budget that it cannot spill.
    #[error("{operator}: needs more than its memory budget of {budget} bytes ({detail})")]
    OverBudget {
        /// The operator.
        operator: String,
        /// The budget.
        budget: u64,
        /// What was being held.
        detail: String,
    },
    /// More rows than a bounded sink may hold.
    #[error("{operator}: more than {limit} rows; raise its limit or write files instead")]
    TooManyRows {
        /// The sink.
        operator: String,
        /// Its limit.
        limit: usize,
    },
    /// Bad input data (a malformed CSV line, a value of the wrong type).
    #[error("{0}")]
    BadInput(String),
    /// The downstream side went away or failed.
    #[error("output closed: {0}")]
    OutputClosed(String),
    /// A file outside what this worker may read or write.
    #[error("{action} {path} refused: {reason}")]
    AccessDenied {
        /// `reading` or `writing`.
        action: &'static str,
        /// The path asked for.
        path: String,
        /// Why (which roots are allowed, or that output exists).
        reason: String,
    },
    /// A store or service that may answer later did not (a timeout, a
    /// throttled request).
    #[error("{0}")]
    Unavailable(String),
}

impl OperatorError {
    /// Whether running the task again can get past this error.
    pub fn cause(&self) -> FailureCause {
        match self {
            Self::Expr(_)
            | Self::Batch(_)
            | Self::OverBudget { .. }
            | Self::TooManyRows { .. }
            | Self::BadInput(_)
            | Self::AccessDenied { .. } => FailureCause::Deterministic,
            Self::Io { source, .. } => io_cause(source),
            Self::OutputClosed(_) | Self::Unavailable(_) => FailureCause::Transient,
        }
    }
}

impl OperatorError {
    /// An I/O error on `path`.
    pub fn io(
        action: &'static str,
        path: impl std::fmt::Display,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.to_string();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// Where an operator's output goes.
pub trait Emit {
    /// Hands one output batch downstream.
    fn emit(&mut self, batch: Batch) -> Result<(), OperatorError>;
}

impl Emit for Vec<Batch> {
    fn emit(&mut self, batch: Batch) -> Result<(), OperatorError> {
        if batch.num_rows() > 0 {
            self.push(batch);
        }
        Ok(())
    }
}

/// A step of a job that consumes batches and emits batches.
pub trait Operator: Send {
    /// Called once before any input.
    fn open(&mut self, _context: &OperatorContext) -> Result<(), OperatorError> {
        Ok(())
    }

    /// The input the operator wants to read until it ends (a hash join's
    /// build side), or `None` to take batches as they come.
    fn input_preference(&self) -> Option<usize> {
        None
    }

    /// One batch from input `input`.
    fn process(
        &mut self,
        input: usize,
        rows: &Rows<'_>,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError>;

    /// Whether the operator keeps whole input batches until its input
    /// ends (a sort's buffer). The task then hands it the archives it
    /// reads in place from a shuffle node in its process through
    /// [`Operator::keep`], to hold as they arrived rather than copy.
    fn keeps_input(&self) -> bool {
        false
    }

    /// One received batch from input `input`, checked, to keep as it is
    /// (asked only of an operator whose [`Operator::keeps_input`] is
    /// true). The default processes its rows as any other batch.
    fn keep(
        &mut self,
        input: usize,
        archive: KeptArchive,
        out: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let view = archive.view()?;
        self.process(input, &Rows::of_view(&view), out)
    }

    /// Event time has reached `watermark` on every input: no row with an
    /// earlier event time follows. Emit what it completes (windows that
    /// end at or before it), then return the watermark to pass downstream
    /// (after what was emitted); `None` holds it back. The default passes
    /// it on unchanged.
    fn on_watermark(
        &mut self,
        watermark: Watermark,
        _out: &mut dyn Emit,
    ) -> Result<Option<Watermark>, OperatorError> {
        Ok(Some(watermark))
    }

    /// Checkpoint barrier `barrier` has arrived on every input: every
    /// row before it has been processed, none after it. The point at
    /// which an operator's state belongs to that checkpoint; the barrier
    /// is passed downstream after whatever this emits. The default keeps
    /// no state.
    fn on_barrier(&mut self, _barrier: Barrier, _out: &mut dyn Emit) -> Result<(), OperatorError> {
        Ok(())
    }

    /// Its state at checkpoint `checkpoint`, asked right after
    /// [`Operator::on_barrier`] (every row before the barrier processed,
    /// none after): everything it keeps across batches, as bytes
    /// [`Operator::restore_state`] reads back. `None` (the default): it
    /// keeps nothing. Only operators whose catalogue definition says
    /// `checkpointable` run in a checkpointed job, so one that keeps
    /// state and does not override this is never asked. A sink
    /// pre-commits here what it commits in
    /// [`Operator::checkpoint_complete`].
    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        Ok(None)
    }

    /// Its state at checkpoint `checkpoint` in parts, for an incremental
    /// checkpoint: parts that did not change after the snapshot of
    /// checkpoint `since` may be [`crate::state::parts::Part::Unchanged`] (with `since`
    /// `None`, every part has its bytes). The parts, concatenated in id
    /// order, are what [`Operator::restore_state`] reads back. What the
    /// task calls; the default hands [`Operator::snapshot_state`] whole,
    /// so an operator overrides one of the two.
    fn snapshot_parts(
        &mut self,
        checkpoint: u64,
        _since: Option<u64>,
    ) -> Result<Option<StateSnapshot>, OperatorError> {
        Ok(self.snapshot_state(checkpoint)?.map(StateSnapshot::Whole))
    }

    /// Takes back what [`Operator::snapshot_state`] returned, before
    /// `open`: the task starts again from a checkpoint. The default, for
    /// an operator that never returns state, refuses any.
    fn restore_state(&mut self, _state: &[u8]) -> Result<(), OperatorError> {
        Err(OperatorError::BadInput(
            "a checkpoint holds state for an operator that keeps none".into(),
        ))
    }

    /// Takes back saved state at a new parallelism (a savepoint resumed
    /// with more or fewer subtasks), before `open`: `from` holds every
    /// old subtask's state and says which share is this subtask's. The
    /// default refuses, naming the operator's limit.
    fn restore_rescaled(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        Err(OperatorError::BadInput(format!(
            "saved by {} subtasks, its state cannot be split over {}",
            from.from_parallelism, from.parallelism
        )))
    }

    /// Checkpoint `checkpoint` is complete: every task of the job has
    /// stored its state. A sink makes visible what it pre-committed at
    /// that checkpoint's barrier (two-phase commit). Called in order, on
    /// the task's loop; a checkpoint that never completes is never named.
    fn checkpoint_complete(&mut self, _checkpoint: u64) -> Result<(), OperatorError> {
        Ok(())
    }

    /// End of data: input `input` has no more batches. Blocking operators
    /// (aggregate, sort) emit their results when their last input ends.
    fn end_input(&mut self, _input: usize, _out: &mut dyn Emit) -> Result<(), OperatorError> {
        Ok(())
    }

    /// When, by the wall clock, the operator next wants
    /// [`Operator::on_timer`] called — a processing-time window's end, a
    /// rolling file's interval — so that it acts even when no input comes.
    /// Asked after every call; `None` (the default): no timer.
    fn timer(&self) -> Option<std::time::Instant> {
        None
    }

    /// The time [`Operator::timer`] named has come: emit what it
    /// completes. Called on the task's loop like every other hook; after
    /// it the timer must lie ahead (or be `None`), or the loop would call
    /// it again at once.
    fn on_timer(&mut self, _out: &mut dyn Emit) -> Result<(), OperatorError> {
        Ok(())
    }

    /// Rows dropped so far for arriving behind the watermark (past any
    /// allowed lateness); the task reports the total as
    /// `faro_task_late_records_total`. Operators without event time drop
    /// none.
    fn late_rows(&self) -> u64 {
        0
    }

    /// Rows a sink has taken so far (written, sent or discarded); the
    /// task reports the chain's total as its `rows_sunk`. Operators that
    /// are not sinks take none.
    fn rows_sunk(&self) -> u64 {
        0
    }

    /// Bytes of state held in memory now (open windows, groups, buffered
    /// rows); the task's chain reports the sum as `faro_task_state_bytes`.
    /// Approximate, as the operator's memory budget counts it.
    fn state_bytes(&self) -> u64 {
        0
    }

    /// Called once at the end, after success or failure: release files.
    fn close(&mut self) -> Result<(), OperatorError> {
        Ok(())
    }
}

/// A step with no inputs that produces batches when asked.
pub trait Source: Send {
    /// Called once before the first batch.
    fn open(&mut self, _context: &OperatorContext) -> Result<(), OperatorError> {
        Ok(())
    }

    /// The next batch, or `None` when the source is exhausted.
    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError>;

    /// When the next batch is due, for a source paced to the wall clock
    /// (the task waits until then without holding its slot); `None`: now.
    fn ready_at(&self) -> Option<std::time::Instant> {
        None
    }

    /// Event time the source has reached: after the batches it has
    /// produced, no row at or before it follows. Asked after each batch;
    /// the task forwards it when it advances. The default (and every
    /// source in a batch job) has none.
    fn watermark(&mut self) -> Option<Watermark> {
        None
    }

    /// Where the source has got to at checkpoint `checkpoint` (taken
    /// right after the batches before the barrier): what
    /// [`Source::restore_state`] needs to go on from there. `None` (the
    /// default): nothing to keep.
    fn snapshot_state(&mut self, _checkpoint: u64) -> Result<Option<Vec<u8>>, OperatorError> {
        Ok(None)
    }

    /// Rewinds to what [`Source::snapshot_state`] returned, before
    /// `open`. The default refuses any state.
    fn restore_state(&mut self, _state: &[u8]) -> Result<(), OperatorError> {
        Err(OperatorError::BadInput(
            "a checkpoint holds a position for a source that keeps none".into(),
        ))
    }

    /// Takes back saved positions at a new parallelism, before `open`
    /// (see [`Operator::restore_rescaled`]). The default refuses.
    fn restore_rescaled(&mut self, from: &Rescaled<'_>) -> Result<(), OperatorError> {
        Err(OperatorError::BadInput(format!(
            "a source saved by {} subtasks cannot resume on {}",
            from.from_parallelism, from.parallelism
        )))
    }

    /// Whether the source has read nothing for its idle timeout, so its
    /// consumers should stop waiting for its event time (asked after each
    /// batch, empty ones included). The default never idles: a silent
    /// source without a timeout holds event time where it is.
    fn idle(&mut self) -> bool {
        false
    }

    /// Called once at the end.
    fn close(&mut self) -> Result<(), OperatorError> {
        Ok(())
    }
}
