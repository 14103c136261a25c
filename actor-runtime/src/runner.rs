//! Runs a validated job on workers in this process: plans it, splits the
//! plan into regions (chains joined by pipelined or hybrid exchanges), and
//! runs the regions in order — a region starts once the blocking
//! exchanges it reads are committed in the shuffle service. Each subtask
//! is handed to its worker as a [`TaskDeployment`], from which the worker
//! wires its own exchanges; the runner only places and orders.
//!
//! Subtask `s` of every chain runs on worker `s % workers`, so forward
//! edges stay local and keyed edges cross workers. The scheduler will
//! deploy the same descriptions over the network.

use std::collections::HashMap;

use faro_shuffle::storage::ShuffleShape;

use crate::data::Batch;
use crate::deploy::{ShuffleAccess, TaskDeployment};
use crate::operators::basic::{CollectBuffer, Collected, LiveRows};
use crate::plan::Plan;
use crate::spec::{Exchange, ValidJob};
use crate::task::TaskReport;
use crate::worker::Worker;

/// Where a job runs and what it may use.
pub struct JobEnv {
    /// Unique job id (names shuffle data and channels).
    pub job_id: String,
    /// The shuffle service, for blocking edges.
    pub shuffle: Option<ShuffleAccess>,
    /// Largest frame a receiver accepts (transport buffer size).
    pub max_frame: usize,
}

/// What a finished job produced.
#[derive(Debug, Default)]
pub struct JobOutput {
    /// Rows of `collect` sinks, in arrival order.
    pub collected: Vec<Batch>,
    /// One report per task.
    pub reports: Vec<TaskReport>,
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A task failed (the rest were cancelled).
    #[error("{0}")]
    Task(String),
    /// The job needs something this environment lacks.
    #[error("{0}")]
    Setup(String),
}

/// Chains grouped into regions, in run order: chains joined by pipelined
/// or hybrid edges run together; a blocking edge orders the regions.
pub fn regions(plan: &Plan) -> Vec<Vec<usize>> {
    let n = plan.chains.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for e in plan.exchanges.iter().filter(|e| e.exchange.runs_together()) {
        let (a, b) = (root(&mut parent, e.from), root(&mut parent, e.to));
        parent[a] = b;
    }
    let mut members: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut roots: Vec<usize> = Vec::new();
    for c in 0..n {
        let r = root(&mut parent, c);
        if !members.contains_key(&r) {
            roots.push(r);
        }
        members.entry(r).or_default().push(c);
    }
    // A region runs after every region whose blocking output it reads.
    let mut after: HashMap<usize, Vec<usize>> = HashMap::new();
    let mut waiting: HashMap<usize, usize> = roots.iter().map(|&r| (r, 0)).collect();
    for e in plan
        .exchanges
        .iter()
        .filter(|e| e.exchange == Exchange::Blocking)
    {
        let (a, b) = (root(&mut parent, e.from), root(&mut parent, e.to));
        if a != b {
            after.entry(a).or_default().push(b);
            *waiting.entry(b).or_default() += 1;
        }
    }
    let mut ready: Vec<usize> = roots
        .iter()
        .rev()
        .copied()
        .filter(|r| waiting[r] == 0)
        .collect();
    let mut order = Vec::new();
    while let Some(r) = ready.pop() {
        order.push(r);
        for &next in after.get(&r).map(Vec::as_slice).unwrap_or(&[]) {
            let count = waiting.entry(next).or_default();
            *count -= 1;
            if *count == 0 {
                ready.push(next);
            }
        }
    }
    order
        .into_iter()
        .filter_map(|r| members.remove(&r))
        .collect()
}

/// The plan's regions in run order, or why the plan cannot run: a
/// blocking exchange between chains also joined by pipelined edges would
/// be fetched before it is committed.
pub fn checked_regions(plan: &Plan) -> Result<Vec<Vec<usize>>, String> {
    let regions = regions(plan);
    let region_of = |chain: usize| regions.iter().position(|r| r.contains(&chain));
    match plan
        .exchanges
        .iter()
        .find(|e| e.exchange == Exchange::Blocking && region_of(e.from) == region_of(e.to))
    {
        Some(e) => Err(format!(
            "exchange {} is blocking but its producer and consumer are also joined by pipelined edges; make it pipelined",
            e.id
        )),
        None => Ok(regions),
    }
}

/// Runs `job` on `workers` to its end.
pub async fn run_job(
    job: &ValidJob,
    workers: &[&Worker],
    env: &JobEnv,
) -> Result<JobOutput, RunError> {
    run_job_with(job, workers, env, None).await
}

/// [`run_job`], a streaming job's `collect` rows going to `live` as they
/// come (and not into the output) when it is given.
pub async fn run_job_with(
    job: &ValidJob,
    workers: &[&Worker],
    env: &JobEnv,
    live: Option<LiveRows>,
) -> Result<JobOutput, RunError> {
    let result = run_regions(job, workers, env, live).await;
    for worker in workers {
        worker.finish_job(&env.job_id);
    }
    result
}

async fn run_regions(
    job: &ValidJob,
    workers: &[&Worker],
    env: &JobEnv,
    live: Option<LiveRows>,
) -> Result<JobOutput, RunError> {
    let first = workers
        .first()
        .ok_or_else(|| RunError::Setup("no workers".into()))?;
    let plan = Plan::new(job);
    let regions = checked_regions(&plan).map_err(RunError::Setup)?;
    let blocking: Vec<_> = plan
        .exchanges
        .iter()
        .filter(|e| e.exchange.is_stored())
        .collect();
    if !blocking.is_empty() {
        let access = env.shuffle.as_ref().ok_or_else(|| {
            RunError::Setup("the job has blocking edges but there is no shuffle service".into())
        })?;
        let cluster = first
            .job_shuffle(&env.job_id, access, 0)
            .await
            .map_err(RunError::Setup)?;
        for exchange in blocking {
            let shape = ShuffleShape {
                maps: exchange.producers,
                partitions: exchange.consumers,
            };
            cluster
                .register(exchange.id as u32, shape)
                .await
                .map_err(|e| {
                    RunError::Setup(format!("registering shuffle {}: {e}", exchange.id))
                })?;
        }
    }
    let placement: Vec<Vec<String>> = plan
        .chains
        .iter()
        .map(|c| {
            (0..c.parallelism)
                .map(|s| workers[s as usize % workers.len()].id())
                .collect()
        })
        .collect();
    let live = live.filter(|_| job.streaming);
    let live_collect = live.is_some();
    let collected: Collected = match live {
        Some(live) => CollectBuffer::live(live),
        None => CollectBuffer::new(None),
    };
    let mut reports = Vec::new();
    for region in regions {
        let mut handles = Vec::new();
        for &c in &region {
            for s in 0..plan.chains[c].parallelism {
                let deployment = TaskDeployment {
                    job_id: env.job_id.clone(),
                    spec: job.spec.clone(),
                    chain: c,
                    subtask: s,
                    attempt: 0,
                    placement: placement.clone(),
                    attempts: Vec::new(),
                    shuffle: env.shuffle.clone(),
                    max_frame: env.max_frame,
                    keep: None,
                    live_collect,
                    checkpoints: None,
                    pieces: Vec::new(),
                };
                let worker = workers[s as usize % workers.len()];
                let name = format!("{}[{s}]", plan.chains[c].name);
                match worker.deploy_task(deployment, &collected).await {
                    Ok(handle) => handles.push((name, handle)),
                    Err(error) => {
                        for (_, handle) in &handles {
                            handle.cancel();
                        }
                        return Err(RunError::Setup(error.to_string()));
                    }
                }
            }
        }
        reports.extend(wait_all(handles).await?);
    }
    let (collected, _) = CollectBuffer::take(&collected);
    Ok(JobOutput { collected, reports })
}

/// Waits for every task; the first failure cancels the rest.
async fn wait_all(
    handles: Vec<(String, crate::worker::TaskHandle)>,
) -> Result<Vec<TaskReport>, RunError> {
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
    let mut cancels = Vec::new();
    for (name, mut handle) in handles {
        let (cancel_tx, cancel_rx) = tokio::sync::oneshot::channel::<()>();
        cancels.push(cancel_tx);
        let done_tx = done_tx.clone();
        tokio::spawn(async move {
            let outcome = tokio::select! {
                outcome = handle.outcome_ref() => outcome,
                _ = cancel_rx => {
                    handle.cancel();
                    Err(crate::failure::TaskFailure::cancelled())
                }
            };
            let _ = done_tx.send((name, outcome));
        });
    }
    drop(done_tx);
    let mut reports = Vec::new();
    let mut failure = None;
    while let Some((name, outcome)) = done_rx.recv().await {
        match outcome {
            Ok(report) => reports.push(report),
            Err(error) if failure.is_none() => {
                failure = Some(format!("task {name} failed: {error}"));
                for cancel in cancels.drain(..) {
                    let _ = cancel.send(());
                }
            }
            Err(_) => {}
        }
    }
    match failure {
        Some(failure) => Err(RunError::Task(failure)),
        None => Ok(reports),
    }
}
