//! Approximate failover on the worker's side (Flink's approximate
//! task-local recovery): when one subtask restarts alone from the last
//! complete checkpoint, the scheduler tells every worker of its region
//! ([`PeerRestart`]); each wires, for every task of its own that exchanges
//! data with the restarted one, a channel to or from the new attempt —
//! the same local queue or QUIC channel a deployment would have — and
//! hands it to the task ([`Rewire`]) to swap in while it runs on.
//!
//! Nothing is replayed: what was in flight to or from the old attempt is
//! dropped. Each producer reports how many rows it sent the restarted
//! consumer after the checkpoint it restored ([`RecordsLost`]): rows that
//! may be missing from its state.
//!
//! Known limit: a producer blocked on a remote consumer that is never
//! deployed again (its restart failed too) waits for credit until the
//! next restart's channel replaces it.

use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointCommand;
use crate::deploy::{pair_key, Peer};
use crate::exchange::{ChannelEnds, InputQueue, InputSender, LOCAL_CREDITS};
use crate::spec::Exchange;
use crate::task::{FeederSpec, SinkSpec};
use crate::worker::Worker;

/// One subtask restarted alone, as the scheduler tells each worker of
/// its region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerRestart {
    /// The job.
    pub job: String,
    /// The restarted subtask's chain.
    pub chain: usize,
    /// The subtask.
    pub subtask: u32,
    /// Its new attempt.
    pub attempt: u32,
    /// The worker the new attempt runs on.
    pub worker: String,
    /// The checkpoint it restores (`None`: it starts afresh).
    pub restored_from: Option<u64>,
    /// The worker its old attempt ran on, when that worker was lost:
    /// connections to it are closed, so a send blocked on it fails now
    /// instead of at the transport's idle timeout.
    pub lost_worker: Option<String>,
    /// Largest frame a receiver accepts.
    pub max_frame: usize,
}

/// The channels one running task swaps in for a restarted neighbour.
pub struct Rewire {
    /// The restarted neighbour's chain.
    pub chain: usize,
    /// Its subtask.
    pub subtask: u32,
    /// The checkpoint it restores.
    pub restored_from: Option<u64>,
    /// For each output exchange it consumes: the sink to its new attempt.
    pub outputs: Vec<(usize, SinkSpec)>,
    /// For each input exchange it produces: the new channel.
    pub inputs: Vec<NewChannel>,
}

impl std::fmt::Debug for Rewire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rewire")
            .field("chain", &self.chain)
            .field("subtask", &self.subtask)
            .field("restored_from", &self.restored_from)
            .field("outputs", &self.outputs.len())
            .field("inputs", &self.inputs.len())
            .finish()
    }
}

/// A channel from a restarted producer, for one input.
pub struct NewChannel {
    /// The input's exchange.
    pub exchange: usize,
    /// The channel's place in the input (the producer's subtask).
    pub channel: usize,
    /// The receiving ends to swap in.
    pub ends: ChannelEnds,
    /// What feeds them, for a producer on another worker (a local one
    /// was handed the sender directly).
    pub feeder: Option<(FeederSpec, InputSender)>,
}

/// Rows a producer sent a restarted consumer that its new attempt never
/// sees: those after the checkpoint it restored, and those dropped while
/// it was being deployed. Possibly lost.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsLost {
    /// The job.
    pub job: String,
    /// The exchange they crossed.
    pub exchange: usize,
    /// The consumer's subtask.
    pub consumer: u32,
    /// The rows.
    pub records: u64,
}

impl Worker {
    /// Wires every task of `restart.job` running here that exchanges data
    /// with the restarted subtask to its new attempt (see the module
    /// header). Tasks deployed after this worker heard of the restart
    /// wired to it themselves and are not told again.
    pub async fn peer_restarted(&self, restart: PeerRestart) {
        if let Some(lost) = restart.lost_worker.as_deref().and_then(|w| w.parse().ok()) {
            let closed = self
                .connections
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&lost);
            for connection in closed.into_iter().flatten() {
                connection.close();
            }
        }
        let Some(planned) = self
            .jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&restart.job)
            .cloned()
        else {
            return;
        };
        let plan = &planned.1;
        let peer = Peer {
            attempt: restart.attempt,
            worker: restart.worker.clone(),
        };
        let me = self.id();
        let here = peer.worker == me;
        let tasks = self.peer_moved(&restart.job, (restart.chain, restart.subtask), &peer);
        for (key, inbox) in tasks {
            if (key.chain, key.subtask) == (restart.chain, restart.subtask) {
                continue;
            }
            let Some(chain) = plan.chains.get(key.chain) else {
                continue;
            };
            let mut rewire = Rewire {
                chain: restart.chain,
                subtask: restart.subtask,
                restored_from: restart.restored_from,
                outputs: Vec::new(),
                inputs: Vec::new(),
            };
            let pipelined = |e: usize| plan.exchanges[e].exchange == Exchange::Pipelined;
            for &e in chain.inputs.iter().filter(|&&e| pipelined(e)) {
                if plan.exchanges[e].from != restart.chain {
                    continue;
                }
                let producer = (restart.subtask, restart.attempt);
                let channel = pair_key(&restart.job, e, producer, (key.subtask, key.attempt));
                let (sender, ends) = InputQueue::channel(LOCAL_CREDITS);
                let feeder = match here {
                    true => {
                        self.offer_sender(&channel, sender);
                        None
                    }
                    false => Some((
                        FeederSpec::Remote {
                            exchange: e,
                            channel: self.expect_channel(&channel),
                        },
                        sender,
                    )),
                };
                rewire.inputs.push(NewChannel {
                    exchange: e,
                    channel: restart.subtask as usize,
                    ends,
                    feeder,
                });
            }
            for &e in chain.outputs.iter().filter(|&&e| pipelined(e)) {
                if plan.exchanges[e].to != restart.chain {
                    continue;
                }
                let consumer = (restart.subtask, restart.attempt);
                let channel = pair_key(&restart.job, e, (key.subtask, key.attempt), consumer);
                let sink = match here {
                    true => SinkSpec::Local(self.local_sender(&channel)),
                    false => match self.connection(&restart.worker).await {
                        Ok(connection) => SinkSpec::Remote {
                            connection,
                            open: channel.into_bytes(),
                            max_frame: restart.max_frame,
                        },
                        Err(error) => {
                            tracing::warn!(%error, "cannot reach a restarted consumer");
                            continue;
                        }
                    },
                };
                rewire.outputs.push((e, sink));
            }
            if rewire.inputs.is_empty() && rewire.outputs.is_empty() {
                continue;
            }
            let _ = inbox.send(CheckpointCommand::PeerRestarted(Box::new(rewire)));
        }
    }
}
