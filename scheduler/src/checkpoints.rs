//! Where the scheduler keeps checkpoints and hears about them: the
//! storage root every worker writes under, the directory savepoints are
//! copied to, the routing of tasks' acknowledgements to the driver of
//! their job — straight from the embedded worker, or from a worker
//! process's control message — and of savepoint requests from the REST
//! API to the same driver, as of approximate failover's reports of
//! records possibly lost.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use faro_runtime::checkpoint::{CheckpointAck, CheckpointAcks, CheckpointStorage, StorageError};
use faro_runtime::rewire::RecordsLost;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use crate::coordinator::CheckpointRecord;

/// Complete checkpoints a job's record shows, newest last.
pub const HISTORY: usize = 100;

/// A job's checkpoints, as its record keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointHistory {
    /// Complete checkpoints, oldest first (the newest [`HISTORY`]).
    pub completed: Vec<CheckpointRecord>,
    /// Checkpoints completed in all (the list above keeps the newest).
    #[serde(default)]
    pub completed_total: u64,
    /// Checkpoints started and abandoned (declined, timed out, or cut
    /// short by a failure).
    pub abandoned: u64,
    /// Checkpoints found unreadable when restoring: never used again.
    pub unusable: Vec<u64>,
    /// Each restore: the checkpoint restored from.
    pub restores: Vec<u64>,
    /// The savepoint the job was started from, restored until its first
    /// checkpoint completes.
    #[serde(default)]
    pub from_savepoint: Option<String>,
    /// Savepoints taken of the job.
    #[serde(default)]
    pub savepoints: Vec<SavepointRecord>,
}

/// A savepoint taken of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavepointRecord {
    /// The checkpoint it was.
    pub checkpoint: u64,
    /// Its directory (what `--from-savepoint` takes).
    pub path: String,
    /// Whether the job stopped at it.
    pub stopped: bool,
}

/// A request for a savepoint, answered when it is taken (or could not
/// be).
pub struct SavepointRequest {
    /// Stop the job at it.
    pub stop: bool,
    /// Where the answer goes.
    pub reply: tokio::sync::oneshot::Sender<Result<SavepointRecord, String>>,
}

impl CheckpointHistory {
    /// The highest checkpoint id the job used.
    pub fn last_id(&self) -> u64 {
        self.completed.last().map_or(0, |c| c.id)
    }

    /// The complete checkpoints a restore may use, oldest first, each
    /// with the oldest earlier one its files point into.
    pub fn usable(&self) -> Vec<(u64, Option<u64>)> {
        self.completed
            .iter()
            .map(|c| (c.id, c.shared_from))
            .filter(|(id, _)| !self.unusable.contains(id))
            .collect()
    }
}

/// The checkpoint storage and every running job's acknowledgement and
/// savepoint-request routes.
pub struct CheckpointHub {
    root: String,
    savepoints: PathBuf,
    routes: Mutex<HashMap<String, UnboundedSender<CheckpointAck>>>,
    requests: Mutex<HashMap<String, UnboundedSender<SavepointRequest>>>,
    losses: Mutex<HashMap<String, UnboundedSender<RecordsLost>>>,
}

impl CheckpointHub {
    /// Checkpoints under directory `root`, savepoints under `savepoints`.
    pub fn new(root: impl Into<String>, savepoints: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            savepoints: savepoints.into(),
            routes: Mutex::new(HashMap::new()),
            requests: Mutex::new(HashMap::new()),
            losses: Mutex::new(HashMap::new()),
        }
    }

    /// The directory checkpoints are stored under.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The directory savepoints are copied to.
    pub fn savepoint_root(&self) -> &Path {
        &self.savepoints
    }

    /// Routes savepoint requests for `job` to the returned receiver
    /// until [`CheckpointHub::forget`].
    pub fn listen_requests(&self, job: &str) -> UnboundedReceiver<SavepointRequest> {
        let (tx, rx) = unbounded_channel();
        lock(&self.requests).insert(job.to_string(), tx);
        rx
    }

    /// Hands a savepoint request to `job`'s driver; gives it back when
    /// the job is not running checkpointed.
    pub fn request_savepoint(
        &self,
        job: &str,
        request: SavepointRequest,
    ) -> Result<(), SavepointRequest> {
        match lock(&self.requests).get(job) {
            Some(route) => route.send(request).map_err(|e| e.0),
            None => Err(request),
        }
    }

    /// The store.
    pub fn storage(&self) -> Result<CheckpointStorage, StorageError> {
        CheckpointStorage::new(&self.root)
    }

    /// Routes `job`'s acknowledgements to the returned receiver until it
    /// is dropped (or the job routes again).
    pub fn listen(&self, job: &str) -> UnboundedReceiver<CheckpointAck> {
        let (tx, rx) = unbounded_channel();
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.to_string(), tx);
        rx
    }

    /// Routes `job`'s reports of records possibly lost to the returned
    /// receiver until [`CheckpointHub::forget`].
    pub fn listen_losses(&self, job: &str) -> UnboundedReceiver<RecordsLost> {
        let (tx, rx) = unbounded_channel();
        lock(&self.losses).insert(job.to_string(), tx);
        rx
    }

    /// Stops routing `job`'s acknowledgements, requests and reports.
    pub fn forget(&self, job: &str) {
        lock(&self.routes).remove(job);
        lock(&self.requests).remove(job);
        lock(&self.losses).remove(job);
    }
}

impl CheckpointAcks for CheckpointHub {
    fn ack(&self, ack: CheckpointAck) {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(route) = routes.get(&ack.job) {
            let _ = route.send(ack);
        }
    }

    fn records_lost(&self, lost: RecordsLost) {
        if let Some(route) = lock(&self.losses).get(&lost.job) {
            let _ = route.send(lost);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
