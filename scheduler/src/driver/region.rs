//! One region's run: its subtasks deployed together, each finished
//! subtask's report kept, and each failure answered as
//! [`crate::failover`] decides — the failed subtask alone, or the chains
//! pipelined to it (its failover group), while the rest of the region
//! runs on. A region joined by hybrid edges thus re-runs a failed producer
//! alone although its consumers run beside it.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::Duration;

use faro_runtime::attempt::TaskDone;
use faro_runtime::data::Batch;
use faro_runtime::failure::FailureCause;
use tokio::task::JoinSet;

use super::{Driver, Joined, Progress, RegionFailure, ECHO_GRACE, ROOT_CAUSE_GRACE};
use crate::failover::{failover_group, pipelined_within, scope, RerunCause, Scope};
use crate::placement::replace_subtask;
use crate::workers::AttemptError;

/// A region's subtasks while it runs.
struct Running {
    /// Every subtask of the region.
    tasks: Vec<(usize, u32)>,
    /// The attempts in flight.
    set: JoinSet<Joined>,
    /// Subtasks that finished (or, failed, were recorded as stopped).
    finished: HashSet<(usize, u32)>,
    /// Rows each finished subtask collected, and whether it dropped some.
    collected: BTreeMap<(usize, u32), (Vec<Batch>, bool)>,
    /// Answers taken while looking for a root cause in a failover group
    /// other than theirs: handled next, in order.
    deferred: VecDeque<Joined>,
}

impl Driver<'_> {
    /// Runs region `r` until every subtask finished once; returns its
    /// `collect` rows, and whether any were dropped for the keep limit.
    pub(super) async fn run_region(
        &mut self,
        r: usize,
    ) -> Result<(Vec<Batch>, bool), RegionFailure> {
        let chains = self.regions[r].clone();
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
        if pipelined_within(&self.plan, &chains) {
            self.align_attempts(&tasks, 0);
        }
        let mut run = Running {
            tasks,
            set: JoinSet::new(),
            finished: HashSet::new(),
            collected: BTreeMap::new(),
            deferred: VecDeque::new(),
        };
        self.restoring();
        for &(c, s) in &run.tasks {
            self.spawn(&mut run.set, c, s, Duration::ZERO);
        }
        while run.finished.len() < run.tasks.len() {
            let joined = match run.deferred.pop_front() {
                Some(joined) => joined,
                None => match self
                    .next_joined(&mut run.set, &run.tasks, &run.finished)
                    .await
                {
                    Some(Ok(joined)) => joined,
                    // An aborted attempt (a restart) was accounted for then.
                    Some(Err(_)) => continue,
                    None if self.stopped() => return Err(RegionFailure::Stopped),
                    None => return Err(RegionFailure::Fatal("the region's tasks vanished".into())),
                },
            };
            let (c, s, attempt, worker, outcome) = joined;
            // The late answer of an attempt restarted since.
            if self.last_deployed.get(&(c, s)) != Some(&attempt) {
                continue;
            }
            match outcome {
                Ok(done) => self.finished((c, s), attempt, done, &mut run).await,
                Err(error) => {
                    let failed = (c, s, attempt, worker);
                    self.failed(r, failed, error, &grant, &mut run).await?;
                }
            }
        }
        let truncated = run.collected.values().any(|(_, truncated)| *truncated);
        let collected = run.collected.into_values().flat_map(|(rows, _)| rows);
        Ok((collected.collect(), truncated))
    }

    async fn finished(
        &mut self,
        (c, s): (usize, u32),
        attempt: u32,
        done: TaskDone,
        run: &mut Running,
    ) {
        run.finished.insert((c, s));
        self.record_pushed(s, &done.report.pushed);
        self.task_finished((c, s), attempt, done.report.snapshotted, &run.tasks)
            .await;
        let truncated = done.report.collect_truncated;
        run.collected.insert((c, s), (done.collected, truncated));
        let _ = self.progress.send(Progress::Finished {
            chain: c,
            subtask: s,
            attempt,
            report: done.report,
        });
    }

    /// Answers the failure of attempt `attempt` of subtask `s` of chain
    /// `c` (on `worker`) of region `r`: a re-run of what its scope names,
    /// or the region's end.
    async fn failed(
        &mut self,
        r: usize,
        (c, s, attempt, worker): (usize, u32, u32, String),
        error: AttemptError,
        grant: &crate::slots::SlotGrant,
        run: &mut Running,
    ) -> Result<(), RegionFailure> {
        let chains = self.regions[r].clone();
        let failover = self.run.job.checkpoints.map(|c| c.failover);
        let scope = scope(&self.plan, &chains, c, failover.unwrap_or_default());
        let group = failover_group(&self.plan, &chains, c);
        let policy = self.run.policy;
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
        // In a pipelined group a failure may echo a neighbour's: that
        // neighbour's failure is then the one to record and decide on.
        let root = match scope {
            Scope::Region if !deterministic => {
                let echo = matches!(
                    &error,
                    AttemptError::Failed(failure) if failure.cause == FailureCause::PeerFailed
                );
                let first = (c, s, attempt, error.to_string());
                self.root_cause(run, &group, first, echo).await
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
            // Bad input, a value error, a limit or access denied: a re-run
            // would fail the same way. (An attempt cancelled by its
            // worker, not by this driver, runs again like a transient
            // failure.)
            self.abandon(&run.tasks, &run.finished, &name);
            return Err(RegionFailure::Fatal(error.to_string()));
        }
        if let Some((root, error)) = root {
            self.abandon(&run.tasks, &run.finished, &root);
            return Err(RegionFailure::Fatal(error));
        }
        let failed = self
            .failures
            .entry((r, (scope != Scope::Region).then_some((c, s))))
            .or_default();
        *failed += 1;
        let failed = *failed;
        if !policy.allows(failed) {
            self.abandon(&run.tasks, &run.finished, &name);
            return Err(RegionFailure::Fatal(format!(
                "task {name} failed {failed} times, the most allowed; the last time: {error}"
            )));
        }
        let lost = self.lost(&chains, false, Some(&run.finished)).await;
        if !lost.is_empty() {
            self.abandon(&run.tasks, &run.finished, &name);
            return Err(RegionFailure::InputsLost(lost));
        }
        let cause = match error {
            AttemptError::WorkerLost(_) => RerunCause::WorkerLost,
            AttemptError::Failed(_) => RerunCause::TaskFailed,
        };
        let _ = self.progress.send(Progress::Rerun(cause));
        let wait = policy.wait(cause, failed);
        if scope != Scope::Region {
            // The checkpoint in flight waits for the old attempt.
            self.abandon_checkpoint();
            self.next_attempt.insert((c, s), next);
            self.wait_for_a_worker().await?;
            let slots = self.cluster.workers.slots();
            if let Some(to) = replace_subtask(&self.placement[c], &slots, &worker) {
                self.placement[c][s as usize] = to;
            }
            self.spawn(&mut run.set, c, s, wait);
            if scope == Scope::Approximate {
                let lost = (cause == RerunCause::WorkerLost).then_some(worker);
                self.announce_restart(&run.tasks, (c, s), lost);
            }
            return Ok(());
        }
        let restarting: Vec<(usize, u32)> = (run.tasks.iter().copied())
            .filter(|(chain, _)| group.contains(chain))
            .collect();
        if restarting.len() == run.tasks.len() {
            run.set.abort_all();
            while run.set.join_next().await.is_some() {}
            run.deferred.clear();
        } else {
            // The rest of the region runs on; answers of the aborted
            // attempts that still come are late ones, and ignored.
            for task in &restarting {
                if let Some(attempt) = self.running.remove(task) {
                    attempt.abort();
                }
            }
        }
        self.abandon(&restarting, &run.finished, &name);
        for task in &restarting {
            run.finished.remove(task);
            run.collected.remove(task);
        }
        self.align_attempts(&restarting, next);
        self.fall_back();
        tokio::time::sleep(wait).await;
        self.wait_for_a_worker().await?;
        self.place(&group, grant)?;
        self.restoring();
        for &(oc, os) in &restarting {
            self.spawn(&mut run.set, oc, os, Duration::ZERO);
        }
        Ok(())
    }

    async fn wait_for_a_worker(&self) -> Result<(), RegionFailure> {
        let patience = self.run.worker_patience;
        match self.cluster.workers.wait_for_any(patience).await {
            true => Ok(()),
            false => Err(RegionFailure::Fatal("no worker is left".into())),
        }
    }

    /// After a task of a pipelined failover group (`group`) failed
    /// (`first`: chain, subtask, attempt, error) for a reason a re-run
    /// might fix, waits briefly for a neighbour's failure that says no
    /// re-run can: a consumer that fails deterministically makes its
    /// producers fail with "consumer is gone", and that echo may arrive
    /// first. Returns the failed neighbour's name and error if one does —
    /// every failure seen meanwhile, `first` included, is then recorded as
    /// stopped by it — and otherwise records what it saw as it was. While
    /// every failure seen is an echo (`first_is_echo`: a producer whose
    /// consumer stopped taking rows) it waits up to [`ECHO_GRACE`], since
    /// the consumer's own failure is coming; a failure of any other kind
    /// ends the wait as [`ROOT_CAUSE_GRACE`] would. Answers of subtasks
    /// outside the group are left in `run.deferred`, untouched.
    async fn root_cause(
        &mut self,
        run: &mut Running,
        group: &[usize],
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
            let Ok(Some(joined)) =
                tokio::time::timeout_at(start + grace, run.set.join_next()).await
            else {
                break;
            };
            let Ok(joined) = joined else {
                continue;
            };
            if self.last_deployed.get(&(joined.0, joined.1)) != Some(&joined.2) {
                continue;
            }
            if !group.contains(&joined.0) {
                run.deferred.push_back(joined);
                continue;
            }
            let (c, s, attempt, _, outcome) = joined;
            let error = match outcome {
                Ok(done) => {
                    run.finished.insert((c, s));
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
            run.finished.insert((c, s));
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

    /// Records the unfinished attempts of `tasks` as stopped (the caller
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

    /// Gives every one of `tasks` the same attempt number, at least
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
