//! One task attempt run to its end on this worker, for whoever deploys
//! it (the scheduler's link to an in-process worker, or a worker process
//! answering the scheduler): the attempt's own `collect` rows, kept apart
//! so a failed attempt's rows never mix with a re-run's, its report, and
//! cancellation by name — dropping the wait cancels the task too.

use std::time::Instant;

use crate::data::Batch;
use crate::deploy::TaskDeployment;
use crate::failure::{FailureCause, TaskFailure};
use crate::metrics::{AttemptOutcome, ProgressSnapshot};
use crate::operators::basic::{CollectBuffer, LiveRows};
use crate::task::TaskReport;
use crate::worker::Worker;

/// What a finished attempt produced.
#[derive(Debug, Default)]
pub struct TaskDone {
    /// Its counters.
    pub report: TaskReport,
    /// Rows its `collect` sinks took, in arrival order.
    pub collected: Vec<Batch>,
}

/// Names one attempt of one subtask of a job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttemptKey {
    /// The job.
    pub job: String,
    /// The chain (position in the plan).
    pub chain: usize,
    /// The subtask.
    pub subtask: u32,
    /// The attempt.
    pub attempt: u32,
}

impl AttemptKey {
    /// The attempt `d` deploys.
    pub fn of(d: &TaskDeployment) -> Self {
        Self {
            job: d.job_id.clone(),
            chain: d.chain,
            subtask: d.subtask,
            attempt: d.attempt,
        }
    }
}

/// Cancels the attempt when dropped before it ended.
struct CancelOnDrop<'a> {
    worker: &'a Worker,
    key: AttemptKey,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        self.worker.cancel_attempt(&self.key);
    }
}

/// Counts an attempt's end in the worker's metrics when dropped: also
/// when whoever waited for it went away (a cancelled attempt).
struct AttemptMeter<'a> {
    worker: &'a Worker,
    key: AttemptKey,
    vertex: String,
    started: Instant,
    outcome: AttemptOutcome,
}

impl Drop for AttemptMeter<'_> {
    fn drop(&mut self) {
        self.worker.metrics().attempt_ended(
            &self.key.job,
            &self.vertex,
            self.key.subtask,
            self.outcome,
            self.started.elapsed(),
        );
    }
}

impl Worker {
    /// Deploys `d` and waits for it to end, counting it in the worker's
    /// metrics. The rows of its `collect` sink go to `live` as they come
    /// when given (and `d` asks for it), else back with the outcome.
    pub async fn run_attempt(
        &self,
        d: TaskDeployment,
        live: Option<LiveRows>,
    ) -> Result<TaskDone, TaskFailure> {
        let mut meter = AttemptMeter {
            worker: self,
            key: AttemptKey::of(&d),
            vertex: self.vertex_name(&d),
            started: Instant::now(),
            outcome: AttemptOutcome::Cancelled,
        };
        self.metrics().attempt_started();
        let done = self.run_deployed(d, live).await;
        meter.outcome = match &done {
            Ok(_) => AttemptOutcome::Finished,
            Err(failure) if failure.cause == FailureCause::Cancelled => AttemptOutcome::Cancelled,
            Err(_) => AttemptOutcome::Failed,
        };
        done
    }

    async fn run_deployed(
        &self,
        d: TaskDeployment,
        live: Option<LiveRows>,
    ) -> Result<TaskDone, TaskFailure> {
        let key = AttemptKey::of(&d);
        let collected = match live {
            Some(live) if d.live_collect => CollectBuffer::live(live),
            _ => CollectBuffer::new(d.keep),
        };
        let handle = match self.deploy_task(d, &collected).await {
            Ok(handle) => handle,
            Err(error) => {
                // Its inbox was registered before the wiring that failed.
                self.forget_checkpoint_inbox(&key);
                return Err(error.into());
            }
        };
        self.running_attempts()
            .insert(key.clone(), handle.canceller());
        let guard = CancelOnDrop {
            worker: self,
            key: key.clone(),
        };
        let progress = handle.canceller().progress().clone();
        let outcome = handle.outcome().await;
        std::mem::forget(guard);
        self.running_attempts().remove(&key);
        self.forget_checkpoint_inbox(&key);
        // Stopping a job fails some of its tasks before their own stop
        // comes (a neighbour went first): that is the stop, not a fault.
        let outcome = outcome.map_err(|failure| match progress.stopping() {
            true => TaskFailure::cancelled(),
            false => failure,
        });
        let mut report = outcome?;
        let (collected, truncated) = CollectBuffer::take(&collected);
        report.collect_truncated = truncated;
        Ok(TaskDone { report, collected })
    }

    /// Stops one attempt, if it runs here.
    pub fn cancel_attempt(&self, key: &AttemptKey) {
        self.forget_checkpoint_inbox(key);
        if let Some(cancel) = self.running_attempts().remove(key) {
            cancel.cancel();
        }
    }

    /// Stops every attempt of `job` running here: each is told its job is
    /// stopping before any is cancelled.
    pub fn cancel_job(&self, job: &str) {
        let mut running = self.running_attempts();
        for (_, task) in running.iter().filter(|(key, _)| key.job == job) {
            task.progress().stop();
        }
        running.retain(|key, cancel| {
            if key.job == job {
                cancel.cancel();
                false
            } else {
                true
            }
        });
    }

    /// Stops every attempt running here (the scheduler is gone).
    pub fn cancel_all(&self) {
        let mut running = self.running_attempts();
        for task in running.values() {
            task.progress().stop();
        }
        for (_, cancel) in running.drain() {
            cancel.cancel();
        }
    }

    /// Where each attempt running here has got to: rows, bytes, time
    /// backpressured, watermark.
    pub fn progress(&self) -> Vec<(AttemptKey, ProgressSnapshot)> {
        self.running_attempts()
            .iter()
            .map(|(key, task)| (key.clone(), task.progress().snapshot()))
            .collect()
    }

    /// Attempts running here.
    pub fn running_count(&self) -> usize {
        self.running_attempts().len()
    }
}

/// Why encoded attempt outcome bytes cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("malformed task outcome: {0}")]
pub struct OutcomeError(String);

fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], OutcomeError> {
    if bytes.len() < n {
        return Err(OutcomeError(format!(
            "{} bytes left where {n} were expected",
            bytes.len()
        )));
    }
    let (head, rest) = bytes.split_at(n);
    *bytes = rest;
    Ok(head)
}

fn take_len(bytes: &mut &[u8]) -> Result<usize, OutcomeError> {
    let raw = take(bytes, 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(raw);
    usize::try_from(u64::from_le_bytes(word)).map_err(|e| OutcomeError(e.to_string()))
}

/// Reads a batch from its archive bytes (any alignment), validating it.
pub fn batch_from_bytes(bytes: &[u8]) -> Result<Batch, crate::data::BatchError> {
    // Archives are read in place and need their alignment.
    let mut aligned = rkyv::util::AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    crate::data::BatchView::new(&aligned).and_then(|view| view.to_batch())
}

/// Encodes an attempt's outcome for the wire: a tag byte, then either the
/// failure (its cause's byte, then its message), or the report (JSON) and
/// each collected batch's archive, each behind its length.
pub fn encode_outcome(outcome: &Result<TaskDone, TaskFailure>) -> Vec<u8> {
    match outcome {
        Err(failure) => {
            let mut out = vec![2u8, failure.cause.to_byte()];
            out.extend_from_slice(failure.message.as_bytes());
            out
        }
        Ok(done) => {
            let mut out = vec![0u8];
            let report = serde_json::to_vec(&done.report).unwrap_or_default();
            out.extend_from_slice(&(report.len() as u64).to_le_bytes());
            out.extend_from_slice(&report);
            for batch in &done.collected {
                let bytes = batch.to_bytes();
                out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                out.extend_from_slice(&bytes);
            }
            out
        }
    }
}

/// Decodes what [`encode_outcome`] wrote; every batch is validated. (Tag
/// 1, a failure without a cause from an older worker, is transient.)
pub fn decode_outcome(mut bytes: &[u8]) -> Result<Result<TaskDone, TaskFailure>, OutcomeError> {
    match take(&mut bytes, 1)?[0] {
        1 => Ok(Err(TaskFailure::transient(String::from_utf8_lossy(bytes)))),
        2 => {
            let cause = FailureCause::from_byte(take(&mut bytes, 1)?[0]);
            Ok(Err(TaskFailure {
                cause,
                message: String::from_utf8_lossy(bytes).into_owned(),
            }))
        }
        0 => {
            let len = take_len(&mut bytes)?;
            let report = serde_json::from_slice(take(&mut bytes, len)?)
                .map_err(|e| OutcomeError(format!("report: {e}")))?;
            let mut collected = Vec::new();
            while !bytes.is_empty() {
                let len = take_len(&mut bytes)?;
                let batch = batch_from_bytes(take(&mut bytes, len)?)
                    .map_err(|e| OutcomeError(format!("collected batch: {e}")))?;
                collected.push(batch);
            }
            Ok(Ok(TaskDone { report, collected }))
        }
        tag => Err(OutcomeError(format!("unknown tag {tag}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{BatchBuilder, DataType, Field, Schema, Value};

    fn batch() -> Batch {
        let schema = Schema::new(vec![
            Field::new("word", DataType::Utf8),
            Field::nullable("n", DataType::Int64),
        ]);
        let mut builder = BatchBuilder::new(schema, 2);
        builder
            .push_row(&[Value::Utf8("a".into()), Value::Int64(1)])
            .unwrap();
        builder
            .push_row(&[Value::Utf8("b".into()), Value::Null])
            .unwrap();
        builder.finish().unwrap()
    }

    #[test]
    fn outcomes_round_trip() {
        let done = TaskDone {
            report: TaskReport {
                task: "agg[1]".into(),
                rows_in: 7,
                rows_out: 2,
                bytes_in: 56,
                bytes_out: 40,
                rows_sunk: 3,
                collect_truncated: true,
                snapshotted: 9,
                pushed: vec![crate::exchange::sink::PartitionBytes {
                    exchange: 1,
                    partitions: vec![10, 0, 300],
                }],
            },
            collected: vec![batch(), batch()],
        };
        let decoded = decode_outcome(&encode_outcome(&Ok(done))).unwrap().unwrap();
        assert_eq!(decoded.report.rows_in, 7);
        assert_eq!(decoded.report.bytes_out, 40);
        assert_eq!(decoded.report.snapshotted, 9, "what the coordinator needs");
        assert_eq!(decoded.report.rows_sunk, 3);
        assert_eq!(
            decoded.report.pushed[0].partitions,
            [10, 0, 300],
            "what skew splits by"
        );
        assert!(decoded.report.collect_truncated);
        assert_eq!(decoded.collected, vec![batch(), batch()]);
        let failed =
            decode_outcome(&encode_outcome(&Err(TaskFailure::deterministic("boom")))).unwrap();
        assert_eq!(failed.unwrap_err(), TaskFailure::deterministic("boom"));
    }

    #[test]
    fn truncated_outcomes_are_errors() {
        let bytes = encode_outcome(&Ok(TaskDone {
            report: TaskReport::default(),
            collected: vec![batch()],
        }));
        for cut in [0, 1, 5, bytes.len() - 3] {
            assert!(decode_outcome(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }
}
