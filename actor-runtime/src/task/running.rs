//! A running task's chain: pushes batches and signals through the chained
//! operators by function call, in order, and ships what the last one emits
//! through the task's outputs.
//!
//! Every message reaches the chain in the order its channel delivered it.
//! A batch goes through [`Operator::process`] of each operator in turn,
//! each batch an operator emits crossing the rest of the chain before it
//! makes the next (`Downstream`), so a chain holds one batch in flight. A
//! watermark (the [`Frontier`](super::frontier::Frontier)'s, once it advances) goes to each
//! operator's [`Operator::on_watermark`] after the batches the operator
//! before it emitted, so rows a watermark completes always precede it
//! downstream; an operator may hold it back. An aligned barrier goes to
//! each [`Operator::on_barrier`] and then to every output. End of data
//! goes to the head's [`Operator::end_input`] per input, and down the chain
//! once every input has ended. Idleness (a source with nothing to read
//! for its idle timeout, or every input channel idle) skips the operators
//! and goes to the consumers once; active again, the task repeats its last
//! watermark, so they wait for it again. An operator's timer
//! (`Operator::timer`) wakes the loop by the wall clock even when no
//! input comes, and its output goes down the chain as a batch's would.
//! The input loop itself is `super::inputs`'.

use std::time::Instant;

use super::{TaskError, TaskReport};
use crate::data::{Batch, KeptArchive, Schema};
use crate::exchange::{ExchangeError, OutputWriter};
use crate::message::Signal;
use crate::metrics::TaskMetrics;
use crate::operator::{Emit, Operator, OperatorContext, OperatorError, Rows, Source};
use crate::operators::basic::{CollectBuffer, Collected};

pub(super) struct Running {
    pub(super) name: String,
    pub(super) source: Option<Box<dyn Source>>,
    pub(super) operators: Vec<Box<dyn Operator>>,
    pub(super) outputs: Vec<OutputWriter>,
    pub(super) report: TaskReport,
    pub(super) metrics: TaskMetrics,
    /// A live `collect` buffer in the chain: drained after every step,
    /// so a slow reader holds the task as a consumer without credit does.
    pub(super) live: Option<Collected>,
    /// Late rows already counted in the task's metrics.
    pub(super) late_reported: u64,
    /// Whether the consumers were told this task is idle (and have not
    /// heard from it since).
    pub(super) idle: bool,
    /// The last watermark the task sent its consumers.
    pub(super) sent_watermark: crate::message::Watermark,
    /// Its link to the checkpoint coordinator, in a checkpointed job.
    pub(super) checkpoints: Option<super::checkpointing::TaskCheckpoints>,
    /// The unaligned checkpoint whose in-flight messages it records.
    pub(super) recording: Option<super::unaligned::Recording>,
    /// In-flight messages a restored unaligned checkpoint holds, replayed
    /// before the inputs are read: (input, batch).
    pub(super) replay: Vec<(usize, Batch)>,
    /// Whether the job fails over approximately: a lost neighbour is
    /// waited for, not a failure.
    pub(super) approximate: bool,
    /// The newest checkpoint the task snapshotted: an older barrier is
    /// stale.
    pub(super) snapshotted: u64,
}

impl Running {
    pub(super) fn op_error(&self, source: OperatorError) -> TaskError {
        TaskError::Operator {
            task: self.name.clone(),
            source,
        }
    }

    pub(super) fn exchange_error(&self, source: ExchangeError) -> TaskError {
        TaskError::Exchange {
            task: self.name.clone(),
            source,
        }
    }

    /// Pushes `batches` through operators `from..`, returning what the
    /// last one emits.
    fn push(&mut self, from: usize, carry: Vec<Batch>) -> Result<Vec<Batch>, TaskError> {
        let mut shipped = Vec::new();
        let mut downstream = Downstream {
            rest: &mut self.operators[from..],
            out: &mut shipped,
        };
        let pushed = carry.into_iter().try_for_each(|b| downstream.emit(b));
        pushed.map_err(|e| self.op_error(e))?;
        Ok(shipped)
    }

    /// Takes `carry` and then `signal` through operators `from..`: each
    /// operator processes what the one before emitted, then gets the
    /// signal. Returns what the last emits and the signal left to ship
    /// (`None` if an operator held a watermark back).
    pub(super) fn cascade(
        &mut self,
        from: usize,
        carry: Vec<Batch>,
        mut signal: Option<Signal>,
    ) -> Result<(Vec<Batch>, Option<Signal>), TaskError> {
        let mut shipped = self.push(from, carry)?;
        for op in from..self.operators.len() {
            let (operator, rest) = self.operators[op..]
                .split_first_mut()
                .expect("op is below the chain's length");
            // What the operator emits for the signal crosses the rest of
            // the chain before the next operator gets the signal.
            let mut out = Downstream {
                rest,
                out: &mut shipped,
            };
            let passed = match signal {
                Some(Signal::Watermark(watermark)) => operator
                    .on_watermark(watermark, &mut out)
                    .map(|w| w.map(Signal::Watermark)),
                Some(Signal::Barrier(barrier)) => operator
                    .on_barrier(barrier, &mut out)
                    .map(|()| Some(Signal::Barrier(barrier))),
                Some(Signal::EndOfData) => operator.end_input(0, &mut out).map(|()| signal),
                // Idleness concerns only the consumers' frontiers.
                Some(Signal::Idle) => Ok(signal),
                None => Ok(None),
            };
            signal = passed.map_err(|e| self.op_error(e))?;
        }
        Ok((shipped, signal))
    }

    /// Sends `signal` down the chain from operator `from`, then ships what
    /// came out and the signal itself, if it got through.
    pub(super) async fn signal(&mut self, from: usize, signal: Signal) -> Result<(), TaskError> {
        let (out, signal) = self.cascade(from, Vec::new(), Some(signal))?;
        self.ship(out).await?;
        if let Some(Signal::Watermark(watermark)) = signal {
            self.metrics.set_watermark(watermark.0);
            self.sent_watermark = watermark;
            self.idle = false;
        }
        if let Some(signal) = signal {
            for i in 0..self.outputs.len() {
                let sent = self.outputs[i].send_signal(signal).await;
                sent.map_err(|e| self.exchange_error(e))?;
            }
        }
        Ok(())
    }

    fn count_in(&mut self, rows: usize, bytes: usize) {
        self.report.rows_in += rows as u64;
        self.report.bytes_in += bytes as u64;
        self.metrics.batch_in(rows, bytes);
    }

    /// Reports what the chain's operators dropped as late and hold as
    /// state: asked after every step, since only they know.
    fn observe_operators(&mut self) {
        let late: u64 = self.operators.iter().map(|op| op.late_rows()).sum();
        if late > self.late_reported {
            self.metrics.late((late - self.late_reported) as usize);
            self.late_reported = late;
        }
        let state: u64 = self.operators.iter().map(|op| op.state_bytes()).sum();
        self.metrics.set_state_bytes(state as usize);
        self.report.rows_sunk = self.operators.iter().map(|op| op.rows_sunk()).sum();
    }

    pub(super) async fn ship(&mut self, batches: Vec<Batch>) -> Result<(), TaskError> {
        self.observe_operators();
        if let Some(live) = &self.live {
            CollectBuffer::drain(live)
                .await
                .map_err(|e| self.op_error(e))?;
        }
        if batches.is_empty() {
            return Ok(());
        }
        // Rows tell the consumers this task is active again.
        self.idle = false;
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
        if self.approximate {
            self.report_settled_drops();
        }
        Ok(())
    }

    /// The earliest wall-clock time an operator of the chain wants its
    /// timer at.
    pub(super) fn next_timer(&self) -> Option<Instant> {
        self.operators.iter().filter_map(|op| op.timer()).min()
    }

    /// Runs every timer that is due, each operator's output going down the
    /// chain from the one after it.
    pub(super) async fn fire_timers(&mut self) -> Result<(), TaskError> {
        for op in 0..self.operators.len() {
            // The clock is read after the timer: a timer an operator
            // computes as "now" is due.
            if self.operators[op]
                .timer()
                .is_none_or(|due| due > Instant::now())
            {
                continue;
            }
            let mut out = Vec::new();
            let (operator, rest) = self.operators[op..]
                .split_first_mut()
                .expect("op is below the chain's length");
            let fired = operator.on_timer(&mut Downstream {
                rest,
                out: &mut out,
            });
            fired.map_err(|e| self.op_error(e))?;
            self.ship(out).await?;
        }
        Ok(())
    }

    /// Tells the consumers when this task becomes idle (its source has
    /// nothing to read, or every input channel is idle) and when it is
    /// active again. Active again, it repeats the last watermark it sent:
    /// a watermark is what makes an idle channel hold the consumer's
    /// watermark back again, even before any row comes through.
    pub(super) async fn tell_status(&mut self, idle: bool) -> Result<(), TaskError> {
        if idle == self.idle {
            return Ok(());
        }
        if idle {
            self.signal(0, Signal::Idle).await?;
            self.idle = true;
            return Ok(());
        }
        self.idle = false;
        let watermark = Signal::Watermark(self.sent_watermark);
        for i in 0..self.outputs.len() {
            let sent = self.outputs[i].send_signal(watermark).await;
            sent.map_err(|e| self.exchange_error(e))?;
        }
        Ok(())
    }

    /// Serves every checkpoint command waiting, without waiting for one.
    async fn serve_commands(&mut self) -> Result<(), TaskError> {
        while let Some(command) = self
            .checkpoints
            .as_mut()
            .and_then(|link| link.inbox.try_recv().ok())
        {
            self.on_command(command).await?;
        }
        Ok(())
    }

    /// Sleeps until `until`, serving checkpoint commands as they come (a
    /// paced source triggers its barrier on time, not at its next row).
    async fn sleep_serving(&mut self, until: Instant) -> Result<(), TaskError> {
        loop {
            let sleep = tokio::time::sleep_until(until.into());
            let command = match self.checkpoints.as_mut() {
                None => None,
                Some(link) => tokio::select! {
                    () = sleep => return Ok(()),
                    command = link.inbox.recv() => command,
                },
            };
            match command {
                Some(command) => self.on_command(command).await?,
                None => {
                    tokio::time::sleep_until(until.into()).await;
                    return Ok(());
                }
            }
        }
    }

    pub(super) async fn drive_source(&mut self) -> Result<(), TaskError> {
        let mut watermark = crate::message::Watermark::MIN;
        while self.source.is_some() {
            self.serve_commands().await?;
            let due = self.source.as_ref().and_then(|s| s.ready_at());
            // A timer before the source's next batch runs first.
            if let Some(timer) = self.next_timer().filter(|&t| due.is_none_or(|d| t < d)) {
                if due.is_some() || timer <= Instant::now() {
                    self.sleep_serving(timer).await?;
                    self.fire_timers().await?;
                    continue;
                }
            }
            if let Some(due) = due {
                self.sleep_serving(due).await?;
            }
            let Some(source) = self.source.as_mut() else {
                break;
            };
            let next = source.next_batch();
            // Asked after the batch: the watermark covers what it holds.
            let advanced = source.watermark().filter(|&w| w > watermark);
            let Some(batch) = next.map_err(|e| self.op_error(e))? else {
                break;
            };
            self.count_in(batch.num_rows(), batch.buffer_bytes());
            let out = self.push(0, vec![batch])?;
            self.ship(out).await?;
            if let Some(advanced) = advanced {
                watermark = advanced;
                self.signal(0, Signal::Watermark(advanced)).await?;
            }
            let idle = self.source.as_mut().is_some_and(|s| s.idle());
            self.tell_status(idle).await?;
            // Let the slot's other tasks (and the consumers) run.
            tokio::task::yield_now().await;
        }
        let (out, _) = self.cascade(0, Vec::new(), Some(Signal::EndOfData))?;
        self.ship(out).await
    }

    /// One batch from channel `channel` of input `input` into the head.
    pub(super) async fn process(
        &mut self,
        input: usize,
        incoming: crate::exchange::Incoming,
        schema: &Schema,
    ) -> Result<(), TaskError> {
        let mut out: Vec<Batch> = Vec::new();
        let bytes = incoming.bytes();
        let mut seen = 0;
        let Some((head, rest)) = self.operators.split_first_mut() else {
            // The plan gives every task with inputs a head operator.
            return Err(self.op_error(OperatorError::BadInput(
                "a task with inputs has no operator to take them".into(),
            )));
        };
        let mut downstream = Downstream {
            rest,
            out: &mut out,
        };
        let processed = match &incoming {
            // Read in place from a shuffle node in this process: an
            // operator that keeps its input keeps these very bytes.
            crate::exchange::Incoming::Mapped(bytes) if head.keeps_input() => {
                KeptArchive::check(bytes.clone(), schema).map(|archive| {
                    seen = archive.num_rows();
                    head.keep(input, archive, &mut downstream)
                })
            }
            _ => incoming.with_rows(schema, |rows| {
                seen = rows.rows;
                head.process(input, rows, &mut downstream)
            }),
        }
        .map_err(|e| self.op_error(e.into()))?;
        self.count_in(seen, bytes);
        processed.map_err(|e| self.op_error(e))?;
        drop(incoming);
        self.ship(out).await
    }

    /// Input `input` has ended: the head flushes what it held for it.
    pub(super) async fn end_input(&mut self, input: usize) -> Result<(), TaskError> {
        let mut out: Vec<Batch> = Vec::new();
        if let Some((head, rest)) = self.operators.split_first_mut() {
            let mut downstream = Downstream {
                rest,
                out: &mut out,
            };
            let ended = head.end_input(input, &mut downstream);
            ended.map_err(|e| self.op_error(e))?;
        }
        self.ship(out).await
    }

    pub(super) fn open_all(&mut self, context: &OperatorContext) -> Result<(), TaskError> {
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

    pub(super) fn close_all(&mut self) -> Result<(), TaskError> {
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

/// What an operator emits, handed straight to the rest of its chain: the
/// next operator processes each batch at once, and what the last one
/// emits is collected to ship. A batch thus crosses the chain before the
/// operator makes its next one, so a chain holds one batch in flight
/// rather than all an operator emits in one call (a sort's end of input
/// is every row it sorted).
struct Downstream<'a> {
    rest: &'a mut [Box<dyn Operator>],
    out: &'a mut Vec<Batch>,
}

impl Emit for Downstream<'_> {
    fn emit(&mut self, batch: Batch) -> Result<(), OperatorError> {
        match self.rest.split_first_mut() {
            None => self.out.emit(batch),
            // As a collected batch would be, an empty one is dropped.
            Some(_) if batch.num_rows() == 0 => Ok(()),
            Some((next, rest)) => next.process(
                0,
                &Rows::of_batch(&batch),
                &mut Downstream {
                    rest,
                    out: self.out,
                },
            ),
        }
    }
}
