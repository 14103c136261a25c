//! How a job recovers from a failure: pure decisions, no I/O.
//!
//! - A region whose chains are joined by no pipelined exchange (one chain
//!   between blocking edges and sinks) re-runs only the failed subtask: its
//!   inputs are committed in the shuffle service and its outputs are
//!   committed per attempt (first commit wins), so a re-run reads the same
//!   data and a late duplicate changes nothing.
//! - A region with pipelined exchanges restarts the chains pipelined to
//!   the failed one (its failover group; a hybrid edge, whose consumer
//!   reads committed output only, does not join a group): their
//!   consumers have taken part of the failed producer's stream — unless
//!   the job
//!   asks for approximate failover (`checkpoints.failover`): then the
//!   failed subtask alone restarts from the last complete checkpoint
//!   while the others run on, trading exactness for availability.
//! - Each subtask gets `max_attempts` attempts; the wait before a re-run
//!   doubles from `backoff` up to `max_backoff` — except that work lost
//!   with its worker re-runs elsewhere at once the first time, since
//!   waiting cannot bring that worker back.

use std::time::Duration;

use faro_runtime::plan::Plan;
use faro_runtime::spec::{Exchange, Failover};

/// Attempts and waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverPolicy {
    /// Attempts per subtask, the first included (1 = no re-runs).
    pub max_attempts: u32,
    /// The wait before the first re-run.
    pub backoff: Duration,
    /// The longest wait.
    pub max_backoff: Duration,
}

impl Default for FailoverPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
        }
    }
}

impl FailoverPolicy {
    /// The wait before running attempt `next` (≥ 1).
    pub fn backoff(&self, next: u32) -> Duration {
        let doublings = next.saturating_sub(1).min(16);
        self.backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff)
    }

    /// The wait before re-running work that failed for `cause`, its
    /// `failed`-th failure.
    pub fn wait(&self, cause: RerunCause, failed: u32) -> Duration {
        match cause {
            RerunCause::WorkerLost if failed <= 1 => Duration::ZERO,
            RerunCause::WorkerLost => self.backoff(failed - 1),
            RerunCause::TaskFailed | RerunCause::PartitionLost => self.backoff(failed),
        }
    }

    /// Whether attempt `next` may run.
    pub fn allows(&self, next: u32) -> bool {
        next < self.max_attempts
    }
}

/// What re-runs when a subtask of a region fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The failed subtask alone.
    Subtask,
    /// Every subtask of the region.
    Region,
    /// The failed subtask alone, from the last complete checkpoint, while
    /// its pipelined neighbours run on and are wired to its new attempt.
    Approximate,
}

/// The chains of the region made of `chains` that a failure of `failed`
/// touches: those joined to it by pipelined edges, in region order. A
/// hybrid edge does not join them: its consumer reads committed output
/// only, so either side re-runs without the other.
pub fn failover_group(plan: &Plan, chains: &[usize], failed: usize) -> Vec<usize> {
    let mut group = vec![failed];
    let mut grew = true;
    while grew {
        grew = false;
        for e in plan
            .exchanges
            .iter()
            .filter(|e| e.exchange == Exchange::Pipelined)
        {
            for (a, b) in [(e.from, e.to), (e.to, e.from)] {
                if group.contains(&a) && !group.contains(&b) && chains.contains(&b) {
                    group.push(b);
                    grew = true;
                }
            }
        }
    }
    chains
        .iter()
        .copied()
        .filter(|c| group.contains(c))
        .collect()
}

/// Whether pipelined edges join chains of `chains`: their tasks must then
/// share attempt numbers, by which neighbours find each other's channels.
pub fn pipelined_within(plan: &Plan, chains: &[usize]) -> bool {
    plan.exchanges.iter().any(|e| {
        e.exchange == Exchange::Pipelined && chains.contains(&e.from) && chains.contains(&e.to)
    })
}

/// The scope of a failure of chain `failed` in the region made of
/// `chains`, in a job that fails over as `failover` says: what
/// [`failover_group`] names restarts under [`Scope::Region`].
pub fn scope(plan: &Plan, chains: &[usize], failed: usize, failover: Failover) -> Scope {
    let group = failover_group(plan, chains, failed);
    match (pipelined_within(plan, &group), failover) {
        (false, _) => Scope::Subtask,
        (true, Failover::Region) => Scope::Region,
        (true, Failover::Approximate) => Scope::Approximate,
    }
}

/// Why work ran again, as counted per job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerunCause {
    /// A task failed.
    TaskFailed,
    /// A task's worker stopped heartbeating.
    WorkerLost,
    /// Shuffle partitions a region needed were lost; their producers ran
    /// again.
    PartitionLost,
}

#[cfg(test)]
mod tests {
    use super::*;
    use faro_runtime::spec::{validate, JobSpec};

    fn plan(json: &str) -> Plan {
        Plan::new(&validate(&JobSpec::from_json(json).unwrap()).unwrap())
    }

    /// `gen -(hash, %X%)-> agg -(forward)-> out`, plus `%TAIL%`.
    const STAGES: &str = r#"{"name":"t","vertices":[
        {"id":"gen","operator":"generate","parallelism":2,
         "params":{"rows":10,"columns":[{"name":"k","expr":"i % 3"}]}},
        {"id":"agg","operator":"aggregate","parallelism":2,
         "params":{"group_by":["k"],"aggregates":[{"name":"n","function":"count"}]}},
        {"id":"out","operator":"collect","parallelism":%P%}],
        "edges":[{"from":"gen","to":"agg","partitioning":{"hash":["k"]},"exchange":"%X%"},
                 {"from":"agg","to":"out","partitioning":"%OUT%"}]}"#;

    fn stages(exchange: &str, out: &str, parallelism: u32) -> Plan {
        plan(
            &STAGES
                .replace("%X%", exchange)
                .replace("%OUT%", out)
                .replace("%P%", &parallelism.to_string()),
        )
    }

    #[test]
    fn regions_of_one_chain_rerun_one_subtask() {
        let plan = stages("blocking", "forward", 2);
        let regions = faro_runtime::runner::regions(&plan);
        assert_eq!(regions.len(), 2);
        for region in &regions {
            let failed = region[0];
            assert_eq!(
                scope(&plan, region, failed, Failover::Region),
                Scope::Subtask
            );
            let approximate = scope(&plan, region, failed, Failover::Approximate);
            assert_eq!(approximate, Scope::Subtask);
        }
    }

    #[test]
    fn regions_with_pipelined_exchanges_restart_whole() {
        let plan = stages("blocking", "rebalance", 1);
        let regions = faro_runtime::runner::regions(&plan);
        assert_eq!(regions.len(), 2);
        let first = &regions[0];
        assert_eq!(
            scope(&plan, first, first[0], Failover::Region),
            Scope::Subtask
        );
        let second = &regions[1];
        assert_eq!(
            scope(&plan, second, second[0], Failover::Region),
            Scope::Region
        );
        assert_eq!(failover_group(&plan, second, second[0]), *second);
        let plan = stages("pipelined", "forward", 2);
        let regions = faro_runtime::runner::regions(&plan);
        assert_eq!(regions.len(), 1);
        let only = &regions[0];
        assert_eq!(scope(&plan, only, only[0], Failover::Region), Scope::Region);
        assert_eq!(
            scope(&plan, only, only[0], Failover::Approximate),
            Scope::Approximate
        );
    }

    #[test]
    fn a_hybrid_edge_joins_a_region_but_not_a_failover_group() {
        let plan = stages("hybrid", "rebalance", 1);
        let regions = faro_runtime::runner::regions(&plan);
        // gen, agg and out run together...
        assert_eq!(regions.len(), 1);
        let region = &regions[0];
        assert_eq!(region.len(), 3);
        assert!(pipelined_within(&plan, region));
        // ...but a failed map re-runs alone, and a failed reduce restarts
        // only what is pipelined to it.
        let gen = plan
            .chains
            .iter()
            .position(|c| c.name.starts_with("gen"))
            .unwrap();
        assert_eq!(failover_group(&plan, region, gen), [gen]);
        assert_eq!(scope(&plan, region, gen, Failover::Region), Scope::Subtask);
        let agg = plan
            .chains
            .iter()
            .position(|c| c.name.starts_with("agg"))
            .unwrap();
        let group = failover_group(&plan, region, agg);
        assert_eq!(group.len(), 2);
        assert!(!group.contains(&gen));
        assert_eq!(scope(&plan, region, agg, Failover::Region), Scope::Region);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = FailoverPolicy {
            max_attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
        };
        assert_eq!(policy.backoff(1), Duration::from_millis(100));
        assert_eq!(policy.backoff(2), Duration::from_millis(200));
        assert_eq!(policy.backoff(3), Duration::from_millis(300));
        assert!(policy.allows(2));
        assert!(!policy.allows(3));
    }

    #[test]
    fn work_lost_with_its_worker_reruns_at_once_the_first_time() {
        let policy = FailoverPolicy::default();
        assert_eq!(policy.wait(RerunCause::WorkerLost, 1), Duration::ZERO);
        assert_eq!(policy.wait(RerunCause::WorkerLost, 2), policy.backoff(1));
        assert_eq!(policy.wait(RerunCause::TaskFailed, 1), policy.backoff(1));
        assert_eq!(policy.wait(RerunCause::PartitionLost, 2), policy.backoff(2));
    }
}
