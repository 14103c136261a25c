//! Runs one job on the cluster: regions in order, each deployed as a unit
//! once the blocking exchanges it reads are committed, with failover; a
//! region holding an operator that trains over epochs runs again, epoch
//! after epoch, with the model it feeds back, until it says it is done.
//!
//! The decisions are [`crate::failover`]'s and [`crate::placement`]'s;
//! this module does the I/O: it deploys attempts to workers, waits for
//! them, asks the shuffle service what is lost, and reports every step as
//! [`Progress`] so the scheduler can keep the job's record (and resume it
//! after a restart).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use faro_runtime::attempt::TaskDone;
use faro_runtime::catalogue::EpochOutcome;
use faro_runtime::data::Batch;
use faro_runtime::deploy::{ShufflePiece, TaskDeployment};
use faro_runtime::failure::FailureCause;
use faro_runtime::operators::basic::{KeepLimit, LiveRows};
use faro_runtime::plan::Plan;
use faro_runtime::runner::checked_regions;
use faro_runtime::spec::{Exchange, ValidJob};
use faro_shuffle::storage::ShuffleShape;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use crate::checkpoints::{CheckpointHistory, CheckpointHub};
mod approximate;
mod checkpointing;
mod savepointing;
mod skewed;
use crate::failover::{scope, FailoverPolicy, RerunCause, Scope};
use checkpointing::Checkpointing;

/// How long a pipelined region waits, after a task failed for a reason a
/// re-run might fix, for a neighbour's deterministic failure (see
/// [`Driver::root_cause`]).
const ROOT_CAUSE_GRACE: Duration = Duration::from_millis(300);

/// How long it waits when the failures so far are only echoes (a producer
/// whose consumer stopped taking rows): the consumer's own failure is
/// surely coming, once it has let go of its state.
const ECHO_GRACE: Duration = Duration::from_secs(30);
use crate::placement::{place_chain, replace_subtask};
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

    /// Blocking exchanges out of (`outputs`) or into the region's chains.
    fn blocking(&self, chains: &[usize], outputs: bool) -> Vec<(u32, ShuffleShape, usize)> {
        self.plan
            .exchanges
            .iter()
            .filter(|e| e.exchange == Exchange::Blocking)
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
            if r < done.len() && self.lost(&self.regions[r].clone(), true).await.is_empty() {
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

    /// Regions whose blocking exchanges into (or, with `outputs`, out of)
    /// `chains` lost partitions: their producers (or `chains`' own region).
    async fn lost(&self, chains: &[usize], outputs: bool) -> Vec<usize> {
        let exchanges = self.blocking(chains, outputs);
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
            .blocking(chains, true)
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
        set.spawn(async move {
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
    }

    /// Runs region `r` until every subtask finished once; returns its
    /// `collect` rows, and whether any were dropped for the keep limit.
    async fn run_region(&mut self, r: usize) -> Result<(Vec<Batch>, bool), RegionFailure> {
        let chains = self.regions[r].clone();
        let failover = self.run.job.checkpoints.map(|c| c.failover);
        let scope = scope(&self.plan, &chains, failover.unwrap_or_default());
        let policy = self.run.policy;
        // Held until the region ends (also when it fails or the job is
        // cancelled: dropping the grant gives the slots back).
        let grant = self.admit(&chains).await?;
        let mut registered = self.register_outputs(&chains).await;
        let mut tries = 1;
        while let Err(error) = registered {
            if !policy.allows(tries) {
                return Err(RegionFailure::Fatal(error));
            }
            tracing::warn!(job = %self.run.job_id, %error, "cannot register shuffles; retrying");
            tokio::time::sleep(policy.backoff(tries)).await;
            tries += 1;
            registered = self.register_outputs(&chains).await;
        }
        self.place(&chains, &grant)?;
        self.divide_skewed(&chains);
        let tasks: Vec<(usize, u32)> = chains
            .iter()
            .flat_map(|&c| (0..self.plan.chains[c].parallelism).map(move |s| (c, s)))
            .collect();
        if scope == Scope::Region {
            self.align_attempts(&tasks, 0);
        }
        let mut set = JoinSet::new();
        self.restoring();
        for &(c, s) in &tasks {
            self.spawn(&mut set, c, s, Duration::ZERO);
        }
        let mut finished: HashSet<(usize, u32)> = HashSet::new();
        let mut collected = Vec::new();
        let mut truncated = false;
        while finished.len() < tasks.len() {
            let Some(joined) = self.next_joined(&mut set, &tasks, &finished).await else {
                if self.stopped() {
                    return Err(RegionFailure::Stopped);
                }
                return Err(RegionFailure::Fatal("the region's tasks vanished".into()));
            };
            // An aborted attempt (region restart) was accounted for then.
            let Ok((c, s, attempt, worker, outcome)) = joined else {
                continue;
            };
            let error = match outcome {
                Ok(done) => {
                    finished.insert((c, s));
                    self.record_pushed(s, &done.report.pushed);
                    self.task_finished((c, s), attempt, done.report.snapshotted, &tasks)
                        .await;
                    collected.extend(done.collected);
                    truncated |= done.report.collect_truncated;
                    let _ = self.progress.send(Progress::Finished {
                        chain: c,
                        subtask: s,
                        attempt,
                        report: done.report,
                    });
                    continue;
                }
                Err(error) => error,
            };
            let name = format!("{}[{s}]", self.plan.chains[c].name);
            tracing::warn!(job = %self.run.job_id, task = %name, attempt, %worker, %error, "attempt failed");
            let next = attempt + 1;
            let deterministic = matches!(
                &error,
                AttemptError::Failed(failure) if failure.cause == FailureCause::Deterministic
            );
            self.unreadable |= matches!(
                &error,
                AttemptError::Failed(failure) if failure.cause == FailureCause::CheckpointUnreadable
            );
            // In a pipelined region a failure may echo a neighbour's: that
            // neighbour's failure is then the one to record and decide on.
            let root = match scope {
                Scope::Region if !deterministic => {
                    let echo = matches!(
                        &error,
                        AttemptError::Failed(failure) if failure.cause == FailureCause::PeerFailed
                    );
                    let first = (c, s, attempt, error.to_string());
                    self.root_cause(&mut set, &mut finished, first, echo).await
                }
                _ => None,
            };
            if root.is_none() {
                let _ = self.progress.send(Progress::Failed {
                    chain: c,
                    subtask: s,
                    attempt,
                    error: error.to_string(),
                });
            }
            if deterministic {
                // Bad input, a value error, a limit or access denied:
                // a re-run would fail the same way. (An attempt
                // cancelled by its worker, not by this driver, runs
                // again like a transient failure.)
                self.abandon(&tasks, &finished, &name);
                return Err(RegionFailure::Fatal(error.to_string()));
            }
            if let Some((root, error)) = root {
                self.abandon(&tasks, &finished, &root);
                return Err(RegionFailure::Fatal(error));
            }
            let failed = self
                .failures
                .entry((r, (scope != Scope::Region).then_some((c, s))))
                .or_default();
            *failed += 1;
            let failed = *failed;
            if !policy.allows(failed) {
                self.abandon(&tasks, &finished, &name);
                return Err(RegionFailure::Fatal(format!(
                    "task {name} failed {failed} times, the most allowed; the last time: {error}"
                )));
            }
            let lost = self.lost(&chains, false).await;
            if !lost.is_empty() {
                self.abandon(&tasks, &finished, &name);
                return Err(RegionFailure::InputsLost(lost));
            }
            let cause = match error {
                AttemptError::WorkerLost(_) => RerunCause::WorkerLost,
                AttemptError::Failed(_) => RerunCause::TaskFailed,
            };
            let _ = self.progress.send(Progress::Rerun(cause));
            let wait = policy.wait(cause, failed);
            match scope {
                Scope::Subtask | Scope::Approximate => {
                    // The checkpoint in flight waits for the old attempt.
                    self.abandon_checkpoint();
                    self.next_attempt.insert((c, s), next);
                    if !self
                        .cluster
                        .workers
                        .wait_for_any(self.run.worker_patience)
                        .await
                    {
                        return Err(RegionFailure::Fatal("no worker is left".into()));
                    }
                    if let Some(to) =
                        replace_subtask(&self.placement[c], &self.cluster.workers.slots(), &worker)
                    {
                        self.placement[c][s as usize] = to;
                    }
                    self.spawn(&mut set, c, s, wait);
                    if scope == Scope::Approximate {
                        let lost = (cause == RerunCause::WorkerLost).then_some(worker);
                        self.announce_restart(&tasks, (c, s), lost);
                    }
                }
                Scope::Region => {
                    set.abort_all();
                    while set.join_next().await.is_some() {}
                    self.abandon(&tasks, &finished, &name);
                    finished.clear();
                    collected.clear();
                    truncated = false;
                    self.align_attempts(&tasks, next);
                    self.fall_back();
                    tokio::time::sleep(wait).await;
                    if !self
                        .cluster
                        .workers
                        .wait_for_any(self.run.worker_patience)
                        .await
                    {
                        return Err(RegionFailure::Fatal("no worker is left".into()));
                    }
                    self.place(&chains, &grant)?;
                    self.restoring();
                    for &(oc, os) in &tasks {
                        self.spawn(&mut set, oc, os, Duration::ZERO);
                    }
                }
            }
        }
        Ok((collected, truncated))
    }

    /// After a task of a pipelined region failed (`first`: chain,
    /// subtask, attempt, error) for a reason a re-run might fix, waits
    /// briefly for a neighbour's failure that says no re-run can: a
    /// consumer that fails deterministically makes its producers fail with
    /// "consumer is gone", and that echo may arrive first. Returns the
    /// failed neighbour's name and error if one does — every failure seen
    /// meanwhile, `first` included, is then recorded as stopped by it —
    /// and otherwise records what it saw as it was. While every failure
    /// seen is an echo (`first_is_echo`: a producer whose consumer stopped
    /// taking rows) it waits up to [`ECHO_GRACE`], since the consumer's
    /// own failure is coming; a failure of any other kind ends the wait as
    /// [`ROOT_CAUSE_GRACE`] would.
    async fn root_cause(
        &mut self,
        set: &mut JoinSet<Joined>,
        finished: &mut HashSet<(usize, u32)>,
        first: (usize, u32, u32, String),
        first_is_echo: bool,
    ) -> Option<(String, String)> {
        let start = tokio::time::Instant::now();
        let mut only_echoes = first_is_echo;
        let mut echoes = Vec::new();
        let mut root = None;
        loop {
            let grace = if only_echoes {
                ECHO_GRACE
            } else {
                ROOT_CAUSE_GRACE
            };
            let Ok(Some(joined)) = tokio::time::timeout_at(start + grace, set.join_next()).await
            else {
                break;
            };
            let Ok((c, s, attempt, _, outcome)) = joined else {
                continue;
            };
            let error = match outcome {
                Ok(done) => {
                    finished.insert((c, s));
                    // A task that finished may be the consumer an echo
                    // names: no failure of its is coming.
                    only_echoes = false;
                    let _ = self.progress.send(Progress::Finished {
                        chain: c,
                        subtask: s,
                        attempt,
                        report: done.report,
                    });
                    continue;
                }
                Err(error) => error,
            };
            finished.insert((c, s));
            only_echoes &=
                matches!(&error, AttemptError::Failed(f) if f.cause == FailureCause::PeerFailed);
            self.unreadable |= matches!(
                &error,
                AttemptError::Failed(f) if f.cause == FailureCause::CheckpointUnreadable
            );
            if matches!(&error, AttemptError::Failed(f) if f.cause == FailureCause::Deterministic) {
                let _ = self.progress.send(Progress::Failed {
                    chain: c,
                    subtask: s,
                    attempt,
                    error: error.to_string(),
                });
                let name = format!("{}[{s}]", self.plan.chains[c].name);
                root = Some((name, error.to_string()));
                break;
            }
            echoes.push((c, s, attempt, error.to_string()));
        }
        if root.is_none() {
            // The first failure's record is the caller's to write.
            for (chain, subtask, attempt, error) in echoes {
                let _ = self.progress.send(Progress::Failed {
                    chain,
                    subtask,
                    attempt,
                    error,
                });
            }
            return None;
        }
        let stopped = root
            .as_ref()
            .map(|(name, _)| format!("stopped: {name} failed"));
        for (chain, subtask, attempt, _) in std::iter::once(first).chain(echoes) {
            let _ = self.progress.send(Progress::Failed {
                chain,
                subtask,
                attempt,
                error: stopped.clone().unwrap_or_default(),
            });
        }
        root
    }

    /// Records the region's unfinished attempts as stopped (the caller
    /// drops or aborts them) because `failed` failed.
    fn abandon(&self, tasks: &[(usize, u32)], finished: &HashSet<(usize, u32)>, failed: &str) {
        for &(c, s) in tasks.iter().filter(|t| !finished.contains(t)) {
            let _ = self.progress.send(Progress::Failed {
                chain: c,
                subtask: s,
                attempt: *self.next_attempt.get(&(c, s)).unwrap_or(&0),
                error: format!("stopped: {failed} failed"),
            });
        }
    }

    /// Gives every task of a region the same attempt number, at least
    /// `at_least`: pipelined neighbours find each other's channels by it.
    fn align_attempts(&mut self, tasks: &[(usize, u32)], at_least: u32) {
        let attempt = tasks
            .iter()
            .map(|&t| self.fresh(t))
            .max()
            .unwrap_or(0)
            .max(at_least);
        for &t in tasks {
            self.next_attempt.insert(t, attempt);
        }
    }
}
