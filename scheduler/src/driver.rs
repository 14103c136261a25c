//! Runs one job on the cluster: regions in order, each deployed as a unit
//! once the blocking exchanges it reads are committed, with failover; a
//! region holding an operator that trains over epochs runs again, epoch
//! after epoch, with the model it feeds back, until it says it is done.
//!
//! The decisions are [`crate::failover`]'s and [`crate::placement`]'s;
//! this module does the I/O: it deploys attempts to workers, waits for
//! them, asks the shuffle service what is lost, and reports every step as
//! [`Progress`] so the scheduler can keep the job's record (and resume it
//! after a restart). One region's run and its failovers are `region`'s;
//! checkpoints, savepoints, approximate failover and skew each have their
//! own module beside it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use faro_runtime::attempt::TaskDone;
use faro_runtime::catalogue::EpochOutcome;
use faro_runtime::data::Batch;
use faro_runtime::deploy::{ShufflePiece, TaskDeployment};
use faro_runtime::operators::basic::{KeepLimit, LiveRows};
use faro_runtime::plan::Plan;
use faro_runtime::runner::checked_regions;
use faro_runtime::spec::ValidJob;
use faro_shuffle::storage::ShuffleShape;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::{AbortHandle, JoinSet};

use crate::checkpoints::{CheckpointHistory, CheckpointHub};
mod approximate;
mod checkpointing;
mod region;
mod savepointing;
mod skewed;
use crate::failover::{FailoverPolicy, RerunCause};
use checkpointing::Checkpointing;

/// How long a pipelined region waits, after a task failed for a reason a
/// re-run might fix, for a neighbour's deterministic failure (see
/// [`Driver::root_cause`]).
const ROOT_CAUSE_GRACE: Duration = Duration::from_millis(300);

/// How long it waits when the failures so far are only echoes (a producer
/// whose consumer stopped taking rows): the consumer's own failure is
/// surely coming, once it has let go of its state.
const ECHO_GRACE: Duration = Duration::from_secs(30);
use crate::placement::place_chain;
pub use crate::progress::{Progress, Recorded};
use crate::shuffle::ShuffleService;
use crate::slots::{SlotGrant, SlotPool};
use crate::workers::{AttemptError, Workers};

/// Where jobs run: workers, and the shuffle service for blocking edges.
pub struct Cluster {
    /// The workers.
    pub workers: Arc<Workers>,
    /// The shuffle service, if there is one.
    pub shuffle: Option<Arc<ShuffleService>>,
    /// Largest frame a receiver accepts.
    pub max_frame: usize,
    /// Range-edge samples from worker processes.
    pub samples: Arc<crate::ranges::Samples>,
    /// The workers' slots, granted to regions of every job in turn.
    pub slots: Arc<SlotPool>,
    /// Where checkpoints are stored and acknowledged.
    pub checkpoints: Arc<CheckpointHub>,
}

/// One job to run.
pub struct JobRun {
    /// The job's id.
    pub job_id: String,
    /// The validated job.
    pub job: ValidJob,
    /// Attempts and waits.
    pub policy: FailoverPolicy,
    /// Regions an earlier scheduler finished; skipped when their blocking
    /// outputs are still committed.
    pub done_regions: Vec<usize>,
    /// The first attempt number to use per `(chain, subtask)`: after a
    /// restart, past every attempt the earlier scheduler started.
    pub first_attempts: HashMap<(usize, u32), u32>,
    /// How long to wait for a worker when none is alive.
    pub worker_patience: Duration,
    /// How much of their `collect` rows attempts keep and return
    /// (everything if `None`).
    pub keep: Option<KeepLimit>,
    /// Where a streaming job's `collect` rows go as they come; without
    /// it they are kept and reported with their region, as in batch.
    pub live: Option<LiveRows>,
    /// The job's checkpoints so far (a resumed job restores from the
    /// newest usable one).
    pub checkpoints: CheckpointHistory,
}

/// How long to wait before asking the shuffle service again about
/// partitions it reported lost.
const LOSS_RECHECK: Duration = Duration::from_secs(1);

enum RegionFailure {
    /// Blocking inputs were lost: these producer regions must run again.
    InputsLost(Vec<usize>),
    /// The job stopped at a savepoint.
    Stopped,
    /// The job cannot go on.
    Fatal(String),
}

pub(crate) type Joined = (usize, u32, u32, String, Result<TaskDone, AttemptError>);

/// What a region's end means for iterating operators.
enum Epochs {
    /// The region has none: its collected rows are the job's.
    NotIterative(Vec<Batch>),
    /// Run it again; what each training vertex said of the epoch.
    Again(Vec<(String, EpochOutcome)>),
    /// Training has finished.
    Finished(Vec<(String, EpochOutcome)>),
}

struct Driver<'a> {
    cluster: &'a Cluster,
    run: JobRun,
    plan: Plan,
    regions: Vec<Vec<usize>>,
    progress: UnboundedSender<Progress>,
    next_attempt: HashMap<(usize, u32), u32>,
    /// Failures so far, per failed subtask (per region when the region
    /// restarts whole), against the policy's attempts: attempt numbers
    /// also count a training job's epochs, which are not failures.
    failures: HashMap<(usize, Option<(usize, u32)>), u32>,
    /// The last attempt deployed per subtask: a subtask never runs two
    /// attempts with one number, whatever re-ran it.
    last_deployed: HashMap<(usize, u32), u32>,
    placement: Vec<Vec<String>>,
    /// A checkpointed job's coordinator and restore point.
    checkpointing: Option<Checkpointing>,
    /// Whether a failure seen while looking for a root cause said the
    /// checkpoint being restored cannot be read.
    unreadable: bool,
    /// Bytes each map pushed to each partition, by (exchange, map): the
    /// sizes skewed partitions are found by.
    pushed: HashMap<(usize, u32), Vec<u64>>,
    /// What a subtask reads of its blocking inputs where a skewed
    /// partition was divided, by (chain, subtask).
    pieces: HashMap<(usize, u32), Vec<ShufflePiece>>,
    /// The attempt last spawned per subtask, to abort it alone when its
    /// failover group restarts.
    running: HashMap<(usize, u32), AbortHandle>,
}

/// Runs `run` on `cluster` to its end, reporting each step to `progress`.
pub async fn drive(
    cluster: &Cluster,
    run: JobRun,
    progress: UnboundedSender<Progress>,
) -> Result<(), String> {
    let plan = Plan::new(&run.job);
    let regions = checked_regions(&plan)?;
    let placement = plan
        .chains
        .iter()
        .map(|c| vec![String::new(); c.parallelism as usize])
        .collect();
    let checkpointing = Checkpointing::new(cluster, &run)?;
    let mut driver = Driver {
        cluster,
        checkpointing,
        unreadable: false,
        pushed: HashMap::new(),
        pieces: HashMap::new(),
        running: HashMap::new(),
        next_attempt: run.first_attempts.clone(),
        failures: HashMap::new(),
        last_deployed: HashMap::new(),
        run,
        plan,
        regions,
        progress,
        placement,
    };
    let outcome = driver.run_all().await;
    cluster.checkpoints.forget(&driver.run.job_id);
    outcome
}

impl Driver<'_> {
    fn region_of(&self, chain: usize) -> Option<usize> {
        self.regions.iter().position(|r| r.contains(&chain))
    }

    fn shuffle(&self) -> Result<&ShuffleService, String> {
        self.cluster
            .shuffle
            .as_deref()
            .ok_or_else(|| "the job has blocking edges but there is no shuffle service".into())
    }

    /// Exchanges through the shuffle service (blocking and hybrid) out of
    /// (`outputs`) or into the region's chains.
    fn stored(&self, chains: &[usize], outputs: bool) -> Vec<(u32, ShuffleShape, usize)> {
        self.plan
            .exchanges
            .iter()
            .filter(|e| e.exchange.is_stored())
            .filter(|e| chains.contains(if outputs { &e.from } else { &e.to }))
            .map(|e| {
                let shape = ShuffleShape {
                    maps: e.producers,
                    partitions: e.consumers,
                };
                (e.id as u32, shape, e.from)
            })
            .collect()
    }

    async fn run_all(&mut self) -> Result<(), String> {
        let mut done = vec![false; self.regions.len()];
        for r in self.run.done_regions.clone() {
            let region = self.regions.get(r).cloned().unwrap_or_default();
            if r < done.len() && self.lost(&region, true, None).await.is_empty() {
                done[r] = true;
            }
        }
        let mut recoveries = 0u32;
        while let Some(r) = (0..self.regions.len()).find(|&r| !done[r]) {
            let started = std::time::Instant::now();
            match self.run_region(r).await {
                Ok((collected, truncated)) => {
                    let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(0);
                    let (epochs, again) = match self.after_epoch(r, collected)? {
                        Epochs::NotIterative(collected) => (Err(collected), false),
                        Epochs::Again(reports) => (Ok(reports), true),
                        Epochs::Finished(reports) => (Ok(reports), false),
                    };
                    // Epoch rows go to the job's result as each ends.
                    let collected = match epochs {
                        Err(collected) => collected,
                        Ok(reports) => {
                            for (vertex, outcome) in reports {
                                let Some(epoch) = outcome.epoch else {
                                    continue;
                                };
                                let _ = self.progress.send(Progress::Epoch {
                                    vertex,
                                    epoch,
                                    loss: outcome.loss,
                                    duration_ms,
                                    next: outcome.next,
                                    summary: outcome.summary,
                                });
                            }
                            Vec::new()
                        }
                    };
                    if again {
                        continue;
                    }
                    done[r] = true;
                    let _ = self.progress.send(Progress::RegionDone {
                        region: r,
                        chains: self.regions[r].clone(),
                        collected,
                        truncated,
                    });
                }
                Err(RegionFailure::InputsLost(producers)) => {
                    recoveries += 1;
                    if !self.run.policy.allows(recoveries) {
                        return Err(format!(
                            "shuffle data of region {r} was lost {recoveries} times; giving up"
                        ));
                    }
                    for p in producers {
                        tracing::warn!(job = %self.run.job_id, region = p, "inputs lost; re-running their producers");
                        done[p] = false;
                        let _ = self
                            .progress
                            .send(Progress::Rerun(RerunCause::PartitionLost));
                    }
                }
                Err(RegionFailure::Fatal(message)) => return Err(message),
                Err(RegionFailure::Stopped) => return Ok(()),
            }
        }
        Ok(())
    }

    /// Asks the operators of region `r` that train over epochs what the
    /// epoch that just ended means (their `after_epoch`, given the rows the
    /// region collected): run the region again, the spec now carrying the
    /// model they feed back, or training has finished. The region re-reads
    /// its blocking inputs, still committed in the shuffle service: the
    /// cached training data.
    fn after_epoch(&mut self, r: usize, collected: Vec<Batch>) -> Result<Epochs, String> {
        let mut again = false;
        let mut reports = Vec::new();
        for &c in &self.regions[r] {
            for step in &self.plan.chains[c].steps {
                let Some(outcome) = step.operator.after_epoch(&collected) else {
                    continue;
                };
                let outcome = outcome.map_err(|e| format!("vertex {:?}: {e}", step.vertex))?;
                if let Some(params) = &outcome.next {
                    let vertex = self
                        .run
                        .job
                        .spec
                        .vertices
                        .iter_mut()
                        .find(|v| v.id == step.vertex);
                    if let Some(vertex) = vertex {
                        vertex.params = params.clone();
                        again = true;
                    }
                }
                reports.push((step.vertex.clone(), outcome));
            }
        }
        if reports.is_empty() {
            return Ok(Epochs::NotIterative(collected));
        }
        if !again {
            return Ok(Epochs::Finished(reports));
        }
        self.run.job = faro_runtime::spec::validate(&self.run.job.spec)
            .map_err(|e| format!("the next epoch's spec: {e}"))?;
        self.plan = Plan::new(&self.run.job);
        tracing::info!(job = %self.run.job_id, region = r, "epoch done; running the next");
        Ok(Epochs::Again(reports))
    }

    /// Regions whose stored exchanges into (or, with `outputs`, out of)
    /// `chains` lost partitions: their producers (or `chains`' own region).
    /// A hybrid exchange whose producers run in the region is asked about
    /// only once all of them are in `finished`: before, its maps are
    /// missing because they are still being produced.
    async fn lost(
        &self,
        chains: &[usize],
        outputs: bool,
        finished: Option<&HashSet<(usize, u32)>>,
    ) -> Vec<usize> {
        let produced = |from: usize| {
            let producers = self.plan.chains[from].parallelism;
            !chains.contains(&from)
                || finished.is_none_or(|done| (0..producers).all(|s| done.contains(&(from, s))))
        };
        let mut exchanges = self.stored(chains, outputs);
        exchanges.retain(|&(_, _, from)| produced(from));
        let Ok(shuffle) = self.shuffle() else {
            return Vec::new();
        };
        let mut regions = Vec::new();
        for (id, shape, from) in exchanges {
            let mut lost = shuffle.lost_partitions(&self.run.job_id, id, shape).await;
            if !lost.is_empty() {
                // A node that did not answer in time (a loaded machine)
                // reads as lost; asked again a moment later, a live one
                // answers. Re-running committed producers would only be
                // refused by the nodes that still hold their output.
                tokio::time::sleep(LOSS_RECHECK).await;
                let again = shuffle.lost_partitions(&self.run.job_id, id, shape).await;
                lost.retain(|p| again.contains(p));
            }
            if !lost.is_empty() {
                tracing::warn!(job = %self.run.job_id, shuffle = id, ?lost, "partitions lost");
                regions.extend(self.region_of(from).filter(|r| !regions.contains(r)));
            }
        }
        regions
    }

    async fn register_outputs(&self, chains: &[usize]) -> Result<(), String> {
        let shuffles: Vec<_> = self
            .stored(chains, true)
            .into_iter()
            .map(|(id, shape, _)| (id, shape))
            .collect();
        if shuffles.is_empty() {
            return Ok(());
        }
        self.shuffle()?.register(&self.run.job_id, &shuffles).await
    }

    /// Waits for a worker and then for the slots the region needs (as
    /// many as its widest chain has subtasks), in turn with every other
    /// job's regions.
    async fn admit(&self, chains: &[usize]) -> Result<SlotGrant, RegionFailure> {
        if !self
            .cluster
            .workers
            .wait_for_any(self.run.worker_patience)
            .await
        {
            return Err(RegionFailure::Fatal(format!(
                "no worker registered within {:?}",
                self.run.worker_patience
            )));
        }
        let need = chains
            .iter()
            .map(|&c| self.plan.chains[c].parallelism as usize)
            .max()
            .unwrap_or(1);
        Ok(self
            .cluster
            .slots
            .acquire(need, &self.cluster.workers)
            .await)
    }

    /// Places the region's chains on the slots granted, or — when a
    /// granted worker was lost since — on the workers alive.
    fn place(&mut self, chains: &[usize], grant: &SlotGrant) -> Result<(), RegionFailure> {
        let alive = self.cluster.workers.slots();
        let granted_alive = grant
            .slots()
            .iter()
            .all(|g| alive.iter().any(|a| a.id == g.id));
        let slots = if granted_alive && !grant.slots().is_empty() {
            grant.slots().to_vec()
        } else {
            alive
        };
        if slots.is_empty() {
            return Err(RegionFailure::Fatal("no worker is left".into()));
        }
        for &c in chains {
            self.placement[c] = place_chain(self.plan.chains[c].parallelism, &slots);
        }
        Ok(())
    }

    /// The attempt number `task` runs under next.
    fn fresh(&self, task: (usize, u32)) -> u32 {
        let next = *self.next_attempt.get(&task).unwrap_or(&0);
        match self.last_deployed.get(&task) {
            Some(&last) => next.max(last + 1),
            None => next,
        }
    }

    fn spawn(&mut self, set: &mut JoinSet<Joined>, chain: usize, subtask: u32, delay: Duration) {
        let attempt = self.fresh((chain, subtask));
        self.next_attempt.insert((chain, subtask), attempt);
        self.last_deployed.insert((chain, subtask), attempt);
        let worker = self.placement[chain][subtask as usize].clone();
        let deployment = TaskDeployment {
            job_id: self.run.job_id.clone(),
            spec: self.run.job.spec.clone(),
            chain,
            subtask,
            attempt,
            placement: self.placement.clone(),
            attempts: self
                .plan
                .chains
                .iter()
                .enumerate()
                .map(|(c, chain)| {
                    (0..chain.parallelism)
                        .map(|s| *self.next_attempt.get(&(c, s)).unwrap_or(&0))
                        .collect()
                })
                .collect(),
            shuffle: self
                .cluster
                .shuffle
                .as_ref()
                .map(|s| s.access(&self.run.job_id)),
            max_frame: self.cluster.max_frame,
            keep: self.run.keep,
            live_collect: self.run.job.streaming && self.run.live.is_some(),
            checkpoints: self
                .checkpointing
                .as_ref()
                .map(|c| c.target(self.cluster, &self.plan, &self.run.job_id, chain)),
            pieces: (self.pieces.get(&(chain, subtask)).cloned()).unwrap_or_default(),
        };
        let live = self.run.live.clone().filter(|_| self.run.job.streaming);
        let workers = self.cluster.workers.clone();
        let progress = self.progress.clone();
        let handle = set.spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(entry) = workers.get(&worker) else {
                return (
                    chain,
                    subtask,
                    attempt,
                    worker.clone(),
                    Err(AttemptError::WorkerLost(worker)),
                );
            };
            // Recorded before it runs: see `progress`.
            let (recorded, written) = Recorded::new();
            let _ = progress.send(Progress::Started {
                chain,
                subtask,
                attempt,
                worker: worker.clone(),
                recorded,
            });
            let _ = written.await;
            let outcome = entry.run(deployment, live).await;
            (chain, subtask, attempt, worker, outcome)
        });
        self.running.insert((chain, subtask), handle);
    }
}
