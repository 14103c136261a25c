//! The scheduler's core: accepts job specs, runs them on its cluster,
//! and keeps every job's record and result in the store. Called from the
//! REST handlers (any thread); jobs run on the tokio runtime it was
//! created on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use faro_runtime::data::Batch;
use faro_runtime::kernels::views;
use faro_runtime::spec::{validate, JobSpec, SpecError};

use crate::embedded::Embedded;
use crate::jobs::{now_ms, JobRecord, JobResult, JobState, TaskSummary};
use crate::store::{Store, StoreError};

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
}

/// The scheduler.
pub struct Scheduler {
    store: Store,
    cluster: Embedded,
    handle: tokio::runtime::Handle,
    running: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    result_rows: usize,
    next: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A result of at most `limit` rows from `batches`.
pub fn result_of(batches: &[Batch], limit: usize) -> JobResult {
    let columns = batches
        .first()
        .map(|b| b.schema().fields.iter().map(|f| f.name.clone()).collect())
        .unwrap_or_default();
    let mut rows = Vec::new();
    let mut total = 0usize;
    for batch in batches {
        let views = views(batch);
        for row in 0..batch.num_rows() {
            total += 1;
            if rows.len() < limit {
                rows.push(views.iter().map(|c| c.value(row).to_json()).collect());
            }
        }
    }
    JobResult {
        columns,
        rows,
        truncated: total > limit,
    }
}

impl Scheduler {
    /// A scheduler keeping jobs in `store`, running them on `cluster`;
    /// jobs a previous scheduler left unfinished are marked failed.
    pub fn new(
        store: Store,
        cluster: Embedded,
        result_rows: usize,
    ) -> Result<Arc<Self>, SchedulerError> {
        for mut job in store.jobs()? {
            if !job.state.is_terminal() {
                job.state = JobState::Failed;
                job.error = Some("interrupted: the scheduler restarted while it ran".into());
                job.finished_ms = Some(now_ms());
                store.put_job(&job)?;
            }
        }
        Ok(Arc::new(Self {
            store,
            cluster,
            handle: tokio::runtime::Handle::current(),
            running: Mutex::new(HashMap::new()),
            result_rows,
            next: AtomicU64::new(0),
        }))
    }

    /// The cluster jobs run on.
    pub fn cluster(&self) -> &Embedded {
        &self.cluster
    }

    /// Validates and starts `spec`; returns the job's id.
    pub fn submit(self: &Arc<Self>, spec: JobSpec) -> Result<String, SchedulerError> {
        let job = validate(&spec)?;
        let id = format!(
            "job-{:x}-{}",
            now_ms(),
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let record = JobRecord {
            id: id.clone(),
            name: spec.name.clone(),
            state: JobState::Queued,
            submitted_ms: now_ms(),
            started_ms: None,
            finished_ms: None,
            error: None,
            vertices: spec
                .vertices
                .iter()
                .map(|v| (v.id.clone(), v.parallelism))
                .collect(),
            spec,
            tasks: Vec::new(),
            reruns: 0,
        };
        self.store.put_job(&record)?;
        let scheduler = self.clone();
        let job_id = id.clone();
        // Registered before it can finish, so a quick job cannot race its
        // own bookkeeping.
        let mut running = lock(&self.running);
        let task = self
            .handle
            .spawn(async move { scheduler.run(job_id, job).await });
        running.insert(id.clone(), task.abort_handle());
        Ok(id)
    }

    async fn run(self: Arc<Self>, id: String, job: faro_runtime::spec::ValidJob) {
        self.update(&id, |record| {
            record.state = JobState::Running;
            record.started_ms = Some(now_ms());
        });
        let outcome = self.cluster.run(&id, &job).await;
        lock(&self.running).remove(&id);
        match outcome {
            Ok(output) => {
                let result = result_of(&output.collected, self.result_rows);
                if let Err(error) = self.store.put_result(&id, &result) {
                    tracing::warn!(job = %id, %error, "cannot store the result");
                }
                self.update(&id, |record| {
                    record.state = JobState::Finished;
                    record.tasks = output
                        .reports
                        .iter()
                        .map(|r| TaskSummary {
                            task: r.task.clone(),
                            rows_in: r.rows_in,
                            rows_out: r.rows_out,
                        })
                        .collect();
                });
            }
            Err(error) => self.update(&id, |record| {
                record.state = JobState::Failed;
                record.error = Some(error.to_string());
            }),
        }
    }

    /// Applies `change` to job `id` if the state rules allow it.
    fn update(&self, id: &str, change: impl FnOnce(&mut JobRecord)) {
        let Ok(Some(mut record)) = self.store.job(id) else {
            return;
        };
        let before = record.state;
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

    /// One job.
    pub fn job(&self, id: &str) -> Result<JobRecord, SchedulerError> {
        self.store
            .job(id)?
            .ok_or_else(|| SchedulerError::NotFound(id.to_string()))
    }

    /// A finished job's collected rows.
    pub fn result(&self, id: &str) -> Result<Option<JobResult>, SchedulerError> {
        self.job(id)?;
        Ok(self.store.result(id)?)
    }

    /// Stops a job's tasks and deletes its shuffle data.
    pub fn cancel(&self, id: &str) -> Result<JobRecord, SchedulerError> {
        self.job(id)?;
        if let Some(task) = lock(&self.running).remove(id) {
            // Dropping the run cancels every task it deployed.
            task.abort();
            let cluster_job = id.to_string();
            let scheduler_cluster = &self.cluster;
            let delete = scheduler_cluster.delete_job(&cluster_job);
            self.handle.spawn(delete);
        }
        self.update(id, |record| record.state = JobState::Cancelled);
        self.job(id)
    }
}
