//! The worker: slots that run task actors, and the data-plane endpoint
//! other workers' producers open channels to.
//!
//! Each slot is an actix arbiter (a thread with its own event loop); a
//! task actor lives on one slot, so a slot runs its tasks' operators one
//! call at a time. The actix system runs on a thread of its own, so a
//! worker can be started from any async runtime (a test, the CLI, the
//! scheduler's embedded mode). Incoming channels name the consumer they
//! are for; the router hands each to the task waiting for it, whichever of
//! the two arrives first.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix::{Actor, Addr, ArbiterHandle};
use faro_transport::{ChannelReceiver, Endpoint, IncomingChannel};
use tokio::sync::oneshot;

use crate::metrics::TaskProgress;
use crate::task::actor::{Cancel, TaskActor, TaskOutcome};
use crate::task::TaskRun;

/// Why a worker cannot start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The actix system thread could not start.
    #[error("cannot start the worker's slots: {0}")]
    Start(String),
}

/// A deployed task: cancel it, or wait for its outcome.
pub struct TaskHandle {
    addr: Addr<TaskActor>,
    done: oneshot::Receiver<TaskOutcome>,
    progress: TaskProgress,
}

/// Stops one task, or tells where it has got to; kept apart from its
/// [`TaskHandle`] so the handle can be awaited while others may cancel.
#[derive(Clone)]
pub struct TaskCanceller {
    addr: Addr<TaskActor>,
    progress: TaskProgress,
}

impl TaskCanceller {
    /// Stops the task (nothing happens if it already ended).
    pub fn cancel(&self) {
        self.addr.do_send(Cancel);
    }

    /// Where the task has got to.
    pub fn progress(&self) -> &TaskProgress {
        &self.progress
    }
}

impl TaskHandle {
    /// Stops the task.
    pub fn cancel(&self) {
        self.addr.do_send(Cancel);
    }

    /// A canceller for this task.
    pub fn canceller(&self) -> TaskCanceller {
        TaskCanceller {
            addr: self.addr.clone(),
            progress: self.progress.clone(),
        }
    }

    /// Waits for the task's outcome.
    pub async fn outcome(mut self) -> TaskOutcome {
        self.outcome_ref().await
    }

    /// Waits for the task's outcome, keeping the handle (to cancel it
    /// while waiting).
    pub async fn outcome_ref(&mut self) -> TaskOutcome {
        (&mut self.done).await.unwrap_or_else(|_| {
            Err(crate::failure::TaskFailure::transient(
                "the task's slot stopped",
            ))
        })
    }
}

/// Channels waiting for their task, and tasks waiting for their channel.
#[derive(Default)]
struct Router {
    waiting: HashMap<String, oneshot::Sender<ChannelReceiver>>,
    arrived: HashMap<String, ChannelReceiver>,
}

/// Local consumers' senders and the local producers waiting for them.
#[derive(Default)]
pub(crate) struct LocalPairs {
    pub(crate) offered: HashMap<String, crate::exchange::InputSender>,
    pub(crate) wanted: HashMap<String, oneshot::Sender<crate::exchange::InputSender>>,
}

/// A worker process's runtime part.
pub struct Worker {
    id: String,
    slots: Vec<ArbiterHandle>,
    next: AtomicUsize,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    endpoint: Option<Endpoint>,
    router: Arc<Mutex<Router>>,
    pub(crate) locals: Mutex<LocalPairs>,
    pub(crate) jobs: Mutex<HashMap<String, Arc<(crate::spec::ValidJob, crate::plan::Plan)>>>,
    pub(crate) connections: Mutex<HashMap<SocketAddr, Vec<faro_transport::Connection>>>,
    pub(crate) clusters: Mutex<HashMap<String, (u32, Arc<faro_shuffle::ShuffleCluster>)>>,
    /// Held while a shuffle client connects (for any job: connects are
    /// rare): the tasks of a job deployed at once share one connection
    /// per node instead of each dialling (and each waiting out a node
    /// that is down).
    pub(crate) connecting_shuffle: tokio::sync::Mutex<()>,
    pub(crate) spill_root: std::path::PathBuf,
    pub(crate) access: Arc<crate::access::AccessPolicy>,
    running: Mutex<HashMap<crate::attempt::AttemptKey, TaskCanceller>>,
    samples: Mutex<Option<Arc<dyn crate::exchange::agreement::SampleExchange>>>,
    metrics: crate::metrics::WorkerMetrics,
    /// A shuffle node in this process, by its address: partitions it owns
    /// are read from its mmap, not fetched over the network.
    pub(crate) in_process_shuffle: Option<(SocketAddr, Arc<faro_shuffle::ShuffleServer>)>,
    /// How long a shuffle fetch's node may stay silent, holding credit,
    /// before the fetch moves to another replica.
    pub(crate) fetch_stall: std::time::Duration,
    /// Where its tasks' checkpoint acknowledgements go, and each running
    /// attempt's command inbox (see [`crate::checkpoint::routing`]).
    pub(crate) checkpoints: crate::checkpoint::routing::CheckpointRoutes,
}

/// Distinguishes workers without an endpoint within one process.
static IN_PROCESS: AtomicUsize = AtomicUsize::new(0);

impl Worker {
    /// Starts `slots` slots; with an endpoint, also accepts other workers'
    /// channels on it (the accept loop runs on the caller's runtime).
    pub fn start(slots: usize, endpoint: Option<Endpoint>) -> Result<Self, WorkerError> {
        let (handles_tx, handles_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("faro-slots".into())
            .spawn(move || {
                let system = actix::System::new();
                system.block_on(async move {
                    let arbiters: Vec<actix::Arbiter> =
                        (0..slots.max(1)).map(|_| actix::Arbiter::new()).collect();
                    let _ =
                        handles_tx.send(arbiters.iter().map(|a| a.handle()).collect::<Vec<_>>());
                    let _ = stop_rx.await;
                    for arbiter in &arbiters {
                        arbiter.stop();
                    }
                });
            })
            .map_err(|e| WorkerError::Start(e.to_string()))?;
        let slots = handles_rx
            .recv()
            .map_err(|e| WorkerError::Start(e.to_string()))?;
        let router = Arc::new(Mutex::new(Router::default()));
        if let Some(endpoint) = &endpoint {
            tokio::spawn(accept_channels(endpoint.clone(), router.clone()));
        }
        let id = endpoint
            .as_ref()
            .and_then(|e| e.local_addr().ok())
            .map_or_else(
                || format!("in-process-{}", IN_PROCESS.fetch_add(1, Ordering::Relaxed)),
                |a| a.to_string(),
            );
        let metrics = crate::metrics::WorkerMetrics::new(slots.len());
        Ok(Self {
            id,
            slots,
            next: AtomicUsize::new(0),
            stop: Mutex::new(Some(stop_tx)),
            thread: Mutex::new(Some(thread)),
            endpoint,
            router,
            locals: Mutex::new(LocalPairs::default()),
            jobs: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            clusters: Mutex::new(HashMap::new()),
            connecting_shuffle: tokio::sync::Mutex::new(()),
            spill_root: std::env::temp_dir().join("faro-spill"),
            access: Arc::new(crate::access::AccessPolicy::deny_all()),
            running: Mutex::new(HashMap::new()),
            samples: Mutex::new(None),
            in_process_shuffle: None,
            fetch_stall: faro_shuffle::DEFAULT_FETCH_STALL,
            checkpoints: Default::default(),
            metrics,
        })
    }

    /// Spills tasks' state under `root` instead of the system temp dir.
    pub fn with_spill_root(mut self, root: &std::path::Path) -> Self {
        self.spill_root = root.to_path_buf();
        self
    }

    /// Lets its jobs read and write the files `access` allows (a worker
    /// starts allowing none).
    pub fn with_access(mut self, access: crate::access::AccessPolicy) -> Self {
        self.access = Arc::new(access);
        self
    }

    /// Reads the shuffle partitions that `server`, listening at `address`
    /// in this same process, owns straight from its memory-mapped files
    /// (the embedded cluster's case): the fetch without QUIC, TLS or a
    /// copy. Partitions it has no local copy of are fetched as usual.
    pub fn with_in_process_shuffle(
        mut self,
        address: SocketAddr,
        server: Arc<faro_shuffle::ShuffleServer>,
    ) -> Self {
        self.in_process_shuffle = Some((address, server));
        self
    }

    /// Moves a shuffle fetch to another replica after its node has been
    /// silent this long while holding credit to send (default
    /// [`faro_shuffle::DEFAULT_FETCH_STALL`]); see
    /// [`faro_shuffle::ReplicaFetch`].
    pub fn with_fetch_stall(mut self, stall: std::time::Duration) -> Self {
        self.fetch_stall = stall;
        self
    }

    /// Names the worker by `address` in placements (the address other
    /// workers reach it at, when it differs from the bound one).
    pub fn with_advertised(mut self, address: SocketAddr) -> Self {
        self.id = address.to_string();
        self
    }

    /// Agrees range boundaries through `exchange` (the scheduler) instead
    /// of in this process: for a worker whose peers are other processes.
    pub fn set_sample_exchange(
        &self,
        exchange: Arc<dyn crate::exchange::agreement::SampleExchange>,
    ) {
        *self.samples.lock().unwrap_or_else(|p| p.into_inner()) = Some(exchange);
    }

    pub(crate) fn sample_exchange(
        &self,
    ) -> Option<Arc<dyn crate::exchange::agreement::SampleExchange>> {
        self.samples
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn running_attempts(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<crate::attempt::AttemptKey, TaskCanceller>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The worker's identity in placements: its data address, or a
    /// process-unique name if it has no endpoint.
    pub fn id(&self) -> String {
        self.id.clone()
    }

    /// This worker's metrics (tasks' counters, attempts, slots).
    pub fn metrics(&self) -> &crate::metrics::WorkerMetrics {
        &self.metrics
    }

    /// Slots available.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// The data-plane address, if the worker has an endpoint.
    pub fn address(&self) -> Option<SocketAddr> {
        self.endpoint.as_ref().and_then(|e| e.local_addr().ok())
    }

    /// The data-plane endpoint, if any.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// Runs `run` on the next slot, round-robin.
    pub fn deploy(&self, run: TaskRun) -> TaskHandle {
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let (done_tx, done) = oneshot::channel();
        let progress = run.metrics.progress();
        let addr =
            TaskActor::start_in_arbiter(&self.slots[slot], move |_| TaskActor::new(run, done_tx));
        TaskHandle {
            addr,
            done,
            progress,
        }
    }

    /// Drops channels and waiters whose key starts with `prefix` (a job's).
    pub(crate) fn forget_channels(&self, prefix: &str) {
        let mut router = self.router.lock().unwrap_or_else(|p| p.into_inner());
        router.waiting.retain(|key, _| !key.starts_with(prefix));
        router.arrived.retain(|key, _| !key.starts_with(prefix));
    }

    /// The channel a remote producer will open with `key` as its payload.
    pub fn expect_channel(&self, key: &str) -> oneshot::Receiver<ChannelReceiver> {
        let (tx, rx) = oneshot::channel();
        let mut router = self.router.lock().unwrap_or_else(|p| p.into_inner());
        match router.arrived.remove(key) {
            Some(channel) => {
                let _ = tx.send(channel);
            }
            None => {
                router.waiting.insert(key.to_string(), tx);
            }
        }
        rx
    }
}

async fn accept_channels(endpoint: Endpoint, router: Arc<Mutex<Router>>) {
    while let Some(handshake) = endpoint.accept_handshake().await {
        let router = router.clone();
        tokio::spawn(async move {
            let Ok(connection) = handshake.complete().await else {
                return;
            };
            while let Ok(incoming) = connection.accept_channel().await {
                route(incoming, &router);
            }
        });
    }
}

fn route(incoming: IncomingChannel, router: &Mutex<Router>) {
    let key = String::from_utf8_lossy(incoming.payload()).into_owned();
    let channel = match incoming.into_receiver() {
        Ok(channel) => channel,
        Err(error) => {
            tracing::warn!(%key, %error, "refused a data channel");
            return;
        }
    };
    let mut router = router.lock().unwrap_or_else(|p| p.into_inner());
    match router.waiting.remove(&key) {
        Some(waiter) => {
            let _ = waiter.send(channel);
        }
        None => {
            router.arrived.insert(key, channel);
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}
