//! A task's part in checkpoints: restoring its chain's state before the
//! operators open (as its restore plan says: its own saved state, or
//! every old subtask's to keep a share of when the parallelism changed),
//! injecting a barrier at a source when the coordinator triggers one,
//! snapshotting the chain once a barrier has gone through it, writing
//! the snapshot off the loop and acknowledging it, telling the operators
//! when a checkpoint is complete, and stopping at a savepoint.
//!
//! The snapshot is taken on the task's loop right after the barrier went
//! through every chained operator and before anything after it is read,
//! so it holds exactly the rows before the barrier. Encoding is the
//! synchronous part; the write to storage runs as a task of its own, so
//! rows flow on while it lands, and its acknowledgement (or the reason it
//! failed, which abandons the checkpoint but not the job) goes to the
//! coordinator when it is done.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::mpsc::UnboundedReceiver;

use super::running::Running;
use super::TaskError;
use crate::attempt::AttemptKey;
use crate::checkpoint::increments::{Increments, LaidOut};
use crate::checkpoint::location::Location;
use crate::checkpoint::reading::read_task_state;
use crate::checkpoint::{
    CheckpointAck, CheckpointAcks, CheckpointCommand, CheckpointStorage, Rescaled, RestorePlan,
    TaskCheckpointStats, TaskState,
};
use crate::message::{Barrier, Signal};
use crate::operator::OperatorError;
use crate::state::parts::StateSnapshot;

/// A running task's link to the checkpoint coordinator.
pub struct TaskCheckpoints {
    /// Commands for this attempt.
    pub inbox: UnboundedReceiver<CheckpointCommand>,
    /// Where acknowledgements go.
    pub acks: Arc<dyn CheckpointAcks>,
    /// Where state is written and read.
    pub storage: CheckpointStorage,
    /// The attempt, which names its state file.
    pub key: AttemptKey,
    /// What to restore before the operators open.
    pub restore: Option<RestorePlan>,
    /// When the first barrier of the checkpoint being aligned arrived.
    pub(super) align_started: Option<Instant>,
    /// What its stored parts are, for incremental snapshots.
    pub(super) increments: Increments,
}

impl TaskCheckpoints {
    /// A link for attempt `key`, restoring `restore` first if set.
    pub fn new(
        inbox: UnboundedReceiver<CheckpointCommand>,
        acks: Arc<dyn CheckpointAcks>,
        storage: CheckpointStorage,
        key: AttemptKey,
        restore: Option<RestorePlan>,
    ) -> Self {
        Self {
            inbox,
            acks,
            storage,
            key,
            restore,
            align_started: None,
            increments: Increments::default(),
        }
    }
}

impl Running {
    fn restore_error(&self, checkpoint: u64, message: String) -> TaskError {
        TaskError::Restore {
            task: self.name.clone(),
            checkpoint,
            message,
        }
    }

    /// Reads the state its restore plan names (if any) and hands each
    /// slot its part before anything opens: its own saved state when the
    /// parallelism is unchanged, every old subtask's to keep a share of
    /// when it changed.
    /// Whether the checkpoint this task restores has it finished.
    pub(super) fn finished_at_restore(&self) -> bool {
        self.checkpoints.as_ref().is_some_and(|link| {
            let restore = link.restore.as_ref();
            restore.is_some_and(|plan| plan.finished.contains(&link.key.subtask))
        })
    }

    pub(super) async fn restore(&mut self) -> Result<(), TaskError> {
        let Some(link) = &self.checkpoints else {
            return Ok(());
        };
        let Some(plan) = link.restore.clone() else {
            return Ok(());
        };
        if plan.finished.contains(&link.key.subtask) {
            // Nothing of it was saved: it ends at once.
            return Ok(());
        }
        let checkpoint = plan.checkpoint;
        let subtask = link.key.subtask;
        let started = Instant::now();
        let mut files: BTreeMap<(usize, u32), TaskState> = BTreeMap::new();
        let mut bytes_read = 0;
        for slot in &plan.slots {
            let rescaled = slot.from_parallelism != plan.parallelism;
            let olds: Vec<u32> = match rescaled {
                false => vec![subtask],
                true => (0..slot.from_parallelism).collect(),
            };
            let mut states = Vec::with_capacity(olds.len());
            for old in olds {
                let file = (slot.from_chain, old);
                if let std::collections::btree_map::Entry::Vacant(entry) = files.entry(file) {
                    let name = CheckpointStorage::task_file(file.0, file.1);
                    let read = read_task_state(&plan.dir, &name).await;
                    let read = read.map_err(|e| self.restore_error(checkpoint, e))?;
                    bytes_read += read.bytes;
                    entry.insert(read.state);
                }
                if let Some(blob) = files[&file].blobs.get(&slot.from_slot) {
                    states.push((old, blob.clone()));
                }
            }
            // A slot that saved nothing (stateless) is not asked.
            let restored = match (rescaled, states.first()) {
                (_, None) => Ok(()),
                (false, Some((_, blob))) => self.restore_slot(slot.slot, Restore::Same(blob)),
                (true, Some(_)) => self.restore_slot(
                    slot.slot,
                    Restore::Rescaled(Rescaled {
                        states: &states,
                        from_parallelism: slot.from_parallelism,
                        subtask,
                        parallelism: plan.parallelism,
                        keys: slot.keys.as_ref(),
                    }),
                ),
            };
            restored.map_err(|e| {
                self.restore_error(checkpoint, format!("{}: {e}", Location::shown(&plan.dir)))
            })?;
        }
        // An unaligned checkpoint's in-flight messages, replayed once the
        // operators are open. Only a task restored at its own parallelism
        // has them (savepoints, the only rescaled restores, are aligned).
        let own = plan
            .slots
            .iter()
            .find(|s| s.from_parallelism == plan.parallelism)
            .and_then(|s| files.get(&(s.from_chain, subtask)));
        if let Some(blob) = own.and_then(|f| f.in_flight.as_ref()) {
            self.replay = super::unaligned::decode(blob).map_err(|e| {
                self.restore_error(checkpoint, format!("{}: {e}", Location::shown(&plan.dir)))
            })?;
        }
        self.metrics.restored(started.elapsed(), bytes_read);
        tracing::info!(
            checkpoint,
            bytes = bytes_read,
            ms = started.elapsed().as_millis() as u64,
            in_flight = self.replay.len(),
            "restored from a checkpoint"
        );
        Ok(())
    }

    fn restore_slot(&mut self, slot: u32, restore: Restore<'_>) -> Result<(), OperatorError> {
        match (slot, &mut self.source) {
            (0, Some(source)) => match restore {
                Restore::Same(blob) => source.restore_state(blob),
                Restore::Rescaled(rescaled) => source.restore_rescaled(&rescaled),
            },
            (0, None) => Err(OperatorError::BadInput(
                "state for a source the task does not have".into(),
            )),
            (slot, _) => {
                let Some(op) = self.operators.get_mut(slot as usize - 1) else {
                    return Err(OperatorError::BadInput(format!(
                        "state for operator {slot} of a chain of {}",
                        self.operators.len()
                    )));
                };
                match restore {
                    Restore::Same(blob) => op.restore_state(blob),
                    Restore::Rescaled(rescaled) => op.restore_rescaled(&rescaled),
                }
            }
        }
    }

    /// Serves one command from the coordinator.
    pub(super) async fn on_command(&mut self, command: CheckpointCommand) -> Result<(), TaskError> {
        match command {
            // Only a source starts a checkpoint; other tasks wait for the
            // barrier.
            CheckpointCommand::Trigger(checkpoint) if self.source.is_some() => {
                let barrier = Barrier { checkpoint };
                self.signal(0, Signal::Barrier(barrier)).await?;
                self.snapshot(checkpoint)
            }
            CheckpointCommand::TriggerUnaligned(checkpoint) if self.source.is_some() => {
                self.overtake_outputs(Barrier { checkpoint }).await?;
                self.snapshot(checkpoint)
            }
            CheckpointCommand::Trigger(_) | CheckpointCommand::TriggerUnaligned(_) => Ok(()),
            // A task with inputs swaps those in its input loop.
            CheckpointCommand::PeerRestarted(mut rewire) => {
                self.rewire_outputs(&mut rewire).await;
                Ok(())
            }
            CheckpointCommand::Complete(checkpoint) => self.complete(checkpoint),
            CheckpointCommand::Stop(checkpoint) => {
                self.complete(checkpoint)?;
                if let Some(link) = &self.checkpoints {
                    link.acks.ack(CheckpointAck {
                        job: link.key.job.clone(),
                        chain: link.key.chain,
                        subtask: link.key.subtask,
                        attempt: link.key.attempt,
                        checkpoint,
                        outcome: Ok(TaskCheckpointStats::default()),
                    });
                }
                tracing::info!(checkpoint, "stopped at a savepoint");
                // Nothing after the savepoint may reach a sink: the task
                // takes no more input and waits to be cancelled.
                std::future::pending::<()>().await;
                Ok(())
            }
        }
    }

    fn complete(&mut self, checkpoint: u64) -> Result<(), TaskError> {
        if let Some(link) = &mut self.checkpoints {
            link.increments.completed(checkpoint);
        }
        for op in 0..self.operators.len() {
            let completed = self.operators[op].checkpoint_complete(checkpoint);
            completed.map_err(|e| self.op_error(e))?;
        }
        Ok(())
    }

    /// Notes that a barrier arrived on one input channel: the first one
    /// of a checkpoint starts its alignment.
    pub(super) fn barrier_arrived(&mut self) {
        if let Some(link) = &mut self.checkpoints {
            link.align_started.get_or_insert_with(Instant::now);
        }
    }

    /// Snapshots the chain for `checkpoint` (its barrier has just gone
    /// through every operator) and writes it off the loop, acknowledging
    /// when written. A task without a link (no checkpoints) does nothing.
    pub(super) fn snapshot(&mut self, checkpoint: u64) -> Result<(), TaskError> {
        if let Some(taken) = self.take_snapshot(checkpoint)? {
            self.store_snapshot(taken, Vec::new());
        }
        Ok(())
    }

    /// The chain's state at `checkpoint`, encoded on the loop (`None`
    /// without checkpoints).
    pub(super) fn take_snapshot(&mut self, checkpoint: u64) -> Result<Option<Taken>, TaskError> {
        let Some(link) = &mut self.checkpoints else {
            return Ok(None);
        };
        let alignment = link.align_started.take().map(|at| at.elapsed());
        self.snapshotted = self.snapshotted.max(checkpoint);
        let started = Instant::now();
        let since = link.increments.since();
        let slots = self.snapshot_slots(checkpoint, since)?;
        let laid_out = match self.lay_out(checkpoint, since, slots) {
            Ok(laid_out) => laid_out,
            // An operator called a part unchanged that the base lacks: a
            // bug of its bookkeeping, which a full snapshot gets past.
            Err(why) if since.is_some() => {
                tracing::warn!(checkpoint, %why, "incremental snapshot refused; taking it whole");
                let slots = self.snapshot_slots(checkpoint, None)?;
                self.lay_out(checkpoint, None, slots)
                    .map_err(|why| op_failure(&self.name, OperatorError::BadInput(why)))?
            }
            Err(why) => return Err(op_failure(&self.name, OperatorError::BadInput(why))),
        };
        Ok(Some(Taken {
            checkpoint,
            state: TaskState {
                slots: self.operators.len() as u32 + 1,
                blobs: laid_out.whole,
                manifests: laid_out.manifests,
                in_flight: None,
            },
            parts_file: laid_out.parts_file,
            stats: TaskCheckpointStats {
                alignment_ms: alignment.map_or(0, |d| d.as_millis() as u64),
                sync_ms: started.elapsed().as_millis() as u64,
                shared_from: laid_out.shared_from,
                ..TaskCheckpointStats::default()
            },
        }))
    }

    /// Each slot's state at `checkpoint`, relative to `since`.
    fn snapshot_slots(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
    ) -> Result<Vec<(u32, StateSnapshot)>, TaskError> {
        let mut slots = Vec::new();
        if let Some(source) = &mut self.source {
            let state = source.snapshot_state(checkpoint);
            if let Some(blob) = state.map_err(|e| op_failure(&self.name, e))? {
                slots.push((0, StateSnapshot::Whole(blob)));
            }
        }
        for (i, op) in self.operators.iter_mut().enumerate() {
            let state = op.snapshot_parts(checkpoint, since);
            if let Some(snapshot) = state.map_err(|e| op_failure(&self.name, e))? {
                slots.push((i as u32 + 1, snapshot));
            }
        }
        Ok(slots)
    }

    fn lay_out(
        &mut self,
        checkpoint: u64,
        since: Option<u64>,
        slots: Vec<(u32, StateSnapshot)>,
    ) -> Result<LaidOut, String> {
        match &mut self.checkpoints {
            Some(link) => link.increments.lay_out(checkpoint, since, slots),
            None => Err("no checkpoint link".into()),
        }
    }

    /// Writes a taken snapshot, with the in-flight messages an unaligned
    /// barrier overtook, off the loop; acknowledges when written.
    pub(super) fn store_snapshot(&self, mut taken: Taken, in_flight: Vec<(u32, Vec<u8>)>) {
        let Some(link) = &self.checkpoints else {
            return;
        };
        let checkpoint = taken.checkpoint;
        if !in_flight.is_empty() {
            taken.stats.in_flight_bytes = in_flight.iter().map(|(_, m)| m.len() as u64).sum();
            taken.state.in_flight = Some(super::unaligned::encode(&in_flight));
        }
        let bytes = taken.state.encode();
        let parts = taken.parts_file;
        let mut stats = TaskCheckpointStats {
            bytes: (bytes.len() + parts.len()) as u64,
            ..taken.stats
        };
        let key = link.key.clone();
        let (storage, acks) = (link.storage.clone(), link.acks.clone());
        crate::checkpoint::storage::spawn_io(async move {
            let written = Instant::now();
            // The parts first: a state file is only ever read with them.
            let write = async {
                let (job, chain, subtask) = (&key.job, key.chain, key.subtask);
                if !parts.is_empty() {
                    let path = CheckpointStorage::parts_path(job, checkpoint, chain, subtask)?;
                    storage.write(&path, parts).await?;
                }
                let path = CheckpointStorage::task_path(job, checkpoint, chain, subtask)?;
                storage.write(&path, bytes).await
            };
            let outcome = write.await;
            stats.async_ms = written.elapsed().as_millis() as u64;
            if let Err(error) = &outcome {
                tracing::warn!(checkpoint, %error, "cannot store this task's checkpoint");
            }
            acks.ack(CheckpointAck {
                job: key.job,
                chain: key.chain,
                subtask: key.subtask,
                attempt: key.attempt,
                checkpoint,
                outcome: outcome.map(|()| stats).map_err(|e| e.to_string()),
            });
        });
    }
}

/// A chain's state taken at a barrier, not yet written.
pub(super) struct Taken {
    /// The checkpoint.
    pub(super) checkpoint: u64,
    /// The state.
    pub(super) state: TaskState,
    /// The parts that changed, for the task's parts file.
    pub(super) parts_file: Vec<u8>,
    /// What taking it cost so far.
    pub(super) stats: TaskCheckpointStats,
}

/// What one slot is handed back.
enum Restore<'a> {
    /// Its own state: the parallelism is unchanged.
    Same(&'a [u8]),
    /// Every old subtask's, to keep a share of.
    Rescaled(Rescaled<'a>),
}

fn op_failure(task: &str, source: crate::operator::OperatorError) -> TaskError {
    TaskError::Operator {
        task: task.to_string(),
        source,
    }
}
