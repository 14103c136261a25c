//! The producer side: one [`OutputWriter`] per outgoing exchange of a
//! task, routing each batch with its partitioner to per-consumer sinks.
//!
//! Range edges need boundaries every producer agrees on, so a range
//! writer holds its output (and a systematic sample of it) until its input
//! ends, hands the sample to the exchange's [`RangeCoordinator`], and
//! routes once all producers' samples have produced the boundaries. The
//! held output is in memory: range edges are for data that fits.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use faro_shuffle::cluster::ReplicatedPush;
use faro_shuffle::ShuffleCluster;
use faro_transport::ChannelSender;
use tokio::sync::{mpsc, watch};

use super::agreement::RangeAgreement;
use super::partition::{Partitioner, RangeBounds, Route};
use super::{archive_within, ExchangeError, Incoming, InputSender};
use crate::data::{Batch, Schema};
use crate::kernels::take::{concat, take_batch};
use crate::kernels::views;
use crate::metrics::TaskMetrics;
use crate::operator::Rows;

/// Where one consumer subtask's rows go.
pub enum ConsumerSink {
    /// The consumer's input queue, in this process.
    Local(InputSender),
    /// A transport channel to the consumer's worker; frames at most
    /// `max_frame` bytes.
    Remote {
        /// The channel.
        channel: ChannelSender,
        /// Largest frame the receiver accepts.
        max_frame: usize,
    },
    /// Reduce partition `partition` in the shuffle service (opened on the
    /// first batch).
    Shuffle {
        /// The partition.
        partition: u32,
        /// The open push, if any.
        push: Option<ReplicatedPush>,
    },
}

/// The shuffle a blocking edge's writer pushes to.
#[derive(Clone)]
pub struct ShuffleTarget {
    /// The job's shuffle nodes.
    pub cluster: Arc<ShuffleCluster>,
    /// The exchange's shuffle id.
    pub shuffle: u32,
    /// This producer's map id (its subtask).
    pub map: u32,
    /// This producer's attempt.
    pub attempt: u32,
    /// Largest frame the nodes accept.
    pub max_frame: usize,
}

/// Collects every producer's sample of a range edge and publishes the
/// boundaries once the last one arrives.
pub struct RangeCoordinator {
    producers: u32,
    keys: Vec<usize>,
    consumers: u32,
    samples: Mutex<Vec<Batch>>,
    bounds: watch::Sender<Option<Arc<RangeBounds>>>,
}

impl RangeCoordinator {
    /// A coordinator for `producers` producers routing to `consumers`.
    pub fn new(producers: u32, keys: Vec<usize>, consumers: u32) -> Arc<Self> {
        Arc::new(Self {
            producers,
            keys,
            consumers,
            samples: Mutex::new(Vec::new()),
            bounds: watch::channel(None).0,
        })
    }

    /// Adds one producer's sample; waits for everyone's boundaries.
    pub async fn bounds(
        &self,
        sample: Batch,
        schema: &Schema,
    ) -> Result<Arc<RangeBounds>, ExchangeError> {
        let mut watcher = self.bounds.subscribe();
        let complete = {
            let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
            samples.push(sample);
            (samples.len() as u32 == self.producers).then(|| std::mem::take(&mut *samples))
        };
        if let Some(samples) = complete {
            let all = concat(schema, &samples).map_err(|e| corrupt(e.to_string()))?;
            let bounds = RangeBounds::from_sample(&all, &self.keys, self.consumers)
                .map_err(|e| corrupt(e.to_string()))?;
            self.bounds.send_replace(Some(Arc::new(bounds)));
        }
        loop {
            if let Some(bounds) = watcher.borrow_and_update().clone() {
                return Ok(bounds);
            }
            watcher
                .changed()
                .await
                .map_err(|_| corrupt("range coordinator gone".into()))?;
        }
    }
}

fn corrupt(message: String) -> ExchangeError {
    ExchangeError::Corrupt {
        exchange: usize::MAX,
        message,
    }
}

/// Output held back on a range edge until boundaries are known.
struct RangeHold {
    agreement: Arc<dyn RangeAgreement>,
    held: Vec<Batch>,
    sample: Vec<Batch>,
    stride: usize,
    seen: usize,
    sampled: usize,
}

const SAMPLE_ROWS: usize = 4096;

/// Routes one producer subtask's output over one exchange.
pub struct OutputWriter {
    exchange: usize,
    schema: Schema,
    partitioner: Partitioner,
    sinks: Vec<ConsumerSink>,
    shuffle: Option<ShuffleTarget>,
    range: Option<RangeHold>,
    producer: u32,
    metrics: TaskMetrics,
}

impl OutputWriter {
    /// A writer over `sinks` (one per consumer subtask, in order),
    /// counting backpressure and shuffle bytes into `metrics`.
    pub fn new(
        exchange: usize,
        schema: Schema,
        partitioner: Partitioner,
        sinks: Vec<ConsumerSink>,
        shuffle: Option<ShuffleTarget>,
        metrics: TaskMetrics,
    ) -> Self {
        Self {
            exchange,
            schema,
            partitioner,
            sinks,
            shuffle,
            range: None,
            producer: 0,
            metrics,
        }
    }

    /// Credit this writer's consumers granted and it has not used yet
    /// (local consumers' free queue slots included).
    pub fn credits(&self) -> u64 {
        self.sinks
            .iter()
            .map(|sink| match sink {
                ConsumerSink::Local(queue) => queue.capacity() as u64,
                ConsumerSink::Remote { channel, .. } => u64::from(channel.credit()),
                ConsumerSink::Shuffle { push, .. } => {
                    push.as_ref().map_or(0, |p| u64::from(p.credit()))
                }
            })
            .sum()
    }

    /// Holds output until `agreement` has everyone's boundaries.
    pub fn with_range(mut self, producer: u32, agreement: Arc<dyn RangeAgreement>) -> Self {
        self.producer = producer;
        self.range = Some(RangeHold {
            agreement,
            held: Vec::new(),
            sample: Vec::new(),
            stride: 1,
            seen: 0,
            sampled: 0,
        });
        self
    }

    fn transport(&self, message: impl std::fmt::Display) -> ExchangeError {
        ExchangeError::Transport {
            exchange: self.exchange,
            message: message.to_string(),
        }
    }

    /// Sends `batch` to the consumers its rows belong to.
    pub async fn send(&mut self, batch: Batch) -> Result<(), ExchangeError> {
        let exchange = self.exchange;
        let failed = |e: crate::data::BatchError| ExchangeError::Corrupt {
            exchange,
            message: e.to_string(),
        };
        if let Some(range) = &mut self.range {
            let picks: Vec<u32> = (0..batch.num_rows())
                .filter(|i| (range.seen + i) % range.stride == 0)
                .map(|i| i as u32)
                .collect();
            range.seen += batch.num_rows();
            range.sampled += picks.len();
            let columns = views(&batch);
            range
                .sample
                .push(take_batch(&self.schema, &columns, &picks).map_err(failed)?);
            if range.sampled > SAMPLE_ROWS {
                // Thin the sample to every other row and halve the rate.
                let all = concat(&self.schema, &range.sample).map_err(failed)?;
                let half: Vec<u32> = (0..all.num_rows() as u32).step_by(2).collect();
                let thinned = take_batch(&self.schema, &views(&all), &half).map_err(failed)?;
                range.sampled = thinned.num_rows();
                range.sample = vec![thinned];
                range.stride *= 2;
            }
            drop(columns);
            range.held.push(batch);
            return Ok(());
        }
        self.route(batch).await
    }

    async fn route(&mut self, batch: Batch) -> Result<(), ExchangeError> {
        let route = self.partitioner.route(&Rows::of_batch(&batch));
        match route {
            Route::One(c) => self.deliver(c as usize, batch).await,
            Route::All => {
                for c in 0..self.sinks.len() {
                    self.deliver(c, batch.clone()).await?;
                }
                Ok(())
            }
            Route::Split(split) => {
                let columns = views(&batch);
                let mut parts = Vec::new();
                for (c, rows) in split
                    .iter()
                    .enumerate()
                    .filter(|(_, rows)| !rows.is_empty())
                {
                    parts.push((
                        c,
                        take_batch(&self.schema, &columns, rows).map_err(|e| self.transport(e))?,
                    ));
                }
                drop(columns);
                for (c, part) in parts {
                    self.deliver(c, part).await?;
                }
                Ok(())
            }
        }
    }

    async fn deliver(&mut self, consumer: usize, batch: Batch) -> Result<(), ExchangeError> {
        let exchange = self.exchange;
        let failed = |message: String| ExchangeError::Transport { exchange, message };
        let shuffle = self.shuffle.clone();
        let gone = || failed(format!("consumer {consumer} is gone"));
        match self.sinks.get_mut(consumer) {
            Some(ConsumerSink::Local(queue)) => match queue.try_send(Ok(Incoming::Owned(batch))) {
                Ok(()) => Ok(()),
                Err(mpsc::error::TrySendError::Closed(_)) => Err(gone()),
                Err(mpsc::error::TrySendError::Full(item)) => {
                    let waited = Instant::now();
                    let sent = queue.send(item).await.map_err(|_| gone());
                    self.metrics.backpressured(waited.elapsed());
                    sent
                }
            },
            Some(ConsumerSink::Remote { channel, max_frame }) => {
                let before = channel.stats().backpressure;
                for frame in
                    archive_within(&batch, *max_frame).map_err(|e| failed(e.to_string()))?
                {
                    channel
                        .send(Bytes::from_owner(frame))
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                }
                self.metrics
                    .backpressured(channel.stats().backpressure.saturating_sub(before));
                Ok(())
            }
            Some(ConsumerSink::Shuffle { partition, push }) => {
                let target = shuffle.ok_or_else(|| failed("no shuffle target".into()))?;
                if push.is_none() {
                    let opened = target
                        .cluster
                        .push(target.shuffle, *partition, target.map, target.attempt, 0)
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                    *push = Some(opened);
                }
                let Some(push) = push else { return Ok(()) };
                let before = push.backpressure();
                for frame in
                    archive_within(&batch, target.max_frame).map_err(|e| failed(e.to_string()))?
                {
                    let bytes = frame.len() * push.replicas();
                    push.send(Bytes::from_owner(frame))
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                    self.metrics.shuffle_pushed(bytes);
                }
                self.metrics
                    .backpressured(push.backpressure().saturating_sub(before));
                Ok(())
            }
            None => Err(failed(format!("no consumer {consumer}"))),
        }
    }

    /// Tells local consumers the producer failed (remote ones learn it
    /// from the channel ending uncleanly; a blocking edge is simply never
    /// committed), so no consumer takes a partial input for a whole one.
    pub async fn abort(self, message: &str) {
        for sink in self.sinks {
            if let ConsumerSink::Local(queue) = sink {
                let _ = queue
                    .send(Err(ExchangeError::Transport {
                        exchange: self.exchange,
                        message: format!("producer failed: {message}"),
                    }))
                    .await;
            }
        }
    }

    /// Sends what is held, ends every consumer's stream and, for a
    /// blocking edge, commits this producer's output.
    pub async fn finish(mut self) -> Result<(), ExchangeError> {
        if let Some(range) = self.range.take() {
            let sample = concat(&self.schema, &range.sample).map_err(|e| self.transport(e))?;
            let bounds = range
                .agreement
                .bounds(self.producer, sample, &self.schema)
                .await?;
            self.partitioner.set_range((*bounds).clone());
            for batch in range.held {
                self.route(batch).await?;
            }
        }
        let exchange = self.exchange;
        let failed = |message: String| ExchangeError::Transport { exchange, message };
        for sink in std::mem::take(&mut self.sinks) {
            match sink {
                ConsumerSink::Local(queue) => drop(queue),
                ConsumerSink::Remote { channel, .. } => {
                    channel.finish().await.map_err(|e| failed(e.to_string()))?;
                }
                ConsumerSink::Shuffle { push, .. } => {
                    if let Some(push) = push {
                        push.finish().await.map_err(|e| failed(e.to_string()))?;
                    }
                }
            }
        }
        if let Some(target) = &self.shuffle {
            target
                .cluster
                .commit(target.shuffle, target.map, target.attempt)
                .await
                .map_err(|e| failed(e.to_string()))?;
        }
        Ok(())
    }
}
