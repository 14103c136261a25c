//! The producer side: one [`OutputWriter`] per outgoing exchange of a
//! task, routing each batch with its partitioner to per-consumer sinks,
//! and each signal (watermark, barrier) to every consumer, in order with
//! the batches. Range edges hold their output until the boundaries are
//! agreed ([`super::range`]).
//!
//! Under approximate failover a writer tolerates a pipelined consumer
//! that goes away: that consumer's rows are dropped (and counted, see
//! [`super::delivered`]) until [`OutputWriter::reconnect`] hands it the
//! channel to the consumer's new attempt.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use faro_shuffle::cluster::ReplicatedPush;
use faro_shuffle::ShuffleCluster;
use faro_transport::ChannelSender;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use super::agreement::RangeAgreement;
use super::delivered::Delivered;

mod reconnect;
use super::partition::{Partitioner, Route};
use super::range::RangeHold;
use super::{archive_within, ExchangeError, Incoming, InputSender};
use crate::data::{Batch, Schema};
use crate::kernels::take::take_batch;
use crate::kernels::views;
use crate::message::{Barrier, Message, Overtaking, Signal};
use crate::metrics::TaskMetrics;
use crate::operator::Rows;

/// Where one consumer subtask's rows go.
pub enum ConsumerSink {
    /// The consumer's queue for this producer's channel, in this process.
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
    /// A restarted consumer in this process, not deployed yet: its queue
    /// arrives when it is; rows for it are dropped until then.
    Pending(oneshot::Receiver<InputSender>),
    /// A consumer that went away (approximate failover): rows for it are
    /// dropped until it is reconnected.
    Detached,
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
    /// Data messages sent to each consumer: what an overtaking barrier
    /// tells it came before.
    sent: Vec<u64>,
    /// Rows routed to each consumer, and at each barrier.
    delivered: Delivered,
    /// Whether a consumer that goes away is detached rather than failing
    /// the task (approximate failover).
    tolerant: bool,
    /// Rows dropped for each consumer since it was reconnected, while its
    /// new attempt was not deployed yet.
    pending_drops: Vec<u64>,
    /// Such drops whose wait has ended: (consumer, rows), to report.
    settled_drops: Vec<(u32, u64)>,
    /// Bytes of frames pushed to each partition of a shuffle.
    pushed: Vec<u64>,
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
            sent: vec![0; sinks.len()],
            delivered: Delivered::new(sinks.len()),
            tolerant: false,
            pending_drops: vec![0; sinks.len()],
            settled_drops: Vec::new(),
            pushed: vec![0; sinks.len()],
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
                ConsumerSink::Pending(_) | ConsumerSink::Detached => 0,
            })
            .sum()
    }

    /// The exchange it writes.
    pub fn exchange(&self) -> usize {
        self.exchange
    }

    /// Holds output until `agreement` has everyone's boundaries.
    pub fn with_range(mut self, producer: u32, agreement: Arc<dyn RangeAgreement>) -> Self {
        self.producer = producer;
        self.range = Some(RangeHold::new(agreement));
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
            return range.hold(batch, &self.schema).map_err(failed);
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
                        take_batch(&self.schema, &columns, rows)
                            .and_then(|part| {
                                // A changelog's rows keep their kinds.
                                part.with_kind_bytes(batch.kinds().map(|kinds| kinds.take(rows)))
                            })
                            .map_err(|e| self.transport(e))?,
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
        self.delivered.add(consumer, batch.num_rows());
        self.resolve(consumer);
        let pipelined = matches!(
            self.sinks.get(consumer),
            Some(ConsumerSink::Local(_) | ConsumerSink::Remote { .. })
        );
        let delivered = self.deliver_now(consumer, batch).await;
        match pipelined {
            true => self.lost(consumer, delivered),
            false => delivered,
        }
    }

    async fn deliver_now(&mut self, consumer: usize, batch: Batch) -> Result<(), ExchangeError> {
        let exchange = self.exchange;
        let failed = |message: String| ExchangeError::Transport { exchange, message };
        let shuffle = self.shuffle.clone();
        let gone = || ExchangeError::ConsumerGone { exchange, consumer };
        let sent = self.sent.get_mut(consumer);
        match self.sinks.get_mut(consumer) {
            Some(ConsumerSink::Local(queue)) => {
                if let Some(sent) = sent {
                    *sent += 1;
                }
                match queue.try_send(Ok(Message::Data(Incoming::Owned(batch)))) {
                    Ok(()) => Ok(()),
                    Err(mpsc::error::TrySendError::Closed(_)) => Err(gone()),
                    Err(mpsc::error::TrySendError::Full(item)) => {
                        let waited = Instant::now();
                        let sent = queue.send(item).await.map_err(|_| gone());
                        self.metrics.backpressured(waited.elapsed());
                        sent
                    }
                }
            }
            Some(ConsumerSink::Remote { channel, max_frame }) => {
                let before = channel.stats().backpressure;
                let frames =
                    archive_within(&batch, *max_frame).map_err(|e| failed(e.to_string()))?;
                // Each frame is one message for the consumer.
                if let Some(sent) = sent {
                    *sent += frames.len() as u64;
                }
                for frame in frames {
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
                    self.pushed[*partition as usize] += frame.len() as u64;
                    push.send(Bytes::from_owner(frame))
                        .await
                        .map_err(|e| failed(e.to_string()))?;
                    self.metrics.shuffle_pushed(bytes);
                }
                self.metrics
                    .backpressured(push.backpressure().saturating_sub(before));
                Ok(())
            }
            // Dropped, and counted as delivered: see `Delivered`.
            Some(ConsumerSink::Detached) => Ok(()),
            Some(ConsumerSink::Pending(_)) => {
                self.pending_drops[consumer] += batch.num_rows() as u64;
                Ok(())
            }
            None => Err(failed(format!("no consumer {consumer}"))),
        }
    }

    /// Sends a watermark or barrier to every consumer, behind the batches
    /// sent before it. Blocking and range edges carry none (see the
    /// module header of [`super`]): there it is dropped.
    pub async fn send_signal(&mut self, signal: Signal) -> Result<(), ExchangeError> {
        let Some(event) = signal.encode() else {
            // End of data is `finish`'s to send.
            return Ok(());
        };
        if self.shuffle.is_some() || self.range.is_some() {
            return Ok(());
        }
        if let Signal::Barrier(barrier) = signal {
            self.delivered.barrier(barrier.checkpoint);
        }
        for consumer in 0..self.sinks.len() {
            self.resolve(consumer);
            let sent = self.signal_one(consumer, signal, &event).await;
            self.lost(consumer, sent)?;
        }
        Ok(())
    }

    async fn signal_one(
        &mut self,
        consumer: usize,
        signal: Signal,
        event: &[u8],
    ) -> Result<(), ExchangeError> {
        let exchange = self.exchange;
        let failed = |message: String| ExchangeError::Transport { exchange, message };
        match self.sinks.get_mut(consumer) {
            Some(ConsumerSink::Local(queue)) => {
                let waited = Instant::now();
                queue
                    .send(Ok(Message::Signal(signal)))
                    .await
                    .map_err(|_| ExchangeError::ConsumerGone { exchange, consumer })?;
                self.metrics.backpressured(waited.elapsed());
            }
            Some(ConsumerSink::Remote { channel, .. }) => {
                // Flushed at once: a signal must not wait in the queue
                // for data that may not come for a while.
                let before = channel.stats().backpressure;
                channel
                    .send_event(Bytes::copy_from_slice(event))
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                channel.flush().await.map_err(|e| failed(e.to_string()))?;
                self.metrics
                    .backpressured(channel.stats().backpressure.saturating_sub(before));
            }
            _ => {}
        }
        Ok(())
    }

    /// Sends an unaligned checkpoint's barrier to every consumer, ahead of
    /// the data queued for it, saying how many data messages came before
    /// it. Blocking and range edges carry none.
    pub async fn send_overtaking(&mut self, barrier: Barrier) -> Result<(), ExchangeError> {
        if self.shuffle.is_some() || self.range.is_some() {
            return Ok(());
        }
        self.delivered.barrier(barrier.checkpoint);
        for consumer in 0..self.sinks.len() {
            self.resolve(consumer);
            let sent = self.overtake_one(consumer, barrier).await;
            self.lost(consumer, sent)?;
        }
        Ok(())
    }

    async fn overtake_one(
        &mut self,
        consumer: usize,
        barrier: Barrier,
    ) -> Result<(), ExchangeError> {
        let exchange = self.exchange;
        let failed = |message: String| ExchangeError::Transport { exchange, message };
        let overtaking = Overtaking {
            barrier,
            after: self.sent.get(consumer).copied().unwrap_or(0),
        };
        match self.sinks.get_mut(consumer) {
            Some(ConsumerSink::Local(queue)) if !queue.overtake(overtaking) => {
                return Err(ExchangeError::ConsumerGone { exchange, consumer });
            }
            Some(ConsumerSink::Remote { channel, .. }) => {
                // Behind what the transport already holds for it
                // (bounded by credits); the consumer reads ahead.
                channel
                    .send_event(Bytes::copy_from_slice(&overtaking.encode()))
                    .await
                    .map_err(|e| failed(e.to_string()))?;
                channel.flush().await.map_err(|e| failed(e.to_string()))?;
            }
            _ => {}
        }
        Ok(())
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
    /// Ends every consumer's stream (committing a shuffle output); for a
    /// shuffle, returns the bytes pushed to each of its partitions, as
    /// the map's output sizes (Spark's `MapStatus`).
    pub async fn finish(mut self) -> Result<Option<PartitionBytes>, ExchangeError> {
        if let Some(range) = self.range.take() {
            let (bounds, held) = range.settle(self.producer, &self.schema).await?;
            self.partitioner.set_range(bounds);
            for batch in held {
                self.route(batch).await?;
            }
        }
        let exchange = self.exchange;
        let failed = |message: String| ExchangeError::Transport { exchange, message };
        for sink in std::mem::take(&mut self.sinks) {
            match sink {
                ConsumerSink::Local(queue) => queue
                    .send(Ok(Message::Signal(Signal::EndOfData)))
                    .await
                    .map_err(|_| failed("a local consumer went away before the end".into()))?,
                ConsumerSink::Remote { channel, .. } => {
                    // The last frames wait for credit too.
                    let before = channel.stats().backpressure;
                    let stats = channel.finish().await.map_err(|e| failed(e.to_string()))?;
                    self.metrics
                        .backpressured(stats.backpressure.saturating_sub(before));
                }
                ConsumerSink::Shuffle { push, .. } => {
                    if let Some(push) = push {
                        push.finish().await.map_err(|e| failed(e.to_string()))?;
                    }
                }
                ConsumerSink::Pending(_) | ConsumerSink::Detached => {}
            }
        }
        let Some(target) = &self.shuffle else {
            return Ok(None);
        };
        target
            .cluster
            .commit(target.shuffle, target.map, target.attempt)
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok(Some(PartitionBytes {
            exchange: self.exchange,
            partitions: self.pushed,
        }))
    }
}

/// The bytes one map task pushed to each partition of a shuffle: what
/// the scheduler splits skewed partitions by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionBytes {
    /// The exchange (its shuffle).
    pub exchange: usize,
    /// Bytes per partition, in order.
    pub partitions: Vec<u64>,
}
