//! Approximate failover's announcement: once a subtask of a pipelined
//! region is redeployed alone, every worker of the region is told where
//! its new attempt runs and which checkpoint it restores, so their tasks
//! wire to it (see `faro_runtime::rewire`). The notices go out at once
//! and concurrently, off the driver's loop: a task deployed after its
//! worker heard finds the new attempt in its own deployment instead.

use std::collections::HashSet;

use faro_runtime::rewire::PeerRestart;

use super::Driver;

impl Driver<'_> {
    /// Tells the workers of `tasks` that `restarted` runs again under its
    /// newest attempt; `lost_worker` is where the old attempt ran when
    /// that worker was lost.
    pub(super) fn announce_restart(
        &self,
        tasks: &[(usize, u32)],
        restarted: (usize, u32),
        lost_worker: Option<String>,
    ) {
        let (chain, subtask) = restarted;
        let restart = PeerRestart {
            job: self.run.job_id.clone(),
            chain,
            subtask,
            attempt: *self.next_attempt.get(&restarted).unwrap_or(&0),
            worker: self.placement[chain][subtask as usize].clone(),
            restored_from: self.checkpointing.as_ref().and_then(|c| c.restored_from()),
            lost_worker,
            max_frame: self.cluster.max_frame,
        };
        tracing::info!(job = %restart.job, chain, subtask, attempt = restart.attempt, worker = %restart.worker, "restarting one task alone (approximate failover)");
        if let Some(checkpoint) = restart.restored_from {
            let _ = self.progress.send(super::Progress::Restored(checkpoint));
        }
        let workers: HashSet<&String> = tasks
            .iter()
            .map(|&(c, s)| &self.placement[c][s as usize])
            .collect();
        for worker in workers {
            if let Some(entry) = self.cluster.workers.get(worker) {
                let restart = restart.clone();
                tokio::spawn(async move { entry.peer_restarted(restart).await });
            }
        }
    }
}
