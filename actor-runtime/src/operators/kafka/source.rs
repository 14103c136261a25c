//! The `kafka` source: this subtask's partitions of a topic, fetched on a
//! client thread (one fetch loop per partition) and parsed into rows on
//! the slot, each partition a split of the source's watermark.
//!
//! While nothing has arrived the source hands on an empty batch and asks
//! to be woken a little later (`ready_at`: its slot stays free), which
//! lets idle timeouts and downstream timers see time pass, as `follow`
//! does: 1 ms after it last had rows, doubling while none come, up to
//! [`POLL`], so a flowing topic is taken as fast as it is fetched and a
//! quiet one costs a wake-up every 20 ms. A subtask that owns no partition (more subtasks than partitions)
//! is idle from the start, so it holds no window back.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::record::RecordAndOffset;
use tokio::sync::mpsc;

use super::{
    client_runtime, connect, partitions, unavailable, KafkaParams, RecordFormat, StartOffset,
};
use crate::data::{Batch, BatchBuilder, ValuesView};
use crate::event_time::SplitWatermarks;
use crate::message::Watermark;
use crate::operator::{OperatorContext, OperatorError, Source};
use crate::operators::read::push_json_row;

/// The longest the source waits before looking again when nothing came.
pub const POLL: Duration = Duration::from_millis(20);

/// The first wait after rows stop coming.
const FIRST_POLL: Duration = Duration::from_millis(1);

/// Bytes a fetch asks for at most, per partition: as fast as 1 MiB
/// against tansu, at a tenth of the memory (bench/RESULTS.md).
const FETCH_BYTES: i32 = 1 << 18;

/// How long the broker may hold a fetch open waiting for records, once
/// the partition has run dry. A fetch after one that brought records
/// waits for none: some brokers (tansu 0.6) hold every fetch for its whole
/// wait, which would cap a busy partition at one fetch per wait.
const FETCH_WAIT_MS: i32 = 200;

/// Fetches in flight between the client thread and the source.
const FETCHES_HELD: usize = 4;

/// What the client thread hands the source.
enum Fetched {
    /// The subtask's partitions (its splits, in this order).
    Assigned(Vec<i32>),
    /// Records of split `split`, in offset order.
    Records {
        split: usize,
        records: Vec<RecordAndOffset>,
    },
    /// A bounded source's split has read all it will.
    Done(usize),
    /// Reading stopped.
    Failed(OperatorError),
}

/// The `kafka` source: one subtask's share of a topic's partitions.
pub struct KafkaSource {
    params: KafkaParams,
    vertex: String,
    incoming: Option<mpsc::Receiver<Fetched>>,
    /// The partitions, once the client thread has listed them.
    partitions: Option<Vec<i32>>,
    done: Vec<bool>,
    /// Fetched records not yet made rows: (split, records, next index).
    pending: VecDeque<(usize, Vec<RecordAndOffset>, usize)>,
    /// When the source last found nothing to read, and how long it then
    /// waits.
    waiting: Option<(Instant, Duration)>,
    started: Instant,
    /// With `event_time`: the column and its per-partition watermarks.
    event_time: Option<(usize, SplitWatermarks)>,
}

impl KafkaSource {
    /// A source of `params`, for vertex `vertex` (named in errors).
    pub fn new(params: KafkaParams, vertex: &str) -> Self {
        Self {
            params,
            vertex: vertex.to_string(),
            incoming: None,
            partitions: None,
            done: Vec::new(),
            pending: VecDeque::new(),
            waiting: None,
            started: Instant::now(),
            event_time: None,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn assign(&mut self, partitions: Vec<i32>) -> Result<(), OperatorError> {
        if let Some(event_time) = &self.params.event_time {
            let index = self
                .params
                .schema
                .index_of(&event_time.column)
                .ok_or_else(|| {
                    OperatorError::BadInput(format!(
                        "{}: no event time column {:?}",
                        self.vertex, event_time.column
                    ))
                })?;
            let strategy = event_time.strategy();
            let splits = SplitWatermarks::new(
                strategy,
                event_time.idle_timeout_ms,
                partitions.len(),
                self.now_ms(),
            );
            self.event_time = Some((index, splits));
        }
        self.done = vec![false; partitions.len()];
        self.partitions = Some(partitions);
        Ok(())
    }

    /// Takes what the client thread has sent, without waiting; `false`
    /// once it will send nothing more.
    fn receive(&mut self) -> Result<bool, OperatorError> {
        loop {
            let Some(incoming) = self.incoming.as_mut() else {
                return Ok(false);
            };
            match incoming.try_recv() {
                Ok(Fetched::Assigned(partitions)) => self.assign(partitions)?,
                Ok(Fetched::Records { split, records }) => {
                    self.pending.push_back((split, records, 0))
                }
                Ok(Fetched::Done(split)) => {
                    if let Some(done) = self.done.get_mut(split) {
                        *done = true;
                    }
                }
                Ok(Fetched::Failed(error)) => return Err(error),
                Err(mpsc::error::TryRecvError::Empty) => return Ok(true),
                Err(mpsc::error::TryRecvError::Disconnected) => return Ok(false),
            }
            if self.pending.len() >= FETCHES_HELD {
                return Ok(true);
            }
        }
    }

    /// Parses pending records into `builder`, up to `limit` rows; returns
    /// each split's row range in the batch, for its watermark.
    fn fill(
        &mut self,
        builder: &mut BatchBuilder,
        limit: usize,
    ) -> Result<Vec<(usize, std::ops::Range<usize>)>, OperatorError> {
        let mut ranges = Vec::new();
        while builder.len() < limit {
            let Some((split, records, next)) = self.pending.front_mut() else {
                break;
            };
            let first = builder.len();
            while *next < records.len() && builder.len() < limit {
                let record = &records[*next];
                *next += 1;
                let Some(value) = &record.record.value else {
                    continue;
                };
                let partition = self
                    .partitions
                    .as_ref()
                    .and_then(|p| p.get(*split).copied())
                    .unwrap_or(-1);
                let failed = |e: String| {
                    OperatorError::BadInput(format!(
                        "Kafka topic {} partition {partition} offset {}: {e}",
                        self.params.topic, record.offset
                    ))
                };
                let text = std::str::from_utf8(value).map_err(|e| failed(e.to_string()))?;
                match self.params.format {
                    RecordFormat::Json => push_json_row(text, &self.params.schema, builder),
                    RecordFormat::Text => {
                        builder.column(0).push_str(text).map_err(|e| e.to_string())
                    }
                }
                .map_err(failed)?;
            }
            ranges.push((*split, first..builder.len()));
            if *next >= records.len() {
                self.pending.pop_front();
            }
        }
        Ok(ranges)
    }

    /// Moves each split's watermark past its rows in `batch`.
    fn observe(&mut self, batch: &Batch, ranges: &[(usize, std::ops::Range<usize>)]) {
        let now = self.now_ms();
        let Some((index, watermarks)) = &mut self.event_time else {
            return;
        };
        let Some(column) = batch.column(*index) else {
            return;
        };
        let ValuesView::Timestamp(times) = column.values else {
            return;
        };
        for (split, rows) in ranges {
            // A null's slot holds no time: only valid rows count.
            let valid = |i: &usize| column.validity.as_ref().is_none_or(|v| v.get(*i));
            if let Some(latest) = rows.clone().filter(valid).map(|i| times[i]).max() {
                watermarks.observe(*split, latest, now);
            }
        }
    }

    fn finished(&self) -> bool {
        self.pending.is_empty() && self.partitions.is_some() && self.done.iter().all(|&d| d)
    }
}

impl Source for KafkaSource {
    fn open(&mut self, context: &OperatorContext) -> Result<(), OperatorError> {
        context.access.check_kafka(&self.params.brokers)?;
        self.started = Instant::now();
        let (tx, rx) = mpsc::channel(FETCHES_HELD);
        let params = Arc::new(self.params.clone());
        let (subtask, parallelism) = (context.subtask, context.parallelism.max(1));
        std::thread::Builder::new()
            .name(format!("kafka-{}-{subtask}", self.vertex))
            .spawn(move || fetch_thread(params, subtask, parallelism, tx))
            .map_err(|e| OperatorError::Unavailable(format!("starting a Kafka reader: {e}")))?;
        self.incoming = Some(rx);
        Ok(())
    }

    fn ready_at(&self) -> Option<Instant> {
        match self.pending.is_empty() {
            true => self.waiting.map(|(since, wait)| since + wait),
            false => None,
        }
    }

    fn next_batch(&mut self) -> Result<Option<Batch>, OperatorError> {
        let open = self.receive()?;
        if self.finished() {
            return Ok(None);
        }
        if !open && self.pending.is_empty() {
            return Err(OperatorError::Unavailable(format!(
                "{}: the Kafka reader of topic {} stopped",
                self.vertex, self.params.topic
            )));
        }
        let limit = self.params.batch_rows;
        let mut builder = BatchBuilder::new(self.params.schema.clone(), limit);
        let ranges = self.fill(&mut builder, limit)?;
        let batch = builder.finish()?;
        self.observe(&batch, &ranges);
        self.waiting = match (batch.num_rows(), self.waiting) {
            (0, Some((_, wait))) => Some((Instant::now(), (wait * 2).min(POLL))),
            (0, None) => Some((Instant::now(), FIRST_POLL)),
            _ => None,
        };
        // Never `None` while reading: an empty batch says "nothing yet"
        // and lets time be seen downstream.
        Ok(Some(batch))
    }

    fn watermark(&mut self) -> Option<Watermark> {
        let now = self.now_ms();
        let (_, watermarks) = self.event_time.as_mut()?;
        watermarks.poll(now)
    }

    fn idle(&mut self) -> bool {
        let now = self.now_ms();
        match &self.event_time {
            Some((_, watermarks)) => watermarks.all_idle(now),
            // Without event time there is no watermark to hold back,
            // except by a subtask that owns nothing and never will.
            None => self.partitions.as_ref().is_some_and(Vec::is_empty),
        }
    }

    fn close(&mut self) -> Result<(), OperatorError> {
        // Dropping the receiver ends the client thread.
        self.incoming = None;
        Ok(())
    }
}

/// The client thread: lists the topic, takes this subtask's partitions
/// and runs a fetch loop for each until the source is dropped (or, when
/// bounded, each reaches the end it saw at the start).
fn fetch_thread(
    params: Arc<KafkaParams>,
    subtask: u32,
    parallelism: u32,
    tx: mpsc::Sender<Fetched>,
) {
    let runtime = match client_runtime() {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = tx.blocking_send(Fetched::Failed(error));
            return;
        }
    };
    runtime.block_on(async move {
        let assigned = async {
            let client = Arc::new(connect(&params.brokers).await?);
            let all = partitions(&client, &params.brokers, &params.topic).await?;
            let mine: Vec<i32> = all
                .into_iter()
                .enumerate()
                .filter(|(i, _)| *i as u32 % parallelism == subtask)
                .map(|(_, p)| p)
                .collect();
            Ok::<_, OperatorError>((client, mine))
        };
        let (client, mine) = match assigned.await {
            Ok(assigned) => assigned,
            Err(error) => {
                let _ = tx.send(Fetched::Failed(error)).await;
                return;
            }
        };
        if tx.send(Fetched::Assigned(mine.clone())).await.is_err() {
            return;
        }
        for (split, partition) in mine.into_iter().enumerate() {
            let (client, params, tx) = (client.clone(), params.clone(), tx.clone());
            tokio::spawn(async move {
                if let Err(error) = follow(&client, &params, split, partition, &tx).await {
                    let _ = tx.send(Fetched::Failed(error)).await;
                }
            });
        }
        // Until the source lets go; dropping the runtime then stops the
        // fetch loops.
        tx.closed().await;
    });
}

/// Where a partition's records begin, and where what it holds now ends.
///
/// The end is the high watermark a fetch reports (the offset its next
/// record gets), not ListOffsets' latest: some Kafka-protocol brokers
/// (tansu 0.6) answer that with the last batch's first offset. The
/// beginning is offset 0 if a fetch there is accepted, and ListOffsets'
/// earliest only when a broker whose log starts later refuses it: tansu
/// 0.6 answers earliest with the batch *written* first, which under
/// concurrent producers can be a later offset than the lowest.
async fn bounds(reader: &PartitionClient, brokers: &[String]) -> Result<(i64, i64), OperatorError> {
    match reader.fetch_records(0, 1..2, 0).await {
        Ok((_, high_watermark)) => Ok((0, high_watermark)),
        Err(ClientError::ServerError {
            protocol_error: ProtocolError::OffsetOutOfRange,
            ..
        }) => {
            let earliest = reader
                .get_offset(OffsetAt::Earliest)
                .await
                .map_err(|e| unavailable(brokers, e))?;
            let (_, high_watermark) = reader
                .fetch_records(earliest, 1..2, 0)
                .await
                .map_err(|e| unavailable(brokers, e))?;
            Ok((earliest, high_watermark))
        }
        Err(e) => Err(unavailable(brokers, e)),
    }
}

/// Fetches partition `partition` (split `split`) into `tx`.
async fn follow(
    client: &rskafka::client::Client,
    params: &KafkaParams,
    split: usize,
    partition: i32,
    tx: &mpsc::Sender<Fetched>,
) -> Result<(), OperatorError> {
    let brokers = &params.brokers;
    let reader = client
        .partition_client(
            params.topic.as_str(),
            partition,
            UnknownTopicHandling::Error,
        )
        .await
        .map_err(|e| unavailable(brokers, e))?;
    let (earliest, high_watermark) = bounds(&reader, brokers).await?;
    let mut offset = match params.start {
        StartOffset::Earliest => earliest,
        StartOffset::Latest => high_watermark,
    };
    let end = params.bounded.then_some(high_watermark);
    let mut wait = 0;
    loop {
        if end.is_some_and(|end| offset >= end) {
            let _ = tx.send(Fetched::Done(split)).await;
            return Ok(());
        }
        let (fetched, _) = reader
            .fetch_records(offset, 1..FETCH_BYTES, wait)
            .await
            .map_err(|e| unavailable(brokers, e))?;
        wait = if fetched.is_empty() { FETCH_WAIT_MS } else { 0 };
        // Each offset once and in order, whatever the broker repeats.
        let mut records = Vec::with_capacity(fetched.len());
        for record in fetched {
            if end.is_some_and(|end| record.offset >= end) {
                // Past the end (a gap before it was compacted away).
                offset = end.unwrap_or(offset);
            } else if record.offset >= offset {
                offset = record.offset + 1;
                records.push(record);
            }
        }
        if !records.is_empty() && tx.send(Fetched::Records { split, records }).await.is_err() {
            return Ok(());
        }
    }
}
