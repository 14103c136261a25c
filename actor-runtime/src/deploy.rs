//! Task deployments: everything a worker needs to run one subtask, as
//! plain serializable data — the job spec (each worker plans it the same
//! way), which chain and subtask, the attempt, where every subtask of the
//! job runs, and how to reach the shuffle service. The worker wires its
//! own side from it: local queues for neighbours on the same worker
//! (whichever of the pair is deployed first waits for the other), QUIC
//! channels to other workers, shuffle pushes and fetches.
//!
//! Whoever deploys (the in-process runner today, the scheduler over the
//! network next) only decides placement and order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};

use faro_shuffle::ShuffleCluster;
use faro_transport::Connection;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::exchange::agreement::{GatheredRanges, RangeAgreement};
use crate::exchange::hybrid::ProducingInputs;
use crate::exchange::sink::ShuffleTarget;
use crate::exchange::RangeCoordinator;
use crate::exchange::{InputQueue, InputSender, LOCAL_CREDITS};
use crate::failure::{io_cause, FailureCause, TaskFailure};
use crate::operator::OperatorContext;
use crate::operators::basic::{Collected, KeepLimit};
use crate::plan::Plan;
use crate::spec::{validate, Exchange, JobSpec, Partitioning, ValidJob};
use crate::task::build::build;
use crate::task::{FeederSpec, InputSpec, OutputSpec, SinkSpec, TaskRun};
use crate::worker::{TaskHandle, Worker};

/// How a task reaches the job's shuffle nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShuffleAccess {
    /// Node names (what placement hashes) and QUIC addresses.
    pub nodes: Vec<(String, SocketAddr)>,
    /// The job's token.
    pub token: String,
    /// Copies of each partition.
    pub replicas: usize,
}

/// One subtask to run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskDeployment {
    /// The job's id.
    pub job_id: String,
    /// The job's spec.
    pub spec: JobSpec,
    /// The chain (position in the plan).
    pub chain: usize,
    /// The subtask.
    pub subtask: u32,
    /// The attempt (blocking outputs are pushed and committed under it).
    pub attempt: u32,
    /// The worker of every subtask, by chain: `placement[chain][subtask]`.
    pub placement: Vec<Vec<String>>,
    /// The attempt every subtask runs, shaped as `placement`; empty when
    /// all run this deployment's (a region deployed as a whole).
    #[serde(default)]
    pub attempts: Vec<Vec<u32>>,
    /// The shuffle service, for blocking edges.
    pub shuffle: Option<ShuffleAccess>,
    /// Largest frame a receiver accepts.
    pub max_frame: usize,
    /// How much of its `collect` rows the attempt keeps and returns
    /// (everything if `None`).
    #[serde(default)]
    pub keep: Option<KeepLimit>,
    /// Whether its `collect` rows go to the runner as they come (a
    /// streaming job) rather than with its outcome.
    #[serde(default)]
    pub live_collect: bool,
    /// Where a checkpointed job's state goes and which checkpoint the
    /// attempt restores; `None` for a job without checkpoints.
    #[serde(default)]
    pub checkpoints: Option<crate::checkpoint::CheckpointTarget>,
    /// What the task reads of its blocking inputs, when a skewed
    /// partition was divided (see [`ShufflePiece`]); an input with no
    /// piece here is read as usual: the partition numbered as the
    /// subtask, whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pieces: Vec<ShufflePiece>,
}

/// A part of a blocking input one consumer subtask reads: a partition,
/// or the frames of a range of its maps. A skewed partition is divided
/// by map range among several subtasks, each of which also reads the
/// same partition of the chain's other inputs whole (Spark's skew join).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShufflePiece {
    /// The exchange (its shuffle).
    pub exchange: usize,
    /// The partition.
    pub partition: u32,
    /// Only these maps' frames; all when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maps: Option<std::ops::Range<u32>>,
}

/// Why a deployment cannot run.
#[derive(Debug, thiserror::Error)]
#[error("deploying {task}: {message}")]
pub struct DeployError {
    task: String,
    message: String,
    cause: FailureCause,
}

impl From<DeployError> for TaskFailure {
    fn from(error: DeployError) -> Self {
        Self {
            cause: error.cause,
            message: error.to_string(),
        }
    }
}

/// The channel key of a producer/consumer pair of an exchange, each
/// given as (subtask, attempt). The attempts keep a restarted task's
/// channels apart from the leftovers of the one it replaces, whether its
/// whole region restarted or (approximate failover) it alone.
pub fn pair_key(job: &str, exchange: usize, producer: (u32, u32), consumer: (u32, u32)) -> String {
    let ((p, pa), (c, ca)) = (producer, consumer);
    format!("{job}/{exchange}/{p}@{pa}->{c}@{ca}")
}

/// Where one subtask of a job runs: its attempt and worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The attempt.
    pub attempt: u32,
    /// The worker's id (its data address).
    pub worker: String,
}

/// Where every subtask of a job runs, by (chain, subtask).
pub type PeerTable = HashMap<(usize, u32), Peer>;

impl TaskDeployment {
    /// The pieces of blocking input `exchange` the task reads.
    pub fn pieces_of(&self, exchange: usize) -> Vec<ShufflePiece> {
        let pieces: Vec<ShufflePiece> = (self.pieces.iter())
            .filter(|piece| piece.exchange == exchange)
            .cloned()
            .collect();
        if pieces.is_empty() {
            return vec![ShufflePiece {
                exchange,
                partition: self.subtask,
                maps: None,
            }];
        }
        pieces
    }

    /// Where every subtask runs, as this deployment says.
    pub fn peers(&self) -> PeerTable {
        let mut peers = PeerTable::new();
        for (chain, workers) in self.placement.iter().enumerate() {
            for (subtask, worker) in (0u32..).zip(workers) {
                let attempt = self
                    .attempts
                    .get(chain)
                    .and_then(|a| a.get(subtask as usize))
                    .copied()
                    .unwrap_or(self.attempt);
                let worker = worker.clone();
                peers.insert((chain, subtask), Peer { attempt, worker });
            }
        }
        peers
    }
}

/// Each range exchange's coordinator, by job and exchange.
type Coordinators = HashMap<(String, usize), Arc<RangeCoordinator>>;

/// Range boundaries are agreed between producers in one process.
static RANGES: LazyLock<Mutex<Coordinators>> = LazyLock::new(|| Mutex::new(HashMap::new()));

fn range_coordinator(job: &str, plan: &Plan, exchange: usize) -> Arc<RangeCoordinator> {
    let e = &plan.exchanges[exchange];
    RANGES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .entry((job.to_string(), exchange))
        .or_insert_with(|| RangeCoordinator::new(e.producers, e.keys.clone(), e.consumers))
        .clone()
}

/// Forgets a job's range coordinators (when it ends).
pub fn forget_job(job: &str) {
    RANGES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|(j, _), _| j != job);
}

impl Worker {
    /// Who agrees exchange `e`'s range boundaries: the scheduler when this
    /// worker has a sample exchange (producers may be in other
    /// processes), else a coordinator shared in this process.
    fn range_agreement(&self, job: &str, plan: &Plan, e: usize) -> Arc<dyn RangeAgreement> {
        match self.sample_exchange() {
            Some(exchange) => {
                let x = &plan.exchanges[e];
                Arc::new(GatheredRanges {
                    exchange,
                    job: job.to_string(),
                    id: e,
                    producers: x.producers,
                    keys: x.keys.clone(),
                    consumers: x.consumers,
                })
            }
            None => range_coordinator(job, plan, e),
        }
    }

    /// The name of chain `d.chain` (its vertices joined), for labels.
    pub(crate) fn vertex_name(&self, d: &TaskDeployment) -> String {
        self.planned(d)
            .ok()
            .and_then(|planned| planned.1.chains.get(d.chain).map(|c| c.name.clone()))
            .unwrap_or_else(|| format!("chain{}", d.chain))
    }

    /// The job's validated spec and plan, computed once per job — and
    /// again when its spec changes (a training job's params carry the
    /// model, fed back every epoch).
    fn planned(&self, d: &TaskDeployment) -> Result<Arc<(ValidJob, Plan)>, String> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(planned) = jobs.get(&d.job_id).filter(|p| p.0.spec == d.spec) {
            return Ok(planned.clone());
        }
        let job = validate(&d.spec).map_err(|e| e.to_string())?;
        let plan = Plan::new(&job);
        let planned = Arc::new((job, plan));
        jobs.insert(d.job_id.clone(), planned.clone());
        Ok(planned)
    }

    pub(crate) async fn connection(&self, to: &str) -> Result<Connection, String> {
        let addr: SocketAddr = to
            .parse()
            .map_err(|_| format!("worker {to} has no data address"))?;
        if let Some(c) = self
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&addr)
            .and_then(|all| all.iter().find(|c| c.is_open()))
        {
            return Ok(c.clone());
        }
        let endpoint = self.endpoint().ok_or("this worker has no endpoint")?;
        let connection = endpoint
            .connect(addr, "localhost")
            .await
            .map_err(|e| format!("connecting to worker {to}: {e}"))?;
        // Tasks deployed at once may each connect: every one is kept, so
        // closing the peer's connections (it was lost) reaches them all.
        let mut connections = self.connections.lock().unwrap_or_else(|p| p.into_inner());
        let all = connections.entry(addr).or_default();
        all.retain(|c| c.is_open());
        all.push(connection.clone());
        Ok(connection)
    }

    /// The shuffle node in this process, if it owns `d`'s partition of
    /// `shuffle` (its first replica).
    fn in_process_owner(
        &self,
        d: &TaskDeployment,
        cluster: &ShuffleCluster,
        (shuffle, partition): (u32, u32),
    ) -> Option<Arc<faro_shuffle::ShuffleServer>> {
        let (address, server) = self.in_process_shuffle.as_ref()?;
        let owner = cluster.owner_name(shuffle, partition);
        let nodes = &d.shuffle.as_ref()?.nodes;
        nodes
            .iter()
            .any(|(name, at)| name == owner && at == address)
            .then(|| server.clone())
    }

    async fn shuffle_cluster(&self, d: &TaskDeployment) -> Result<Arc<ShuffleCluster>, String> {
        let access = d
            .shuffle
            .as_ref()
            .ok_or("the job has blocking edges but no shuffle service")?;
        self.job_shuffle(&d.job_id, access, d.attempt).await
    }

    /// The job's client of the shuffle service, shared by its attempts
    /// numbered up to the one it was connected for. An attempt numbered
    /// higher (a re-run) connects afresh: whatever failed before it may
    /// have been a node that died, whose old connections could take an
    /// idle timeout to look closed.
    pub async fn job_shuffle(
        &self,
        job_id: &str,
        access: &ShuffleAccess,
        attempt: u32,
    ) -> Result<Arc<ShuffleCluster>, String> {
        let connected = || {
            self.clusters
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(job_id)
                .filter(|(connected_for, c)| *connected_for >= attempt && c.is_open())
                .map(|(_, c)| c.clone())
        };
        if let Some(cluster) = connected() {
            return Ok(cluster);
        }
        let _connecting = self.connecting_shuffle.lock().await;
        if let Some(cluster) = connected() {
            return Ok(cluster);
        }
        let endpoint = self.endpoint().ok_or("this worker has no endpoint")?;
        let cluster = ShuffleCluster::connect(
            endpoint,
            job_id,
            &access.token,
            &access.nodes,
            access.replicas,
        )
        .await?;
        // The node in this process, if it is one of the job's, takes
        // pushes as calls (its partitions are read in place already).
        let local = self
            .in_process_shuffle
            .as_ref()
            .and_then(|(address, server)| {
                let (name, _) = access.nodes.iter().find(|(_, at)| at == address)?;
                Some((name.clone(), server.clone()))
            });
        let cluster = match local {
            Some((name, server)) => cluster.with_in_process(&name, server),
            None => cluster,
        }
        .with_fetch_stall(self.fetch_stall);
        let cluster = Arc::new(cluster);
        self.clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job_id.to_string(), (attempt, cluster.clone()));
        Ok(cluster)
    }

    /// Takes the sender a local consumer registered for `key`, waiting for
    /// the consumer to be deployed if it is not yet.
    pub(crate) fn local_sender(&self, key: &str) -> oneshot::Receiver<InputSender> {
        let (tx, rx) = oneshot::channel();
        let mut locals = self.locals.lock().unwrap_or_else(|p| p.into_inner());
        match locals.offered.remove(key) {
            Some(sender) => {
                let _ = tx.send(sender);
            }
            None => {
                locals.wanted.insert(key.to_string(), tx);
            }
        }
        rx
    }

    /// Offers a local producer its sender into this consumer's queue.
    pub(crate) fn offer_sender(&self, key: &str, sender: InputSender) {
        let mut locals = self.locals.lock().unwrap_or_else(|p| p.into_inner());
        match locals.wanted.remove(key) {
            Some(waiter) => {
                let _ = waiter.send(sender);
            }
            None => {
                locals.offered.insert(key.to_string(), sender);
            }
        }
    }

    /// Wires and starts one subtask.
    pub async fn deploy_task(
        &self,
        d: TaskDeployment,
        collect: &Collected,
    ) -> Result<TaskHandle, DeployError> {
        let task = format!("{}/{}[{}]", d.job_id, d.chain, d.subtask);
        // What the spec says cannot be wired fails the same way anywhere;
        // a peer or shuffle node that does not answer may answer a re-run.
        let failed = |cause: FailureCause| {
            let task = task.clone();
            move |message: String| DeployError {
                task: task.clone(),
                message,
                cause,
            }
        };
        let fail = failed(FailureCause::Deterministic);
        let unreachable = failed(FailureCause::Transient);
        let planned = self.planned(&d).map_err(&fail)?;
        let plan = &planned.1;
        let chain = plan
            .chains
            .get(d.chain)
            .ok_or_else(|| fail(format!("no chain {}", d.chain)))?;
        let me = self.id();
        // First, so a neighbour's restart announced from now on reaches
        // the task, and one announced before is in the table it wires by.
        let mut peers = d.peers();
        let checkpoints = match &d.checkpoints {
            Some(target) => Some(
                self.checkpoint_link(&crate::attempt::AttemptKey::of(&d), target, &mut peers)
                    .map_err(&fail)?,
            ),
            None => None,
        };
        let peer_of = |chain: usize, subtask: u32| -> Result<&Peer, String> {
            peers
                .get(&(chain, subtask))
                .ok_or_else(|| format!("no placement for chain {chain} subtask {subtask}"))
        };
        let approximate = planned
            .0
            .checkpoints
            .is_some_and(|c| c.failover == crate::spec::Failover::Approximate);
        let mut inputs = Vec::new();
        let hybrid_inputs = (chain.inputs.iter())
            .filter(|&&e| plan.exchanges[e].exchange == Exchange::Hybrid)
            .count();
        let producing = ProducingInputs::new(hybrid_inputs);
        for &e in &chain.inputs {
            let exchange = &plan.exchanges[e];
            if exchange.exchange == Exchange::Blocking {
                // One channel per piece of the shuffle the task reads.
                let pieces = d.pieces_of(e);
                let (senders, queue) = InputQueue::new(pieces.len(), LOCAL_CREDITS);
                let mut feeders = Vec::new();
                for (piece, sender) in pieces.into_iter().zip(senders) {
                    let cluster = self.shuffle_cluster(&d).await.map_err(&unreachable)?;
                    let owner = (e as u32, piece.partition);
                    let in_process = self.in_process_owner(&d, &cluster, owner);
                    let feeder = FeederSpec::Shuffle {
                        exchange: e,
                        cluster,
                        in_process,
                        shuffle: e as u32,
                        partition: piece.partition,
                        maps: piece.maps,
                    };
                    feeders.push((feeder, sender));
                }
                inputs.push(InputSpec {
                    exchange: e,
                    schema: exchange.schema.clone(),
                    queue,
                    feeders,
                });
                continue;
            }
            if exchange.exchange == Exchange::Hybrid {
                let (mut senders, queue) = InputQueue::new(1, LOCAL_CREDITS);
                let sender = senders
                    .pop()
                    .ok_or_else(|| fail("no input channel".into()))?;
                let cluster = self.shuffle_cluster(&d).await.map_err(&unreachable)?;
                let owner = (e as u32, d.subtask);
                let feeder = FeederSpec::Hybrid {
                    exchange: e,
                    in_process: self.in_process_owner(&d, &cluster, owner),
                    cluster,
                    shuffle: e as u32,
                    partition: d.subtask,
                    maps: exchange.producers,
                    producing: producing.clone(),
                };
                inputs.push(InputSpec {
                    exchange: e,
                    schema: exchange.schema.clone(),
                    queue,
                    feeders: vec![(feeder, sender)],
                });
                continue;
            }
            // One channel per producer.
            let channels = exchange.producers as usize;
            let (senders, queue) = InputQueue::new(channels, LOCAL_CREDITS);
            let mut feeders = Vec::new();
            for (p, sender) in (0u32..).zip(senders) {
                let producer = peer_of(exchange.from, p).map_err(&fail)?;
                let key = pair_key(&d.job_id, e, (p, producer.attempt), (d.subtask, d.attempt));
                if producer.worker == me {
                    self.offer_sender(&key, sender);
                } else {
                    feeders.push((
                        FeederSpec::Remote {
                            exchange: e,
                            channel: self.expect_channel(&key),
                        },
                        sender,
                    ));
                }
            }
            inputs.push(InputSpec {
                exchange: e,
                schema: exchange.schema.clone(),
                queue,
                feeders,
            });
        }
        let mut outputs = Vec::new();
        for &e in &chain.outputs {
            let exchange = &plan.exchanges[e];
            let mut sinks = Vec::new();
            let mut shuffle = None;
            if exchange.exchange.is_stored() {
                let cluster = self.shuffle_cluster(&d).await.map_err(&unreachable)?;
                shuffle = Some(ShuffleTarget {
                    cluster,
                    shuffle: e as u32,
                    map: d.subtask,
                    attempt: d.attempt,
                    max_frame: d.max_frame,
                });
                sinks.extend((0..exchange.consumers).map(|q| SinkSpec::Shuffle { partition: q }));
            } else {
                for q in 0..exchange.consumers {
                    let consumer = peer_of(exchange.to, q).map_err(&fail)?;
                    let key = pair_key(&d.job_id, e, (d.subtask, d.attempt), (q, consumer.attempt));
                    let target = consumer.worker.as_str();
                    if target == me {
                        sinks.push(SinkSpec::Local(self.local_sender(&key)));
                    } else {
                        sinks.push(SinkSpec::Remote {
                            connection: self.connection(target).await.map_err(&unreachable)?,
                            open: key.into_bytes(),
                            max_frame: d.max_frame,
                        });
                    }
                }
            }
            outputs.push(OutputSpec {
                exchange: e,
                schema: exchange.schema.clone(),
                partitioning: exchange.partitioning.clone(),
                keys: exchange.keys.clone(),
                key_groups: exchange.key_groups,
                producer: d.subtask,
                tolerant: approximate && exchange.exchange == Exchange::Pipelined,
                sinks,
                shuffle,
                range: matches!(exchange.partitioning, Partitioning::Range(_))
                    .then(|| self.range_agreement(&d.job_id, plan, e)),
            });
        }
        let spill_dir = self
            .spill_root
            .join(&d.job_id)
            .join(format!("{}-{}-{}", d.chain, d.subtask, d.attempt));
        std::fs::create_dir_all(&spill_dir)
            .map_err(|e| failed(io_cause(&e))(format!("creating {}: {e}", spill_dir.display())))?;
        let operators =
            build(&chain.steps, collect).map_err(|e| failed(e.cause())(e.to_string()))?;
        let run = TaskRun {
            approximate,
            checkpoints,
            metrics: self.metrics().task(&d.job_id, &chain.name, d.subtask),
            span: tracing::info_span!(
                "task",
                job = %d.job_id,
                vertex = %chain.name,
                subtask = d.subtask,
                attempt = d.attempt
            ),
            name: format!("{}[{}]", chain.name, d.subtask),
            context: OperatorContext {
                vertex: chain.name.clone(),
                subtask: d.subtask,
                parallelism: chain.parallelism,
                attempt: d.attempt,
                spill_dir,
                access: self.access.clone(),
            },
            operators,
            inputs,
            outputs,
            live: collect
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_live()
                .then(|| collect.clone()),
        };
        Ok(self.deploy(run))
    }

    /// Forgets everything cached for a finished job, including pairs a
    /// failed job never completed (so their queues and channels close).
    pub fn finish_job(&self, job: &str) {
        let prefix = format!("{job}/");
        {
            let mut locals = self.locals.lock().unwrap_or_else(|p| p.into_inner());
            locals.offered.retain(|key, _| !key.starts_with(&prefix));
            locals.wanted.retain(|key, _| !key.starts_with(&prefix));
        }
        self.forget_channels(&prefix);
        self.forget_peers(job);
        self.jobs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(job);
        self.clusters
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(job);
        let _ = std::fs::remove_dir_all(self.spill_root.join(job));
        forget_job(job);
    }
}
