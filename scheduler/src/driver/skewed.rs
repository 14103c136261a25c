//! The driver's side of skew handling: it keeps the sizes map tasks
//! report, and before a region runs asks [`crate::skew`] which partitions
//! its chains should read divided. The decision itself is pure and lives
//! there; this is where it meets the plan and the deployments.

use faro_runtime::exchange::sink::PartitionBytes;
use faro_runtime::plan::Phase;
use faro_runtime::spec::{Exchange, Partitioning};

use super::{Driver, Progress};
use crate::jobs::DividedPartition;
use crate::skew::{self, InputSizes};

impl Driver<'_> {
    /// Remembers what map `subtask` of each shuffle pushed to each
    /// partition (its latest finished attempt's).
    pub(super) fn record_pushed(&mut self, subtask: u32, pushed: &[PartitionBytes]) {
        for output in pushed {
            (self.pushed).insert((output.exchange, subtask), output.partitions.clone());
        }
    }

    /// Plans what the region's chains read of their blocking inputs, from
    /// the sizes their producers reported, and reports each division.
    pub(super) fn divide_skewed(&mut self, chains: &[usize]) {
        for &c in chains {
            self.pieces.retain(|&(chain, _), _| chain != c);
        }
        if self.run.job.streaming {
            return;
        }
        let skew = self.run.job.spec.skew.unwrap_or_default();
        for &c in chains {
            let chain = &self.plan.chains[c];
            let exchanges = &self.plan.exchanges;
            let all_blocking =
                (chain.inputs.iter()).all(|&e| exchanges[e].exchange == Exchange::Blocking);
            // Partitions must not overlap (a broadcast edge's all hold
            // every row), and a join's sides must be split by key, so
            // that a piece's rows meet only the other side's same partition.
            let disjoint = chain
                .inputs
                .iter()
                .all(|&e| match exchanges[e].partitioning {
                    Partitioning::Hash(_) | Partitioning::Range(_) => true,
                    Partitioning::Forward | Partitioning::Rebalance => chain.inputs.len() == 1,
                    Partitioning::Broadcast => false,
                });
            // Rows the head passes on must stay free to go anywhere too: to
            // an operator taking rows one by one, or to the partial half of
            // one whose final half merges what every subtask sent.
            let rows_alone = (chain.steps.iter().skip(1))
                .all(|s| s.phase == Phase::Partial || s.operator.divisible_input(0));
            let Some(head) = chain.steps.first() else {
                continue;
            };
            if chain.inputs.is_empty() || !all_blocking || !disjoint || !rows_alone {
                continue;
            }
            let inputs: Vec<InputSizes> = (chain.inputs.iter().enumerate())
                .map(|(k, &e)| InputSizes {
                    exchange: e,
                    divisible: head.operator.divisible_input(k),
                    bytes: (0..exchanges[e].producers)
                        .map(|m| self.pushed.get(&(e, m)).cloned().unwrap_or_default())
                        .collect(),
                })
                .collect();
            let plan = skew::plan(&skew, chain.parallelism, &inputs);
            for division in &plan.divisions {
                tracing::info!(
                    job = %self.run.job_id, vertex = %chain.name,
                    partition = division.partition, bytes = division.bytes,
                    pieces = division.pieces.len(), subtasks = ?division.subtasks,
                    "dividing a skewed partition by map range"
                );
                let _ = self.progress.send(Progress::Divided(DividedPartition {
                    vertex: head.vertex.clone(),
                    exchange: inputs[division.input].exchange,
                    partition: division.partition,
                    bytes: division.bytes,
                    pieces: division.pieces.len() as u32,
                }));
            }
            for (s, pieces) in (0u32..).zip(plan.pieces) {
                self.pieces.insert((c, s), pieces);
            }
        }
    }
}
