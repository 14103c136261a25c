//! Runs a validated job on workers in this process: plans it, splits the
//! plan into pipelined regions (chains joined by pipelined exchanges),
//! and runs the regions in order — a region starts once the blocking
//! exchanges it reads are committed in the shuffle service. It wires each
//! exchange: local queues between tasks on one worker, transport channels
//! between workers, shuffle pushes and fetches for blocking edges.
//!
//! Subtask `s` of every chain runs on worker `s % workers`, so forward
//! edges stay local and keyed edges cross workers. The scheduler will
//! take over placement and region scheduling; this runner is what tests,
//! benchmarks and the embedded mode use meanwhile.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use faro_shuffle::storage::ShuffleShape;
use faro_shuffle::ShuffleCluster;
use faro_transport::Connection;

use crate::data::Batch;
use crate::exchange::sink::{RangeCoordinator, ShuffleTarget};
use crate::exchange::{InputQueue, InputSender, LOCAL_CREDITS};
use crate::operator::OperatorContext;
use crate::operators::basic::Collected;
use crate::plan::{ExchangePlan, Plan};
use crate::spec::{Exchange, Partitioning, ValidJob};
use crate::task::build::build;
use crate::task::{FeederSpec, InputSpec, OutputSpec, SinkSpec, TaskReport, TaskRun};
use crate::worker::Worker;

/// Where a job runs and what it may use.
pub struct JobEnv {
    /// Unique job id (names shuffle data and channels).
    pub job_id: String,
    /// The shuffle service, for blocking edges.
    pub shuffle: Option<Arc<ShuffleCluster>>,
    /// Largest frame a receiver accepts (transport buffer size).
    pub max_frame: usize,
    /// Where tasks spill.
    pub spill_dir: PathBuf,
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

/// Chains grouped into regions (pipelined connectivity), in run order.
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
    for e in plan
        .exchanges
        .iter()
        .filter(|e| e.exchange == Exchange::Pipelined)
    {
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

fn channel_key(job: &str, exchange: usize, producer: u32, consumer: u32) -> String {
    format!("{job}/{exchange}/{producer}->{consumer}")
}

/// Runs `job` on `workers` to its end.
pub async fn run_job(
    job: &ValidJob,
    workers: &[&Worker],
    env: &JobEnv,
) -> Result<JobOutput, RunError> {
    if workers.is_empty() {
        return Err(RunError::Setup("no workers".into()));
    }
    let plan = Plan::new(job);
    let collected: Collected = Arc::new(Mutex::new(Vec::new()));
    let mut reports = Vec::new();
    let place = |subtask: u32| subtask as usize % workers.len();
    let mut connections: HashMap<(usize, usize), Connection> = HashMap::new();
    for exchange in plan
        .exchanges
        .iter()
        .filter(|e| e.exchange == Exchange::Blocking)
    {
        let cluster = env.shuffle.as_ref().ok_or_else(|| {
            RunError::Setup(format!(
                "exchange {} is blocking but there is no shuffle service",
                exchange.id
            ))
        })?;
        cluster
            .register(
                exchange.id as u32,
                ShuffleShape {
                    maps: exchange.producers,
                    partitions: exchange.consumers,
                },
            )
            .await
            .map_err(|e| RunError::Setup(format!("registering shuffle {}: {e}", exchange.id)))?;
    }
    let ranges: HashMap<usize, Arc<RangeCoordinator>> = plan
        .exchanges
        .iter()
        .filter(|e| matches!(e.partitioning, Partitioning::Range(_)))
        .map(|e| {
            (
                e.id,
                RangeCoordinator::new(e.producers, e.keys.clone(), e.consumers),
            )
        })
        .collect();

    let regions = regions(&plan);
    let region_of = |chain: usize| regions.iter().position(|r| r.contains(&chain));
    if let Some(e) = plan
        .exchanges
        .iter()
        .find(|e| e.exchange == Exchange::Blocking && region_of(e.from) == region_of(e.to))
    {
        return Err(RunError::Setup(format!(
            "exchange {} is blocking but its producer and consumer are also joined by pipelined edges; make it pipelined",
            e.id
        )));
    }
    for region in regions {
        // Every consumer input queue of the region, by (exchange, subtask).
        let mut queues: HashMap<(usize, u32), (InputSender, Option<InputQueue>)> = HashMap::new();
        for &c in &region {
            for &e in &plan.chains[c].inputs {
                for s in 0..plan.chains[c].parallelism {
                    let (sender, queue) = InputQueue::new(LOCAL_CREDITS);
                    queues.insert((e, s), (sender, Some(queue)));
                }
            }
        }
        let mut feeders: HashMap<(usize, u32), Vec<(FeederSpec, InputSender)>> = HashMap::new();
        let mut runs = Vec::new();
        for &c in &region {
            let chain = &plan.chains[c];
            for s in 0..chain.parallelism {
                let worker = place(s);
                let mut outputs = Vec::new();
                for &e in &chain.outputs {
                    let exchange = &plan.exchanges[e];
                    let sinks = sinks_for(
                        exchange,
                        s,
                        worker,
                        workers,
                        &mut connections,
                        &queues,
                        &mut feeders,
                        env,
                        &place,
                    )
                    .await?;
                    let shuffle = match exchange.exchange {
                        Exchange::Blocking => Some(ShuffleTarget {
                            cluster: env
                                .shuffle
                                .clone()
                                .ok_or_else(|| RunError::Setup("no shuffle service".into()))?,
                            shuffle: e as u32,
                            map: s,
                            attempt: 0,
                            max_frame: env.max_frame,
                        }),
                        Exchange::Pipelined => None,
                    };
                    outputs.push(OutputSpec {
                        exchange: e,
                        schema: exchange.schema.clone(),
                        partitioning: exchange.partitioning.clone(),
                        keys: exchange.keys.clone(),
                        producer: s,
                        sinks,
                        shuffle,
                        range: ranges.get(&e).cloned(),
                    });
                }
                runs.push((c, s, worker, outputs));
            }
        }
        // Inputs fed from committed shuffles.
        for &c in &region {
            for &e in &plan.chains[c].inputs {
                if plan.exchanges[e].exchange != Exchange::Blocking {
                    continue;
                }
                for s in 0..plan.chains[c].parallelism {
                    let cluster = env
                        .shuffle
                        .clone()
                        .ok_or_else(|| RunError::Setup("no shuffle service".into()))?;
                    let sender = queues[&(e, s)].0.clone();
                    feeders.entry((e, s)).or_default().push((
                        FeederSpec::Shuffle {
                            exchange: e,
                            cluster,
                            shuffle: e as u32,
                            partition: s,
                        },
                        sender,
                    ));
                }
            }
        }
        let mut handles = Vec::new();
        for (c, s, worker, outputs) in runs {
            let chain = &plan.chains[c];
            let mut inputs = Vec::new();
            for &e in &chain.inputs {
                let queue = queues
                    .get_mut(&(e, s))
                    .and_then(|(_, q)| q.take())
                    .ok_or_else(|| {
                        RunError::Setup(format!("no queue for exchange {e} subtask {s}"))
                    })?;
                inputs.push(InputSpec {
                    queue,
                    feeders: feeders.remove(&(e, s)).unwrap_or_default(),
                });
            }
            let name = format!("{}[{s}]", chain.name);
            let spill_dir = env.spill_dir.join(&env.job_id).join(format!("{c}-{s}"));
            std::fs::create_dir_all(&spill_dir)
                .map_err(|e| RunError::Setup(format!("creating {}: {e}", spill_dir.display())))?;
            let operators = build(&chain.steps, &collected)
                .map_err(|e| RunError::Task(format!("task {name}: {e}")))?;
            let run = TaskRun {
                name: name.clone(),
                context: OperatorContext {
                    vertex: chain.name.clone(),
                    subtask: s,
                    parallelism: chain.parallelism,
                    spill_dir,
                },
                operators,
                inputs,
                outputs,
            };
            handles.push((name, workers[worker].deploy(run)));
        }
        // The runner's own senders must go, or inputs would never end.
        drop(queues);
        // Wait for every task; the first failure cancels the rest.
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
                        Err("cancelled".into())
                    }
                };
                let _ = done_tx.send((name, outcome));
            });
        }
        drop(done_tx);
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
        if let Some(failure) = failure {
            return Err(RunError::Task(failure));
        }
    }
    let _ = std::fs::remove_dir_all(env.spill_dir.join(&env.job_id));
    let collected = std::mem::take(&mut *collected.lock().unwrap_or_else(|p| p.into_inner()));
    Ok(JobOutput { collected, reports })
}

/// The sinks of producer `s` (on `worker`) of a pipelined or blocking
/// exchange; remote pairs also get a feeder on the consumer's side.
#[allow(clippy::too_many_arguments)]
async fn sinks_for(
    exchange: &ExchangePlan,
    s: u32,
    worker: usize,
    workers: &[&Worker],
    connections: &mut HashMap<(usize, usize), Connection>,
    queues: &HashMap<(usize, u32), (InputSender, Option<InputQueue>)>,
    feeders: &mut HashMap<(usize, u32), Vec<(FeederSpec, InputSender)>>,
    env: &JobEnv,
    place: &(dyn Fn(u32) -> usize + Sync),
) -> Result<Vec<SinkSpec>, RunError> {
    let mut sinks = Vec::new();
    for q in 0..exchange.consumers {
        if exchange.exchange == Exchange::Blocking {
            sinks.push(SinkSpec::Shuffle { partition: q });
            continue;
        }
        let sender = queues
            .get(&(exchange.id, q))
            .map(|(sender, _)| sender.clone())
            .ok_or_else(|| {
                RunError::Setup(format!("no consumer {q} of exchange {}", exchange.id))
            })?;
        let target = place(q);
        if target == worker {
            sinks.push(SinkSpec::Local(sender));
            continue;
        }
        let key = channel_key(&env.job_id, exchange.id, s, q);
        let connection = match connections.get(&(worker, target)) {
            Some(connection) => connection.clone(),
            None => {
                let (from, to) = (workers[worker], workers[target]);
                let (Some(endpoint), Some(addr)) = (from.endpoint(), to.address()) else {
                    return Err(RunError::Setup(
                        "workers need endpoints to exchange data".into(),
                    ));
                };
                let connection = endpoint.connect(addr, "localhost").await.map_err(|e| {
                    RunError::Setup(format!("connecting worker {worker} to {target}: {e}"))
                })?;
                connections.insert((worker, target), connection.clone());
                connection
            }
        };
        feeders.entry((exchange.id, q)).or_default().push((
            FeederSpec::Remote {
                exchange: exchange.id,
                channel: workers[target].expect_channel(&key),
            },
            sender,
        ));
        sinks.push(SinkSpec::Remote {
            connection,
            open: key.into_bytes(),
            max_frame: env.max_frame,
        });
    }
    Ok(sinks)
}
