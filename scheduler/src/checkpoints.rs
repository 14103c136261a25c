//! Where the scheduler keeps checkpoints and hears about them: the
//! storage root every worker writes under, and the routing of tasks'
//! acknowledgements to the driver of their job — straight from the
//! embedded worker, or from a worker process's control message.

use std::collections::HashMap;
use std::sync::Mutex;

use faro_runtime::checkpoint::{CheckpointAck, CheckpointAcks, CheckpointStorage, StorageError};
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
    /// Checkpoints started and abandoned (declined, timed out, or cut
    /// short by a failure).
    pub abandoned: u64,
    /// Checkpoints found unreadable when restoring: never used again.
    pub unusable: Vec<u64>,
    /// Each restore: the checkpoint restored from.
    pub restores: Vec<u64>,
}

impl CheckpointHistory {
    /// The highest checkpoint id the job used.
    pub fn last_id(&self) -> u64 {
        self.completed.last().map_or(0, |c| c.id)
    }

    /// The complete checkpoints a restore may use, oldest first.
    pub fn usable(&self) -> Vec<u64> {
        self.completed
            .iter()
            .map(|c| c.id)
            .filter(|id| !self.unusable.contains(id))
            .collect()
    }
}

/// The checkpoint storage and every running job's acknowledgement route.
pub struct CheckpointHub {
    root: String,
    routes: Mutex<HashMap<String, UnboundedSender<CheckpointAck>>>,
}

impl CheckpointHub {
    /// Checkpoints under directory `root`.
    pub fn new(root: impl Into<String>) -> Self {
        Self {
            root: root.into(),
            routes: Mutex::new(HashMap::new()),
        }
    }

    /// The directory checkpoints are stored under.
    pub fn root(&self) -> &str {
        &self.root
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

    /// Stops routing `job`'s acknowledgements.
    pub fn forget(&self, job: &str) {
        self.routes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(job);
    }
}

impl CheckpointAcks for CheckpointHub {
    fn ack(&self, ack: CheckpointAck) {
        let routes = self.routes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(route) = routes.get(&ack.job) {
            let _ = route.send(ack);
        }
    }
}
