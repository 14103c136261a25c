//! The driver's side of a savepoint: a request (from the REST API)
//! makes the next checkpoint start now; when that checkpoint completes
//! it is copied out of retention with its layout ([`crate::savepoints`])
//! and the request is answered. Stopping at it, the completion notice
//! tells every task to commit and then take no more input; each
//! acknowledges, and once all have the region ends and the job finishes
//! with nothing after the savepoint visible. A savepoint whose
//! checkpoint is abandoned answers with the reason.

use std::collections::HashSet;

use faro_runtime::checkpoint::CheckpointAck;
use tokio::sync::oneshot;

use super::{Driver, Progress};
use crate::checkpoints::{SavepointRecord, SavepointRequest};
use crate::savepoints::{self, SavepointMeta};

/// A savepoint being taken.
pub(in crate::driver) struct Savepointing {
    /// Whether the job stops at it.
    stop: bool,
    /// Where the answer goes.
    reply: Option<oneshot::Sender<Result<SavepointRecord, String>>>,
    /// The checkpoint it is, once triggered.
    pub(in crate::driver) id: Option<u64>,
    /// Stopping: the savepoint, and the tasks yet to acknowledge the stop.
    stopping: Option<(SavepointRecord, HashSet<(usize, u32)>)>,
    /// Whether every task stopped.
    stopped: bool,
}

impl Driver<'_> {
    /// Takes a savepoint request: the next checkpoint starts now and
    /// becomes it. Refused while another is taken, or once tasks of the
    /// region have ended (they can take no part).
    pub(super) fn take_request(
        &mut self,
        request: SavepointRequest,
        finished: &HashSet<(usize, u32)>,
    ) {
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        let refusal = match (&c.savepoint, finished.is_empty()) {
            (Some(_), _) => Some("a savepoint of this job is already being taken"),
            (None, false) => Some("some of the job's tasks have ended"),
            (None, true) => None,
        };
        if let Some(refusal) = refusal {
            let _ = request.reply.send(Err(refusal.to_string()));
            return;
        }
        c.savepoint = Some(Savepointing {
            stop: request.stop,
            reply: Some(request.reply),
            id: None,
            stopping: None,
            stopped: false,
        });
        c.next_at = tokio::time::Instant::now();
    }

    /// Checkpoint `id` was abandoned: if it was to be the savepoint, the
    /// request is answered with `why`.
    pub(super) fn savepoint_failed(&mut self, id: u64, why: &str) {
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        if c.savepoint.as_ref().is_some_and(|s| s.id == Some(id)) {
            if let Some(reply) = c.savepoint.take().and_then(|s| s.reply) {
                let _ = reply.send(Err(format!("checkpoint {id} was abandoned: {why}")));
            }
        }
    }

    /// Checkpoint `id` completed: if it is the savepoint, it is copied
    /// out and recorded. Returns whether the tasks are to stop at it.
    pub(super) async fn savepoint_completed(&mut self, id: u64, tasks: &[(usize, u32)]) -> bool {
        let job = self.run.job_id.clone();
        let Some(c) = self.checkpointing.as_mut() else {
            return false;
        };
        let Some(mut savepoint) = c.savepoint.take_if(|s| s.id == Some(id)) else {
            if c.savepoint.as_ref().is_some_and(|s| s.id.is_none()) {
                // It waited for this one to finish: it starts now.
                c.next_at = tokio::time::Instant::now();
            }
            return false;
        };
        let meta = SavepointMeta {
            job: job.clone(),
            checkpoint: id,
            key_groups: savepoints::key_groups_of(&self.plan),
            chains: savepoints::layout_of(&self.plan),
        };
        let root = self.cluster.checkpoints.savepoint_root().to_path_buf();
        let from = savepoints::checkpoint_dir(self.cluster.checkpoints.root(), &job, id);
        let written = match from {
            Some(from) => savepoints::write(&root, &from, &meta).await,
            None => Err(format!("job id {job:?} names no checkpoint directory")),
        };
        let dir = match written {
            Ok(dir) => dir,
            Err(error) => {
                tracing::warn!(job = %self.run.job_id, checkpoint = id, %error, "cannot copy the savepoint");
                if let Some(reply) = savepoint.reply.take() {
                    let _ = reply.send(Err(format!("copying checkpoint {id}: {error}")));
                }
                return false;
            }
        };
        let record = SavepointRecord {
            checkpoint: id,
            path: dir.display().to_string(),
            stopped: savepoint.stop,
        };
        tracing::info!(job = %self.run.job_id, checkpoint = id, path = %record.path, "savepoint taken");
        let _ = self.progress.send(Progress::Savepoint(record.clone()));
        let stop = savepoint.stop;
        match stop {
            true => {
                savepoint.stopping = Some((record, tasks.iter().copied().collect()));
                c.savepoint = Some(savepoint);
            }
            false => {
                if let Some(reply) = savepoint.reply.take() {
                    let _ = reply.send(Ok(record));
                }
            }
        }
        stop
    }

    /// Whether `ack` is a task saying it stopped at the savepoint; the
    /// last one answers the request.
    pub(super) fn stop_acked(&mut self, ack: &CheckpointAck) -> bool {
        let Some(savepoint) = self
            .checkpointing
            .as_mut()
            .and_then(|c| c.savepoint.as_mut())
        else {
            return false;
        };
        let Some((record, waiting)) = savepoint.stopping.as_mut() else {
            return false;
        };
        if ack.checkpoint != record.checkpoint {
            return false;
        }
        waiting.remove(&(ack.chain, ack.subtask));
        if waiting.is_empty() {
            tracing::info!(job = %self.run.job_id, checkpoint = record.checkpoint, "stopped at the savepoint");
            if let Some(reply) = savepoint.reply.take() {
                let _ = reply.send(Ok(record.clone()));
            }
            savepoint.stopped = true;
        }
        true
    }

    /// The region restarts: a stop still waiting for its tasks will not
    /// come (they are gone); the request is answered with where the
    /// savepoint is, and the job runs on from it.
    pub(super) fn stop_interrupted(&mut self) {
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        let Some(mut savepoint) = c.savepoint.take_if(|s| s.stopping.is_some()) else {
            return;
        };
        if let (Some(reply), Some((record, _))) = (savepoint.reply.take(), &savepoint.stopping) {
            let _ = reply.send(Err(format!(
                "savepoint {} was taken but a task failed before the job stopped; \
                 the job runs on",
                record.path
            )));
        }
    }

    /// Whether the job stopped at a savepoint.
    pub(super) fn stopped(&self) -> bool {
        self.checkpointing
            .as_ref()
            .and_then(|c| c.savepoint.as_ref())
            .is_some_and(|s| s.stopped)
    }
}
