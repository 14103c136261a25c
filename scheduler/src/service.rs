//! The scheduler's core: accepts job specs, runs them on its cluster
//! through the [`driver`](crate::driver), and keeps every job's record
//! (state, subtasks and attempts, re-runs, finished regions) and result in
//! the store as they change. A job that was running when an earlier
//! scheduler stopped resumes: regions whose output is still committed in
//! the shuffle service are not run again.
//!
//! Called from the REST handlers (any thread); jobs run on the tokio
//! runtime it was created on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use faro_runtime::data::Batch;
use faro_runtime::kernels::views;
use faro_runtime::operators::basic::KeepLimit;
use faro_runtime::plan::Plan;
use faro_runtime::spec::{validate, JobSpec, SpecError, ValidJob};

use crate::checkpoints::{CheckpointHistory, SavepointRecord, SavepointRequest, HISTORY};
use crate::driver::{drive, Cluster, JobRun, Progress};
use crate::embedded::{finish, EmbeddedNode};
use crate::failover::FailoverPolicy;
use crate::jobs::{now_ms, AttemptState, EpochStatus, JobRecord, JobResult, JobState};
use crate::savepoints::{self, SavepointError};
use crate::store::{JobPage, Store, StoreError};

/// Batches of a streaming job's rows waiting to be stored.
const LIVE_BATCHES: usize = 4;

/// How long a status display waits for a shuffle node's counters: a node
/// that is down must not hold the page for a connect timeout.
const NODE_STATS_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// The spec is invalid (HTTP 400).
    #[error(transparent)]
    Invalid(#[from] SpecError),
    /// No such job (HTTP 404).
    #[error("no job {0:?}")]
    NotFound(String),
    /// The store failed (HTTP 500).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The savepoint to start from cannot be used (HTTP 400).
    #[error(transparent)]
    Savepoint(#[from] SavepointError),
    /// The job is not in a state to do what was asked (HTTP 409).
    #[error("{0}")]
    Conflict(String),
}

/// How the scheduler runs jobs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Rows of a job's `collect` result kept.
    pub result_rows: usize,
    /// Bytes of a job's `collect` result kept (as JSON).
    pub result_bytes: usize,
    /// Attempts and waits.
    pub policy: FailoverPolicy,
    /// How long a job waits for a worker when none is alive.
    pub worker_patience: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            result_rows: 100_000,
            result_bytes: 64 << 20,
            policy: FailoverPolicy::default(),
            worker_patience: Duration::from_secs(30),
        }
    }
}

/// The scheduler.
pub struct Scheduler {
    store: Store,
    cluster: Cluster,
    node: Option<EmbeddedNode>,
    handle: tokio::runtime::Handle,
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// Held across every read-modify-write of a job record: the driver's
    /// progress and a cancel change the same record from two threads, and
    /// the later write must not undo the earlier (a cancelled job shown
    /// running again).
    record_writes: Mutex<()>,
    config: SchedulerConfig,
    next: AtomicU64,
    /// Random per scheduler process, so ids from two schedulers (or one
    /// restarted within a millisecond) never collide: metrics and shuffle
    /// data are keyed by job id.
    tag: String,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl JobResult {
    /// Appends `batches`' rows, keeping at most `rows` rows and `bytes`
    /// bytes of them (as JSON); beyond that it is marked truncated.
    pub fn append(&mut self, batches: &[Batch], rows: usize, bytes: usize) {
        if self.columns.is_empty() {
            if let Some(first) = batches.first() {
                self.columns = first
                    .schema()
                    .fields
                    .iter()
                    .map(|f| f.name.clone())
                    .collect();
            }
        }
        for batch in batches {
            let views = views(batch);
            for row in 0..batch.num_rows() {
                if self.rows.len() >= rows {
                    self.truncated = true;
                    return;
                }
                let values: Vec<serde_json::Value> =
                    views.iter().map(|c| c.value(row).to_json()).collect();
                let size = serde_json::to_vec(&values).map_or(0, |v| v.len());
                if self.bytes + size as u64 > bytes as u64 {
                    self.truncated = true;
                    return;
                }
                self.bytes += size as u64;
                self.rows.push(values);
            }
        }
    }
}

impl Scheduler {
    /// A scheduler keeping jobs in `store` and running them on `cluster`
    /// (with `node`, the embedded shuffle node, if any). Jobs an earlier
    /// scheduler left running resume.
    pub fn new(
        store: Store,
        cluster: Cluster,
        node: Option<EmbeddedNode>,
        config: SchedulerConfig,
    ) -> Result<Arc<Self>, SchedulerError> {
        let unfinished: Vec<JobRecord> = store
            .jobs()?
            .into_iter()
            .filter(|j| !j.state.is_terminal())
            .collect();
        let scheduler = Arc::new(Self {
            store,
            cluster,
            node,
            handle: tokio::runtime::Handle::current(),
            running: Mutex::new(HashMap::new()),
            record_writes: Mutex::new(()),
            config,
            next: AtomicU64::new(0),
            tag: {
                let mut random = [0u8; 3];
                crate::embedded::random_bytes(&mut random);
                random.iter().map(|b| format!("{b:02x}")).collect()
            },
        });
        for record in unfinished {
            let spec = match scheduler.store.spec(&record.id) {
                Ok(Some(spec)) => spec,
                Ok(None) | Err(_) => {
                    scheduler.update(&record.id, |r| {
                        r.state = JobState::Failed;
                        r.error = Some("cannot resume: its spec was not kept".into());
                    });
                    continue;
                }
            };
            let mut spec = spec;
            // A training job goes on from its last finished epoch.
            if let Some((vertex, params)) = &record.iteration {
                if let Some(v) = spec.vertices.iter_mut().find(|v| &v.id == vertex) {
                    v.params = params.clone();
                }
            }
            match validate(&spec) {
                Ok(job) => {
                    tracing::info!(job = %record.id, done_regions = ?record.done_regions, epochs = record.epochs.len(), "resuming");
                    scheduler.start(record.id.clone(), job);
                }
                Err(error) => scheduler.update(&record.id, |r| {
                    r.state = JobState::Failed;
                    r.error = Some(format!("cannot resume: {error}"));
                }),
            }
        }
        Ok(scheduler)
    }

    /// The cluster jobs run on.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The embedded shuffle node, if the scheduler runs one.
    pub fn embedded_node(&self) -> Option<&EmbeddedNode> {
        self.node.as_ref()
    }

    /// Validates and starts `spec`; returns the job's id.
    pub fn submit(self: &Arc<Self>, spec: JobSpec) -> Result<String, SchedulerError> {
        self.submit_from(spec, None)
    }

    /// Validates and starts `spec`, restoring its state from the
    /// savepoint in directory `savepoint` if given (the job must be
    /// checkpointed, and the savepoint must fit it); returns its id.
    pub fn submit_from(
        self: &Arc<Self>,
        spec: JobSpec,
        savepoint: Option<&str>,
    ) -> Result<String, SchedulerError> {
        let job = validate(&spec)?;
        if let Some(dir) = savepoint {
            if job.checkpoints.is_none() {
                return Err(SchedulerError::Conflict(
                    "only a checkpointed job (one with `checkpoints`) can start from a savepoint"
                        .into(),
                ));
            }
            let meta = savepoints::read(std::path::Path::new(dir))?;
            savepoints::check_compatible(&meta, &Plan::new(&job))?;
        }
        let id = format!(
            "job-{:x}-{}{}",
            now_ms(),
            self.tag,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let record = JobRecord {
            vertices: spec
                .vertices
                .iter()
                .map(|v| (v.id.clone(), v.parallelism))
                .collect(),
            checkpoints: CheckpointHistory {
                from_savepoint: savepoint.map(str::to_string),
                ..CheckpointHistory::default()
            },
            ..JobRecord::queued(id.clone(), spec.name.clone(), job.streaming, now_ms())
        };
        self.store.add_job(&record, &spec)?;
        self.start(id.clone(), job);
        Ok(id)
    }

    fn start(self: &Arc<Self>, id: String, job: ValidJob) {
        let scheduler = self.clone();
        let job_id = id.clone();
        // Registered before it can finish, so a quick job cannot race its
        // own bookkeeping.
        let mut running = lock(&self.running);
        let task = self
            .handle
            .spawn(async move { scheduler.run(job_id, job).await });
        running.insert(id, task.abort_handle());
    }

    async fn run(self: Arc<Self>, id: String, job: ValidJob) {
        let Ok(Some(record)) = self.store.job(&id) else {
            return;
        };
        self.update(&id, |r| {
            r.state = JobState::Running;
            r.started_ms.get_or_insert_with(now_ms);
        });
        let job_streaming = job.streaming;
        let names: Vec<String> = Plan::new(&job)
            .chains
            .iter()
            .map(|c| c.name.clone())
            .collect();
        let run = JobRun {
            job_id: id.clone(),
            job,
            policy: self.config.policy,
            done_regions: record.done_regions.clone(),
            first_attempts: record.next_attempts(),
            worker_patience: self.config.worker_patience,
            keep: Some(KeepLimit {
                rows: self.config.result_rows,
                bytes: self.config.result_bytes,
            }),
            live: None,
            checkpoints: record.checkpoints.clone(),
        };
        // A streaming job's rows are kept as they come (up to the result
        // limits), so its result can be read while it runs.
        let (live, keeping) = if job_streaming {
            let (tx, mut rows) = tokio::sync::mpsc::channel::<Batch>(LIVE_BATCHES);
            let scheduler = self.clone();
            let id = id.clone();
            let keeping = tokio::spawn(async move {
                let mut full = false;
                while let Some(batch) = rows.recv().await {
                    // Once the result is full the rows are still taken
                    // (the job must not stall) but no longer stored.
                    if full {
                        continue;
                    }
                    let scheduler = scheduler.clone();
                    let id = id.clone();
                    // The store writes on a blocking thread.
                    full = tokio::task::spawn_blocking(move || {
                        scheduler.keep_rows(&id, &[batch], false, None)
                    })
                    .await
                    .unwrap_or(false);
                }
            });
            (Some(tx), Some(keeping))
        } else {
            (None, None)
        };
        let run = JobRun { live, ..run };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let recorder = {
            let scheduler = self.clone();
            let id = id.clone();
            tokio::spawn(async move {
                while let Some(progress) = rx.recv().await {
                    scheduler.record(&id, &names, progress);
                }
            })
        };
        let outcome = drive(&self.cluster, run, tx).await;
        let _ = recorder.await;
        if let Some(keeping) = keeping {
            let _ = keeping.await;
        }
        lock(&self.running).remove(&id);
        self.update(&id, |r| match outcome {
            Ok(()) => {
                r.state = JobState::Finished;
                // Attempts still running stopped at a savepoint.
                let now = now_ms();
                for attempt in r.tasks.iter_mut().flat_map(|t| t.attempts.iter_mut()) {
                    if attempt.state == AttemptState::Running {
                        attempt.state = AttemptState::Finished;
                        attempt.finished_ms = Some(now);
                    }
                }
            }
            Err(error) => {
                r.state = JobState::Failed;
                r.error = Some(error);
            }
        });
        // Cleaning up comes after the job is seen ended: a shuffle node
        // that is down would hold the answer back by its connect timeout.
        finish(&self.cluster, &id).await;
    }

    /// Writes one step of job `id` into its record.
    fn record(&self, id: &str, names: &[String], progress: Progress) {
        match progress {
            step @ (Progress::Started { .. }
            | Progress::Finished { .. }
            | Progress::Failed { .. }
            | Progress::Rerun(_)) => self.update(id, |r| r.apply(&step, names, now_ms())),
            Progress::Epoch {
                vertex,
                epoch,
                loss,
                duration_ms,
                next,
                summary,
            } => {
                self.update(id, |r| {
                    r.epochs.push(EpochStatus {
                        epoch,
                        loss,
                        duration_ms,
                    });
                    r.iteration = next.map(|params| (vertex, params));
                });
                self.keep_rows(id, &summary, false, None);
            }
            Progress::RegionDone {
                region,
                collected,
                truncated,
                ..
            } => {
                self.keep_rows(id, &collected, truncated, Some(region));
            }
            Progress::Checkpoint(record) => self.update(id, |r| {
                let history = &mut r.checkpoints;
                history.completed.push(record);
                history.completed_total += 1;
                let over = history.completed.len().saturating_sub(HISTORY);
                history.completed.drain(..over);
            }),
            Progress::CheckpointAbandoned(_) => self.update(id, |r| r.checkpoints.abandoned += 1),
            Progress::Divided(divided) => self.update(id, |r| r.divided.push(divided)),
            Progress::CheckpointUnusable(checkpoint) => {
                self.update(id, |r| r.checkpoints.unusable.push(checkpoint))
            }
            Progress::Restored(checkpoint) => {
                self.update(id, |r| r.checkpoints.restores.push(checkpoint))
            }
            Progress::RecordsLost(records) => {
                self.update(id, |r| r.reruns.records_possibly_lost += records)
            }
            Progress::Savepoint(savepoint) => {
                self.update(id, |r| r.checkpoints.savepoints.push(savepoint))
            }
        }
    }

    /// Adds `collected` to job `id`'s stored result (as far as the result
    /// limits allow), with the region they finish if any; returns whether
    /// the result is full (rows were dropped).
    fn keep_rows(
        &self,
        id: &str,
        collected: &[Batch],
        truncated: bool,
        region: Option<usize>,
    ) -> bool {
        let _writing = lock(&self.record_writes);
        let Ok(Some(mut record)) = self.store.job(id) else {
            return false;
        };
        if record.state.is_terminal() {
            return false;
        }
        let mut result = self.store.result(id).ok().flatten().unwrap_or_default();
        result.append(collected, self.config.result_rows, self.config.result_bytes);
        result.truncated |= truncated;
        if let Some(region) = region.filter(|r| !record.done_regions.contains(r)) {
            record.done_regions.push(region);
        }
        // One transaction: a restart never sees a region done without its
        // rows, nor its rows twice.
        if let Err(error) = self.store.put_job_and_result(&record, &result) {
            tracing::warn!(job = id, %error, "cannot store the job's rows");
        }
        result.truncated
    }

    /// Applies `change` to job `id` if the state rules allow it. A job that
    /// ended changes no more: a cancelled job's driver may still report
    /// what it did last, which must not show as running again.
    fn update(&self, id: &str, change: impl FnOnce(&mut JobRecord)) {
        let _writing = lock(&self.record_writes);
        let Ok(Some(mut record)) = self.store.job(id) else {
            return;
        };
        let before = record.state;
        if before.is_terminal() {
            return;
        }
        change(&mut record);
        if record.state != before && !before.may_become(record.state) {
            return;
        }
        if record.state.is_terminal() && record.finished_ms.is_none() {
            record.finished_ms = Some(now_ms());
        }
        if let Err(error) = self.store.put_job(&record) {
            tracing::warn!(job = id, %error, "cannot store the job");
        }
    }

    /// Every job.
    pub fn jobs(&self) -> Result<Vec<JobRecord>, SchedulerError> {
        Ok(self.store.jobs()?)
    }

    /// A page of the job listing: up to `limit` jobs after the cursor
    /// `after`, oldest first.
    pub fn page(&self, after: Option<&str>, limit: usize) -> Result<JobPage, SchedulerError> {
        Ok(self.store.page(after, limit)?)
    }

    /// A job's spec.
    pub fn spec(&self, id: &str) -> Result<JobSpec, SchedulerError> {
        self.store
            .spec(id)?
            .ok_or_else(|| SchedulerError::NotFound(id.to_string()))
    }

    /// A job's graph: its chains and the exchanges between them.
    pub fn graph(&self, id: &str) -> Result<crate::graph::JobGraph, SchedulerError> {
        let spec = self.spec(id)?;
        // A stored spec was valid when it was accepted; a scheduler of
        // another version may still refuse it, and says why.
        let job = validate(&spec).map_err(SchedulerError::Invalid)?;
        Ok(crate::graph::job_graph(&Plan::new(&job)))
    }

    /// The shuffle nodes, each with its counters or why they could not be
    /// read (asked on the scheduler's runtime, where its endpoint lives).
    pub async fn shuffle_nodes(&self) -> Vec<crate::shuffle::NodeStatus> {
        let Some(shuffle) = self.cluster.shuffle.clone() else {
            return Vec::new();
        };
        self.handle
            .spawn(async move { shuffle.status(NODE_STATS_PATIENCE).await })
            .await
            .unwrap_or_default()
    }

    /// One job.
    pub fn job(&self, id: &str) -> Result<JobRecord, SchedulerError> {
        self.store
            .job(id)?
            .ok_or_else(|| SchedulerError::NotFound(id.to_string()))
    }

    /// A job's status as a user sees it: its record, with the watermark
    /// each running attempt has reached.
    pub fn status(&self, id: &str) -> Result<JobRecord, SchedulerError> {
        let mut job = self.job(id)?;
        if job.state == JobState::Running {
            job.show_progress(&self.cluster.workers.progress(id));
        }
        Ok(job)
    }

    /// A job's collected rows: a finished job's, or a streaming job's so far.
    pub fn result(&self, id: &str) -> Result<Option<JobResult>, SchedulerError> {
        let job = self.job(id)?;
        // A streaming job's rows are kept as they come: readable while it
        // runs and after it is stopped; a batch job's only once whole.
        let readable = match job.state {
            JobState::Finished => true,
            JobState::Running | JobState::Cancelled => job.streaming,
            _ => false,
        };
        if !readable {
            return Ok(None);
        }
        Ok(Some(self.store.result(id)?.unwrap_or_default()))
    }

    /// Takes a savepoint of running checkpointed job `id` (stopping it
    /// there with `stop`); answers once it is taken (and, stopping, every
    /// task has stopped).
    pub async fn savepoint(&self, id: &str, stop: bool) -> Result<SavepointRecord, SchedulerError> {
        self.job(id)?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let request = SavepointRequest { stop, reply };
        if self
            .cluster
            .checkpoints
            .request_savepoint(id, request)
            .is_err()
        {
            return Err(SchedulerError::Conflict(format!(
                "job {id} is not running with checkpoints"
            )));
        }
        match answer.await {
            Ok(Ok(record)) => Ok(record),
            Ok(Err(why)) => Err(SchedulerError::Conflict(format!(
                "no savepoint of job {id}: {why}"
            ))),
            Err(_) => Err(SchedulerError::Conflict(format!(
                "job {id} ended before its savepoint was taken"
            ))),
        }
    }

    /// Stops a job's tasks and deletes its shuffle data.
    pub fn cancel(self: &Arc<Self>, id: &str) -> Result<JobRecord, SchedulerError> {
        self.job(id)?;
        if let Some(task) = lock(&self.running).remove(id) {
            // Dropping the driver cancels every attempt it deployed.
            task.abort();
            let scheduler = self.clone();
            let job = id.to_string();
            self.handle
                .spawn(async move { finish(&scheduler.cluster, &job).await });
        }
        self.update(id, |record| {
            record.state = JobState::Cancelled;
            let now = now_ms();
            for attempt in record.tasks.iter_mut().flat_map(|t| t.attempts.iter_mut()) {
                if attempt.state == AttemptState::Running {
                    attempt.state = AttemptState::Cancelled;
                    attempt.finished_ms = Some(now);
                }
            }
        });
        self.job(id)
    }
}
