//! Which running attempt a checkpoint command goes to, and where the
//! worker's tasks send their acknowledgements: the worker's side of the
//! coordinator's conversation, whichever way the coordinator is reached
//! (in this process, or over the control connection).
//!
//! Beside the inboxes, under the same lock, the worker keeps where each
//! subtask of its jobs runs as restarts announced it (approximate
//! failover moves one task at a time), and per running attempt which
//! attempt of each neighbour it is wired to: a task deployed wires to the
//! newer of its deployment's and the announced, and a restart announced
//! later is handed to exactly the tasks wired to an older attempt —
//! never twice, never missed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

use super::{CheckpointAcks, CheckpointCommand, CheckpointStorage, CheckpointTarget};
use crate::attempt::AttemptKey;
use crate::deploy::{Peer, PeerTable};
use crate::task::checkpointing::TaskCheckpoints;
use crate::worker::Worker;

/// A worker's checkpoint routes.
#[derive(Default)]
pub struct CheckpointRoutes {
    acks: Mutex<Option<Arc<dyn CheckpointAcks>>>,
    inboxes: Mutex<Inboxes>,
}

#[derive(Default)]
struct Inboxes {
    /// Each running attempt's inbox, and where it is wired to.
    by_attempt: HashMap<AttemptKey, (UnboundedSender<CheckpointCommand>, PeerTable)>,
    /// Per job, where each subtask runs as restarts announced it.
    peers: HashMap<String, PeerTable>,
}

/// Keeps the newer of `known` and `heard` for one subtask; whether
/// `heard` was newer.
fn newer(known: &mut PeerTable, subtask: (usize, u32), heard: &Peer) -> bool {
    match known.get(&subtask) {
        Some(peer) if peer.attempt >= heard.attempt => false,
        _ => {
            known.insert(subtask, heard.clone());
            true
        }
    }
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
    /// until [`Worker::forget_checkpoint_inbox`]. `peers` (where its
    /// deployment says every subtask runs) takes the newer attempt of
    /// any restart this worker heard of, and is what the task wires to.
    pub(crate) fn checkpoint_link(
        &self,
        key: &AttemptKey,
        target: &CheckpointTarget,
        peers: &mut PeerTable,
    ) -> Result<TaskCheckpoints, String> {
        let acks = lock(&self.checkpoints.acks)
            .clone()
            .ok_or("this worker has no way to acknowledge checkpoints")?;
        let storage = CheckpointStorage::new(&target.root).map_err(|e| e.to_string())?;
        let (sender, inbox) = unbounded_channel();
        let mut inboxes = lock(&self.checkpoints.inboxes);
        if let Some(announced) = inboxes.peers.get(&key.job) {
            for (&subtask, peer) in announced {
                newer(peers, subtask, peer);
            }
        }
        inboxes
            .by_attempt
            .insert(key.clone(), (sender, peers.clone()));
        drop(inboxes);
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
        lock(&self.checkpoints.inboxes).by_attempt.remove(key);
    }

    /// Notes that `subtask` of `job` now runs as `peer`; returns the
    /// inboxes of the job's attempts running here that are wired to an
    /// older attempt of it (and now count as wired to this one).
    pub(crate) fn peer_moved(
        &self,
        job: &str,
        subtask: (usize, u32),
        peer: &Peer,
    ) -> Vec<(AttemptKey, UnboundedSender<CheckpointCommand>)> {
        let mut inboxes = lock(&self.checkpoints.inboxes);
        let announced = inboxes.peers.entry(job.to_string()).or_default();
        newer(announced, subtask, peer);
        inboxes
            .by_attempt
            .iter_mut()
            .filter(|(key, _)| key.job == job)
            .filter_map(|(key, (inbox, wired))| {
                newer(wired, subtask, peer).then(|| (key.clone(), inbox.clone()))
            })
            .collect()
    }

    /// Forgets where a finished job's subtasks ran.
    pub(crate) fn forget_peers(&self, job: &str) {
        lock(&self.checkpoints.inboxes).peers.remove(job);
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
            .by_attempt
            .get(key)
            .is_some_and(|(inbox, _)| inbox.send(command).is_ok())
    }

    /// Tells every attempt of `job` running here that `checkpoint` is
    /// complete (sinks commit); with `stop` (a savepoint to stop at) they
    /// then take no more input and acknowledge.
    pub fn checkpoint_complete(&self, job: &str, checkpoint: u64, stop: bool) {
        let command = || match stop {
            true => CheckpointCommand::Stop(checkpoint),
            false => CheckpointCommand::Complete(checkpoint),
        };
        for (_, (inbox, _)) in lock(&self.checkpoints.inboxes)
            .by_attempt
            .iter()
            .filter(|(key, _)| key.job == job)
        {
            let _ = inbox.send(command());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::CheckpointAck;
    use crate::rewire::RecordsLost;

    struct Nowhere;

    impl CheckpointAcks for Nowhere {
        fn ack(&self, _: CheckpointAck) {}
        fn records_lost(&self, _: RecordsLost) {}
    }

    fn key(subtask: u32) -> AttemptKey {
        AttemptKey {
            job: "job".into(),
            chain: 0,
            subtask,
            attempt: 0,
        }
    }

    /// Chain 0's neighbour, subtask 0 of chain 1, at `attempt`.
    fn neighbour_at(attempt: u32) -> PeerTable {
        let peer = Peer {
            attempt,
            worker: "w".into(),
        };
        PeerTable::from([((1, 0), peer)])
    }

    #[test]
    fn a_restart_reaches_exactly_the_tasks_wired_to_an_older_attempt() {
        let worker = Worker::start(1, None).unwrap();
        worker.set_checkpoint_acks(Arc::new(Nowhere));
        let root = std::env::temp_dir().join("faro-routing-test");
        let target = CheckpointTarget {
            root: root.display().to_string(),
            restore: None,
        };
        let (mut old, mut new) = (neighbour_at(0), neighbour_at(1));
        let _a = worker.checkpoint_link(&key(0), &target, &mut old).unwrap();
        // Deployed after the driver restarted the neighbour, before this
        // worker heard of it: its own deployment names the new attempt.
        let _b = worker.checkpoint_link(&key(1), &target, &mut new).unwrap();
        let restarted = &neighbour_at(1)[&(1, 0)];
        let told: Vec<u32> = worker
            .peer_moved("job", (1, 0), restarted)
            .into_iter()
            .map(|(k, _)| k.subtask)
            .collect();
        assert_eq!(told, [0], "only the task wired to attempt 0");
        assert!(worker.peer_moved("job", (1, 0), restarted).is_empty());
        // Deployed with a table older than what was announced.
        let mut stale = neighbour_at(0);
        let _c = worker
            .checkpoint_link(&key(2), &target, &mut stale)
            .unwrap();
        assert_eq!(stale[&(1, 0)].attempt, 1, "wired to the announced attempt");
        worker.forget_peers("job");
        let mut forgotten = neighbour_at(0);
        let _d = worker
            .checkpoint_link(&key(3), &target, &mut forgotten)
            .unwrap();
        assert_eq!(forgotten[&(1, 0)].attempt, 0);
    }
}
