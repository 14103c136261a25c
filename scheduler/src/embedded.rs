//! The embedded cluster: a shuffle node and a worker in this process, on
//! temporary (or given) directories, with an in-memory CA. `faro run`
//! runs one job on it; `faro local` serves the REST API in front of it.
//! Jobs run through the same [`driver`](crate::driver) as on a cluster of
//! processes, failover included. Differences: the worker pushes to and
//! reads from its in-process node by calls instead of over QUIC (commits
//! still go through the node's protocol, so recovery is the same), and
//! the node keeps shuffle data in its memory tier
//! ([`Durability::Memory`], up to [`EMBEDDED_MEMORY_BUDGET`], on disk
//! beyond it): nothing outlives the process anyway.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use faro_runtime::access::AccessPolicy;
use faro_runtime::data::Batch;
use faro_runtime::operators::basic::LiveRows;
use faro_runtime::spec::ValidJob;
use faro_runtime::task::TaskReport;
use faro_runtime::worker::Worker;
use faro_shuffle::storage::{Durability, IoPreference};
use faro_shuffle::{ClusterSecret, ShuffleServer};
use faro_transport::{Endpoint, LocalCa, TransportOptions};

use crate::checkpoints::CheckpointHub;
use crate::coordinator::CheckpointRecord;
use crate::driver::{drive, Cluster, JobRun, Progress};
use crate::failover::FailoverPolicy;
use crate::shuffle::ShuffleService;
use crate::workers::Workers;

/// What the embedded node holds in memory before writing shuffle data
/// to disk.
pub const EMBEDDED_MEMORY_BUDGET: u64 = 2 << 30;

/// Why the embedded cluster cannot start.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// A part failed to start.
    #[error("embedded cluster: {0}")]
    Start(String),
}

fn start_error(e: impl std::fmt::Display) -> EmbeddedError {
    EmbeddedError::Start(e.to_string())
}

/// What a job run on the embedded cluster produced.
#[derive(Debug, Default)]
pub struct JobOutput {
    /// Rows of `collect` sinks.
    pub collected: Vec<Batch>,
    /// One report per finished task.
    pub reports: Vec<TaskReport>,
    /// Whether the job was stopped before it ended.
    pub stopped: bool,
    /// A training job's epochs, in the order they ended.
    pub epochs: Vec<EpochDone>,
    /// A checkpointed job's completed checkpoints, in order.
    pub checkpoints: Vec<CheckpointRecord>,
    /// Skewed partitions read in pieces.
    pub divided: Vec<crate::jobs::DividedPartition>,
}

/// One epoch of a training job, as it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochDone {
    /// The training vertex.
    pub vertex: String,
    /// The epoch (0 first).
    pub epoch: u64,
    /// Its loss, if it measured one.
    pub loss: Option<f64>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// Called as each epoch ends (`faro run` prints it).
pub type EpochHook = Arc<dyn Fn(&EpochDone) + Send + Sync>;

/// Called as each checkpoint completes.
pub type CheckpointHook = Arc<dyn Fn(&CheckpointRecord) + Send + Sync>;

/// Called with every step of a job.
pub type ProgressHook = Arc<dyn Fn(&Progress) + Send + Sync>;

/// A shuffle node and a worker in this process.
pub struct Embedded {
    _temp: Option<tempfile::TempDir>,
    _node: Endpoint,
    shuffle: Arc<ShuffleServer>,
    worker: Arc<Worker>,
    cluster: Cluster,
    on_epoch: Option<EpochHook>,
    on_checkpoint: Option<CheckpointHook>,
    /// Set per run (hence behind a lock): `faro sql` runs one job after
    /// another on one cluster, each watched on its own.
    on_progress: std::sync::Mutex<Option<ProgressHook>>,
}

impl Embedded {
    /// Starts a shuffle node and one worker with `slots` slots whose jobs
    /// may touch the files `access` allows, keeping data under `dir` (a
    /// temporary directory if `None`). Must be called within a
    /// multi-threaded tokio runtime.
    pub fn start(
        slots: usize,
        dir: Option<&Path>,
        access: AccessPolicy,
    ) -> Result<Self, EmbeddedError> {
        let temp = match dir {
            Some(_) => None,
            None => Some(
                tempfile::Builder::new()
                    .prefix("faro-")
                    .tempdir()
                    .map_err(start_error)?,
            ),
        };
        let dir = match (&temp, dir) {
            (Some(t), _) => t.path().to_path_buf(),
            (None, Some(d)) => d.to_path_buf(),
            (None, None) => return Err(start_error("no directory")),
        };
        let mut seed = [0u8; 32];
        random_bytes(&mut seed);
        let secret = ClusterSecret::new(&seed);
        let tls = LocalCa::generate()
            .and_then(|ca| ca.issue(&["localhost"]))
            .map_err(start_error)?
            .tls_config();
        let loopback = "127.0.0.1:0".parse().map_err(start_error)?;
        let node =
            Endpoint::bind(loopback, &tls, TransportOptions::loopback()).map_err(start_error)?;
        let node_addr = node.local_addr().map_err(start_error)?;
        // The node lives in the workers' process: its data dies with its
        // readers, so it is held in memory (on disk past the budget) and
        // never written for durability's sake.
        let shuffle = Arc::new(
            ShuffleServer::open(&dir.join("shuffle"), secret.clone(), IoPreference::Auto)
                .map_err(start_error)?
                .with_durability(Durability::Memory)
                .with_memory_budget(EMBEDDED_MEMORY_BUDGET),
        );
        tokio::spawn(shuffle.clone().serve(node.clone()));
        let endpoint =
            Endpoint::bind(loopback, &tls, TransportOptions::loopback()).map_err(start_error)?;
        let worker = Arc::new(
            Worker::start(slots.max(1), Some(endpoint.clone()))
                .map_err(start_error)?
                .with_spill_root(&dir.join("spill"))
                .with_access(access)
                .with_in_process_shuffle(node_addr, shuffle.clone()),
        );
        let checkpoints = Arc::new(CheckpointHub::new(
            dir.join("checkpoints").to_string_lossy().into_owned(),
            dir.join("savepoints"),
        ));
        worker.set_checkpoint_acks(checkpoints.clone());
        let workers = Workers::new(crate::detector::Detection::fixed(Duration::from_secs(3600)));
        workers.add_local(worker.clone());
        let cluster = Cluster {
            workers,
            shuffle: Some(Arc::new(ShuffleService::new(
                vec![("embedded".into(), node_addr)],
                1,
                secret,
                endpoint,
            ))),
            max_frame: TransportOptions::default().buffer_size,
            samples: crate::ranges::Samples::new(),
            slots: crate::slots::SlotPool::new(),
            checkpoints: checkpoints.clone(),
        };
        Ok(Self {
            _temp: temp,
            _node: node,
            shuffle,
            worker,
            cluster,
            on_epoch: None,
            on_checkpoint: None,
            on_progress: std::sync::Mutex::new(None),
        })
    }

    /// Calls `hook` as each epoch of a training job ends, so progress can
    /// be shown while the job runs.
    pub fn on_epoch(&mut self, hook: impl Fn(&EpochDone) + Send + Sync + 'static) {
        self.on_epoch = Some(Arc::new(hook));
    }

    /// Calls `hook` with every step of the jobs run from now on as it
    /// happens (attempts started, finished, failed; re-runs; regions
    /// done), so a person can watch them run; `None` stops calling.
    pub fn watch_progress(&self, hook: Option<ProgressHook>) {
        *self
            .on_progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = hook;
    }

    /// Calls `hook` as each checkpoint of a job completes, so a long
    /// streaming run can be watched.
    pub fn on_checkpoint(&mut self, hook: impl Fn(&CheckpointRecord) + Send + Sync + 'static) {
        self.on_checkpoint = Some(Arc::new(hook));
    }

    /// The cluster jobs run on.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The worker (for its metrics).
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// Takes the cluster, keeping the shuffle node alive as long as the
    /// returned guard.
    pub fn into_parts(self) -> (Cluster, EmbeddedNode) {
        (
            self.cluster,
            EmbeddedNode {
                _temp: self._temp,
                _node: self._node,
                shuffle: self.shuffle,
                worker: self.worker,
            },
        )
    }

    /// Runs `job` as `job_id` to its end; its shuffle data is deleted
    /// afterwards, whatever the outcome.
    pub async fn run(&self, job_id: &str, job: &ValidJob) -> Result<JobOutput, String> {
        self.run_until(job_id, job, None, std::future::pending())
            .await
    }

    /// Runs `job` as `job_id` until it ends or `stop` completes (then its
    /// tasks are cancelled and the output says `stopped`). A streaming
    /// job's `collect` rows go to `live` as they come when it is given;
    /// otherwise they are in the output. Its shuffle data is deleted
    /// afterwards, whatever the outcome.
    pub async fn run_until(
        &self,
        job_id: &str,
        job: &ValidJob,
        live: Option<LiveRows>,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<JobOutput, String> {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let run = JobRun {
            job_id: job_id.to_string(),
            job: job.clone(),
            policy: FailoverPolicy::default(),
            done_regions: Vec::new(),
            first_attempts: HashMap::new(),
            worker_patience: Duration::from_secs(1),
            keep: None,
            live,
            checkpoints: Default::default(),
        };
        // Progress is taken as it comes: the driver waits for each attempt's
        // start to be taken before deploying it.
        let on_epoch = self.on_epoch.clone();
        let on_checkpoint = self.on_checkpoint.clone();
        let on_progress = self
            .on_progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        let gathering = tokio::spawn(async move {
            let mut output = JobOutput::default();
            while let Some(progress) = rx.recv().await {
                if let Some(hook) = &on_progress {
                    hook(&progress);
                }
                match progress {
                    Progress::Finished { report, .. } => output.reports.push(report),
                    Progress::RegionDone { collected, .. } => output.collected.extend(collected),
                    Progress::Epoch {
                        vertex,
                        epoch,
                        loss,
                        duration_ms,
                        summary,
                        ..
                    } => {
                        let done = EpochDone {
                            vertex,
                            epoch,
                            loss,
                            duration_ms,
                        };
                        if let Some(hook) = &on_epoch {
                            hook(&done);
                        }
                        output.epochs.push(done);
                        output.collected.extend(summary);
                    }
                    Progress::Divided(divided) => output.divided.push(divided),
                    Progress::Checkpoint(record) => {
                        if let Some(hook) = &on_checkpoint {
                            hook(&record);
                        }
                        output.checkpoints.push(record);
                    }
                    _ => {}
                }
            }
            output
        });
        // Boxed so that dropping it drops the driver itself.
        let mut driving = Box::pin(drive(&self.cluster, run, tx));
        let outcome = tokio::select! {
            outcome = &mut driving => Some(outcome),
            () = stop => None,
        };
        // Stopped: every task is cancelled at once, before the driver
        // (dropped) would cancel them one by one and their neighbours
        // report each other gone.
        finish(&self.cluster, job_id).await;
        drop(driving);
        let mut output = gathering
            .await
            .map_err(|e| format!("gathering the job's output: {e}"))?;
        match outcome {
            Some(outcome) => outcome.map(|()| output),
            None => {
                output.stopped = true;
                Ok(output)
            }
        }
    }
}

/// The embedded shuffle node (and its directories), kept alive while held.
pub struct EmbeddedNode {
    _temp: Option<tempfile::TempDir>,
    _node: Endpoint,
    shuffle: Arc<ShuffleServer>,
    worker: Arc<Worker>,
}

impl EmbeddedNode {
    /// The shuffle node (for its metrics).
    pub fn shuffle(&self) -> &Arc<ShuffleServer> {
        &self.shuffle
    }

    /// The worker (for its metrics).
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }
}

/// Ends `job` on every worker and deletes its shuffle data.
pub async fn finish(cluster: &Cluster, job_id: &str) {
    for worker in cluster.workers.alive() {
        worker.finish_job(job_id).await;
    }
    if let Some(shuffle) = &cluster.shuffle {
        shuffle.delete_job(job_id).await;
    }
    cluster.samples.forget(job_id);
}

/// Fills `bytes` from the OS random source (time-derived if unavailable).
pub(crate) fn random_bytes(bytes: &mut [u8]) {
    use std::io::Read;
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(bytes))
        .is_err()
    {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = (now >> (i % 16 * 8)) as u8 ^ i as u8;
        }
    }
}
