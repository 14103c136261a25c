//! The workers the scheduler may place tasks on: the embedded worker in
//! this process, and worker processes that registered over the control
//! RPC and keep heartbeating. A worker whose connection closes, or whose
//! silence the failure detector ([`crate::detector`]) suspects and a probe
//! confirms ([`liveness`]), is lost: every attempt running on it ends as
//! [`AttemptError::WorkerLost`], and it takes no new work until it
//! registers again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use faro_runtime::attempt::{decode_outcome, AttemptKey, TaskDone};
use faro_runtime::deploy::TaskDeployment;
use faro_runtime::failure::TaskFailure;
use faro_runtime::metrics::ProgressSnapshot;
use faro_runtime::operators::basic::LiveRows;
use faro_runtime::worker::Worker;
use faro_transport::{rpc, Connection, TransportError};
use tokio::sync::{watch, Notify};

use crate::control::ToWorker;
use crate::detector::{Arrivals, Detection};
use crate::placement::WorkerSlots;

mod liveness;

pub use liveness::DetectorMetrics;

/// How an attempt ended without finishing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    /// The task failed (its error and whether a re-run may succeed).
    #[error("{0}")]
    Failed(TaskFailure),
    /// The worker it ran on was lost.
    #[error("worker {0} was lost")]
    WorkerLost(String),
}

/// How long a checkpoint call to a worker process may take.
const CONTROL_CALL: Duration = Duration::from_secs(5);

enum Link {
    Local(Arc<Worker>),
    Remote(Connection),
}

/// One worker.
pub struct WorkerEntry {
    id: String,
    slots: usize,
    link: Link,
    arrivals: Mutex<Arrivals>,
    /// A probe of this worker is under way (see [`liveness`]).
    probing: std::sync::atomic::AtomicBool,
    lost: watch::Sender<bool>,
    /// Where the live `collect` rows of each attempt running there go,
    /// while it runs (see [`WorkerEntry::live_rows`]).
    live: Mutex<HashMap<AttemptKey, LiveRows>>,
    /// Where a worker process's running attempts have got to, as its
    /// last heartbeat said.
    progress: Mutex<Vec<(AttemptKey, ProgressSnapshot)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Forgets an attempt's live rows channel when its wait ends.
struct ForgetLive<'a> {
    entry: &'a WorkerEntry,
    key: AttemptKey,
}

impl Drop for ForgetLive<'_> {
    fn drop(&mut self) {
        lock(&self.entry.live).remove(&self.key);
    }
}

/// Sends `Cancel` for an attempt whose wait was dropped before it ended.
struct CancelRemote {
    connection: Option<Connection>,
    request: Vec<u8>,
}

impl Drop for CancelRemote {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            let request = std::mem::take(&mut self.request);
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let _ = rpc::call(&connection, &request).await;
                });
            }
        }
    }
}

impl WorkerEntry {
    /// The worker's id (its data address).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Its slots.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Whether it runs in this process.
    pub fn is_local(&self) -> bool {
        matches!(self.link, Link::Local(_))
    }

    /// Milliseconds since it was last heard from.
    pub fn silent_ms(&self) -> u64 {
        lock(&self.arrivals).silence(Instant::now()).as_millis() as u64
    }

    /// Where each attempt running there has got to: a worker process's as
    /// of its last heartbeat, the embedded worker's now.
    pub fn progress(&self) -> Vec<(AttemptKey, ProgressSnapshot)> {
        match &self.link {
            Link::Local(worker) => worker.progress(),
            Link::Remote(_) => lock(&self.progress).clone(),
        }
    }

    /// Where the live `collect` rows of attempt `key` go, if it runs here
    /// and streams them: a worker process sends them over the control
    /// connection, and the scheduler forwards them here.
    pub fn live_rows(&self, key: &AttemptKey) -> Option<LiveRows> {
        lock(&self.live).get(key).cloned()
    }

    /// Runs one attempt to its end, its live `collect` rows (if `d` asks
    /// for them) going to `live`. Dropping the future cancels it.
    pub async fn run(
        &self,
        d: TaskDeployment,
        live: Option<LiveRows>,
    ) -> Result<TaskDone, AttemptError> {
        let mut lost = self.lost.subscribe();
        let lost_error = || AttemptError::WorkerLost(self.id.clone());
        if *lost.borrow() {
            return Err(lost_error());
        }
        match &self.link {
            Link::Local(worker) => worker
                .run_attempt(d, live)
                .await
                .map_err(AttemptError::Failed),
            Link::Remote(connection) => {
                let key = AttemptKey::of(&d);
                let _forget = live.map(|live| {
                    lock(&self.live).insert(key.clone(), live);
                    ForgetLive {
                        entry: self,
                        key: key.clone(),
                    }
                });
                let cancel = serde_json::to_vec(&ToWorker::Cancel {
                    job: key.job,
                    chain: key.chain,
                    subtask: key.subtask,
                    attempt: key.attempt,
                })
                .unwrap_or_default();
                let request = serde_json::to_vec(&ToWorker::Run(Box::new(d)))
                    .map_err(|e| AttemptError::Failed(TaskFailure::deterministic(e.to_string())))?;
                let mut guard = CancelRemote {
                    connection: Some(connection.clone()),
                    request: cancel,
                };
                let answer = tokio::select! {
                    answer = rpc::call(connection, &request) => answer,
                    _ = lost.wait_for(|lost| *lost) => return Err(lost_error()),
                };
                guard.connection = None;
                match answer {
                    Ok(bytes) => match decode_outcome(&bytes) {
                        Ok(outcome) => outcome.map_err(AttemptError::Failed),
                        Err(e) => Err(AttemptError::Failed(TaskFailure::transient(e.to_string()))),
                    },
                    Err(TransportError::Refused(message)) => {
                        Err(AttemptError::Failed(TaskFailure::transient(message)))
                    }
                    Err(_) => Err(lost_error()),
                }
            }
        }
    }

    /// Tells attempt `key` to start checkpoint `checkpoint`; `false` if
    /// it is not running there (the checkpoint cannot complete).
    pub async fn trigger_checkpoint(
        &self,
        key: &AttemptKey,
        checkpoint: u64,
        unaligned: bool,
    ) -> bool {
        match &self.link {
            Link::Local(worker) => worker.trigger_checkpoint(key, checkpoint, unaligned),
            Link::Remote(connection) => {
                let request = ToWorker::Checkpoint {
                    job: key.job.clone(),
                    chain: key.chain,
                    subtask: key.subtask,
                    attempt: key.attempt,
                    checkpoint,
                    unaligned,
                };
                let request = serde_json::to_vec(&request).unwrap_or_default();
                let call = rpc::call(connection, &request);
                matches!(tokio::time::timeout(CONTROL_CALL, call).await, Ok(Ok(_)))
            }
        }
    }

    /// Tells the worker's attempts of `job` that `checkpoint` is
    /// complete (with `stop`, a savepoint they stop at). A worker that
    /// does not hear it commits when it restores.
    pub async fn checkpoint_complete(&self, job: &str, checkpoint: u64, stop: bool) {
        match &self.link {
            Link::Local(worker) => worker.checkpoint_complete(job, checkpoint, stop),
            Link::Remote(connection) => {
                let request = ToWorker::CheckpointComplete {
                    job: job.to_string(),
                    checkpoint,
                    stop,
                };
                let request = serde_json::to_vec(&request).unwrap_or_default();
                let call = rpc::call(connection, &request);
                if !matches!(tokio::time::timeout(CONTROL_CALL, call).await, Ok(Ok(_))) {
                    tracing::debug!(worker = %self.id, checkpoint, "a completion notice was not taken");
                }
            }
        }
    }

    /// Tells the worker a subtask of its job restarted alone
    /// (approximate failover), so its tasks wire to the new attempt.
    pub async fn peer_restarted(&self, restart: faro_runtime::rewire::PeerRestart) {
        match &self.link {
            Link::Local(worker) => worker.peer_restarted(restart).await,
            Link::Remote(connection) => {
                let request =
                    serde_json::to_vec(&ToWorker::PeerRestarted(restart)).unwrap_or_default();
                let call = rpc::call(connection, &request);
                if !matches!(tokio::time::timeout(CONTROL_CALL, call).await, Ok(Ok(_))) {
                    tracing::warn!(worker = %self.id, "a restart notice was not taken");
                }
            }
        }
    }

    /// Stops every attempt of `job` on the worker and forgets the job.
    pub async fn finish_job(&self, job: &str) {
        match &self.link {
            Link::Local(worker) => {
                worker.cancel_job(job);
                worker.finish_job(job);
            }
            Link::Remote(connection) => {
                let request = serde_json::to_vec(&ToWorker::FinishJob { job: job.into() })
                    .unwrap_or_default();
                if let Err(error) = rpc::call(connection, &request).await {
                    tracing::debug!(worker = %self.id, %error, "finishing a job on a worker");
                }
            }
        }
    }

    fn mark_lost(&self) {
        self.lost.send_replace(true);
        if let Link::Remote(connection) = &self.link {
            connection.close();
        }
    }
}

/// Every worker the scheduler knows.
pub struct Workers {
    entries: Mutex<Vec<Arc<WorkerEntry>>>,
    detection: Detection,
    metrics: DetectorMetrics,
    changed: Notify,
}

impl Workers {
    /// No workers yet; remote ones are judged by `detection`.
    pub fn new(detection: Detection) -> Arc<Self> {
        Arc::new(Self {
            entries: Mutex::new(Vec::new()),
            detection,
            metrics: DetectorMetrics::new(),
            changed: Notify::new(),
        })
    }

    /// How silence is judged (and how often workers heartbeat).
    pub fn detection(&self) -> &Detection {
        &self.detection
    }

    /// What the failure detector has done, for `/metrics`.
    pub fn detector_metrics(&self) -> &DetectorMetrics {
        &self.metrics
    }

    fn add(&self, id: String, slots: usize, link: Link) -> Arc<WorkerEntry> {
        let entry = Arc::new(WorkerEntry {
            id,
            slots: slots.max(1),
            link,
            arrivals: Mutex::new(Arrivals::new(Instant::now(), self.detection.interval)),
            probing: std::sync::atomic::AtomicBool::new(false),
            lost: watch::channel(false).0,
            live: Mutex::new(HashMap::new()),
            progress: Mutex::new(Vec::new()),
        });
        let mut entries = lock(&self.entries);
        // A worker registering again under its id replaces its old self,
        // whose attempts are gone with it.
        entries.retain(|old| {
            if old.id == entry.id {
                old.mark_lost();
                false
            } else {
                true
            }
        });
        entries.push(entry.clone());
        drop(entries);
        self.changed.notify_waiters();
        entry
    }

    /// Adds a worker running in this process (never expires).
    pub fn add_local(&self, worker: Arc<Worker>) {
        self.add(worker.id(), worker.slots(), Link::Local(worker));
    }

    /// Registers a worker process reached over `connection`; when the
    /// connection closes the worker is lost.
    pub fn register(self: &Arc<Self>, id: String, slots: usize, connection: Connection) {
        let entry = self.add(id, slots, Link::Remote(connection.clone()));
        tracing::info!(worker = %entry.id, slots = entry.slots, "worker registered");
        let workers = Arc::downgrade(self);
        tokio::spawn(async move {
            let reason = connection.closed().await;
            if let Some(workers) = workers.upgrade() {
                workers.lose(&entry, &reason.to_string(), "connection");
            }
        });
    }

    /// Takes a heartbeat and the progress it reports; `false` if the
    /// worker is not registered.
    pub fn heartbeat(&self, id: &str, progress: Vec<(AttemptKey, ProgressSnapshot)>) -> bool {
        match lock(&self.entries).iter().find(|e| e.id == id) {
            Some(entry) => {
                lock(&entry.arrivals).heartbeat(Instant::now());
                *lock(&entry.progress) = progress;
                true
            }
            None => false,
        }
    }

    /// The workers alive now.
    pub fn alive(&self) -> Vec<Arc<WorkerEntry>> {
        lock(&self.entries).clone()
    }

    /// The worker called `id`, if alive.
    pub fn get(&self, id: &str) -> Option<Arc<WorkerEntry>> {
        lock(&self.entries).iter().find(|e| e.id == id).cloned()
    }

    /// Where every running attempt of `job` has got to, by `(chain,
    /// subtask, attempt)`: a worker process's as of its last heartbeat,
    /// the embedded worker's now.
    pub fn progress(&self, job: &str) -> HashMap<(usize, u32, u32), ProgressSnapshot> {
        let mut all = HashMap::new();
        for entry in self.alive() {
            for (key, progress) in entry.progress().into_iter().filter(|(k, _)| k.job == job) {
                all.insert((key.chain, key.subtask, key.attempt), progress);
            }
        }
        all
    }

    /// Alive workers and their slots, for placement.
    pub fn slots(&self) -> Vec<WorkerSlots> {
        lock(&self.entries)
            .iter()
            .map(|e| WorkerSlots {
                id: e.id.clone(),
                slots: e.slots,
            })
            .collect()
    }

    /// Waits until at least one worker is alive, for at most `patience`.
    pub async fn wait_for_any(&self, patience: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let changed = self.changed.notified();
            if !lock(&self.entries).is_empty() {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return !lock(&self.entries).is_empty();
            }
        }
    }
}
