//! The driver's side of a checkpointed job: it triggers checkpoints on
//! the job's interval at the source tasks, takes the tasks'
//! acknowledgements, records complete checkpoints and tells the workers
//! (sinks commit), deletes what retention drops, and picks the
//! checkpoint a (re)started region restores — falling back to the one
//! before when a task finds it unreadable, or the savepoint the job was
//! started from before its first checkpoint completes. Decisions are
//! [`crate::coordinator`]'s; savepoint requests are served beside
//! (`savepointing`).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use faro_runtime::attempt::AttemptKey;
use faro_runtime::checkpoint::{CheckpointAck, CheckpointStorage, CheckpointTarget};
use faro_runtime::spec::CheckpointSpec;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::{JoinError, JoinSet};

use super::savepointing::Savepointing;
use super::{Cluster, Driver, JobRun, Joined, Progress};
use crate::checkpoints::SavepointRequest;
use crate::coordinator::{beyond_retention, AckOutcome, Coordinator};
use crate::savepoints::{self, SavepointMeta};

/// What a deployment restores.
pub(super) enum RestorePoint {
    /// A complete checkpoint of this job.
    Checkpoint(u64),
    /// The savepoint the job was started from.
    Savepoint {
        /// Its description.
        meta: SavepointMeta,
        /// Its directory.
        dir: String,
    },
}

/// A checkpointed job's coordinator, acknowledgements and restore point.
pub(super) struct Checkpointing {
    spec: CheckpointSpec,
    coordinator: Coordinator,
    acks: UnboundedReceiver<CheckpointAck>,
    storage: Option<CheckpointStorage>,
    /// Complete checkpoints a restore may use, oldest first, each with
    /// the oldest earlier one its files point into.
    usable: Vec<(u64, Option<u64>)>,
    /// The tasks each complete checkpoint has finished (only those that
    /// have any).
    finished: HashMap<u64, Vec<(usize, u32)>>,
    /// What the next deployment of the region restores.
    restore: Option<RestorePoint>,
    /// When the next checkpoint is due.
    pub(super) next_at: tokio::time::Instant,
    /// Savepoint requests for the job.
    requests: UnboundedReceiver<SavepointRequest>,
    /// Reports of records possibly lost (approximate failover).
    losses: UnboundedReceiver<faro_runtime::rewire::RecordsLost>,
    /// The savepoint being taken, if any.
    pub(super) savepoint: Option<Savepointing>,
}

/// What woke the driver while a checkpointed region runs.
enum Woke {
    Joined(Option<Result<Joined, JoinError>>),
    Due,
    Ack(Option<CheckpointAck>),
    Request(Option<SavepointRequest>),
    Lost(Option<faro_runtime::rewire::RecordsLost>),
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Checkpointing {
    /// The job's checkpointing, if its spec asks for it; an error when
    /// the savepoint it starts from cannot be read.
    pub(super) fn new(cluster: &Cluster, run: &JobRun) -> Result<Option<Self>, String> {
        let Some(spec) = run.job.checkpoints else {
            return Ok(None);
        };
        let usable = run.checkpoints.usable();
        let restore = match (usable.last(), &run.checkpoints.from_savepoint) {
            (Some(&(id, _)), _) => Some(RestorePoint::Checkpoint(id)),
            (None, Some(dir)) => {
                let meta =
                    savepoints::read(std::path::Path::new(dir)).map_err(|e| e.to_string())?;
                Some(RestorePoint::Savepoint {
                    meta,
                    dir: dir.clone(),
                })
            }
            (None, None) => None,
        };
        let storage = match cluster.checkpoints.storage() {
            Ok(storage) => Some(storage),
            Err(error) => {
                tracing::warn!(%error, "checkpoint storage cannot be opened");
                None
            }
        };
        let last = run
            .checkpoints
            .last_id()
            .max(run.checkpoints.unusable.iter().copied().max().unwrap_or(0));
        let finished = run
            .checkpoints
            .completed
            .iter()
            .filter(|c| !c.finished.is_empty())
            .map(|c| (c.id, c.finished.clone()))
            .collect();
        Ok(Some(Self {
            spec,
            finished,
            coordinator: Coordinator::new(last),
            acks: cluster.checkpoints.listen(&run.job_id),
            storage,
            restore,
            usable,
            next_at: tokio::time::Instant::now(),
            requests: cluster.checkpoints.listen_requests(&run.job_id),
            losses: cluster.checkpoints.listen_losses(&run.job_id),
            savepoint: None,
        }))
    }

    /// What subtasks of `chain` are deployed with: where checkpoints go
    /// and what (if anything) they restore.
    pub(super) fn target(
        &self,
        cluster: &Cluster,
        plan: &faro_runtime::plan::Plan,
        job: &str,
        chain: usize,
    ) -> CheckpointTarget {
        let root = cluster.checkpoints.root();
        let restore = match &self.restore {
            None => None,
            Some(RestorePoint::Checkpoint(id)) => {
                savepoints::checkpoint_dir(root, job, *id).map(|dir| {
                    let layout = savepoints::layout_of(plan);
                    let mut restore = savepoints::restore_plan(&layout, plan, chain, *id, &dir);
                    restore.finished = self.finished.get(id).map_or(Vec::new(), |tasks| {
                        tasks
                            .iter()
                            .filter(|&&(c, _)| c == chain)
                            .map(|&(_, s)| s)
                            .collect()
                    });
                    restore
                })
            }
            Some(RestorePoint::Savepoint { meta, dir }) => Some(savepoints::restore_plan(
                &meta.chains,
                plan,
                chain,
                meta.checkpoint,
                dir,
            )),
        };
        CheckpointTarget {
            root: root.to_string(),
            restore,
        }
    }

    /// The checkpoint of this job a deployment restores now, if any.
    pub(super) fn restored_from(&self) -> Option<u64> {
        match self.restore {
            Some(RestorePoint::Checkpoint(id)) => Some(id),
            _ => None,
        }
    }

    fn interval(&self) -> Duration {
        Duration::from_millis(self.spec.interval_ms)
    }

    /// Deletes checkpoint `id`'s files, off the driver's loop.
    fn delete(&self, job: &str, id: u64) {
        let Some(storage) = self.storage.clone() else {
            return;
        };
        let job = job.to_string();
        tokio::spawn(async move {
            if let Err(error) = storage.delete_checkpoint(&job, id).await {
                tracing::debug!(%error, "deleting a checkpoint");
            }
        });
    }
}

impl Driver<'_> {
    /// The region is about to be deployed: the next checkpoint is due an
    /// interval from now, and the restore point (if any) is recorded.
    pub(super) fn restoring(&mut self) {
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        c.next_at = tokio::time::Instant::now() + c.interval();
        match &c.restore {
            Some(RestorePoint::Checkpoint(id)) => {
                tracing::info!(job = %self.run.job_id, checkpoint = id, "restoring from a checkpoint");
                let _ = self.progress.send(Progress::Restored(*id));
            }
            Some(RestorePoint::Savepoint { dir, .. }) => {
                tracing::info!(job = %self.run.job_id, savepoint = %dir, "restoring from a savepoint");
            }
            None => {}
        }
    }

    /// The region restarts: the checkpoint in flight is abandoned, and
    /// the restore point is the newest usable checkpoint — not the one
    /// just found unreadable.
    pub(super) fn fall_back(&mut self) {
        let unreadable = std::mem::take(&mut self.unreadable);
        self.abandon_checkpoint();
        self.stop_interrupted();
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        match (unreadable, &c.restore) {
            (true, Some(RestorePoint::Checkpoint(bad))) => {
                let bad = *bad;
                tracing::warn!(job = %self.run.job_id, checkpoint = bad, "checkpoint unreadable; falling back to the one before");
                c.usable.retain(|&(id, _)| id != bad);
                let _ = self.progress.send(Progress::CheckpointUnusable(bad));
            }
            // A savepoint has nothing before it: it is tried again, and
            // the job fails when its attempts run out.
            (_, Some(RestorePoint::Savepoint { .. })) if c.usable.is_empty() => return,
            _ => {}
        }
        if let Some(&(id, _)) = c.usable.last() {
            c.restore = Some(RestorePoint::Checkpoint(id));
        } else if matches!(c.restore, Some(RestorePoint::Checkpoint(_))) {
            c.restore = None;
        }
    }

    /// Abandons the checkpoint in flight, if any: a task it waits for
    /// restarted or could not start it, so it can never complete.
    pub(super) fn abandon_checkpoint(&mut self) {
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        if let Some(id) = c.coordinator.abandon() {
            let _ = self.progress.send(Progress::CheckpointAbandoned(id));
            c.delete(&self.run.job_id, id);
            self.savepoint_failed(id, "a task it waited for restarted");
        }
    }

    /// The next attempt to end, serving checkpoints meanwhile.
    pub(super) async fn next_joined(
        &mut self,
        set: &mut JoinSet<Joined>,
        tasks: &[(usize, u32)],
        finished: &HashSet<(usize, u32)>,
    ) -> Option<Result<Joined, JoinError>> {
        loop {
            let woke = match self.checkpointing.as_mut() {
                None => return set.join_next().await,
                Some(c) => tokio::select! {
                    joined = set.join_next() => Woke::Joined(joined),
                    () = tokio::time::sleep_until(c.next_at) => Woke::Due,
                    ack = c.acks.recv() => Woke::Ack(ack),
                    request = c.requests.recv() => Woke::Request(request),
                    lost = c.losses.recv() => Woke::Lost(lost),
                },
            };
            match woke {
                Woke::Joined(joined) => return joined,
                Woke::Request(Some(request)) => self.take_request(request, finished),
                Woke::Request(None) | Woke::Lost(None) => {}
                Woke::Lost(Some(lost)) => {
                    tracing::warn!(job = %lost.job, exchange = lost.exchange, consumer = lost.consumer, records = lost.records, "records possibly lost");
                    let _ = self.progress.send(Progress::RecordsLost(lost.records));
                }
                Woke::Due => self.trigger(tasks, finished).await,
                Woke::Ack(Some(ack)) => {
                    self.take_ack(ack, tasks).await;
                    if self.stopped() {
                        return None;
                    }
                }
                Woke::Ack(None) => return set.join_next().await,
            }
        }
    }

    /// Starts the next checkpoint at every running source task of the
    /// region; the tasks `finished` are recorded as such. With no source
    /// running, what runs is draining towards its end: nothing is
    /// started.
    async fn trigger(&mut self, tasks: &[(usize, u32)], finished: &HashSet<(usize, u32)>) {
        let job = self.run.job_id.clone();
        let attempts: Vec<(usize, u32, u32)> = tasks
            .iter()
            .filter(|task| !finished.contains(task))
            .map(|&(c, s)| (c, s, *self.last_deployed.get(&(c, s)).unwrap_or(&0)))
            .collect();
        let sources: Vec<bool> = (self.plan.chains.iter())
            .map(|chain| chain.steps.first().is_some_and(|s| s.operator.is_source()))
            .collect();
        let is_source = |chain: usize| sources[chain];
        let sources_run = attempts.iter().any(|&(c, _, _)| is_source(c));
        let mut ended: Vec<(usize, u32)> = finished.iter().copied().collect();
        ended.sort_unstable();
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        c.next_at = tokio::time::Instant::now() + c.interval();
        if !sources_run {
            return;
        }
        let timeout = Duration::from_millis(c.spec.timeout_ms);
        if let Some(id) = c.coordinator.expire(Instant::now(), timeout) {
            tracing::warn!(%job, checkpoint = id, "checkpoint timed out");
            let _ = self.progress.send(Progress::CheckpointAbandoned(id));
            c.delete(&job, id);
            self.savepoint_failed(id, "it timed out");
        }
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        let limit = c.spec.alignment_timeout_ms.map(Duration::from_millis);
        let savepoint = c.savepoint.as_ref().is_some_and(|s| s.id.is_some());
        let mut switched = false;
        if let Some(limit) = limit.filter(|_| !savepoint) {
            if let Some(id) = c.coordinator.past_alignment(Instant::now(), limit) {
                tracing::info!(%job, checkpoint = id, "alignment timed out; the next checkpoint is unaligned");
                let _ = self.progress.send(Progress::CheckpointAbandoned(id));
                c.delete(&job, id);
                switched = true;
            }
            if let Some(deadline) = c.coordinator.alignment_deadline(limit) {
                c.next_at = c.next_at.min(deadline.into());
            }
        }
        // A savepoint is aligned: it holds no in-flight data, so it can
        // be restored at another parallelism.
        let mut unaligned = c.spec.unaligned || switched;
        if c.savepoint.as_ref().is_some_and(|s| s.id.is_none()) {
            unaligned = false;
        }
        let Some(id) =
            c.coordinator
                .trigger(&attempts, &ended, Instant::now(), now_ms(), unaligned)
        else {
            return;
        };
        if let Some(deadline) = limit.and_then(|l| c.coordinator.alignment_deadline(l)) {
            c.next_at = c.next_at.min(deadline.into());
        }
        if let Some(savepoint) = c.savepoint.as_mut().filter(|s| s.id.is_none()) {
            savepoint.id = Some(id);
        }
        for &(chain, subtask, attempt) in &attempts {
            if !is_source(chain) {
                continue;
            }
            let worker = &self.placement[chain][subtask as usize];
            let key = AttemptKey {
                job: job.clone(),
                chain,
                subtask,
                attempt,
            };
            let triggered = match self.cluster.workers.get(worker) {
                Some(entry) => entry.trigger_checkpoint(&key, id, unaligned).await,
                None => false,
            };
            if !triggered {
                // Not running yet (or any more): the next one may be.
                tracing::debug!(%job, checkpoint = id, "a source could not start the checkpoint");
                self.abandon_checkpoint();
                return;
            }
        }
    }

    /// Takes one task's acknowledgement; on the last, records the
    /// checkpoint, tells every worker of the region and applies
    /// retention.
    async fn take_ack(&mut self, ack: CheckpointAck, tasks: &[(usize, u32)]) {
        if self.stop_acked(&ack) {
            return;
        }
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        let outcome = c.coordinator.ack(&ack, Instant::now());
        self.take_outcome(outcome, tasks).await;
    }

    /// A task of the region ended, having taken part in checkpoints up to
    /// `snapshotted`: the checkpoint in flight may have it finished, and
    /// so complete.
    pub(super) async fn task_finished(
        &mut self,
        task: (usize, u32),
        attempt: u32,
        snapshotted: u64,
        tasks: &[(usize, u32)],
    ) {
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        let outcome = c
            .coordinator
            .finished(task, attempt, snapshotted, Instant::now());
        self.take_outcome(outcome, tasks).await;
    }

    /// Acts on what an acknowledgement or an ended task meant: records a
    /// complete checkpoint, tells every worker of the region and applies
    /// retention, or abandons a declined one.
    async fn take_outcome(&mut self, outcome: AckOutcome, tasks: &[(usize, u32)]) {
        let job = self.run.job_id.clone();
        let Some(c) = self.checkpointing.as_mut() else {
            return;
        };
        match outcome {
            AckOutcome::Ignored | AckOutcome::Waiting => {}
            AckOutcome::Declined { id, reason } => {
                tracing::warn!(%job, checkpoint = id, %reason, "checkpoint declined");
                let _ = self.progress.send(Progress::CheckpointAbandoned(id));
                c.delete(&job, id);
                self.savepoint_failed(id, &format!("a task declined it: {reason}"));
            }
            AckOutcome::Completed(record) => {
                let id = record.id;
                tracing::info!(%job, checkpoint = id, bytes = record.bytes, duration_ms = record.duration_ms, "checkpoint complete");
                c.usable.push((id, record.shared_from));
                if !record.finished.is_empty() {
                    c.finished.insert(id, record.finished.clone());
                }
                c.restore = Some(RestorePoint::Checkpoint(id));
                let dropped = beyond_retention(&c.usable, c.spec.retain);
                c.usable.retain(|(id, _)| !dropped.contains(id));
                for old in dropped {
                    c.finished.remove(&old);
                    c.delete(&job, old);
                }
                let ended = !record.finished.is_empty();
                let _ = self.progress.send(Progress::Checkpoint(record));
                // A savepoint restores into any job: it cannot say which
                // tasks ended.
                if ended {
                    self.savepoint_failed(id, "some of the job's tasks ended while it was taken");
                }
                let stop = self.savepoint_completed(id, tasks).await;
                let workers: HashSet<&String> = tasks
                    .iter()
                    .map(|&(chain, s)| &self.placement[chain][s as usize])
                    .collect();
                for worker in workers {
                    if let Some(entry) = self.cluster.workers.get(worker) {
                        entry.checkpoint_complete(&job, id, stop).await;
                    }
                }
            }
        }
    }
}
