//! Running an unbounded job until the test stops it: each task of the
//! plan deployed as an attempt on one worker (so `cancel_job` reaches
//! it), and every task checked to have run until it was cancelled.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use faro_runtime::deploy::TaskDeployment;
use faro_runtime::failure::FailureCause;
use faro_runtime::plan::Plan;
use faro_runtime::spec::{validate, JobSpec};
use faro_runtime::worker::Worker;

/// A streaming job's tasks, each running as an attempt the test cancels.
pub struct Streaming {
    worker: Arc<Worker>,
    job: String,
    tasks: Vec<tokio::task::JoinHandle<Result<(), faro_runtime::failure::TaskFailure>>>,
}

impl Streaming {
    /// Deploys every task of `json` on `worker` as job `job`.
    pub fn start(json: &str, worker: Worker, job: &str) -> Self {
        let spec = JobSpec::from_json(json).unwrap();
        let valid = validate(&spec).unwrap();
        assert!(valid.streaming, "the job streams");
        let worker = Arc::new(worker);
        let plan = Plan::new(&valid);
        let placement: Vec<Vec<String>> = plan
            .chains
            .iter()
            .map(|c| (0..c.parallelism).map(|_| worker.id()).collect())
            .collect();
        let mut tasks = Vec::new();
        for chain in &plan.chains {
            for subtask in 0..chain.parallelism {
                let deployment = TaskDeployment {
                    job_id: job.into(),
                    spec: spec.clone(),
                    chain: chain.id,
                    subtask,
                    attempt: 0,
                    placement: placement.clone(),
                    attempts: Vec::new(),
                    shuffle: None,
                    max_frame: 1 << 20,
                    keep: None,
                    live_collect: false,
                    checkpoints: None,
                    pieces: Vec::new(),
                };
                let worker = worker.clone();
                tasks.push(tokio::spawn(async move {
                    worker.run_attempt(deployment, None).await.map(|_| ())
                }));
            }
        }
        Self {
            worker,
            job: job.into(),
            tasks,
        }
    }

    /// Whether every task still runs.
    pub fn all_running(&self) -> bool {
        self.tasks.iter().all(|t| !t.is_finished())
    }

    /// Fails the test with its outcome if a task has ended: an unbounded
    /// job's tasks end only when cancelled.
    pub async fn assert_running(&mut self) {
        if let Some(i) = self.tasks.iter().position(|t| t.is_finished()) {
            let outcome = self.tasks.remove(i).await.unwrap();
            panic!("a task of an unbounded job ended: {outcome:?}");
        }
    }

    /// Cancels the job; every task must have run until then.
    pub async fn cancel(self) {
        for task in self.tasks {
            while !task.is_finished() {
                // Again, in case a task registered after the last call.
                self.worker.cancel_job(&self.job);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let outcome = task.await.unwrap();
            let failure = outcome.expect_err("an unbounded job ends only when cancelled");
            // A consumer may see its cancelled producer go before its
            // own cancellation comes: that echo is no failure of its own.
            assert!(
                failure.cause == FailureCause::Cancelled
                    || failure
                        .message
                        .contains("went away before the end of its data"),
                "{failure:?}"
            );
        }
        self.worker.finish_job(&self.job);
    }
}
