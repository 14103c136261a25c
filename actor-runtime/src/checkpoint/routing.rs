//! Which running attempt a checkpoint command goes to, and where the
//! worker's tasks send their acknowledgements: the worker's side of the
//! coordinator's conversation, whichever way the coordinator is reached
//! (in this process, or over the control connection).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::{CheckpointAcks, CheckpointCommand, CheckpointStorage, CheckpointTarget};
use crate::attempt::AttemptKey;
use crate::task::checkpointing::TaskCheckpoints;
use crate::worker::Worker;

/// A worker's checkpoint routes.
#[derive(Default)]
pub struct CheckpointRoutes {
    acks: Mutex<Option<Arc<dyn CheckpointAcks>>>,
    inboxes: Mutex<HashMap<AttemptKey, UnboundedSender<CheckpointCommand>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Worker {
    /// Sends its tasks' checkpoint acknowledgements to `acks` (a worker
    /// without one cannot run a checkpointed job).
    pub fn set_checkpoint_acks(&self, acks: Arc<dyn CheckpointAcks>) {
        *lock(&self.checkpoints.acks) = Some(acks);
    }

    /// The link attempt `key` needs for `target`, its inbox registered
    /// until [`Worker::forget_checkpoint_inbox`].
    pub(crate) fn checkpoint_link(
        &self,
        key: &AttemptKey,
        target: &CheckpointTarget,
    ) -> Result<TaskCheckpoints, String> {
        let acks = lock(&self.checkpoints.acks)
            .clone()
            .ok_or("this worker has no way to acknowledge checkpoints")?;
        let storage = CheckpointStorage::new(&target.root).map_err(|e| e.to_string())?;
        let (sender, inbox) = unbounded_channel();
        lock(&self.checkpoints.inboxes).insert(key.clone(), sender);
        Ok(TaskCheckpoints::new(
            inbox,
            acks,
            storage,
            key.clone(),
            target.restore.clone(),
        ))
    }

    /// Drops attempt `key`'s inbox (it ended).
    pub(crate) fn forget_checkpoint_inbox(&self, key: &AttemptKey) {
        lock(&self.checkpoints.inboxes).remove(key);
    }

    /// Tells attempt `key` to start checkpoint `checkpoint` (a source
    /// injects its barrier, `unaligned` or not); `false` if the attempt
    /// does not run here.
    pub fn trigger_checkpoint(&self, key: &AttemptKey, checkpoint: u64, unaligned: bool) -> bool {
        let command = match unaligned {
            true => CheckpointCommand::TriggerUnaligned(checkpoint),
            false => CheckpointCommand::Trigger(checkpoint),
        };
        lock(&self.checkpoints.inboxes)
            .get(key)
            .is_some_and(|inbox| inbox.send(command).is_ok())
    }

    /// Tells every attempt of `job` running here that `checkpoint` is
    /// complete (sinks commit); with `stop` (a savepoint to stop at) they
    /// then take no more input and acknowledge.
    pub fn checkpoint_complete(&self, job: &str, checkpoint: u64, stop: bool) {
        let command = match stop {
            true => CheckpointCommand::Stop(checkpoint),
            false => CheckpointCommand::Complete(checkpoint),
        };
        for (_, inbox) in lock(&self.checkpoints.inboxes)
            .iter()
            .filter(|(key, _)| key.job == job)
        {
            let _ = inbox.send(command);
        }
    }
}
