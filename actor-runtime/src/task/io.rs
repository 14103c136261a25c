//! A task's exchange endpoints as deployed: specs the runner builds, which
//! the task opens when it starts (remote channels and shuffle fetches need
//! the task's own runtime).

use std::sync::Arc;

use faro_shuffle::ShuffleCluster;
use faro_transport::{ChannelReceiver, Connection};
use tokio::sync::oneshot;

use crate::data::Schema;
use crate::exchange::agreement::RangeAgreement;
use crate::exchange::hybrid::{follow_in_process, HybridFetch, ProducingInputs, ReadyMaps};
use crate::exchange::partition::Partitioner;
use crate::exchange::sink::ShuffleTarget;
use crate::exchange::{
    forward_frames, forward_mapped, ConsumerSink, ExchangeError, InputQueue, InputSender,
    OutputWriter,
};
use crate::metrics::TaskMetrics;
use crate::spec::Partitioning;

/// One consumer of an output, as deployed.
pub enum SinkSpec {
    /// A consumer in this worker, which may not be deployed yet: its
    /// queue arrives when it is.
    Local(oneshot::Receiver<InputSender>),
    /// A consumer on another worker: open a channel with this payload.
    Remote {
        /// The consumer worker's connection.
        connection: Connection,
        /// The channel's open payload (names the job, exchange and pair).
        open: Vec<u8>,
        /// Largest frame the consumer accepts.
        max_frame: usize,
    },
    /// A reduce partition in the shuffle service.
    Shuffle {
        /// The partition (the consumer's subtask).
        partition: u32,
    },
}

/// One output exchange of a task, as deployed.
pub struct OutputSpec {
    /// The exchange.
    pub exchange: usize,
    /// The schema crossing it.
    pub schema: Schema,
    /// Its partitioning.
    pub partitioning: Partitioning,
    /// Key positions of hash/range partitioning.
    pub keys: Vec<usize>,
    /// Key groups a hash edge routes through (streaming jobs).
    pub key_groups: Option<u32>,
    /// This producer's subtask.
    pub producer: u32,
    /// Whether a consumer that goes away is dropped rather than failing
    /// the task (approximate failover, pipelined edges).
    pub tolerant: bool,
    /// One per consumer subtask.
    pub sinks: Vec<SinkSpec>,
    /// For blocking edges: where to push and commit.
    pub shuffle: Option<ShuffleTarget>,
    /// For range edges: who agrees the boundaries.
    pub range: Option<Arc<dyn RangeAgreement>>,
}

impl OutputSpec {
    /// Opens every consumer sink; the writer counts into `metrics`.
    pub async fn open(self, metrics: TaskMetrics) -> Result<OutputWriter, ExchangeError> {
        let consumers = self.sinks.len() as u32;
        let mut sinks = Vec::with_capacity(self.sinks.len());
        for sink in self.sinks {
            sinks.push(match sink {
                SinkSpec::Local(queue) => {
                    ConsumerSink::Local(queue.await.map_err(|_| ExchangeError::Transport {
                        exchange: self.exchange,
                        message: "the local consumer was never deployed".into(),
                    })?)
                }
                SinkSpec::Remote {
                    connection,
                    open,
                    max_frame,
                } => ConsumerSink::Remote {
                    channel: connection.open_sender(&open).await.map_err(|e| {
                        ExchangeError::Transport {
                            exchange: self.exchange,
                            message: e.to_string(),
                        }
                    })?,
                    max_frame,
                },
                SinkSpec::Shuffle { partition } => ConsumerSink::Shuffle {
                    partition,
                    push: None,
                },
            });
        }
        let partitioner = Partitioner::new(self.partitioning, self.keys, consumers, self.producer)
            .with_key_groups(self.key_groups);
        let writer = OutputWriter::new(
            self.exchange,
            self.schema,
            partitioner,
            sinks,
            self.shuffle,
            metrics,
        );
        let writer = match self.tolerant {
            true => writer.tolerate_lost_consumers(),
            false => writer,
        };
        Ok(match self.range {
            Some(agreement) => writer.with_range(self.producer, agreement),
            None => writer,
        })
    }
}

/// What feeds a task input besides local producers.
pub enum FeederSpec {
    /// The task's partition of a committed shuffle.
    Shuffle {
        /// The exchange.
        exchange: usize,
        /// The job's shuffle nodes.
        cluster: Arc<ShuffleCluster>,
        /// The partition's owner, when it is a node in this process.
        in_process: Option<Arc<faro_shuffle::ShuffleServer>>,
        /// The shuffle.
        shuffle: u32,
        /// The partition (this task's subtask, unless a skewed one was
        /// divided).
        partition: u32,
        /// Only these maps' frames (a piece of a skewed partition); all
        /// when `None`.
        maps: Option<std::ops::Range<u32>>,
    },
    /// The task's partition of a hybrid edge's shuffle, read map by map
    /// as the maps commit.
    Hybrid {
        /// The exchange.
        exchange: usize,
        /// The job's shuffle nodes.
        cluster: Arc<ShuffleCluster>,
        /// The partition's owner, when it is a node in this process.
        in_process: Option<Arc<faro_shuffle::ShuffleServer>>,
        /// The shuffle.
        shuffle: u32,
        /// The partition (this task's subtask).
        partition: u32,
        /// The shuffle's maps (its producer's subtasks).
        maps: u32,
        /// The task's hybrid inputs still producing, shared by their
        /// feeders.
        producing: ProducingInputs,
    },
    /// A channel a remote producer opens to this worker.
    Remote {
        /// The exchange.
        exchange: usize,
        /// Resolves when the producer's channel arrives.
        channel: oneshot::Receiver<ChannelReceiver>,
    },
}

/// One input of a task, as deployed.
pub struct InputSpec {
    /// The exchange it reads.
    pub exchange: usize,
    /// The columns its batches must have.
    pub schema: crate::data::Schema,
    /// The queue it reads: a channel per producer (one for a shuffle).
    pub queue: InputQueue,
    /// Feeders to start, each with its channel's sender.
    pub feeders: Vec<(FeederSpec, InputSender)>,
}

impl InputSpec {
    /// Starts the feeders on the current runtime; returns the queue.
    /// Shuffle fetches count into `metrics`.
    pub fn start(self, metrics: &TaskMetrics) -> InputQueue {
        for (feeder, queue) in self.feeders {
            feeder.start(queue, metrics);
        }
        self.queue
    }
}

impl FeederSpec {
    /// Starts feeding `queue` on the current runtime; shuffle fetches
    /// count into `metrics`.
    pub fn start(self, queue: InputSender, metrics: &TaskMetrics) {
        use tracing::Instrument;
        let feeder = self;
        let metrics = metrics.clone();
        tokio::spawn(
            async move {
                match feeder {
                    FeederSpec::Shuffle {
                        exchange,
                        cluster,
                        in_process,
                        shuffle,
                        partition,
                        maps,
                    } => {
                        let piece = (partition, maps.clone());
                        let local = in_process
                            .map(|server| server.read_in_process(cluster.job(), shuffle, piece));
                        match local {
                            Some(Ok(Some(frames))) => {
                                return forward_mapped(frames, queue, |bytes| {
                                    metrics.shuffle_fetched(bytes)
                                })
                                .await;
                            }
                            Some(Err(error)) => {
                                let _ = queue
                                    .send(Err(ExchangeError::Transport {
                                        exchange,
                                        message: format!("reading partition {partition}: {error}"),
                                    }))
                                    .await;
                                return;
                            }
                            // No local copy: the network's replicas or
                            // object store may have one.
                            Some(Ok(None)) | None => {}
                        }
                        let fetch = match maps {
                            Some(maps) => {
                                (cluster.fetch_maps_from_replicas(shuffle, partition, maps)).await
                            }
                            None => cluster.fetch_from_replicas(shuffle, partition).await,
                        };
                        match fetch {
                            Ok(fetch) => {
                                let counted = metrics.clone();
                                let fetch = fetch.on_move(move || counted.shuffle_fetch_moved());
                                forward_frames(exchange, fetch, queue, |bytes| {
                                    metrics.shuffle_fetched(bytes)
                                })
                                .await
                            }
                            Err(error) => {
                                let _ = queue
                                    .send(Err(ExchangeError::Transport {
                                        exchange,
                                        message: format!("fetching partition {partition}: {error}"),
                                    }))
                                    .await;
                            }
                        }
                    }
                    FeederSpec::Hybrid {
                        exchange,
                        cluster,
                        in_process,
                        shuffle,
                        partition,
                        maps,
                        producing,
                    } => {
                        let mut ready = ReadyMaps::new(maps);
                        if let Some(server) = in_process {
                            let at = (cluster.job(), exchange, shuffle, partition);
                            let maps = (ready, &producing);
                            match follow_in_process(&server, at, maps, &queue, &metrics).await {
                                Some(left) => ready = left,
                                None => return,
                            }
                        }
                        let maps = (ready, producing);
                        let counted = metrics.clone();
                        let fetch = HybridFetch::new(cluster, (shuffle, partition), maps, counted);
                        forward_frames(exchange, fetch, queue, |bytes| {
                            metrics.shuffle_fetched(bytes)
                        })
                        .await
                    }
                    FeederSpec::Remote { exchange, channel } => match channel.await {
                        Ok(channel) => forward_frames(exchange, channel, queue, |_| ()).await,
                        Err(_) => {
                            let _ = queue
                                .send(Err(ExchangeError::Transport {
                                    exchange,
                                    message: "the worker stopped before the producer connected"
                                        .into(),
                                }))
                                .await;
                        }
                    },
                }
            }
            .in_current_span(),
        );
    }
}
