//! `collect`: a sink handing its rows to whoever runs the job; its
//! params and its catalogue definition.
//!
//! In a batch job the rows are kept until the task ends, bounded by the
//! sink's own `limit` and by what the runner keeps ([`KeepLimit`]), and
//! travel back with the task's outcome. In a streaming job they go out as
//! they come ([`CollectBuffer::live`]): each batch waits in the buffer
//! until the task loop hands it to the runner's bounded channel
//! ([`CollectBuffer::drain`]), so a reader that stops reading holds the
//! task the way a consumer without credit does, and nothing is held
//! beyond a few batches — `limit` does not apply, since an unbounded job
//! has no last row.
//!
//! Fed a changelog (a continuous aggregate's updates), its rows get a
//! leading `op` column, Flink's `+I`/`-U`/`+U`/`-D`
//! ([`crate::data::RowKind`]): applied in order, they give the current
//! result. Its output schema says so, so whoever reads the rows knows.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::catalogue::{BuildContext, Built, OperatorDefinition, SchemaContext};
use crate::data::{with_op_column, with_op_field, Batch, Schema};
use crate::operator::{Emit, Operator, OperatorError, Rows};
use crate::spec::SpecError;

/// `collect`: rows returned to whoever runs the job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectParams {
    /// At most this many rows are kept (the job fails beyond it).
    #[serde(default = "default_collect_limit")]
    pub limit: usize,
}

fn default_collect_limit() -> usize {
    1_000_000
}

/// Where `collect` sinks put their rows, shared with whoever runs the job.
pub type Collected = Arc<Mutex<CollectBuffer>>;

/// How much of its `collect` rows a job's runner keeps: a scheduler keeps
/// a bounded result per job, so its workers need not ship more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeepLimit {
    /// Rows kept.
    pub rows: usize,
    /// Bytes of column buffers kept.
    pub bytes: usize,
}

/// Where a streaming job's `collect` rows go as they come: the runner
/// reads the other end, and a full channel holds the sink's task.
pub type LiveRows = mpsc::Sender<Batch>;

/// The rows `collect` sinks hand over, up to a [`KeepLimit`]; what is
/// beyond it is counted against the sink's own limit but not kept. A live
/// buffer keeps nothing: it passes rows on to its [`LiveRows`].
#[derive(Debug, Default)]
pub struct CollectBuffer {
    /// What was kept, in arrival order.
    pub batches: Vec<Batch>,
    /// Whether rows were dropped for the keep limit.
    pub truncated: bool,
    keep: Option<KeepLimit>,
    rows: usize,
    bytes: usize,
    live: Option<LiveRows>,
    /// Live rows the runner has not taken yet.
    pending: VecDeque<Batch>,
}

impl CollectBuffer {
    /// A buffer keeping at most `keep` (everything if `None`).
    pub fn new(keep: Option<KeepLimit>) -> Collected {
        Arc::new(Mutex::new(Self {
            keep,
            ..Self::default()
        }))
    }

    /// A buffer passing every row on to `live` as it comes.
    pub fn live(live: LiveRows) -> Collected {
        Arc::new(Mutex::new(Self {
            live: Some(live),
            ..Self::default()
        }))
    }

    /// Whether rows pass on as they come instead of being kept.
    pub fn is_live(&self) -> bool {
        self.live.is_some()
    }

    /// Keeps `batch`, or the part of it that fits.
    fn offer(&mut self, batch: Batch) -> Result<(), OperatorError> {
        if self.live.is_some() {
            self.pending.push_back(batch);
            return Ok(());
        }
        let Some(keep) = self.keep else {
            self.batches.push(batch);
            return Ok(());
        };
        let bytes = batch.buffer_bytes();
        let room = keep.rows.saturating_sub(self.rows);
        if self.bytes + bytes > keep.bytes || room == 0 {
            self.truncated = true;
            return Ok(());
        }
        let batch = if batch.num_rows() > room {
            self.truncated = true;
            let first: Vec<u32> = (0..room as u32).collect();
            batch.take(&first)?
        } else {
            batch
        };
        self.rows += batch.num_rows();
        self.bytes += bytes;
        self.batches.push(batch);
        Ok(())
    }

    /// Hands every pending live row to the runner, waiting while its
    /// channel is full; a no-op for a buffer that keeps its rows. Fails
    /// when the runner stopped reading for good.
    pub async fn drain(collected: &Collected) -> Result<(), OperatorError> {
        loop {
            // The lock is never held across the wait.
            let next = {
                let mut buffer = collected.lock().unwrap_or_else(|p| p.into_inner());
                let live = buffer.live.clone();
                live.zip(buffer.pending.pop_front())
            };
            let Some((live, batch)) = next else {
                return Ok(());
            };
            live.send(batch).await.map_err(|_| {
                OperatorError::OutputClosed("the reader of collected rows went away".into())
            })?;
        }
    }

    /// Takes what was kept, and whether anything was dropped.
    pub fn take(collected: &Collected) -> (Vec<Batch>, bool) {
        let mut buffer = collected.lock().unwrap_or_else(|p| p.into_inner());
        (std::mem::take(&mut buffer.batches), buffer.truncated)
    }
}

/// `collect`: keeps up to `limit` rows for the caller, or passes every
/// row on when its buffer is live.
pub struct Collect {
    schema: Schema,
    /// Whether its input is a changelog, whose kinds it writes out.
    changelog: bool,
    limit: usize,
    held: usize,
    into: Collected,
}

impl Collect {
    /// A sink of `input` rows into `into`, failing beyond `limit` rows.
    pub fn new(input: &Schema, limit: usize, into: Collected) -> Self {
        Self {
            schema: input.clone(),
            changelog: false,
            limit,
            held: 0,
            into,
        }
    }

    /// The same sink of a changelog: each row gets a leading `op` column
    /// with its kind.
    pub fn of_changelog(mut self) -> Self {
        self.changelog = true;
        self
    }
}

impl Operator for Collect {
    fn process(
        &mut self,
        _: usize,
        rows: &Rows<'_>,
        _: &mut dyn Emit,
    ) -> Result<(), OperatorError> {
        let mut into = self
            .into
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.held += rows.rows;
        if self.held > self.limit && !into.is_live() {
            return Err(OperatorError::TooManyRows {
                operator: "collect".into(),
                limit: self.limit,
            });
        }
        let batch = rows.to_batch(&self.schema)?;
        into.offer(if self.changelog {
            with_op_column(&batch)?
        } else {
            batch
        })
    }
}

/// The catalogue's `collect`.
pub struct CollectDefinition;

impl OperatorDefinition for CollectDefinition {
    type Params = CollectParams;

    /// Each row on its own (its limit only bounds what a subtask holds).
    fn divisible_input(&self, _: &CollectParams, _: usize) -> bool {
        true
    }

    /// Live in a streaming job: rows pass on as they come and nothing is kept (after a restore the rows since the checkpoint come again: at least once).
    fn checkpointable(&self, _: &CollectParams) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "collect"
    }

    fn is_sink(&self) -> bool {
        true
    }

    /// It takes a changelog, writing each row's kind.
    fn changelog(&self, _: &CollectParams, _: &SchemaContext<'_>) -> Result<bool, String> {
        Ok(false)
    }

    fn output_schema(
        &self,
        _: &CollectParams,
        context: &SchemaContext<'_>,
        inputs: &[Schema],
    ) -> Result<Schema, SpecError> {
        let input = inputs.first().cloned().unwrap_or_default();
        if context.changelog_input(0) {
            return context.unique(with_op_field(&input));
        }
        Ok(input)
    }

    fn build(
        &self,
        params: &CollectParams,
        context: &BuildContext<'_>,
    ) -> Result<Built, OperatorError> {
        let mut collect = Collect::new(&context.input(0), params.limit, context.collected.clone());
        if context.input_changelog(0) {
            collect = collect.of_changelog();
        }
        Ok(Built::Operator(Box::new(collect)))
    }
}
